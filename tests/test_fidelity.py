"""Column fidelity metrics of synthetic tables (skfairlatent.metrics)."""

import numpy as np
import pandas as pd
import pytest

from skfairlatent.metrics import (
    column_similarity,
    correlation_similarity,
    evaluate_fidelity,
    range_limit_fraction,
    zero_fraction,
)


def _frame(n=500, seed=0, shift=0.0):
    rng = np.random.RandomState(seed)
    a = rng.normal(shift, 1, n)
    return pd.DataFrame({
        "a": a,
        "b": 2 * a + rng.normal(0, 1, n),
        "zeros": np.where(rng.rand(n) < 0.7, 0, rng.randint(1, 100, n)),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
    })


def test_identical_frames_score_one():
    real = _frame()
    result = evaluate_fidelity(real, real.copy())
    assert (result["column_similarity"] == 1.0).all()
    assert list(result["column_similarity"].index) == list(real.columns)
    assert result["mean_column_similarity"] == result["min_column_similarity"] == 1.0
    assert result["correlation_similarity"] == pytest.approx(1.0)
    np.testing.assert_array_equal(result["zero_fraction"]["real"],
                                  result["zero_fraction"]["synthetic"])
    assert list(result["zero_fraction"].index) == ["a", "b", "zeros"]


def test_disjoint_supports_score_zero():
    real = pd.DataFrame({"x": [0.0, 1.0, 2.0], "c": ["a", "a", "b"]})
    synthetic = pd.DataFrame({"x": [10.0, 11.0], "c": ["d", "e"]})
    np.testing.assert_array_equal(column_similarity(real, synthetic), [0.0, 0.0])


def test_hand_computed_total_variation_and_ks():
    # p_real = (a 0.5, b 0.5), p_synthetic = (a 0.25, b 0.25, c 0.5): TV = 0.5 (0.25+0.25+0.5)
    real = pd.DataFrame({"c": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    synthetic = pd.DataFrame({"x": [1.0, 2.0, 30.0, 40.0], "c": ["a", "b", "c", "c"]})
    scores = column_similarity(real, synthetic)
    assert scores["c"] == pytest.approx(0.5)
    # F_real(2) = 0.5, F_synthetic(2) = 0.5; F_real(4) = 1, F_synthetic(4) = 0.5: KS = 0.5
    assert scores["x"] == pytest.approx(0.5)


def test_correlation_similarity_hand_computed():
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 4.0]})
    synthetic = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [4.0, 3.0, 2.0, 1.0]})
    assert correlation_similarity(real, synthetic) == pytest.approx(0.0)  # rho 1 against -1
    assert correlation_similarity(real, real, method="spearman") == pytest.approx(1.0)
    assert np.isnan(correlation_similarity(real[["x"]], synthetic[["x"]]))
    with pytest.raises(ValueError, match="method"):
        correlation_similarity(real, synthetic, method="kendall-tau")


def test_zero_and_range_limit_fractions():
    real = pd.DataFrame({"x": [0, 0, 1, 5], "c": ["a", "b", "a", "b"]})
    synthetic = pd.DataFrame({"x": [0, 5, 5, 5, 3], "c": ["a"] * 5})
    assert zero_fraction(real).to_dict() == {"x": 0.5}
    limits = range_limit_fraction(real, synthetic)
    assert list(limits.columns) == ["real", "synthetic"] and list(limits.index) == ["x"]
    assert limits.loc["x", "real"] == pytest.approx(0.75)
    assert limits.loc["x", "synthetic"] == pytest.approx(0.8)


def test_a_shifted_column_scores_lower():
    real, synthetic = _frame(seed=0), _frame(seed=1, shift=1.0)
    scores = column_similarity(real, synthetic)
    assert scores["a"] < 0.7 and scores["colour"] > 0.9


def test_mismatched_columns_are_named():
    real = _frame()
    with pytest.raises(ValueError, match=r"only in real: \['colour'\].*only in synthetic: \['d'\]"):
        evaluate_fidelity(real, real.drop(columns="colour").assign(d=1))
    with pytest.raises(ValueError, match="numeric in real"):
        column_similarity(real, real.assign(a="text"))
    with pytest.raises(ValueError, match="DataFrames"):
        column_similarity(real, real.to_numpy())


def test_inputs_are_not_modified():
    real, synthetic = _frame(seed=0), _frame(seed=1)
    copies = real.copy(), synthetic.copy()
    evaluate_fidelity(real, synthetic)
    pd.testing.assert_frame_equal(real, copies[0])
    pd.testing.assert_frame_equal(synthetic, copies[1])


def test_against_sdmetrics():
    """The same numbers as SDMetrics' KSComplement, TVComplement and
    CorrelationSimilarity on two different frames."""
    sdmetrics = pytest.importorskip("sdmetrics")
    from sdmetrics.column_pairs import CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    real, synthetic = _frame(seed=0), _frame(n=400, seed=1, shift=0.3)
    synthetic["colour"] = synthetic["colour"].cat.set_categories(["red", "green", "blue"])
    ours = column_similarity(real, synthetic)
    for c in ["a", "b", "zeros"]:
        assert ours[c] == pytest.approx(KSComplement.compute(real[c], synthetic[c]), abs=1e-12)
    assert ours["colour"] == pytest.approx(
        TVComplement.compute(real["colour"], synthetic["colour"]), abs=1e-12)
    numeric = ["a", "b", "zeros"]
    pairs = [(i, j) for k, i in enumerate(numeric) for j in numeric[k + 1:]]
    theirs = np.mean([CorrelationSimilarity.compute(real[[i, j]], synthetic[[i, j]],
                                                    coefficient="Pearson") for i, j in pairs])
    assert correlation_similarity(real, synthetic) == pytest.approx(theirs, abs=1e-12)
    assert sdmetrics.__version__


def test_plot_marginals_draws_one_panel_per_column():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skfairlatent.plotting import plot_marginals

    real = _frame()
    synthetic = {"shifted": _frame(seed=1, shift=1.0), "same": _frame(seed=2)}
    axes = plot_marginals(real, synthetic, ["zeros", "a", "colour"], bins=20)
    try:
        assert len(axes) == 3 and axes[0].get_yscale() == "log"  # 70 % zeros: log shares
        assert axes[1].get_yscale() == "linear"
        assert len(axes[0].patches) == 3 and len(axes[2].patches) == 9  # 3 frames x 3 colours
        assert [t.get_text() for t in axes[0].get_legend().get_texts()] == \
            ["real", "shifted", "same"]
        with pytest.raises(ValueError, match="missing"):
            plot_marginals(real, {"x": real.drop(columns="a")}, ["a"])
        _, ax = plt.subplots(1, 2)
        with pytest.raises(ValueError, match="2 Axes for 1 columns"):
            plot_marginals(real, synthetic, ["a"], ax=ax)
    finally:
        plt.close("all")
