"""Tests of skfairlatent.smoothing: statistics, samplers, CertifiedSmoothClassifier.

The statistics are checked against hand-computed values and their defining
properties; the samplers with empirical soundness tests (certificates checked
against functions whose true answer is known, over many seeded trials).
"""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import binom, binomtest, norm
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfairlatent.smoothing import (
    CertifiedSmoothClassifier,
    _conservative_quantile,
    center_smooth,
    center_smoothing_quantile_level,
    certified_radius,
    clopper_pearson_lower,
    smooth_certify,
    smooth_predict,
    smoothed_counts,
)


# --------------------------------------------------------------------------- #
# Statistics
# --------------------------------------------------------------------------- #
def test_clopper_pearson_hand_values():
    # k = n: the bound solves p^n = alpha, so p = alpha^(1/n) = 0.05^0.1.
    assert clopper_pearson_lower(10, 10, 0.05) == pytest.approx(0.7411344491069477, rel=1e-12)
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0
    # General k: the bound p_L is the p with P(Binom(n, p) >= k) = alpha.
    p_lower = clopper_pearson_lower(90, 100, 0.001)
    assert p_lower == pytest.approx(0.7753298801677749, rel=1e-9)
    assert binom.sf(89, 100, p_lower) == pytest.approx(0.001, rel=1e-6)


def test_clopper_pearson_matches_scipy_exact_interval():
    k = np.array([1, 17, 50, 99, 100])
    lower = clopper_pearson_lower(k, 100, 0.025)
    # one-sided alpha = lower end of the two-sided 1 - 2 alpha exact interval
    expected = [binomtest(int(ki), 100).proportion_ci(0.95, method="exact").low for ki in k]
    np.testing.assert_allclose(lower, expected, rtol=1e-7)


def test_certified_radius_hand_values():
    assert certified_radius(0.975, 0.5) == pytest.approx(0.979981992270027, rel=1e-12)
    assert certified_radius(0.99, 0.25) == pytest.approx(0.5815869685102102, rel=1e-12)
    np.testing.assert_array_equal(certified_radius([0.5, 0.3], 1.0), [0.0, 0.0])


def test_center_smoothing_quantile_level_hand_value():
    # Phi(Phi^-1(0.55) + 1) + sqrt(ln(1 / 0.005) / (2 * 10000))
    # = Phi(0.125661 + 1) + 0.016276 = 0.869846 + 0.016276
    q = center_smoothing_quantile_level(1.0, 1.0, 10_000, 0.005, delta=0.05)
    assert q == pytest.approx(0.886121790999266, rel=1e-12)


def test_conservative_quantile_is_an_order_statistic():
    values = torch.arange(1.0, 11.0)  # 1 .. 10
    assert _conservative_quantile(values, 0.85) == 9   # ceil(8.5) = 9th value
    assert _conservative_quantile(values, 0.9) == 9    # exactly 9 / 10
    assert _conservative_quantile(values, 0.91) == 10
    assert _conservative_quantile(values, 1.0) == 10


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, "0.1", True])
def test_alpha_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match="alpha"):
        clopper_pearson_lower(5, 10, bad)


@pytest.mark.parametrize("sigma", [0.0, -1.0])
def test_non_positive_sigma_is_rejected(sigma):
    with pytest.raises(ValueError, match="sigma"):
        certified_radius(0.9, sigma)
    with pytest.raises(ValueError, match="sigma"):
        center_smoothing_quantile_level(1.0, sigma, 100, 0.01)


def test_non_positive_epsilon_is_rejected():
    with pytest.raises(ValueError, match="epsilon"):
        center_smoothing_quantile_level(0.0, 1.0, 100, 0.01)


# --------------------------------------------------------------------------- #
# Randomized smoothing (Cohen et al. 2019)
# --------------------------------------------------------------------------- #
def _halfplane(points):
    """Base classifier f(x) = 1[x_0 > 0]; its smoothed version is itself."""
    return (points[:, 0] > 0).long()


def test_smooth_predict_binomial_test():
    counts = np.array([[50, 50, 0], [90, 10, 0], [10, 58, 30]])
    top, abstain = smooth_predict(counts, alpha=0.01)
    np.testing.assert_array_equal(top, [0, 0, 1])
    # 50 vs 50: p-value 1 -> abstain; 90 vs 10: p ~ 1e-16 -> predict;
    # 58 vs 30: two-sided p = 0.0038 < 0.01 -> predict
    np.testing.assert_array_equal(abstain, [True, False, False])


def test_smoothed_counts_match_gaussian_probability():
    # P(x_0 + N(0, 1) > 0) at x_0 = 1 is Phi(1) = 0.8413.
    counts = smoothed_counts(_halfplane, [[1.0, 0.0]], sigma=1.0, n_samples=20_000,
                             n_classes=2, random_state=0)
    assert counts.sum() == 20_000
    assert counts[0, 1] / 20_000 == pytest.approx(norm.cdf(1.0), abs=0.01)


def test_smoothed_counts_do_not_depend_on_other_rows():
    X = np.array([[0.1, 0.0], [-0.3, 1.0], [2.0, 2.0]])
    full = smoothed_counts(_halfplane, X, sigma=1.0, n_samples=500, n_classes=2, random_state=3)
    alone = smoothed_counts(_halfplane, X[1:2], sigma=1.0, n_samples=500, n_classes=2,
                            random_state=3)
    np.testing.assert_array_equal(full[1:2], alone)


def test_randomized_smoothing_certificates_are_sound():
    """Empirical soundness: the certified radius exceeds the true one at rate <= alpha.

    For f(x) = 1[x_0 > 0] the smoothed classifier is f itself, whose exact
    robustness radius at x is |x_0|. Over 600 independent certifications
    (seeded) at alpha = 0.1 the certificate may be wrong (wrong class, or a
    radius above |x_0|) in at most 10% of them; we allow three binomial
    standard deviations.
    """
    alpha, trials = 0.1, 600
    rng = np.random.RandomState(0)
    distances = rng.uniform(0.05, 1.0, size=trials)
    wrong, radii = 0, []
    for trial, d in enumerate(distances):
        out = smooth_certify(_halfplane, [[d, 0.0]], sigma=0.5, n0=10, n=100, alpha=alpha,
                             n_classes=2, random_state=trial)
        if out["abstain"][0]:
            continue
        radii.append(out["radius"][0] / d)
        wrong += out["prediction"][0] != 1 or out["radius"][0] > d
    assert wrong / trials <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)
    # and the certificate is not vacuous: on average well above half the true radius
    assert np.mean(radii) > 0.6


def test_smooth_certify_abstains_at_the_boundary():
    out = smooth_certify(_halfplane, [[0.0, 0.0]], sigma=0.5, n0=100, n=1000, alpha=0.001,
                         n_classes=2, random_state=0)
    assert out["abstain"][0] and np.isnan(out["radius"][0])


# --------------------------------------------------------------------------- #
# Center smoothing (Kumar & Goldstein 2021)
# --------------------------------------------------------------------------- #
def _lipschitz_curve(x, eta, lipschitz=2.0):
    """f(x + eta) = L (u, sin(u)) / sqrt(2)... with u = x + eta; Lipschitz constant <= L."""
    u = x[:, None, 0:1] + eta[None, :, :]                         # (b, m, 1)
    return lipschitz * torch.cat([u, torch.sin(u)], dim=-1) / math.sqrt(2.0)


def test_center_smoothing_certificates_are_sound():
    """Empirical soundness of d_cs over many seeded trials.

    For each trial, the centers at x = 0 and at a point x' with |x'| <= epsilon
    are computed with independent noise; the certificate says
    ||c(0) - c(x')|| <= d_cs(0) with probability >= 1 - alpha for any such x'
    (x' = +-epsilon and a uniform point between). We allow three binomial
    standard deviations above alpha.
    """
    alpha, trials, eps, sigma = 0.1, 200, 0.5, 1.0
    kwargs = dict(noise_dim=1, sigma=sigma, epsilon=eps, n0=200, n=400, alpha=alpha,
                  delta=0.2)
    rng = np.random.RandomState(1)
    violations, checked, ratios = 0, 0, []
    for trial in range(trials):
        base = center_smooth(_lipschitz_curve, [[0.0]], random_state=2 * trial, **kwargs)
        x_prime = rng.choice([-eps, eps, rng.uniform(-eps, eps)])
        other = center_smooth(_lipschitz_curve, [[x_prime]], random_state=2 * trial + 1,
                              **kwargs)
        if base.abstain[0] or other.abstain[0]:
            continue
        checked += 1
        gap = np.linalg.norm(base.center[0] - other.center[0])
        violations += gap > base.radius[0]
        ratios.append(base.radius[0])
    assert checked >= 0.8 * trials  # Delta check: abstentions are allowed, not dominant
    assert violations / checked <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / checked)
    # the bound is finite and of the order of the Lipschitz constant times the noise
    assert 0 < np.median(ratios) < 20


def test_center_smoothing_radius_quantile_is_sound_exactly():
    """The un-inflated radius R_hat = d_cs / (1 + beta) covers the exact quantile.

    For f(x + eta) = L (x + eta) in one dimension the mass of the ball
    B(c, r) is Phi((c + r)/(L sigma)) - Phi((c - r)/(L sigma)) at x = 0. The
    theorem needs that mass at R_hat to be >= the level
    p = Phi(Phi^-1(1/2 + delta) + epsilon / sigma); the DKW margin makes this
    fail with probability <= alpha / 2 (the half of alpha it gets).
    """
    lipschitz, sigma, eps, alpha, delta, beta = 3.0, 1.0, 0.5, 0.2, 0.2, 2.0
    p = norm.cdf(norm.ppf(0.5 + delta) + eps / sigma)

    def linear(x, eta):
        return lipschitz * (x[:, None, :] + eta[None, :, :])

    failures, trials = 0, 300
    for trial in range(trials):
        out = center_smooth(linear, [[0.0]], noise_dim=1, sigma=sigma, epsilon=eps, n0=100,
                            n=200, alpha=alpha, delta=delta, beta=beta, random_state=trial)
        if out.abstain[0]:
            continue
        c, r = float(out.center[0, 0]), out.radius[0] / (1 + beta)
        s = lipschitz * sigma
        mass = norm.cdf((c + r) / s) - norm.cdf((c - r) / s)
        failures += mass < p
    assert failures / trials <= alpha / 2 + 3 * math.sqrt(alpha / 2 * (1 - alpha / 2) / trials)


def test_center_smoothing_constant_function_has_zero_radius():
    out = center_smooth(lambda x, eta: torch.ones(x.shape[0], eta.shape[0], 3), [[0.0], [1.0]],
                        noise_dim=1, sigma=1.0, epsilon=1.0, n0=500, n=500, alpha=0.01,
                        delta=0.1, random_state=0)
    np.testing.assert_array_equal(out.abstain, [False, False])
    np.testing.assert_array_equal(out.radius, [0.0, 0.0])
    np.testing.assert_array_equal(out.center, np.ones((2, 3)))


def test_center_smoothing_abstain_rules():
    # Delta_1 = sqrt(ln(2 / 0.005) / 200) = 0.173 > delta = 0.05: always abstain.
    out = center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=1.0, epsilon=0.5,
                        n0=100, n=100, alpha=0.01, random_state=0)
    assert out.abstain[0] and np.isnan(out.radius[0]) and np.isnan(out.center).all()
    # epsilon / sigma = 4: the quantile level exceeds 1, no finite bound.
    out = center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=0.25, epsilon=1.0,
                        n0=10_000, n=1000, alpha=0.01, random_state=0)
    assert not out.abstain[0] and np.isinf(out.radius[0])


def test_center_smoothing_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=0.0, epsilon=1.0,
                      n0=10, n=10, alpha=0.1)
    with pytest.raises(ValueError, match="epsilon"):
        center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=1.0, epsilon=-1.0,
                      n0=10, n=10, alpha=0.1)
    with pytest.raises(ValueError, match="alpha"):
        center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=1.0, epsilon=1.0,
                      n0=10, n=10, alpha=1.0)


# --------------------------------------------------------------------------- #
# CertifiedSmoothClassifier
# --------------------------------------------------------------------------- #
_FAST = dict(max_epochs=5, n_samples=100, n0=10, n_certify=200, device="cpu")


@parametrize_with_checks(
    [CertifiedSmoothClassifier(sigma=0.25, random_state=0,
                               **{**_FAST, "max_epochs": 20})])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=400, centers=[[-2, 0], [2, 0]], cluster_std=1.0, random_state=0)
    return X.astype(np.float32), np.where(y == 1, "yes", "no")


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return CertifiedSmoothClassifier(sigma=0.5, random_state=0, **_FAST).fit(X, y)


def test_fit_predict_accuracy_and_labels(blobs, fitted):
    X, y = blobs
    assert set(fitted.classes_) == {"no", "yes"}
    assert (fitted.predict(X) == y).mean() > 0.95
    proba = fitted.predict_proba(X)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_certified_radius_never_exceeds_distance_to_linear_boundary(blobs, fitted):
    """A linear base classifier smooths to itself: its exact radius is the distance
    to its hyperplane, which the certificate must not exceed (alpha = 0.001)."""
    X, _ = blobs
    cert = fitted.certify(X[:60])
    assert list(cert.columns) == ["prediction", "abstain", "p_lower", "radius"]
    linear = fitted.net_.module_.body.layers[-1]
    w = (linear.weight[1] - linear.weight[0]).detach().numpy()
    b = float((linear.bias[1] - linear.bias[0]).detach())
    distance = np.abs(X[:60] @ w + b) / np.linalg.norm(w)
    ok = ~cert["abstain"].to_numpy()
    assert ok.sum() > 40
    assert np.all(cert["radius"].to_numpy()[ok] <= distance[ok] + 1e-6)
    np.testing.assert_array_equal(cert["prediction"][ok], fitted.predict_base(X[:60])[ok])


def test_abstentions_are_reported(blobs):
    X, y = blobs
    clf = CertifiedSmoothClassifier(sigma=0.5, random_state=0, abstain_label="abstain",
                                    **_FAST).fit(X, y)
    boundary = np.array([[0.0, 0.0], [-3.0, 0.0]], dtype=np.float32)
    labels, abstain = clf.predict_abstain(boundary)
    pred = clf.predict(boundary)
    assert set(labels) <= set(clf.classes_)
    assert pred[1] == "no" and not abstain[1]
    assert list(pred[abstain]) == ["abstain"] * int(abstain.sum())


def test_reproducible_and_picklable(blobs, fitted):
    X, y = blobs
    again = CertifiedSmoothClassifier(sigma=0.5, random_state=0, **_FAST).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.predict_proba(X), fitted.predict_proba(X))
    pd.testing.assert_frame_equal(clone.certify(X[:5]), fitted.certify(X[:5]))


@pytest.mark.parametrize("params, match", [
    ({"sigma": 0.0}, "sigma"), ({"sigma": -1.0}, "sigma"),
    ({"alpha": 0.0}, "alpha"), ({"alpha": 1.0}, "alpha"), ({"n0": 0}, "n0"),
])
def test_bad_parameters(blobs, params, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        CertifiedSmoothClassifier(**params).fit(X, y)
