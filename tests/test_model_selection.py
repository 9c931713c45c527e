"""Tests of skfairlatent.model_selection: Pareto front and refit rules."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from skfairlatent.metrics import delta_eod, make_fairness_scorer
from skfairlatent.model_selection import (
    BestScoreWithinFairness,
    ClosestToUpperRight,
    best_score_within_fairness,
    closest_to_upper_right,
    pareto_front,
    pareto_mask,
)

# candidate:         0     1     2     3     4     5 (failed fit)
ACC = np.array([0.80, 0.78, 0.75, 0.70, 0.80, np.nan])
GAP = np.array([0.30, 0.10, 0.12, 0.02, 0.35, np.nan])
# 2 is dominated by 1 (lower acc, higher gap); 4 by 0 (same acc, higher gap)
# -> front, by increasing gap: 3 (0.02), 1 (0.10), 0 (0.30)


def _cv_results(acc=ACC, gap=GAP, names=("accuracy", "delta_eod")):
    params = [{"alpha": a} for a in (0, 0.001, 0.01, 0.1, 1, 10)][: len(acc)]
    return {
        "params": params,
        "param_alpha": np.ma.masked_array([p["alpha"] for p in params]),
        f"mean_test_{names[0]}": np.asarray(acc, dtype=float),
        f"mean_test_{names[1]}": -np.asarray(gap, dtype=float),  # scorers negate the gap
        "rank_test_accuracy": np.arange(1, len(acc) + 1),
    }


def test_pareto_front_hand_made():
    results = _cv_results()
    snapshot = {k: np.array(v, copy=True) for k, v in results.items() if k != "params"}
    front = pareto_front(results)
    assert list(front.index) == [3, 1, 0]
    assert front.index.name == "candidate"
    np.testing.assert_allclose(front["delta_eod"], [0.02, 0.10, 0.30])  # un-negated
    np.testing.assert_allclose(front["accuracy"], [0.70, 0.78, 0.80])
    assert front["params"].tolist() == [{"alpha": 0.1}, {"alpha": 0.001}, {"alpha": 0}]
    assert front["param_alpha"].tolist() == [0.1, 0.001, 0]
    for key, value in snapshot.items():  # input untouched
        np.testing.assert_array_equal(results[key], value)


def test_pareto_front_keeps_ties_and_custom_names():
    results = _cv_results([0.9, 0.9, 0.8], [0.1, 0.1, 0.2], names=("bacc", "dp"))
    front = pareto_front(results, score="bacc", fairness="dp")
    assert sorted(front.index) == [0, 1]


def test_errors():
    with pytest.raises(ValueError, match="available"):
        pareto_front(_cv_results(), fairness="delta_dp")
    bad = _cv_results()
    bad["mean_test_delta_eod"] = -bad["mean_test_delta_eod"]  # not negated
    with pytest.raises(ValueError, match="negated"):
        pareto_front(bad)
    with pytest.raises(ValueError, match="NaN"):
        closest_to_upper_right()(_cv_results([np.nan], [np.nan]))
    with pytest.raises(ValueError, match="cv_results"):
        pareto_front([1, 2, 3])
    with pytest.raises(ValueError, match="bound"):
        best_score_within_fairness(-0.1)
    with pytest.raises(ValueError, match="not fitted"):
        pareto_front(GridSearchCV(LogisticRegression(), {"C": [1]}))


def test_best_score_within_fairness_hand_made():
    results = _cv_results()
    # gap <= 0.15: candidates 1 (0.78), 2 (0.75), 3 (0.70) -> 1
    assert best_score_within_fairness(0.15)(results) == 1
    # gap <= 0.05: only 3
    assert best_score_within_fairness(0.05)(results) == 3
    # no bound: 0 and 4 tie at 0.80 -> the smaller gap, 0
    assert best_score_within_fairness(1.0)(results) == 0
    # nothing within 0.01: warn and return the smallest gap, 3
    with pytest.warns(UserWarning, match="smallest gap"):
        assert best_score_within_fairness(0.01)(results) == 3


def test_closest_to_upper_right_hand_made():
    results = _cv_results()
    # valid candidates 0-4; accuracy in [0.70, 0.80], gap in [0.02, 0.35]
    # scaled acc s' = (acc - 0.70) / 0.10   -> 1, 0.8, 0.5, 0, 1
    # scaled gap g' = (gap - 0.02) / 0.33   -> 0.848, 0.242, 0.303, 0, 1
    # distance to (1, 0): 0.848, sqrt(0.04 + 0.0588) = 0.314, 0.585, 1, 1  -> 1
    rule = closest_to_upper_right()
    assert rule(results) == 1
    d = rule.distances(results)
    np.testing.assert_allclose(
        d[:5],
        [0.28 / 0.33, np.hypot(0.2, 0.08 / 0.33), np.hypot(0.5, 0.10 / 0.33), 1.0, 1.0],
    )
    assert np.isnan(d[5])


def test_closest_to_upper_right_normalize_changes_answer():
    results = _cv_results([0.9, 0.7], [0.5, 0.0])
    # scaled: (1, 1) and (0, 0) are both at distance 1 from (1, 0): tie -> higher score, 0
    assert closest_to_upper_right()(results) == 0
    # raw: sqrt(0 + 0.5^2) = 0.5 vs sqrt(0.2^2 + 0) = 0.2 -> 1
    assert closest_to_upper_right(normalize=False)(results) == 1
    # no spread on the gap axis: only the score counts
    assert closest_to_upper_right()(_cv_results([0.6, 0.9, 0.8], [0.1, 0.1, 0.1])) == 1


def test_rules_are_picklable_and_have_repr():
    for rule in (best_score_within_fairness(0.1), closest_to_upper_right()):
        restored = pickle.loads(pickle.dumps(rule))
        assert restored(_cv_results()) == rule(_cv_results())
        assert "fairness='delta_eod'" in repr(rule)
    assert isinstance(best_score_within_fairness(0.1), BestScoreWithinFairness)
    assert isinstance(closest_to_upper_right(), ClosestToUpperRight)


@pytest.mark.parametrize(
    "rule", [closest_to_upper_right(), best_score_within_fairness(0.2)], ids=repr
)
def test_real_gridsearch_refit(rule):
    rng = np.random.RandomState(0)
    n = 300
    A = rng.randint(0, 2, n)
    X = np.c_[rng.randn(n, 2) + A[:, None], A + 0.1 * rng.randn(n)]
    y = (X[:, 0] + 1.5 * A + rng.randn(n) * 0.8 > 1.0).astype(int)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            LogisticRegression(), {"C": [1e-3, 1e-2, 0.1, 1.0]}, cv=KFold(3),
            scoring={"accuracy": "accuracy", "delta_eod": make_fairness_scorer(delta_eod)},
            refit=rule, error_score="raise",
        ).fit(X, y, sensitive_features=A)
    assert search.best_index_ == rule(search.cv_results_)
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    assert hasattr(search, "best_estimator_")
    # the fitted search (with its rule) pickles and clones
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))
    assert clone(search).refit.fairness == "delta_eod"
    # pareto_front accepts the fitted search itself
    front = pareto_front(search)
    assert (front["delta_eod"] >= 0).all()
    assert set(front.index) <= set(range(4))


def test_pareto_mask_on_paired_arrays():
    score = [0.80, 0.78, 0.75, 0.70, 0.80, np.nan]
    gap = [0.30, 0.10, 0.12, 0.02, 0.30, 0.0]
    # 2 is dominated by 1; identical points 0 and 4 are both kept; NaN never on the front
    assert pareto_mask(score, gap).tolist() == [True, True, False, True, True, False]
    with pytest.raises(ValueError, match="same length"):
        pareto_mask([0.1, 0.2], [0.1])
