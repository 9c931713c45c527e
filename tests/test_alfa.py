"""ALFAClassifier: the estimator contract, routing, robustness and real-data fairness."""

import copy
import functools
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skfairlatent import ALFAClassifier
from skfairlatent.datasets import load_compas, load_german, make_preprocessor, make_unfair_gaussians
from skfairlatent.exceptions import InvalidParameterError, NonFiniteLossError
from skfairlatent.metrics import delta_dp, delta_eod, make_fairness_scorer

#: Bars of the frozen-model attack test (seed means; see ``attack_seed``). Measured
#: (seeds 0-7, 10-14): ΔEOd ratio 2.27-3.37 and ΔDP rise 0.34-0.47; the control 1 and 0.
ATTACK_EOD_RATIO, ATTACK_DP_RISE = 2.0, 0.1
FAST = dict(max_epochs=5, hidden_layer_sizes=(16,), batch_size=32, attack_steps=3)


@pytest.fixture(scope="module")
def gaussians():
    X, y, A = make_unfair_gaussians(random_state=0)
    return X.astype(np.float32), y, A


# --------------------------------------------------------------------------- #
# Fitted state
# --------------------------------------------------------------------------- #
def test_fit_exposes_attack_diagnostics(gaussians):
    X, y, A = gaussians
    clf = ALFAClassifier(hidden_layer_sizes=(8,), max_epochs=20, upsampling="paper",
                         class_prior="balanced", random_state=0).fit(X, y, sensitive_features=A)
    n_p = 4 * max(np.sum((A == a) & (y == t)) for a in (0, 1) for t in (0, 1))
    assert clf.attack_latents_.shape == clf.perturbed_latents_.shape == (n_p, 8)
    assert clf.attack_sensitive_.shape == clf.attack_targets_.shape == (n_p,)
    assert np.bincount(2 * clf.attack_sensitive_ + clf.attack_targets_).tolist() == [n_p // 4] * 4
    assert clf.epsilon_.shape == (2, 2) and np.all(clf.epsilon_ > 0)
    # Every perturbation stays inside its cell's ε-ball.
    radius = clf.epsilon_[clf.attack_sensitive_, clf.attack_targets_]
    norms = np.linalg.norm(clf.perturbed_latents_ - clf.attack_latents_, axis=1)
    assert np.all(norms <= radius * (1 + 1e-4))
    assert clf.coef_.shape == clf.pretrained_coef_.shape == (1, 8)
    assert not np.allclose(clf.coef_, clf.pretrained_coef_)


def test_per_batch_upsampling_balances_every_batch_with_its_own_epsilon():
    # The authors' code: chunks of 4·b shuffled rows, b rows of every cell from each,
    # ε per cell of each batch; N_p ≈ n (rounded up to whole chunks).
    from skfairlatent.nn.attacks import batch_cell_radius, per_batch_upsampling

    rng = np.random.default_rng(0)
    cells = rng.choice(4, size=1000, p=[0.55, 0.25, 0.15, 0.05])
    batches = per_batch_upsampling(cells, np.random.default_rng(1), 32)
    assert batches.shape == (8, 128)                                  # ⌈1000 / 128⌉ chunks
    for batch in batches:
        assert cells[batch].reshape(4, 32).tolist() == [[c] * 32 for c in range(4)]
    # The largest cell fills its 32 without replacement from each chunk's ~70 rows.
    assert all(len(set(batch[:32])) == 32 for batch in batches[:-1])
    distance = torch.as_tensor(rng.random(1000), dtype=torch.float32)
    radius = batch_cell_radius(distance, batches, 4)
    expected = distance[torch.as_tensor(batches)].reshape(8, 4, 32).mean(dim=2)
    torch.testing.assert_close(radius.reshape(8, 4, 32)[:, :, 0], expected)
    assert torch.all(radius.reshape(8, 4, 32) == radius.reshape(8, 4, 32)[:, :, :1])


def test_per_batch_and_class_prior_options(gaussians):
    X, y, A = gaussians
    y = (np.arange(len(y)) % 4 == 0).astype(int)          # 25 % positives
    clf = ALFAClassifier(hidden_layer_sizes=(8,), max_epochs=3, upsampling="per_batch",
                         class_prior="data", random_state=0).fit(X, y, sensitive_features=A)
    norms = np.linalg.norm(clf.perturbed_latents_ - clf.attack_latents_, axis=1)
    assert np.all(norms <= clf.attack_radius_ * (1 + 1e-4))
    counts = np.bincount(2 * clf.attack_targets_ + clf.attack_sensitive_)   # cells (y, a)
    assert counts[0] == counts[1] and abs(counts[2] - counts[3]) <= 1    # groups equal per class
    assert abs(counts[2:].sum() / counts.sum() - 0.25) < 0.01             # the training share
    balanced = ALFAClassifier(hidden_layer_sizes=(8,), max_epochs=3, upsampling="per_batch",
                              class_prior="balanced", random_state=0).fit(
        X, y, sensitive_features=A)
    assert len(balanced.attack_targets_) == 512 * int(np.ceil(len(X) / 512))   # N_p ≈ n
    assert balanced.attack_targets_.mean() == 0.5


def attack_seed(seed):
    """The attack's effect on the frozen pretrained model (5 epochs, COMPAS ``load_split``
    training rows of ``seed``): attacked ΔEOd over clean ΔEOd and attacked minus clean
    ΔDP, for ALFA and for the attack with no budget (ε = 1e-8, the control)."""
    from skfairlatent.experiments import load_split

    fits = _fit_variants(*load_split("compas", seed)["train"], seed,
                         {"control": {"epsilon": 1e-8}, "alfa": {}}, max_epochs=5)
    reports = {name: model.attack_report_ for name, model in fits.items()}
    return {name: (r["delta_eod_perturbed"] / r["delta_eod_clean"],
                   r["delta_dp_perturbed"] - r["delta_dp_clean"]) for name, r in reports.items()}


@pytest.mark.slow
def test_attack_raises_eod_of_frozen_model_on_real_data(fairness_seeds):
    # The attack must at least double the frozen model's ΔEOd on the seed mean and
    # raise its ΔDP; with no budget (the control) it changes neither.
    res = per_seed(attack_seed, seeds=fairness_seeds)
    print({k: np.round(v, 3).tolist() for k, v in res.items()})
    means = {name: values.mean(axis=0) for name, values in res.items()}
    assert means["alfa"][0] > ATTACK_EOD_RATIO and not means["control"][0] > ATTACK_EOD_RATIO
    assert means["alfa"][1] > ATTACK_DP_RISE and not means["control"][1] > ATTACK_DP_RISE


def test_without_sensitive_features_warns_and_skips_attack(gaussians):
    X, y, _ = gaussians
    with pytest.warns(UserWarning, match="without sensitive_features"):
        clf = ALFAClassifier(**FAST, random_state=0).fit(X, y)
    assert clf.attack_report_ is None and clf.perturbed_latents_ is None
    np.testing.assert_allclose(clf.coef_, clf.pretrained_coef_)


@pytest.mark.slow
def test_same_seed_same_predictions_and_pickle(gaussians):
    X, y, A = gaussians
    first = ALFAClassifier(**FAST, random_state=3).fit(X, y, sensitive_features=A)
    second = ALFAClassifier(**FAST, random_state=3).fit(X, y, sensitive_features=A)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict_proba(X), first.predict_proba(X))
    # The caller's global torch state is left alone.
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    ALFAClassifier(**FAST, random_state=3).fit(X, y, sensitive_features=A)
    assert torch.rand(1) == expected


def test_string_labels_and_string_groups(gaussians):
    X, y, A = gaussians
    labels = np.where(y == 1, "approved", "denied")
    groups = pd.Series(np.where(A == 1, "men", "women"))
    clf = ALFAClassifier(**FAST, random_state=0).fit(X, labels, sensitive_features=groups)
    assert set(clf.predict(X)) <= {"approved", "denied"}
    assert list(clf.classes_) == ["approved", "denied"]
    assert list(clf.sensitive_groups_) == ["men", "women"]
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_inputs_are_not_modified(gaussians):
    X, y, A = gaussians
    X_df = pd.DataFrame(X, columns=["x1", "x2"])
    A_s = pd.Series(A)
    before = X_df.copy(), A_s.copy()
    ALFAClassifier(**FAST, random_state=0).fit(X_df, y, sensitive_features=A_s)
    pd.testing.assert_frame_equal(X_df, before[0])
    pd.testing.assert_series_equal(A_s, before[1])


# --------------------------------------------------------------------------- #
# Large data: memmaps, memory-bounded stores
# --------------------------------------------------------------------------- #
def test_memmap_input_gives_the_same_model(gaussians, tmp_path):
    X, y, A = gaussians
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    in_memory = ALFAClassifier(**FAST, random_state=0).fit(X, y, sensitive_features=A)
    mapped = ALFAClassifier(**FAST, random_state=0).fit(X_map, y, sensitive_features=A)
    np.testing.assert_array_equal(mapped.coef_, in_memory.coef_)
    np.testing.assert_array_equal(mapped.predict_proba(X_map), in_memory.predict_proba(X))


@pytest.mark.parametrize("params", [{}, {"lambda_": 0}, {"hidden_layer_sizes": ()},
                                    {"finetune_on": "upsampled"}])
def test_latents_spilled_to_disk_give_the_same_attack(gaussians, monkeypatch, params):
    # A RowStore budget of 4 KiB sends the latents to a temporary file: the attack
    # is unchanged (same δ, same kept rows) and the head solve reads the rows a
    # chunk at a time, the same loss summed in another order.
    X, y, A = gaussians
    kwargs = {**FAST, "max_epochs": 10, **params}
    in_memory = ALFAClassifier(**kwargs, random_state=0).fit(X, y, sensitive_features=A)
    monkeypatch.setattr("skfairlatent.base.ROW_STORE_MEMORY", 4096)
    spilled = ALFAClassifier(**kwargs, random_state=0).fit(X, y, sensitive_features=A)
    if in_memory.perturbed_latents_ is not None:
        np.testing.assert_array_equal(spilled.perturbed_latents_, in_memory.perturbed_latents_)
        np.testing.assert_array_equal(spilled.attack_latents_, in_memory.attack_latents_)
    np.testing.assert_allclose(spilled.coef_, in_memory.coef_, rtol=1e-3, atol=1e-4)
    assert np.mean(spilled.predict(X) == in_memory.predict(X)) >= 0.999


def test_keep_attack_data_false_keeps_no_latents(gaussians):
    X, y, A = gaussians
    kept = ALFAClassifier(**FAST, random_state=0).fit(X, y, sensitive_features=A)
    dropped = ALFAClassifier(**FAST, keep_attack_data=False, random_state=0).fit(
        X, y, sensitive_features=A)
    assert dropped.attack_latents_ is None and dropped.perturbed_latents_ is None
    np.testing.assert_array_equal(dropped.coef_, kept.coef_)
    assert dropped.attack_report_ == kept.attack_report_


@pytest.mark.slow
@pytest.mark.parametrize("loader", [load_compas, load_german])
def test_chunked_head_solve_stays_within_tolerance_on_real_data(loader, monkeypatch):
    # The ablation's datasets fit in memory and take the one-matrix solve; forcing
    # the chunked solve on them moves the L-BFGS solution (stopped at
    # finetune_max_iter, far from a flat minimum) by a fraction of a percent.
    X, y, A = loader(return_X_y_A=True)
    X = make_preprocessor().fit_transform(X).astype(np.float32)
    params = dict(max_epochs=20, random_state=0)
    exact = ALFAClassifier(**params).fit(X, y, sensitive_features=A)
    monkeypatch.setattr("skfairlatent.base.ROW_STORE_MEMORY", 2 ** 16)
    chunked = ALFAClassifier(**params).fit(X, y, sensitive_features=A)
    scale = np.abs(exact.coef_).max()
    assert np.abs(chunked.coef_ - exact.coef_).max() <= 0.02 * scale
    p_exact, p_chunked = exact.predict_proba(X)[:, 1], chunked.predict_proba(X)[:, 1]
    assert np.abs(p_chunked - p_exact).max() <= 0.05
    assert np.mean((p_chunked > 0.5) == (p_exact > 0.5)) >= 0.99
    assert abs(delta_eod(y, chunked.predict(X), sensitive_features=A)
               - delta_eod(y, exact.predict(X), sensitive_features=A)) <= 0.01


# --------------------------------------------------------------------------- #
# Variants: logistic, input space, convex constraint, custom encoder,
# multi-valued attribute, multi-class and multi-label targets
# --------------------------------------------------------------------------- #
def test_logistic_variant_attacks_input_space(gaussians):
    X, y, A = gaussians
    clf = ALFAClassifier(hidden_layer_sizes=(), max_epochs=10, random_state=0).fit(
        X, y, sensitive_features=A)
    assert clf.attack_latents_.shape[1] == X.shape[1]   # the input space
    assert clf.coef_.shape == (1, 2)


@pytest.mark.parametrize("params", [
    {"perturbation_space": "input"},
    {"fairness_constraint": "convex"},
    {"epsilon": 0.5, "reinit_head": False, "alpha": 0.0},
    {"finetune_on": "upsampled", "reinit_head": False},     # the authors' code
    {"upsampling": "per_batch", "epsilon": 0.5},
])
@pytest.mark.slow
def test_variants_fit_and_predict(gaussians, params):
    X, y, A = gaussians
    clf = ALFAClassifier(**FAST, random_state=0, **params).fit(X, y, sensitive_features=A)
    assert clf.predict(X).shape == (len(X),)
    if "epsilon" in params:
        assert np.all(clf.epsilon_ == 0.5)


def test_user_supplied_encoder_is_copied(gaussians):
    X, y, A = gaussians
    encoder = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.Tanh())
    weights = encoder[0].weight.detach().clone()
    clf = ALFAClassifier(encoder=encoder, train_encoder=False, **FAST, random_state=0)
    clf.fit(X, y, sensitive_features=A)
    assert clf.attack_latents_.shape[1] == 6
    assert torch.equal(encoder[0].weight, weights)               # caller's module untouched
    assert torch.equal(clf.net_.module_.encoder[0].weight, weights)  # frozen encoder


def test_multivalued_sensitive_attribute_and_multiclass_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    A = pd.DataFrame({"race": rng.choice(["a", "b"], 300), "sex": rng.choice(["f", "m"], 300)})
    clf = ALFAClassifier(**FAST, random_state=0).fit(X, y, sensitive_features=A)
    assert len(clf.sensitive_groups_) == 4                      # intersections
    assert clf.epsilon_.shape == (4, 3)
    assert clf.attack_signs_.shape == (4, 3)                    # one per group and class
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(clf.predict(X)) <= {0, 1, 2}


def test_multilabel_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    Y = (X[:, :3] + rng.normal(size=(200, 3)) > 0).astype(int)
    A = rng.integers(0, 2, 200)
    clf = ALFAClassifier(**FAST, random_state=0).fit(X, Y, sensitive_features=A)
    assert clf.predict(X).shape == (200, 3)
    assert clf.predict_proba(X).shape == (200, 3)


# --------------------------------------------------------------------------- #
# Step 5 solved: the L-BFGS head is Eq. 5's weighted logistic regression
# --------------------------------------------------------------------------- #
def _unpenalised_logistic_regression(X, y, sample_weight):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000)
    return model.fit(X.astype(np.float64), y, sample_weight=sample_weight)


def test_lbfgs_head_is_the_weighted_logistic_regression_of_eq5(gaussians):
    """Logistic ALFA (the head is the whole model): fine-tuned on the originals (weight
    1-λ) and the perturbed rows (weight λ), the head must be scikit-learn's unpenalised
    weighted logistic regression on the same rows."""
    X, y, A = gaussians
    clf = ALFAClassifier(hidden_layer_sizes=(), lambda_=0.3, max_epochs=5, random_state=0)
    clf.fit(X, y, sensitive_features=A)
    rows = np.vstack([X, clf.perturbed_latents_])
    labels = np.concatenate([y, clf.attack_targets_])
    weights = np.r_[np.full(len(X), 0.7), np.full(len(clf.perturbed_latents_), 0.3)]
    reference = _unpenalised_logistic_regression(rows, labels, weights)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(clf.intercept_, reference.intercept_, rtol=2e-3, atol=2e-3)
    assert clf.finetune_n_iter_ < clf.finetune_max_iter              # converged, not capped
    # Adam with the paper's recipe stops short of that minimum (the reason for the solver).
    adam = ALFAClassifier(hidden_layer_sizes=(), lambda_=0.3, max_epochs=5, random_state=0,
                          finetune_solver="adam").fit(X, y, sensitive_features=A)
    assert np.abs(adam.coef_ - reference.coef_).max() > 0.05


def test_lbfgs_iteration_cap_stops_on_separable_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)                       # separable: the minimum is at infinity
    A = rng.integers(0, 2, 200)
    clf = ALFAClassifier(hidden_layer_sizes=(), lambda_=0.0, finetune_max_iter=7,
                         max_epochs=2, random_state=0).fit(X, y, sensitive_features=A)
    assert clf.finetune_n_iter_ == 7
    assert np.all(np.isfinite(clf.coef_))


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("params, message", [
    ({"alpha": -1}, "alpha"),
    ({"lambda_": 1.5}, "lambda_"),
    ({"epsilon": 0}, "epsilon"),
    ({"fairness_constraint": "l1"}, "fairness_constraint"),
    ({"perturbation_space": "output"}, "perturbation_space"),
    ({"max_epochs": 0}, "max_epochs"),
    ({"alpha": np.inf}, "alpha"),
    ({"alpha": np.nan}, "alpha"),
    ({"lr": np.inf}, "lr"),
    ({"attack_lr": np.nan}, "attack_lr"),
    ({"sinkhorn_reg": np.inf}, "sinkhorn_reg"),
    ({"epsilon": np.inf}, "epsilon"),
    ({"epsilon": np.nan}, "epsilon"),
    ({"lambda_": np.nan}, "lambda_"),
    ({"sinkhorn_scale": "mean"}, "sinkhorn_scale"),
    ({"sinkhorn_scale": np.inf}, "sinkhorn_scale"),
    ({"finetune_on": "both"}, "finetune_on"),
    ({"upsampling": "global"}, "upsampling"),
    ({"class_prior": "uniform"}, "class_prior"),
    ({"finetune_solver": "sgd"}, "finetune_solver"),
    ({"finetune_max_iter": 0}, "finetune_max_iter"),
    ({"attack_steps": 0}, "attack_steps"),
    ({"attack_batch_size": 2.5}, "attack_batch_size"),
    ({"sinkhorn_max_iter": 0}, "sinkhorn_max_iter"),
    ({"batch_size": "32"}, "batch_size"),
    ({"lambda_": "0.5"}, "lambda_"),
    ({"alpha": "0.1"}, "alpha"),
    ({"hidden_layer_sizes": "abc"}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"encoder": "mlp"}, "encoder"),
    ({"train_encoder": "yes"}, "train_encoder"),
    ({"reinit_head": None}, "reinit_head"),
    ({"keep_attack_data": "no"}, "keep_attack_data"),
])
def test_bad_hyperparameters(gaussians, params, message):
    # scikit-learn's InvalidParameterError, a ValueError and a TypeError
    X, y, A = gaussians
    with pytest.raises(InvalidParameterError, match=message):
        ALFAClassifier(**{**FAST, **params}).fit(X, y, sensitive_features=A)


def test_diverging_loss_raises_clear_error(gaussians):
    X, y, A = gaussians
    with pytest.raises(NonFiniteLossError, match="training loss became nan.*scaled"):
        ALFAClassifier(**FAST, random_state=0).fit(X * 1e30, y, sensitive_features=A)


def test_bad_data(gaussians):
    X, y, A = gaussians
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ALFAClassifier(**FAST).fit(X_nan, y, sensitive_features=A)
    with pytest.raises(ValueError, match="rows but X has"):
        ALFAClassifier(**FAST).fit(X, y, sensitive_features=A[:-1])
    with pytest.raises(ValueError, match="at least two groups"):
        ALFAClassifier(**FAST).fit(X, y, sensitive_features=np.zeros(len(X)))
    with pytest.raises(ValueError, match="one class"):
        ALFAClassifier(**FAST).fit(X, np.ones(len(X)), sensitive_features=A)
    with pytest.raises(ValueError, match="convex"):
        ALFAClassifier(**FAST, fairness_constraint="convex").fit(
            X, y, sensitive_features=np.arange(len(X)) % 3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ALFAClassifier(**FAST, device="cuda").fit(X, y, sensitive_features=A)


# --------------------------------------------------------------------------- #
# Pipeline, GridSearchCV, MetricFrame
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_grid_search_routes_sensitive_features_to_fit_and_scorer():
    X, y, A = load_german(return_X_y_A=True)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            make_preprocessor(),
            ALFAClassifier(**FAST, random_state=0).set_fit_request(sensitive_features=True))
        search = GridSearchCV(
            pipe, {"alfaclassifier__alpha": [0.0, 1.0]}, cv=2, refit="accuracy",
            scoring={"accuracy": "accuracy", "delta_eod": make_fairness_scorer(delta_eod)})
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)   # no fit without sensitive features
            search.fit(X, y, sensitive_features=A)
    eod = -search.cv_results_["mean_test_delta_eod"]
    assert np.all((eod >= 0) & (eod <= 2))
    fitted = search.best_estimator_[-1]
    assert fitted.attack_report_ is not None                  # the attack ran
    frame = MetricFrame(metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
                        y_true=y, y_pred=search.predict(X), sensitive_features=A)
    assert set(frame.by_group.index) == {"Female", "Male"}
    assert frame.difference()["selection_rate"] == pytest.approx(
        delta_dp(y, search.predict(X), sensitive_features=A))


@pytest.mark.slow
def test_pipeline_without_routing_uses_step_prefix():
    X, y, A = load_german(return_X_y_A=True)
    pipe = make_pipeline(make_preprocessor(), ALFAClassifier(**FAST, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pipe.fit(X, y, alfaclassifier__sensitive_features=A)
    assert pipe[-1].attack_report_ is not None
    search = GridSearchCV(pipe, {"alfaclassifier__lambda_": [0.0, 0.5]}, cv=2)
    search.fit(X, y, alfaclassifier__sensitive_features=A)
    assert search.best_estimator_[-1].sensitive_groups_.tolist() == ["Female", "Male"]


# --------------------------------------------------------------------------- #
# Fairness on real data: ALFA versus the same model fine-tuned without it.
# Every bar (BARS) was set by one rule from the per-seed spread on seeds 3, 4,
# 10-14 (benchmarks/studies/seed_spread/results/alfa_*.json) and is asserted on
# the mean over FAIRNESS_SEEDS (0-2 in CI; 5-7 once, by SKFAIRLATENT_TEST_SEEDS).
# Where the attack's share over the upsampling-only control is not supported
# beyond the seed spread (COMPAS, App. J.2, J.3), that test is a strict xfail
# beside a passing test of what holds (ALFA against λ = 0, paired per seed).
# --------------------------------------------------------------------------- #
#: One pretrained network fine-tuned three ways: without perturbed rows (λ = 0), the
#: upsampling-only control (the attack off: α = 0, ε = 1e-8, so δ = 0) and ALFA.
VARIANTS = {"baseline": {"lambda_": 0.0}, "control": {"alpha": 0.0, "epsilon": 1e-8},
            "alfa": {}}
#: Bars per claim, set by one rule on seeds 3, 4, 10-14 (never asserted):
#: ``benchmarks/studies/seed_spread/seed_spread.py --show`` prints them ("proposed")
#: with the per-seed spread they come from.
BARS = {
    "compas": dict(gap=0.07, accuracy_drop=0.02),
    "compas_attack": dict(bar=0.134, paired_gap=0.01, accuracy_drop=0.02),
    "drug": dict(form="reduction", bar=-0.099, paired_gap=0.05, accuracy_drop=0.02),
    "multigroup": dict(gap=0.34, accuracy_drop=0.04),
    "multigroup_attack": dict(form="reduction", bar=-0.667, paired_gap=0.01, accuracy_drop=0.04),
    "multiclass": dict(gap=0.03, accuracy_drop=0.02),
    "multiclass_attack": dict(bar=0.291, paired_gap=0.0, accuracy_drop=0.02),
    "input_space": dict(bar=0.102, paired_gap=0.08, accuracy_drop=0.03),
    "convex": dict(form="reduction", bar=-0.164, paired_gap=0.05, accuracy_drop=0.02),
}


def _fit_variants(X, y, A, seed, variants=VARIANTS, **params):
    """``variants`` fitted on one shared pretraining; each is what a fresh ``fit`` returns.

    The variants differ only after step 1, so the first fit's pretrained network
    and the torch random state after it are reused by the others.
    """
    kept = {}

    class SharedPretraining(ALFAClassifier):
        def _pretrain(self, *args, **kwargs):
            if kept:
                torch.set_rng_state(kept["rng"])
                self.n_outputs_ = kept["n_outputs"]
                return copy.deepcopy(kept["net"])
            net = super()._pretrain(*args, **kwargs)
            kept.update(net=copy.deepcopy(net), rng=torch.get_rng_state(),
                        n_outputs=self.n_outputs_)
            return net

    return {name: SharedPretraining(random_state=seed, **{**params, **extra}).fit(
        X, y, sensitive_features=A) for name, extra in variants.items()}


def _eod_and_accuracy(clf, X_te, y_te, A_te):
    pred = clf.predict(X_te)
    return delta_eod(y_te, pred, sensitive_features=A_te), accuracy_score(y_te, pred)


def real_data_seed(dataset, seed):
    """(ΔEOd, accuracy) of each of ``VARIANTS`` for one seed, MLP 2x128 at the defaults.

    The split is ``load_split(dataset, seed)`` (60/20/20, as in
    ``benchmarks/alfa_ablation.py``), 20 epochs; the scores are on the 40 % of
    held-out rows (validation and test: nothing is chosen on either).
    """
    from skfairlatent.experiments import load_split

    split = load_split(dataset, seed)
    fits = _fit_variants(*split["train"], seed, max_epochs=20)
    held_out = [np.concatenate(parts) for parts in zip(split["valid"], split["test"])]
    return {name: _eod_and_accuracy(model, *held_out) for name, model in fits.items()}


def per_seed(function, *args, seeds, **params):
    """``{variant: array (n_seeds, n_scores)}`` of ``function(*args, seed, **params)``."""
    rows = [function(*args, seed, **params) for seed in seeds]
    return {name: np.array([row[name] for row in rows]) for name in rows[0]}


def _assert_attack_beats_both_controls(res, bar, paired_gap, accuracy_drop, form="level"):
    """The claim passes and its controls fail the same assertion, on seed means.

    Column 0 of ``res[variant]`` is the fairness score (lower is fairer), column
    1 the accuracy, one row per seed. ``form="level"``: ALFA's mean score is
    below ``bar`` and both controls' are above it; ``form="reduction"``: the
    mean of each score minus the same seed's λ = 0 score is below ``bar`` for
    ALFA and above it for the upsampling-only control (used where the seeds
    move the λ = 0 model and the others together). Then the paired ALFA −
    control mean is below ``-paired_gap`` and ALFA's mean accuracy is at most
    ``accuracy_drop`` below the baseline's.
    """
    print({k: np.round(v, 3).tolist() for k, v in res.items()})
    offset = res["baseline"][:, 0] if form == "reduction" else 0
    score = {name: (values[:, 0] - offset).mean() for name, values in res.items()}
    assert score["alfa"] < bar, score                                   # the claim ...
    assert score["control"] > bar, score                                # ... the controls fail
    assert form == "reduction" or score["baseline"] > bar, score
    assert (res["alfa"][:, 0] - res["control"][:, 0]).mean() < -paired_gap
    assert res["alfa"][:, 1].mean() > res["baseline"][:, 1].mean() - accuracy_drop


def _assert_lowers_against_lambda_0(res, gap, accuracy_drop):
    """ALFA's paired reduction of the score from λ = 0, mean over seeds, exceeds ``gap``."""
    print({k: np.round(v, 3).tolist() for k, v in res.items()})
    assert (res["alfa"][:, 0] - res["baseline"][:, 0]).mean() < -gap
    assert res["alfa"][:, 1].mean() > res["baseline"][:, 1].mean() - accuracy_drop


@functools.lru_cache(maxsize=None)
def _real_data_results(dataset, seeds):
    """``per_seed(real_data_seed, dataset)``, computed once for the tests that share it."""
    return per_seed(real_data_seed, dataset, seeds=seeds)


@pytest.mark.slow
def test_alfa_lowers_eod_against_lambda_0_on_compas(fairness_seeds):
    """COMPAS, MLP, defaults (α = 0.1, chosen on tuning seeds 100-102), against λ = 0."""
    _assert_lowers_against_lambda_0(_real_data_results("compas", fairness_seeds),
                                    **BARS["compas"])


@pytest.mark.xfail(strict=True, reason=(
    "COMPAS-MLP at the defaults: the attack's share over the upsampling-only control is "
    "within the seed spread (paired ALFA − control ΔEOd −0.030 ± 0.054 over 13 seeds, "
    "−0.025 on seeds 3, 4, 10-14), too small for a three-seed mean (seed_spread results)"))
@pytest.mark.slow
def test_attack_beats_upsampling_control_on_compas(fairness_seeds):
    _assert_attack_beats_both_controls(_real_data_results("compas", fairness_seeds),
                                       **BARS["compas_attack"])


@pytest.mark.slow
def test_attack_beats_upsampling_control_on_drug(fairness_seeds):
    """Drug, MLP, defaults (α = 0.1)."""
    res = _real_data_results("drug", fairness_seeds)
    _assert_attack_beats_both_controls(res, **BARS["drug"])


def test_plot_unfair_region_reads_fitted_alfa(gaussians):
    import matplotlib

    matplotlib.use("Agg")
    from skfairlatent.plotting import plot_unfair_region

    X, y, A = gaussians
    clf = ALFAClassifier(hidden_layer_sizes=(), max_epochs=10, random_state=0).fit(
        X, y, sensitive_features=A)
    ax = plot_unfair_region(clf)
    assert len(ax.lines) >= 2                    # boundary before and after fine-tuning
    assert len(ax.collections) >= 2              # clean and perturbed points


# --------------------------------------------------------------------------- #
# α controls the attack (sinkhorn_scale="epsilon": D in units of the budget)
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_alpha_grid_controls_attack_strength_monotonically():
    X, y, A = load_compas(return_X_y_A=True)
    X = make_preprocessor().fit_transform(X)[:1500]
    y, A = np.asarray(y)[:1500], np.asarray(A)[:1500]
    ratios, gaps = [], []
    for alpha in (0, 0.001, 0.01, 0.1, 1, 10):                  # the paper's grid
        clf = ALFAClassifier(alpha=alpha, hidden_layer_sizes=(16,), max_epochs=5, batch_size=64,
                             random_state=0).fit(X, y, sensitive_features=A)
        radius = clf.epsilon_[clf.attack_sensitive_, clf.attack_targets_]
        norms = np.linalg.norm(clf.perturbed_latents_ - clf.attack_latents_, axis=1)
        ratios.append(np.mean(norms / radius))
        gaps.append(clf.attack_report_["delta_eod_perturbed"])
    print("‖δ‖/ε", np.round(ratios, 3), "attacked ΔEOd", np.round(gaps, 3))
    # Measured (seed 0): ‖δ‖/ε 0.997, 0.997, 0.997, 0.978, 0.332, 0.300; ΔEOd 0.896, 0.896,
    # 0.901, 0.823, 0.232, 0.201 (clean 0.19).
    assert np.all(np.diff(ratios) <= 1e-3)              # the budget spent never grows with α
    assert np.all(np.diff(gaps) <= 0.01)                # nor does the attack's effect
    assert ratios[0] > 0.99 and ratios[-1] < 0.5
    assert gaps[-1] < 0.25 * gaps[0]


# --------------------------------------------------------------------------- #
# Extensions reduce the metric they target (App. J.2, J.3, K, L), at ALFA's
# defaults, against the same pipeline with the attack off
# --------------------------------------------------------------------------- #
def _biased(seed, n=1500, n_groups=2, n_classes=2):
    """Labels that depend on the group, and a proxy feature of the group."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_groups, n)
    score = rng.normal(size=n) + 0.8 * (a - (n_groups - 1) / 2)
    if n_classes == 2:
        y = (score > 0).astype(int)
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    X = np.column_stack([score + rng.normal(size=n), a + rng.normal(scale=0.3, size=n),
                         rng.normal(size=n)]).astype(np.float32)
    return X, y, a


def _extensions():
    """``{name: (data(seed), metric, ALFA parameters)}`` of the extension tests."""
    from skfairlatent.metrics import delta_dp_multiclass, differential_fairness

    return {
        "multigroup": (lambda s: _biased(s, n_groups=3), differential_fairness, {}),
        "multiclass": (lambda s: _biased(s, n_classes=3), delta_dp_multiclass, {}),
        "input_space": (lambda s: _biased(s, n=1000), delta_eod,
                        {"perturbation_space": "input"}),
        "convex": (lambda s: make_unfair_gaussians(random_state=s), delta_eod,
                   {"fairness_constraint": "convex", "hidden_layer_sizes": (),
                    "max_epochs": 20, "lr": 3e-2}),
    }


def extension_seed(name, seed, **overrides):
    """(metric, accuracy) of each of ``VARIANTS`` for one seed: trained on
    ``data(seed)``, scored on ``data(seed + 100)``; a 16-unit MLP, 10 epochs;
    ``overrides``: ALFA settings replacing the claim's (tuning runs)."""
    data, metric, params = _extensions()[name]
    (X, y, a), (X_te, y_te, a_te) = data(seed), data(seed + 100)
    params = {"hidden_layer_sizes": (16,), "max_epochs": 10, "batch_size": 128, "lr": 3e-3,
              **params, **overrides}
    fits = _fit_variants(X, y, a, seed, **params)
    return {name: (metric(y_te, p, sensitive_features=a_te), accuracy_score(y_te, p))
            for name, p in ((k, m.predict(X_te)) for k, m in fits.items())}


@functools.lru_cache(maxsize=None)
def _extension_results(name, seeds):
    """``per_seed(extension_seed, name)``, computed once for the tests that share it."""
    return per_seed(extension_seed, name, seeds=seeds)


#: App. J.2 and J.3: the attack's own share, against the upsampling-only control.
ATTACK_SHARE_FAILS = pytest.mark.xfail(strict=True, reason=(
    "On these data the attack adds nothing to the upsampling-only control at the "
    "defaults: paired ALFA − control over 13 seeds DF +0.005 ± 0.10 (J.2), ΔDP_multi "
    "+0.008 ± 0.02 (J.3); upsampling='paper' gives DF −0.07 ± 0.09 (13 seeds) and "
    "ΔDP_multi +0.008, α = 0 DF −0.05 and ΔDP_multi +0.026 (seeds 10-14): within the "
    "three-seed spread (seed_spread results)"))


@pytest.mark.slow
def test_multigroup_alfa_lowers_differential_fairness(fairness_seeds):
    # App. J.2 at the defaults: three groups, one indicator each, ε of differential
    # fairness (Table 22), against λ = 0 (the same network fine-tuned without ALFA's rows).
    _assert_lowers_against_lambda_0(_extension_results("multigroup", fairness_seeds),
                                    **BARS["multigroup"])


@ATTACK_SHARE_FAILS
@pytest.mark.slow
def test_multigroup_attack_beats_upsampling_only(fairness_seeds):
    _assert_attack_beats_both_controls(_extension_results("multigroup", fairness_seeds),
                                       **BARS["multigroup_attack"])


@pytest.mark.slow
def test_multiclass_alfa_lowers_multiclass_dp_gap(fairness_seeds):
    # App. J.3 at the defaults (per-batch upsampling, N_p ≈ n), against λ = 0.
    _assert_lowers_against_lambda_0(_extension_results("multiclass", fairness_seeds),
                                    **BARS["multiclass"])


@ATTACK_SHARE_FAILS
@pytest.mark.slow
def test_multiclass_attack_beats_upsampling_only(fairness_seeds):
    _assert_attack_beats_both_controls(_extension_results("multiclass", fairness_seeds),
                                       **BARS["multiclass_attack"])


@pytest.mark.slow
def test_input_space_attack_lowers_eod(fairness_seeds):
    # App. K: the attack in the input space, the whole network fine-tuned.
    res = _extension_results("input_space", fairness_seeds)
    _assert_attack_beats_both_controls(res, **BARS["input_space"])


@pytest.mark.slow
def test_convex_constraint_lowers_eod_on_unfair_gaussians(fairness_seeds):
    # App. L on ALFA's synthetic data (App. C), logistic variant.
    res = _extension_results("convex", fairness_seeds)
    _assert_attack_beats_both_controls(res, **BARS["convex"])
