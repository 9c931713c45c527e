"""Tests of skfairlatent.plotting (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import sklearn  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from skfairlatent.metrics import delta_dp, delta_eod, make_fairness_scorer  # noqa: E402
from skfairlatent.plotting import (  # noqa: E402
    plot_tradeoff,
    plot_tradeoff_summary,
    plot_unfair_region,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cv_results():
    # candidate:      0     1     2     3     4
    acc = np.array([0.80, 0.78, 0.75, 0.70, 0.80])
    gap = np.array([0.30, 0.10, 0.12, 0.02, 0.35])  # front: 3, 1, 0
    params = [{"alpha": a} for a in (0, 0.01, 0.1, 1, 10)]
    return {
        "params": params,
        "mean_test_accuracy": acc,
        "mean_test_delta_eod": -gap,
    }


def _data(seed=0, n=200):
    rng = np.random.RandomState(seed)
    A = rng.randint(0, 2, n)
    X = np.c_[rng.randn(n, 2) + A[:, None], A]
    y = (X[:, 0] + A + rng.randn(n) * 0.7 > 1).astype(int)
    return X, y, A


def test_plot_tradeoff_from_cv_results(tmp_path):
    ax = plot_tradeoff(_cv_results())
    offsets = ax.collections[-1].get_offsets()
    assert len(offsets) == 5
    np.testing.assert_allclose(offsets[:, 0], [0.30, 0.10, 0.12, 0.02, 0.35])  # x = gap
    front = ax.lines[-1]
    np.testing.assert_allclose(front.get_xdata(), [0.02, 0.10, 0.30])
    np.testing.assert_allclose(front.get_ydata(), [0.70, 0.78, 0.80])
    assert ax.xaxis_inverted()  # smaller gaps to the right: upper right is best
    assert "ΔEOd" in ax.get_xlabel()
    assert ax.get_ylabel() == "accuracy"
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["alpha=0", "alpha=0.01", "alpha=0.1", "alpha=1", "alpha=10"])
    path = tmp_path / "tradeoff.png"
    ax.figure.savefig(path)
    assert path.exists() and path.stat().st_size > 0


def test_plot_tradeoff_twice_on_same_axes_stays_inverted():
    fig, ax = plt.subplots()
    out = plot_tradeoff(_cv_results(), ax=ax, label="method A", annotate=False)
    assert out is ax
    plot_tradeoff(_cv_results(), ax=ax, label="method B", annotate=False)
    assert ax.xaxis_inverted()
    assert len(ax.collections) == 2 and len(ax.texts) == 0
    assert ax.lines[0].get_color() != ax.lines[1].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["method A", "method B"]


def test_plot_tradeoff_from_fitted_search():
    X, y, A = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            LogisticRegression(), {"C": [0.001, 0.1, 10.0]}, cv=KFold(3), refit="accuracy",
            scoring={"accuracy": "accuracy", "delta_eod": make_fairness_scorer(delta_eod)},
        ).fit(X, y, sensitive_features=A)
    ax = plot_tradeoff(search)
    assert len(ax.collections[-1].get_offsets()) == 3
    assert {t.get_text() for t in ax.texts} == {"C=0.001", "C=0.1", "C=10"}


def test_plot_tradeoff_from_estimators():
    X, y, A = _data(1)
    models = {
        "weak": LogisticRegression(C=1e-3).fit(X, y),
        "strong": LogisticRegression(C=10.0).fit(X, y),
    }
    ax = plot_tradeoff(models, X=X, y=y, sensitive_features=A, fairness="delta_dp")
    offsets = ax.collections[-1].get_offsets()
    for est, (x, acc) in zip(models.values(), offsets):
        assert x == pytest.approx(delta_dp(y, est.predict(X), sensitive_features=A))
        assert acc == pytest.approx(est.score(X, y))
    assert {t.get_text() for t in ax.texts} == {"weak", "strong"}
    assert "ΔDP" in ax.get_xlabel()
    assert ax.xaxis_inverted()
    # a list, a callable metric
    ax = plot_tradeoff(list(models.values()), X=X, y=y, sensitive_features=A, fairness=delta_eod)
    assert len(ax.collections[-1].get_offsets()) == 2
    with pytest.raises(ValueError, match="needs X, y and sensitive_features"):
        plot_tradeoff(models)
    with pytest.raises(ValueError, match="not a metric"):
        plot_tradeoff(models, X=X, y=y, sensitive_features=A, fairness="accuracy_gap")


def _binary_cells(n, rng):
    return rng.randint(0, 2, n), rng.randint(0, 2, n)


def test_plot_unfair_region_d2(tmp_path):
    rng = np.random.RandomState(0)
    n = 60
    Z = rng.randn(n, 2)
    delta = 0.3 * rng.randn(n, 2)
    a, y = _binary_cells(n, rng)
    w0, b0 = np.array([1.0, 0.5]), -0.2
    w1, b1 = np.array([[0.8, -0.6]]), np.array([0.1])
    Z_before = Z.copy()
    ax = plot_unfair_region(
        latents=Z, perturbed_latents=Z + delta, sensitive=a, y=y,
        coef_before=w0, intercept_before=b0, coef_after=w1, intercept_after=b1,
    )
    np.testing.assert_array_equal(Z, Z_before)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * n
    assert len(ax.collections) == 8  # 4 cells x (clean, perturbed)
    lines = ax.get_lines()
    assert len(lines) == 2
    # each boundary line satisfies w . p + b = 0 (d == 2: raw coordinates)
    for line, w, b in ((lines[0], w0, b0), (lines[1], w1[0], b1[0])):
        pts = np.c_[line.get_xdata(), line.get_ydata()]
        np.testing.assert_allclose(pts @ w + b, 0, atol=1e-9)
    assert lines[0].get_color() == "black" and lines[1].get_color() == "red"
    assert ax.get_xlabel() == "latent dimension 1"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a=0, y=1 (perturbed)" in legend and "pretrained boundary" in legend
    path = tmp_path / "unfair.png"
    ax.figure.savefig(path)
    assert path.exists()


def test_plot_unfair_region_d8_projection_and_subsampling():
    rng = np.random.RandomState(1)
    n, d = 3000, 8
    Z = rng.randn(n, d) * np.linspace(1, 3, d) + 2.0
    P = Z + 0.2 * rng.randn(n, d)
    a, y = _binary_cells(n, rng)
    w0 = rng.randn(d)
    b0 = 0.7
    w1 = rng.randn(d)
    ax = plot_unfair_region(
        latents=Z, perturbed_latents=P, sensitive=a, y=y, coef_before=w0,
        intercept_before=b0, coef_after=w1, intercept_after=0.0, max_points=2000,
    )
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * 2000
    lines = ax.get_lines()
    assert len(lines) == 2
    # the pretrained normal is the first axis: its boundary is the vertical line
    # u = -(w0 . mu + b0) / |w0|
    u = lines[0].get_xdata()
    expected = -(w0 @ Z.mean(axis=0) + b0) / np.linalg.norm(w0)
    np.testing.assert_allclose(u, expected)
    assert "normal" in ax.get_xlabel() and "principal" in ax.get_ylabel()
    # the same subsample for the same random_state
    ax2 = plot_unfair_region(latents=Z, perturbed_latents=P, sensitive=a, y=y,
                             coef_before=w0, intercept_before=b0, max_points=2000)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), ax2.collections[0].get_offsets())


class _Stub:
    """Carries the fitted attributes ALFAClassifier exposes."""

    def __init__(self, n=40, d=5, seed=0):
        rng = np.random.RandomState(seed)
        self.attack_latents_ = rng.randn(n, d)
        self.perturbed_latents_ = self.attack_latents_ + 0.1 * rng.randn(n, d)
        self.attack_sensitive_ = np.repeat([0, 1], n // 2)
        self.attack_targets_ = np.tile([0, 1], n // 2)
        self.pretrained_coef_ = rng.randn(d)
        self.pretrained_intercept_ = 0.1
        self.coef_ = rng.randn(1, d)
        self.intercept_ = np.array([-0.2])


def test_plot_unfair_region_from_estimator_stub():
    stub = _Stub()
    fig, ax = plt.subplots()
    out = plot_unfair_region(stub, ax=ax)
    assert out is ax
    assert sum(len(c.get_offsets()) for c in ax.collections) == 80
    assert len(ax.get_lines()) == 2
    # None means "read it from the estimator"
    ax = plot_unfair_region(stub, perturbed_latents=None, coef_after=None)
    assert len(ax.get_lines()) == 2
    assert sum(len(c.get_offsets()) for c in ax.collections) == 80
    # explicit arguments win over the estimator's attributes
    stub2 = _Stub(d=2)
    ax = plot_unfair_region(stub2, latents=stub2.attack_latents_[:, ::-1],
                            perturbed_latents=stub2.perturbed_latents_[:, ::-1])
    np.testing.assert_allclose(ax.collections[0].get_offsets()[0],
                               stub2.attack_latents_[0, ::-1])


def test_plot_unfair_region_minimal_and_errors():
    rng = np.random.RandomState(2)
    Z = rng.randn(30, 4)
    ax = plot_unfair_region(latents=Z)  # no labels, no boundaries: PCA plane
    assert len(ax.collections) == 1 and len(ax.get_lines()) == 0
    assert ax.get_xlabel() == "PC 1"
    with pytest.raises(ValueError, match="d >= 2"):
        plot_unfair_region(latents=Z[:, :1])
    with pytest.raises(ValueError, match="row-aligned"):
        plot_unfair_region(latents=Z, perturbed_latents=Z[:10])
    with pytest.raises(ValueError, match="shape"):
        plot_unfair_region(latents=Z, coef_before=np.ones(3))
    with pytest.raises(ValueError, match="latent rows"):
        plot_unfair_region(latents=Z, sensitive=[0, 1])
    with pytest.raises(ValueError, match="max_points"):
        plot_unfair_region(latents=Z, max_points=0)
    with pytest.raises(ValueError, match="needs latents"):
        plot_unfair_region()
    with pytest.raises(ValueError, match="fit it first"):
        plot_unfair_region(object())


# --------------------------------------------------------------------------- #
# plot_tradeoff_summary
# --------------------------------------------------------------------------- #
def _summary():
    # rows in "grid order"; the front of the means is c (0.02), a (0.10), d (0.30)
    return pd.DataFrame({
        "accuracy_mean": [0.78, 0.75, 0.70, 0.80],
        "accuracy_std": [0.01, 0.02, 0.00, np.nan],
        "delta_eod_mean": [0.10, 0.12, 0.02, 0.30],
        "delta_eod_std": [0.03, 0.01, 0.01, 0.02],
        "family": ["ALFA", "ALFA", "ALFA", "sklearn"],
    }, index=["a", "b", "c", "d"])


def test_summary_plot_draws_error_bars_and_a_front_sorted_by_gap():
    ax = plot_tradeoff_summary(_summary(), group="family")
    front = ax.lines[-1]
    np.testing.assert_allclose(front.get_xdata(), [0.02, 0.10, 0.30])   # sorted, b left out
    np.testing.assert_allclose(front.get_ydata(), [0.70, 0.78, 0.80])
    assert len(ax.containers) == 2                                      # one per family
    alfa = ax.containers[0]
    assert alfa.has_xerr and alfa.has_yerr
    # the x error bar of row "a" spans mean ± std
    segments = alfa.lines[2][0].get_segments()
    np.testing.assert_allclose(sorted(segments[0][:, 0]), [0.07, 0.13])
    assert ax.xaxis_inverted()
    # a single-row family is named in the legend only
    assert {t.get_text() for t in ax.texts} == {"a", "b", "c"}


def test_summary_plot_control_grid_order_is_not_a_front():
    # the same points joined in row order would zig-zag in gap; the front never does
    summary = _summary()
    assert not np.all(np.diff(summary.delta_eod_mean) >= 0)
    ax = plot_tradeoff_summary(summary.iloc[::-1])
    assert np.all(np.diff(ax.lines[-1].get_xdata()) >= 0)


@pytest.mark.parametrize("summary, message", [
    (pd.DataFrame(), "non-empty"),
    (pd.DataFrame({"accuracy_mean": [0.5]}), "lacks the columns"),
    (pd.DataFrame({"accuracy_mean": [np.nan], "delta_eod_mean": [0.1]}), "every mean"),
])
def test_summary_plot_rejects_bad_tables(summary, message):
    with pytest.raises(ValueError, match=message):
        plot_tradeoff_summary(summary)


# --------------------------------------------------------------------------- #
# The figures of skfairlatent.experiments (saved to PNG files)
# --------------------------------------------------------------------------- #
def test_plot_summary_saves_a_png_with_the_predict_time_note(tmp_path):
    from skfairlatent.plotting import plot_summary

    summary = _summary().assign(uses_sensitive_at_predict=[False, False, False, True])
    path = tmp_path / "summary.png"
    plot_summary(summary, path, "a title")
    assert path.stat().st_size > 10_000
    assert not plt.get_fignums()                      # the figure is closed


def test_plot_lassi_radii_one_panel_per_method(tmp_path):
    from skfairlatent.plotting import plot_lassi_radii

    rng = np.random.RandomState(0)
    radii = pd.DataFrame({"method": ["Naive"] * 10 + ["LASSI"] * 10,
                          "d_cs": rng.uniform(0.01, 1, 20), "d_rs": rng.uniform(0.01, 1, 20)})
    radii["d_cs"] = radii.d_cs.where(radii.index % 5 != 0)     # abstained rows have no radius
    radii["certified"] = radii.d_cs < radii.d_rs
    radii["abstain"] = radii.d_cs.isna()
    path = tmp_path / "radii.png"
    plot_lassi_radii(radii, path, "radii")
    assert path.stat().st_size > 10_000
    assert not plt.get_fignums()


def test_plot_fldgm_real_versus_synthetic(tmp_path):
    from skfairlatent.plotting import plot_fldgm

    rng = np.random.RandomState(0)

    def frame(n):
        return pd.DataFrame({"age": rng.randint(18, 70, n), "job": rng.choice(["a", "b", "c"], n),
                             "sex": rng.choice(["F", "M"], n), "y": rng.randint(0, 2, n)})

    samples = {"real": frame(50), "FLDGM (fair, α=1)": frame(50), "no fairness (α=0)": frame(50)}
    path = tmp_path / "fldgm.png"
    plot_fldgm(samples, {"target": "y", "sensitive": "sex"}, path, "fldgm")
    assert path.stat().st_size > 10_000
    assert not plt.get_fignums()
