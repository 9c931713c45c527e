"""Tests of skfairlatent.metrics: hand-computed values, fairlearn, scorers."""

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from skfairlatent.metrics import (
    balanced_group_accuracy,
    delta_dp,
    delta_dp_multiclass,
    delta_eod,
    differential_fairness,
    make_fairness_scorer,
    model_bias,
    worst_group_accuracy,
)

# A small binary example used by several tests.
#            group "a" (6 rows)     group "b" (4 rows)
Y_TRUE = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0])
Y_PRED = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
GROUPS = np.array(["a"] * 6 + ["b"] * 4)
# group a: positives (rows 0-2) predicted 1,1,0 -> TPR_a = 2/3
#          negatives (rows 3-5) predicted 1,0,0 -> FPR_a = 1/3
#          selection rate 3/6 = 1/2; accuracy 4/6 = 2/3
# group b: positives (rows 6-7) predicted 1,0   -> TPR_b = 1/2
#          negatives (rows 8-9) predicted 0,0   -> FPR_b = 0
#          selection rate 1/4; accuracy 3/4


def test_delta_dp_hand_computed_and_fairlearn():
    # |1/2 - 1/4| = 1/4
    assert delta_dp(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(0.25)
    assert delta_dp(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(
        demographic_parity_difference(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    )


def test_delta_dp_equals_metricframe_selection_rate_difference():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 300)
    y_pred = rng.randint(0, 2, 300)
    groups = rng.choice(["x", "y", "z"], 300)
    mf = MetricFrame(metrics=selection_rate, y_true=y, y_pred=y_pred, sensitive_features=groups)
    assert delta_dp(y, y_pred, sensitive_features=groups) == pytest.approx(mf.difference())
    assert delta_dp(y, y_pred, sensitive_features=groups) == pytest.approx(
        demographic_parity_difference(y, y_pred, sensitive_features=groups)
    )


def test_delta_eod_hand_computed_and_relation_to_fairlearn():
    # |TPR_a - TPR_b| + |FPR_a - FPR_b| = |2/3 - 1/2| + |1/3 - 0| = 1/6 + 1/3 = 1/2
    value = delta_eod(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    assert value == pytest.approx(0.5)
    # fairlearn takes the max of the two gaps: max(1/6, 1/3) = 1/3
    eod = equalized_odds_difference(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    assert eod == pytest.approx(1 / 3)
    assert eod <= value <= 2 * eod


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delta_eod_multigroup_is_sum_of_spreads(seed):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, 400)
    y_pred = np.where(rng.rand(400) < 0.8, y, 1 - y)
    groups = rng.choice(["p", "q", "r", "s"], 400)
    mf = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y, y_pred=y_pred, sensitive_features=groups,
    )
    diff = mf.difference()
    value = delta_eod(y, y_pred, sensitive_features=groups)
    assert value == pytest.approx(diff["tpr"] + diff["fpr"])
    eod = equalized_odds_difference(y, y_pred, sensitive_features=groups)
    assert eod == pytest.approx(max(diff["tpr"], diff["fpr"]))
    assert eod <= value + 1e-12 <= 2 * eod + 1e-12


def test_string_labels_and_pos_label():
    labels = np.array(["no", "yes"])
    y_s, p_s = labels[Y_TRUE], labels[Y_PRED]
    assert delta_eod(y_s, p_s, sensitive_features=GROUPS, pos_label="yes") == pytest.approx(0.5)
    assert delta_dp(y_s, p_s, sensitive_features=GROUPS, pos_label="yes") == pytest.approx(0.25)
    assert differential_fairness(
        y_s, p_s, sensitive_features=GROUPS, pos_label="yes"
    ) == pytest.approx(math.log(2))
    # the default pos_label=1 is not a label here: a clear error, not a silent 0
    with pytest.raises(ValueError, match="pos_label=1"):
        delta_dp(y_s, p_s, sensitive_features=GROUPS)
    # "no" as positive: TPR' = P(pred no | y no): a 2/3, b 1; FPR' = P(pred no | y yes):
    # a 1/3, b 1/2 -> |2/3 - 1| + |1/3 - 1/2| = 1/3 + 1/6 = 1/2 (the same sum)
    assert delta_eod(y_s, p_s, sensitive_features=GROUPS, pos_label="no") == pytest.approx(0.5)
    # label-free metrics work on strings as well
    assert worst_group_accuracy(y_s, p_s, sensitive_features=GROUPS) == pytest.approx(2 / 3)


def test_pandas_inputs_and_inputs_unchanged():
    y = pd.Series(Y_TRUE, index=np.arange(10)[::-1])  # index is ignored, order counts
    y_pred = pd.Series(Y_PRED)
    groups = pd.Series(GROUPS, dtype="string")
    y_before, groups_before = y.copy(), groups.copy()
    assert delta_eod(y, y_pred, sensitive_features=groups) == pytest.approx(0.5)
    gap = delta_dp(y, y_pred.to_frame(), sensitive_features=groups.to_frame())
    assert gap == pytest.approx(0.25)
    pd.testing.assert_series_equal(y, y_before)
    pd.testing.assert_series_equal(groups, groups_before)

    arr_pred = Y_PRED.copy()
    delta_eod(Y_TRUE, arr_pred, sensitive_features=GROUPS)
    np.testing.assert_array_equal(arr_pred, Y_PRED)


def test_dataframe_sensitive_features_is_intersection():
    rng = np.random.RandomState(3)
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], 200), "race": rng.choice(["u", "v"], 200)})
    y = rng.randint(0, 2, 200)
    y_pred = rng.randint(0, 2, 200)
    combined = frame["sex"] + "-" + frame["race"]
    assert delta_eod(y, y_pred, sensitive_features=frame) == pytest.approx(
        delta_eod(y, y_pred, sensitive_features=combined)
    )
    assert delta_dp(y, y_pred, sensitive_features=frame) == pytest.approx(
        demographic_parity_difference(y, y_pred, sensitive_features=frame)
    )


def test_differential_fairness_hand_computed():
    # rates 1/2 and 1/4: |log(0.5 / 0.25)| = log 2
    assert differential_fairness(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(
        math.log(2)
    )
    # Dirichlet smoothing alpha=1: (3+1)/(6+2) = 1/2 and (1+1)/(4+2) = 1/3 -> log(3/2)
    assert differential_fairness(
        Y_TRUE, Y_PRED, sensitive_features=GROUPS, smoothing=1.0
    ) == pytest.approx(math.log(1.5))
    # three groups: rates 1/2, 1/4, 1 -> max over pairs = log(1 / (1/4)) = log 4
    y_pred = np.r_[Y_PRED, [1, 1]]
    groups = np.r_[GROUPS, ["c", "c"]]
    assert differential_fairness(
        np.r_[Y_TRUE, [0, 1]], y_pred, sensitive_features=groups
    ) == pytest.approx(math.log(4))


def test_differential_fairness_zero_rates():
    y = np.zeros(4, dtype=int)
    groups = [0, 0, 1, 1]
    # group 1 never predicted positive: infinite ratio
    assert differential_fairness(y, [1, 0, 0, 0], sensitive_features=groups) == math.inf
    # nobody predicted positive: all rates equal (0) -> 0
    assert differential_fairness(y, [0, 0, 0, 0], sensitive_features=groups, pos_label=0) == 0.0
    # smoothing keeps it finite: (1+1)/(2+2)=1/2 vs (0+1)/(2+2)=1/4 -> log 2
    assert differential_fairness(
        y, [1, 0, 0, 0], sensitive_features=groups, smoothing=1.0
    ) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="smoothing"):
        differential_fairness(y, [1, 0, 0, 0], sensitive_features=groups, smoothing=-1)


def test_delta_dp_multiclass_hand_computed():
    y_pred = np.array([0, 1, 2, 2, 0, 0, 1, 2])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # group 0: P(0)=1/4, P(1)=1/4, P(2)=1/2 ; group 1: P(0)=1/2, P(1)=1/4, P(2)=1/4
    # per-class gaps 1/4, 0, 1/4 -> max = 1/4
    assert delta_dp_multiclass(y_pred, y_pred, sensitive_features=groups) == pytest.approx(0.25)
    # binary labels: equals delta_dp
    assert delta_dp_multiclass(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(
        delta_dp(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    )


def test_worst_group_and_balanced_accuracy_hand_computed():
    # accuracies: a = 4/6, b = 3/4 -> min 2/3
    assert worst_group_accuracy(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(2 / 3)
    # cells: (a,1)=2/3, (a,0)=2/3, (b,1)=1/2, (b,0)=2/2 -> min 1/2
    assert worst_group_accuracy(
        Y_TRUE, Y_PRED, sensitive_features=GROUPS, by="group_and_label"
    ) == pytest.approx(0.5)
    # bACC = mean of the four cells = (2/3 + 2/3 + 1/2 + 1) / 4 = 17/24
    assert balanced_group_accuracy(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(
        17 / 24
    )
    with pytest.raises(ValueError, match="by must be"):
        worst_group_accuracy(Y_TRUE, Y_PRED, sensitive_features=GROUPS, by="label")


def test_model_bias_binary_equals_delta_eod():
    # class 1: recall a = 2/3, b = 1/2 -> 1/6 ; class 0: P(pred 0 | y 0): a = 2/3, b = 1 -> 1/3
    # sum = 1/2 (= TPR gap + FPR gap, since 1 - FPR is the class-0 recall)
    assert model_bias(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(0.5)
    assert model_bias(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(
        delta_eod(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    )


def test_model_bias_and_bacc_three_groups():
    y = np.array([0, 0, 1, 1] * 3)
    y_pred = np.array([0, 0, 1, 1,   # red:   recall0 = 1,   recall1 = 1
                       0, 1, 1, 0,   # green: recall0 = 1/2, recall1 = 1/2
                       1, 1, 1, 1])  # blue:  recall0 = 0,   recall1 = 1
    groups = np.repeat(["red", "green", "blue"], 4)
    # class 0: max - min = 1 - 0 = 1 ; class 1: 1 - 1/2 = 1/2 -> 3/2
    assert model_bias(y, y_pred, sensitive_features=groups) == pytest.approx(1.5)
    # bACC: (1 + 1 + 1/2 + 1/2 + 0 + 1) / 6 = 2/3
    assert balanced_group_accuracy(y, y_pred, sensitive_features=groups) == pytest.approx(2 / 3)


def test_model_bias_scale_matches_aeda_cmnist():
    """AEDA Table 1 reports model bias 7.84 with bACC 55.62% on 10-class C-MNIST.

    A classifier with recall 0.95 on the background colour a digit had in
    training and 0.16 on the other colour gives, per class, |0.95 - 0.16| = 0.79,
    summed over 10 classes 7.9, and bACC (0.95 + 0.16) / 2 = 0.555: the sum over
    classes of probability differences (range [0, 10]) matches the paper's scale.
    """
    y, y_pred, colour = [], [], []
    for digit in range(10):
        for c in ("red", "brown"):
            seen = (digit < 5) == (c == "red")
            n_correct = 95 if seen else 16
            y += [digit] * 100
            y_pred += [digit] * n_correct + [(digit + 1) % 10] * (100 - n_correct)
            colour += [c] * 100
    assert model_bias(y, y_pred, sensitive_features=colour) == pytest.approx(7.9)
    assert balanced_group_accuracy(y, y_pred, sensitive_features=colour) == pytest.approx(0.555)


def test_model_bias_skips_class_in_one_group():
    y = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 2]
    groups = [0, 1, 0, 1, 0]
    # class 0: recall 1 vs 0 -> 1 ; class 1: 1 vs 1 -> 0 ; class 2 only in group 0 -> skipped
    with pytest.warns(UserWarning, match="only one bias group"):
        assert model_bias(y, y_pred, sensitive_features=groups) == pytest.approx(1.0)


def test_delta_eod_missing_positives():
    # group 1 has no positive rows: TPR undefined for one of two groups
    with pytest.raises(ValueError, match="TPR is defined for fewer than two groups"):
        delta_eod([1, 0, 0, 0], [1, 0, 0, 0], sensitive_features=[0, 0, 1, 1])
    # with three groups, the group without positives is left out with a warning
    y = [1, 0, 1, 0, 0, 0]
    y_pred = [1, 0, 0, 0, 1, 0]
    groups = [0, 0, 1, 1, 2, 2]
    # TPR: g0 = 1, g1 = 0 (g2 left out) -> 1 ; FPR: 0, 0, 1/2 -> 1/2 ; sum 3/2
    with pytest.warns(UserWarning, match="no positive rows"):
        assert delta_eod(y, y_pred, sensitive_features=groups) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "metric",
    [delta_dp, delta_eod, differential_fairness, delta_dp_multiclass,
     worst_group_accuracy, model_bias, balanced_group_accuracy],
)
def test_errors(metric):
    with pytest.raises(ValueError, match="same length"):
        metric(Y_TRUE, Y_PRED[:-1], sensitive_features=GROUPS)
    with pytest.raises(ValueError, match="rows but X has"):
        metric(Y_TRUE, Y_PRED, sensitive_features=GROUPS[:-1])
    with pytest.raises(ValueError, match="at least two groups"):
        metric(Y_TRUE, Y_PRED, sensitive_features=["a"] * 10)
    with pytest.raises(ValueError, match="needs sensitive_features"):
        metric(Y_TRUE, Y_PRED, sensitive_features=None)
    with pytest.raises(ValueError, match="missing"):
        metric(np.r_[Y_TRUE[:-1], np.nan], Y_PRED, sensitive_features=GROUPS)
    with pytest.raises(ValueError, match="1-d"):
        metric(Y_TRUE, np.c_[Y_PRED, Y_PRED], sensitive_features=GROUPS)
    with pytest.raises(ValueError, match="empty"):
        metric([], [], sensitive_features=[])
    with pytest.raises(TypeError):
        metric(Y_TRUE, Y_PRED, GROUPS)  # sensitive_features is keyword-only


# --------------------------------------------------------------------------- #
# Scorer
# --------------------------------------------------------------------------- #
def _data(seed=0, n=240):
    rng = np.random.RandomState(seed)
    A = rng.choice(["F", "M"], n)
    X = rng.randn(n, 3) + (A == "M")[:, None] * 0.8
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.randn(n) * 0.7 > 0.4).astype(int)
    return X, y, A


def test_scorer_in_gridsearch_receives_sensitive_features():
    X, y, A = _data()
    scorer = make_fairness_scorer(delta_eod)  # made with routing off: request still set
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            LogisticRegression(), {"C": [0.01, 1.0]}, cv=cv, refit="accuracy",
            scoring={"accuracy": "accuracy", "delta_eod": scorer}, error_score="raise",
        ).fit(X, y, sensitive_features=A)
    results = search.cv_results_
    for i, params in enumerate(results["params"]):
        for k, (train, test) in enumerate(cv.split(X)):
            est = LogisticRegression(**params).fit(X[train], y[train])
            expected = delta_eod(y[test], est.predict(X[test]), sensitive_features=A[test])
            # GridSearchCV stores the NEGATED gap
            assert results[f"split{k}_test_delta_eod"][i] == pytest.approx(-expected)
    assert np.all(results["mean_test_delta_eod"] <= 0)


def test_scorer_metric_kwargs_string_labels_and_pickle():
    X, y, A = _data(1)
    y_str = np.where(y == 1, "yes", "no")
    scorer = make_fairness_scorer(delta_dp, pos_label="yes")
    est = LogisticRegression().fit(X, y_str)
    with sklearn.config_context(enable_metadata_routing=True):
        value = scorer(est, X, y_str, sensitive_features=A)
        assert value == pytest.approx(
            -delta_dp(y_str, est.predict(X), sensitive_features=A, pos_label="yes")
        )
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored(est, X, y_str, sensitive_features=A) == pytest.approx(value)


def test_scorer_without_routing_explains():
    X, y, A = _data(2)
    est = LogisticRegression().fit(X, y)
    scorer = make_fairness_scorer(delta_eod)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        scorer(est, X, y)
    # inside a search with routing off, the failure becomes NaN scores + a warning
    search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2, refit="accuracy",
                          scoring={"accuracy": "accuracy", "delta_eod": scorer})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_delta_eod"]).all()
    assert any("enable_metadata_routing" in str(w.message) for w in caught)


def test_scorer_with_fairlearn_metric_and_bad_metric():
    X, y, A = _data(3)
    est = LogisticRegression().fit(X, y)
    scorer = make_fairness_scorer(equalized_odds_difference)
    with sklearn.config_context(enable_metadata_routing=True):
        assert scorer(est, X, y, sensitive_features=A) == pytest.approx(
            -equalized_odds_difference(y, est.predict(X), sensitive_features=A)
        )
    with pytest.raises(TypeError, match="callable"):
        make_fairness_scorer("delta_eod")
