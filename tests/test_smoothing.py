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
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, norm
from sklearn.datasets import make_blobs

from skfairlatent import smoothing
from skfairlatent.exceptions import InvalidParameterError, NonFiniteLossError
from skfairlatent.smoothing import (
    CertifiedSmoothClassifier,
    _conservative_quantile,
    center_smooth,
    center_smoothing_abstains,
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


def _binomial_spread(counts, n, p):
    """True iff the counts' variance is that of independent Binomial(n, p) draws.

    For k independent rows the sample variance over n p (1 - p) is
    chi-square(k - 1) / (k - 1): in [0.45, 1.8] with probability > 0.999 for k = 40.
    """
    ratio = np.var(counts, ddof=1) / (n * p * (1 - p))
    return 0.45 < ratio < 1.8


def test_repeated_rows_get_independent_noise():
    """40 copies of a row on the boundary: their counts spread like independent binomials.

    Control: the same copies given one shared seed (what hashing only the
    row's values did) have identical counts, and the check fails.
    """
    X = np.zeros((40, 2), dtype=np.float32)
    kwargs = dict(sigma=1.0, n_samples=400, n_classes=2)
    counts = smoothed_counts(_halfplane, X, random_state=0, **kwargs)[:, 1]
    assert len(np.unique(counts)) > 10
    assert _binomial_spread(counts, 400, 0.5)
    seeds = smoothing.row_seeds(X, random_state=0)
    assert len(set(seeds)) == 40
    shared = smoothed_counts(_halfplane, X, seeds=[seeds[0]] * 40, **kwargs)[:, 1]
    assert len(np.unique(shared)) == 1 and not _binomial_spread(shared, 400, 0.5)


def test_repeated_rows_noise_is_uncorrelated():
    seen = []

    def recording(points):
        seen.append(points.clone())
        return _halfplane(points)

    smoothed_counts(recording, np.ones((2, 3), dtype=np.float32), sigma=1.0, n_samples=2000,
                    n_classes=2, random_state=0)
    noise = torch.cat(seen).reshape(2, 2000, 3).numpy() - 1.0
    assert not np.array_equal(noise[0], noise[1])
    assert abs(np.corrcoef(noise[0].ravel(), noise[1].ravel())[0, 1]) < 0.05


def test_row_seeds_count_earlier_repeats_only():
    a, b = [0.5, -1.0], [2.0, 3.0]
    seeds = smoothing.row_seeds(np.array([a, b, a, a, b], dtype=np.float32), random_state=7)
    alone = smoothing.row_seeds(np.array([a, b], dtype=np.float32), random_state=7)
    assert seeds[:2] == alone            # first occurrences: as without the repeats
    assert len(set(seeds)) == 5          # every repeat its own seed
    later = smoothing.row_seeds(np.array([b, a, a], dtype=np.float32), random_state=7)
    assert later == [seeds[1], seeds[0], seeds[2]]  # the k-th repeat, wherever it sits
    frame = pd.DataFrame(np.array([a, b, a, a, b], dtype=np.float32), columns=["u", "v"])
    assert smoothing.row_seeds(frame, random_state=7) == seeds


def test_results_with_repeated_rows_do_not_depend_on_the_chunks(monkeypatch):
    """Repeats are counted over all of X: chunks that split them change nothing."""
    X = np.array([[0.1, 0.0], [0.1, 0.0], [-0.3, 1.0], [0.1, 0.0], [-0.3, 1.0]],
                 dtype=np.float32)
    certify = dict(sigma=1.0, n0=50, n=3000, alpha=0.01, n_classes=2, random_state=3)
    center = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=300, n=300, alpha=0.1, delta=0.2,
                  random_state=1)
    expected = (smoothing.row_seeds(X, 3), smooth_certify(_halfplane, X, **certify),
                center_smooth(_lipschitz_curve, X[:, :1], **center))
    chunked = smoothing.row_chunks
    monkeypatch.setattr(smoothing, "row_chunks", lambda n: chunked(n, 2))
    monkeypatch.setattr(smoothing, "_CHUNK_BUDGET", 2**13)  # other sample chunks and blocks
    got = (smoothing.row_seeds(X, 3), smooth_certify(_halfplane, X, batch_size=100, **certify),
           center_smooth(_lipschitz_curve, X[:, :1], batch_size=7, **center))
    assert got[0] == expected[0]
    for key in expected[1]:
        np.testing.assert_array_equal(got[1][key], expected[1][key])
    np.testing.assert_array_equal(got[2].center, expected[2].center)
    np.testing.assert_array_equal(got[2].radius, expected[2].radius)
    # the repeats of a row got their own certificates
    assert len(set(expected[1]["p_lower"][[0, 1, 3]])) == 3
    assert len(set(expected[2].radius[[0, 1, 3]])) == 3


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
    u = x[:, None, 0:1] + eta                                     # (b, m, 1)
    return lipschitz * torch.cat([u, torch.sin(u)], dim=-1) / math.sqrt(2.0)


@pytest.mark.slow
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


def _radius_violation_rate(trials=200, beta=2.0, center="candidates"):
    """Fraction of trials where ``d_cs < (1 + beta_theorem) R_p(c)``, exactly.

    For f(x + eta) = L (x + eta) in one dimension the mass of the ball
    B(c, r) at x = 0 is Phi((c + r)/s) - Phi((c - r)/s), s = L sigma, so the
    radius ``R_p(c)`` holding the theorem's level
    p = Phi(Phi^-1(1/2 + delta) + epsilon / sigma) is found by root finding.
    Theorem 1 needs ``R_hat >= R_p(c)`` (failure probability alpha_2 =
    alpha / 2, the DKW margin) and multiplies by 1 + beta = 3 (beta = 2, what
    the median center achieves); a sound ``d_cs`` is therefore
    ``>= 3 R_p(c)`` except with probability alpha / 2. The check compares
    with the theorem's factor 3 whatever ``beta`` is passed. It holds around
    any center fixed before step 3 (step (a) of the Notes of ``center_smooth``),
    so it tests the quantile, not the center: the center is checked against
    its definition by the known-center tests below.
    """
    lipschitz, sigma, eps, alpha, delta = 3.0, 1.0, 0.5, 0.2, 0.2
    p = norm.cdf(norm.ppf(0.5 + delta) + eps / sigma)
    s = lipschitz * sigma

    def linear(x, eta):
        return lipschitz * (x[:, None, :] + eta)

    failures, checked = 0, 0
    for trial in range(trials):
        out = center_smooth(linear, [[0.0]], noise_dim=1, sigma=sigma, epsilon=eps, n0=400,
                            n=200, alpha=alpha, delta=delta, beta=beta, center=center,
                            random_state=trial)
        if out.abstain[0]:
            continue
        checked += 1
        c = float(out.center[0, 0])
        r_p = brentq(lambda r: norm.cdf((c + r) / s) - norm.cdf((c - r) / s) - p, 0.0, 20 * s)
        failures += out.radius[0] < 3.0 * r_p
    assert checked >= 0.8 * trials
    return failures / checked, alpha / 2


@pytest.mark.slow
@pytest.mark.parametrize("center", ["candidates", "exact"])
def test_center_smoothing_radius_is_sound_exactly(center):
    rate, alpha_2 = _radius_violation_rate(center=center)
    assert rate <= alpha_2 + 3 * math.sqrt(alpha_2 * (1 - alpha_2) / 200)


def test_soundness_check_detects_a_weakened_quantile_level(monkeypatch):
    """Control: forcing the quantile level to 1/2 removes the statistics; the check must see it."""
    monkeypatch.setattr(smoothing, "center_smoothing_quantile_level", lambda *args: 0.5)
    rate, _ = _radius_violation_rate(trials=60)
    assert rate > 0.9


def test_soundness_check_detects_a_weakened_radius_factor(monkeypatch):
    """Control: allowing beta = 1 (radius factor 2 instead of 3) must be caught."""
    monkeypatch.setattr(smoothing, "_CENTER_BETA", 1.0)
    rate, _ = _radius_violation_rate(trials=60, beta=1.0)
    assert rate > 0.9


@pytest.mark.parametrize("beta", [1.0, 1.99, float("inf"), float("nan"), "2"])
def test_beta_below_what_the_center_achieves_is_rejected(beta):
    with pytest.raises(ValueError, match="beta"):
        center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=1.0, epsilon=0.5,
                      n0=100, n=100, alpha=0.1, delta=0.2, beta=beta)


def test_larger_beta_only_scales_the_radius():
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=200, n=200, alpha=0.1, delta=0.2,
                  random_state=0)
    two = center_smooth(_lipschitz_curve, [[0.3]], beta=2.0, **kwargs)
    three = center_smooth(_lipschitz_curve, [[0.3]], beta=3.0, **kwargs)
    assert three.radius[0] == pytest.approx(two.radius[0] * 4.0 / 3.0, rel=1e-12)


def test_delta_check_hand_values():
    # Delta_1 = sqrt(ln(2 / 0.005) / 20000) = 0.0173082; with delta = 0.05 the
    # check passes iff p_hat >= 1/2 + Delta_1 - delta = 0.4673082.
    delta_1 = math.sqrt(math.log(400.0) / 20_000)
    assert delta_1 == pytest.approx(0.0173082, rel=1e-5)
    assert not center_smoothing_abstains(0.4674, 10_000, 0.005, 0.05)
    assert center_smoothing_abstains(0.4672, 10_000, 0.005, 0.05)
    np.testing.assert_array_equal(
        center_smoothing_abstains([0.3, 0.5, 1.0], 10_000, 0.005, 0.05), [True, False, False])
    # Delta_1 = sqrt(ln(400) / 200) = 0.173 > delta: abstain whatever p_hat
    assert center_smoothing_abstains(1.0, 100, 0.005, 0.05)


def test_center_smoothing_abstains_when_the_ball_misses_the_mass(monkeypatch):
    """A center whose ball holds no fresh sample must make the row abstain (Delta_2 check)."""
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=2000, n=2000, alpha=0.01, delta=0.1,
                  random_state=0)
    good = center_smooth(_lipschitz_curve, [[0.0]], **kwargs)
    assert not good.abstain[0] and 0.45 < good.p_hat[0] < 0.55
    monkeypatch.setattr(smoothing, "_median_center",
                        lambda samples, n_candidates=None: (samples[0] + 100.0, 1.0))
    bad = center_smooth(_lipschitz_curve, [[0.0]], **kwargs)
    assert bad.p_hat[0] == 0.0 and bad.abstain[0] and np.isnan(bad.radius[0])


def test_candidate_center_is_close_to_the_exact_center():
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=3000, n=3000, alpha=0.01, delta=0.1,
                  random_state=0)
    X = [[0.0], [0.7], [-1.3]]
    exact = center_smooth(_lipschitz_curve, X, center="exact", **kwargs)
    fast = center_smooth(_lipschitz_curve, X, center="candidates", **kwargs)
    # same noise: the candidates are a subset, so their median radius can only be larger
    assert np.all(fast.median_radius >= exact.median_radius - 1e-12)
    assert np.all(fast.median_radius <= 1.1 * exact.median_radius)
    np.testing.assert_allclose(fast.radius, exact.radius, rtol=0.1)
    # the center rule changes how tight d_cs is, not the failure probability
    assert fast.failure_probability == exact.failure_probability == 0.01
    with pytest.raises(ValueError, match="n_candidates"):
        center_smooth(_lipschitz_curve, X, center="candidates", n_candidates=8, **kwargs)
    with pytest.raises(ValueError, match="center"):
        center_smooth(_lipschitz_curve, X, center="mean", **kwargs)


def _recording(func):
    """``func`` that also keeps every output it returns, in call order."""
    seen = []

    def wrapped(x, eta):
        out = func(x, eta)
        seen.append(out[0].clone())
        return out

    return wrapped, seen


@pytest.mark.parametrize("center", ["candidates", "exact"])
def test_confidence_accounting_adds_up(center, monkeypatch):
    """alpha = alpha_1 (Delta check) + alpha_2 (quantile level), and nothing else.

    The two halves are read where they are used (spies on the two statistics),
    and both the quantile's rank and the abstain rule are checked against a hand
    computation: with alpha_2 = alpha / 2 the level is
    q = Phi(Phi^-1(1/2 + delta) + epsilon / sigma) + sqrt(ln(2 / alpha) / (2 n)).
    """
    alpha, delta, eps, sigma, n0, n = 0.1, 0.2, 0.5, 1.0, 400, 1000
    used = {}
    level, abstains = smoothing.center_smoothing_quantile_level, smoothing.center_smoothing_abstains

    def spy_level(epsilon, sigma, n, alpha_2, delta):
        used["alpha_2"] = alpha_2
        return level(epsilon, sigma, n, alpha_2, delta)

    def spy_abstains(p_hat, n0, alpha_1, delta):
        used["alpha_1"] = alpha_1
        return abstains(p_hat, n0, alpha_1, delta)

    monkeypatch.setattr(smoothing, "center_smoothing_quantile_level", spy_level)
    monkeypatch.setattr(smoothing, "center_smoothing_abstains", spy_abstains)
    func, seen = _recording(_lipschitz_curve)
    out = center_smooth(func, [[0.0]], noise_dim=1, sigma=sigma, epsilon=eps, n0=n0, n=n,
                        alpha=alpha, delta=delta, center=center, random_state=0)
    assert used == {"alpha_1": alpha / 2, "alpha_2": alpha / 2}
    assert out.failure_probability == used["alpha_1"] + used["alpha_2"] == alpha
    # d_cs by hand: 3 x the ceil(q n)-th smallest step-3 distance to the center
    q = norm.cdf(norm.ppf(0.5 + delta) + eps / sigma) + math.sqrt(math.log(2 / alpha) / (2 * n))
    assert q == pytest.approx(0.8859, abs=1e-4)  # 0.8472 + 0.0387
    draws = torch.cat(seen).double().numpy()
    last = np.sort(np.linalg.norm(draws[2 * n0:] - out.center[0], axis=1))
    assert not out.abstain[0]
    assert out.radius[0] == pytest.approx(3 * last[math.ceil(q * n) - 1], rel=1e-6)
    # alpha instead of alpha / 2 in the level would take another order statistic
    wrong_rank = math.ceil((q - math.sqrt(math.log(2 / alpha) / (2 * n))
                            + math.sqrt(math.log(1 / alpha) / (2 * n))) * n)
    assert wrong_rank != math.ceil(q * n)
    assert out.radius[0] != pytest.approx(3 * last[wrong_rank - 1], rel=1e-6)
    # where float64 sees any extra term: alpha = 2**-90 while (1/2 - 1/4)**32 = 2**-64
    tiny = center_smooth(_lipschitz_curve, [[0.0]], noise_dim=1, sigma=sigma, epsilon=eps,
                         n0=100, n=100, alpha=2.0 ** -90, delta=0.25, center=center,
                         n_candidates=32, random_state=0)
    assert tiny.failure_probability == 2.0 ** -90


def test_delta_check_uses_half_of_alpha():
    """The abstain rule at alpha_1 = alpha / 2, against the hand threshold.

    The designed draws give p_hat = 501/1001 with n0 = 1001, so the row
    abstains iff Delta_1 = sqrt(ln(2 / alpha_1) / (2 n0)) > delta. With
    alpha = 0.1, Delta_1 = 0.04293 (alpha_1 = alpha / 2); alpha_1 = alpha
    would give 0.03868 and alpha_1 = alpha / 4 0.04678, on the other side of
    delta = Delta_1 -+ 0.001.
    """
    delta_1 = math.sqrt(math.log(2 / 0.05) / (2 * 1001))
    assert delta_1 == pytest.approx(0.042925, abs=1e-6)
    for wrong in (0.1, 0.025):
        assert abs(math.sqrt(math.log(2 / wrong) / (2 * 1001)) - delta_1) > 0.003
    _, first, last = _designed_draws()
    draws = torch.as_tensor(np.concatenate([first, first, last]))
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=len(first), n=len(last), alpha=0.1,
                  random_state=0)
    above = center_smooth(lambda x, eta: draws[None], [[0.0]], delta=delta_1 + 0.001, **kwargs)
    below = center_smooth(lambda x, eta: draws[None], [[0.0]], delta=delta_1 - 0.001, **kwargs)
    assert above.p_hat[0] == below.p_hat[0] == 501 / 1001
    assert not above.abstain[0] and below.abstain[0]


def _designed_draws():
    """Draws whose smallest half-mass ball is known: B(c*, 1), c* = (3, -1).

    1,001 draws: c* once (at index 7, among the candidates), 500 draws at
    c* +- e_1, c* +- e_2 (distance exactly 1) and 500 distinct outliers on a
    spiral 20 to 70 away (the first draw is one). The smallest ball holding
    501 draws holds the five cluster points: B(c*, 1). c* is the only draw
    with median distance 1 (lower median, rank 501); a cluster point at
    c* + e_1 has median distance 2, an outlier more than 15.
    """
    rng = np.random.default_rng(0)
    center = np.array([3.0, -1.0])
    ring = center + np.repeat([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], 125, axis=0)
    k = np.arange(500)
    angle, radius = 2.39996 * k, 20.0 + 0.1 * k                  # golden-angle spiral
    outliers = center + radius[:, None] * np.c_[np.cos(angle), np.sin(angle)]
    rest = np.concatenate([ring, outliers[1:]])[rng.permutation(999)]
    first = np.concatenate([outliers[:1], rest[:6], center[None], rest[6:]])
    return center, first.astype(np.float32), ring.repeat(2, axis=0).astype(np.float32)


@pytest.mark.parametrize("center", ["exact", "candidates"])
def test_center_and_radius_on_draws_with_a_known_center(center):
    """The center is the draw of least median distance, and d_cs = 3 R_hat around it.

    Steps 1 and 2 see the designed draws, step 3 only the four points at
    distance 1 from c*, so the true answer is c = c*, r_hat = 1,
    p_hat = 501/1001 and d_cs = (1 + beta) * 1 = 3. A center taken as the
    first draw (an outlier), the draw of largest median distance, or a random
    draw (c* with probability 1/1001) gives another center and d_cs >= 6.
    """
    c_star, first, last = _designed_draws()
    draws = torch.as_tensor(np.concatenate([first, first, last]))  # steps 1, 2 and 3

    def designed(x, eta):
        assert eta.shape[1] == len(draws)               # one call: the draws in order
        return draws[None]

    out = center_smooth(designed, [[0.0]], noise_dim=1, sigma=1.0, epsilon=0.5, n0=len(first),
                        n=len(last), alpha=0.1, delta=0.2, center=center, random_state=0)
    _check_known_center(out, c_star)
    # the construction: other draws have larger median distances, so they would fail above
    medians = np.median(np.linalg.norm(first[:, None] - first[None], axis=-1)[[0, 1, 7]], axis=1)
    assert medians[2] == 1.0 and medians[0] > 15 and medians[1] >= np.sqrt(2)


def _check_known_center(out, c_star):
    assert not out.abstain[0]
    np.testing.assert_array_equal(out.center[0], c_star)
    assert out.median_radius[0] == 1.0
    assert out.p_hat[0] == 501 / 1001
    assert out.radius[0] == 3.0


def _lower_median(samples, center):
    distances = torch.linalg.vector_norm(samples.double() - center.double(), dim=-1)
    return float(torch.kthvalue(distances, (len(samples) + 1) // 2).values)


def _wrong_center(rule):
    """A ``_median_center`` that picks another draw, with its true median distance."""
    def pick(samples, n_candidates=None):
        m = len(samples) if n_candidates is None else min(n_candidates, len(samples))
        if rule == "first":
            index = 0
        elif rule == "argmax":  # the largest median distance instead of the smallest
            index = int(np.argmax([_lower_median(samples, samples[i]) for i in range(m)]))
        else:
            index = int(np.random.default_rng(0).integers(m))
        return samples[index], _lower_median(samples, samples[index])
    return pick


@pytest.mark.parametrize("center", ["exact", "candidates"])
@pytest.mark.parametrize("rule", ["first", "argmax", "random"])
def test_known_center_check_fails_for_a_wrong_center(center, rule, monkeypatch):
    """Control: the check above fails when the center is any other draw."""
    c_star, first, last = _designed_draws()
    draws = torch.as_tensor(np.concatenate([first, first, last]))
    monkeypatch.setattr(smoothing, "_median_center", _wrong_center(rule))
    out = center_smooth(lambda x, eta: draws[None], [[0.0]], noise_dim=1, sigma=1.0,
                        epsilon=0.5, n0=len(first), n=len(last), alpha=0.1, delta=0.2,
                        center=center, random_state=0)
    with pytest.raises(AssertionError):
        _check_known_center(out, c_star)


def _check_center_by_definition(out, draws, n0, n, candidates, level):
    """The returned center against its definition, recomputed in float64 from the draws.

    Among the candidates (the first ``candidates`` of the first ``n0`` draws),
    the center is the draw of least lower-median distance to all ``n0`` draws;
    ``r_hat`` is that median, ``p_hat`` the fraction of the next ``n0`` draws
    within ``r_hat`` and ``d_cs`` three times the ``ceil(level n)``-th smallest
    distance of the last ``n`` draws to it.
    """
    first = torch.as_tensor(draws[:n0], dtype=torch.float64)
    medians = [_lower_median(first, first[i]) for i in range(candidates)]
    best = int(np.argmin(medians))
    np.testing.assert_array_equal(out.center[0], draws[best])
    assert out.median_radius[0] == pytest.approx(medians[best], rel=1e-12)
    fresh = np.linalg.norm(draws[n0:2 * n0].astype(np.float64) - draws[best], axis=1)
    assert out.p_hat[0] == np.mean(fresh <= medians[best])
    last = np.sort(np.linalg.norm(draws[2 * n0:].astype(np.float64) - draws[best], axis=1))
    assert out.radius[0] == pytest.approx(3 * last[math.ceil(level * n) - 1], rel=1e-6)


def _two_moons(x, eta):
    """A 2-d output whose draws have no ties: u -> (u, u^2 - 1) with u = x + eta."""
    u = x[:, None, 0:1] + eta
    return torch.cat([u, u ** 2 - 1.0], dim=-1)


@pytest.mark.parametrize("center, candidates", [("exact", 300), ("candidates", 40)])
@pytest.mark.parametrize("rule", [None, "first", "argmax", "random"])
def test_center_of_real_draws_matches_its_definition(center, candidates, rule, monkeypatch):
    """On sampled draws the center is recomputed from its definition; wrong centers fail."""
    n0, n = 300, 300
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.25, n0=n0, n=n, alpha=0.2, delta=0.2)
    if rule is not None:
        monkeypatch.setattr(smoothing, "_median_center", _wrong_center(rule))
    func, seen = _recording(_two_moons)
    out = center_smooth(func, [[0.3]], center=center, n_candidates=candidates,
                        random_state=0, **kwargs)
    draws = torch.cat(seen).numpy()
    level = center_smoothing_quantile_level(0.25, 1.0, n, 0.1, 0.2)
    if rule is None:
        _check_center_by_definition(out, draws, n0, n, candidates, level)
    else:
        with pytest.raises(AssertionError):
            _check_center_by_definition(out, draws, n0, n, candidates, level)


def test_row_results_do_not_depend_on_the_batch(monkeypatch):
    """Each row's noise comes from its own seed: re-chunking and re-ordering change nothing."""
    X = np.array([[0.1, 0.0], [-0.3, 1.0], [2.0, 2.0], [0.5, -1.0]], dtype=np.float32)
    certify = dict(sigma=1.0, n0=50, n=9000, alpha=0.01, n_classes=2, random_state=3)
    full = smooth_certify(_halfplane, X, **certify)
    monkeypatch.setattr(smoothing, "_CHUNK_BUDGET", 2**13)  # other chunks and row blocks
    parts = [smooth_certify(_halfplane, X[i:i + 1], batch_size=1000, **certify)
             for i in (2, 0, 3, 1)]
    for key in full:
        np.testing.assert_array_equal(np.concatenate([parts[k][key] for k in (1, 3, 0, 2)]),
                                      full[key])
    kwargs = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=500, n=500, alpha=0.1, delta=0.2,
                  random_state=1)
    Xc = [[0.0], [0.4], [1.0]]
    together = center_smooth(_lipschitz_curve, Xc, **kwargs)
    alone = center_smooth(_lipschitz_curve, Xc[1:2], batch_size=7, **kwargs)
    assert alone.radius[0] == together.radius[1]
    np.testing.assert_array_equal(alone.center[0], together.center[1])


def test_center_smoothing_constant_function_has_zero_radius():
    out = center_smooth(lambda x, eta: torch.ones(x.shape[0], eta.shape[1], 3), [[0.0], [1.0]],
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
    ({"sigma": float("inf")}, "sigma"), ({"lr": float("inf")}, "lr"), ({"lr": float("nan")}, "lr"),
])
def test_bad_parameters(blobs, params, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        CertifiedSmoothClassifier(**params).fit(X, y)


@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": (0,)}, {"max_epochs": 0}, {"batch_size": 2.5}, {"lr": "0.1"},
    {"n_samples": 0}, {"n_certify": -1}, {"alpha": float("nan")}, {"noise_batch_size": 0},
    {"device": 0}, {"random_state": "seed"}, {"verbose": "loud"},
])
def test_every_bad_parameter_raises_invalid_parameter_error(blobs, params):
    X, y = blobs
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        CertifiedSmoothClassifier(**params).fit(X, y)


@pytest.mark.parametrize("kwargs", [
    {"alpha": 0.0}, {"n0": 0}, {"sigma": float("inf")}, {"beta": float("nan")},
    {"center": "mean"}, {"n_candidates": 8}, {"batch_size": 0},
])
def test_sampler_parameters_raise_invalid_parameter_error(kwargs):
    params = dict(noise_dim=1, sigma=1.0, epsilon=0.5, n0=100, n=100, alpha=0.1, delta=0.2)
    with pytest.raises(InvalidParameterError, match=next(iter(kwargs))):
        center_smooth(_lipschitz_curve, [[0.0]], **{**params, **kwargs})


def test_diverging_training_raises_a_clear_error(blobs):
    X, y = blobs
    with pytest.raises(NonFiniteLossError, match="CertifiedSmoothClassifier.*loss became"):
        CertifiedSmoothClassifier(sigma=0.5, lr=1e20, random_state=0, **_FAST).fit(X * 1e30, y)


# --------------------------------------------------------------------------- #
# Streaming: memmaps and chunked passes
# --------------------------------------------------------------------------- #
def test_fit_predict_certify_on_a_read_only_memmap_match_in_memory(blobs, fitted, tmp_path):
    X, y = blobs
    np.save(tmp_path / "X.npy", X)
    memmap = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert not memmap.flags.writeable
    on_disk = CertifiedSmoothClassifier(sigma=0.5, random_state=0, **_FAST).fit(memmap, y)
    for method in ("predict", "predict_proba", "predict_base"):
        np.testing.assert_array_equal(getattr(fitted, method)(X[:100]),
                                      getattr(on_disk, method)(memmap[:100]))
    pd.testing.assert_frame_equal(fitted.certify(X[:20]), on_disk.certify(memmap[:20]))


def test_predictions_and_certificates_do_not_depend_on_the_chunks(blobs, fitted, monkeypatch):
    X, _ = blobs
    expected = fitted.predict_base(X), fitted.predict_proba(X), fitted.certify(X[:30])
    chunked = smoothing.row_chunks
    monkeypatch.setattr(smoothing, "row_chunks", lambda n: chunked(n, 7))
    got = fitted.predict_base(X), fitted.predict_proba(X), fitted.certify(X[:30])
    np.testing.assert_array_equal(expected[0], got[0])
    np.testing.assert_array_equal(expected[1], got[1])
    pd.testing.assert_frame_equal(expected[2], got[2])
