"""Mode-specific normalisation of numeric columns (TabularSchema, FairLatentVAE)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skfairlatent import FairLatentVAE
from skfairlatent.datasets._schema import ModeSpecificNormalizer, TabularSchema

pytestmark = pytest.mark.filterwarnings("ignore:FairLatentVAE was fitted without")


def _table(n=2000, seed=0):
    """Zero-inflated integers, a bimodal float, a bounded integer count, a category."""
    rng = np.random.RandomState(seed)
    gain = np.where(rng.rand(n) < 0.8, 0, rng.lognormal(8, 1, n).round()).astype(np.int64)
    bimodal = np.where(rng.rand(n) < 0.5, rng.normal(0, 1, n), rng.normal(20, 2, n))
    count = np.minimum(rng.poisson(3, n), 12).astype(np.int64)
    colour = pd.Categorical(rng.choice(["red", "green", "blue"], n))
    return pd.DataFrame({"gain": gain, "bimodal": bimodal, "count": count, "colour": colour})


def _perfect_outputs(schema, encoded, scale=20.0):
    """Decoder outputs that reproduce the encoded rows: one-hot logits, the scalars."""
    logits = np.concatenate([scale * np.eye(size)[encoded["cat"][:, j]]
                             for j, size in enumerate(schema.cardinalities)], axis=1)
    return {"logits": logits, "numeric": encoded["num"]}


def _fitted_schema(X, seed=0):
    schema = TabularSchema().fit("frame", X, "mode-specific", random_state=seed)
    schema.fit_target(None, len(X))
    return schema


def test_round_trip_gives_back_the_rows():
    X = _table(n=600)
    before = X.copy()
    schema = _fitted_schema(X)
    encoded = schema.encode("frame", X)
    decoded, _ = schema.decode("frame", _perfect_outputs(schema, encoded), np.random.RandomState(0))
    pd.testing.assert_frame_equal(X, before)  # the caller's frame is not modified
    assert (decoded.dtypes == X.dtypes).all()
    np.testing.assert_array_equal(decoded["gain"], X["gain"])
    np.testing.assert_array_equal(decoded["count"], X["count"])
    np.testing.assert_allclose(decoded["bimodal"], X["bimodal"], rtol=0, atol=1e-4)
    assert (decoded["colour"] == X["colour"]).all()
    # the network sees one softmax per categorical column and per numeric column
    assert len(schema.cardinalities) == 4 and encoded["num"].shape == (len(X), 3)


def test_zeros_are_a_point_mass_decoded_exactly():
    X = _table(n=600)
    normalizer = _fitted_schema(X).normalizers_["gain"]
    assert 0.0 in normalizer.point_masses_
    modes, scalars = normalizer.transform(X["gain"])
    zero_mode = int(np.flatnonzero(normalizer.point_masses_ == 0)[0])
    assert np.mean(modes == zero_mode) == pytest.approx(np.mean(X["gain"] == 0))
    # whatever the scalar, the zero mode decodes to exactly 0
    decoded = normalizer.inverse_transform(np.full(50, zero_mode), np.linspace(-9, 9, 50))
    assert (decoded == 0).all()


def test_a_clearly_bimodal_column_has_two_modes():
    normalizer = ModeSpecificNormalizer(random_state=0).fit(_table(n=1000)["bimodal"])
    assert len(normalizer.point_masses_) == 0 and normalizer.n_modes_ == 2
    np.testing.assert_allclose(np.sort(normalizer.means_), [0, 20], atol=0.3)


def _random_outputs(schema, rng, n, scalar_sd, point_masses=True):
    """Random decoder outputs; without ``point_masses`` their modes are never picked."""
    logits = [rng.normal(0, 1, (n, size)) for size in schema.cardinalities]
    for j, c in enumerate(schema.numeric_columns_):
        if c in schema.normalizers_ and not point_masses:
            logits[len(schema.categorical_columns_) + j][
                :, :len(schema.normalizers_[c].point_masses_)] = -50
    return {"logits": np.concatenate(logits, axis=1),
            "numeric": rng.normal(0, scalar_sd, (n, len(schema.numeric_columns_)))}


def test_integer_support_and_bounds_under_arbitrary_outputs():
    """Random network outputs (unit-variance scalars, random continuous modes):
    integers stay integers, values stay in the range, and at most 1 % of rows
    sit on a limit that the real data hardly holds (the bimodal column's two,
    the counts' maxima); the standard encoding's clipping piles the bimodal
    column there (the control)."""
    X = _table(n=600)
    rng = np.random.RandomState(1)
    results = {}
    for encoding in ["mode-specific", "standard"]:
        schema = TabularSchema().fit("frame", X, encoding, random_state=0)
        schema.fit_target(None, len(X))
        outputs = _random_outputs(schema, rng, 5000, 1.0, point_masses=False)
        results[encoding], _ = schema.decode("frame", outputs, rng, stochastic=True)
    decoded = results["mode-specific"]
    for c in ["gain", "bimodal", "count"]:
        assert decoded[c].between(X[c].min(), X[c].max()).all()
        assert np.mean(decoded[c] == X[c].max()) <= 0.01, c
    for encoding, rows in results.items():
        at_limit = np.mean(rows["bimodal"].isin([X["bimodal"].min(), X["bimodal"].max()]))
        assert (at_limit <= 0.01) == (encoding == "mode-specific"), (encoding, at_limit)
    float_ints = X.assign(count=X["count"].astype(np.float64))
    schema = _fitted_schema(float_ints)
    decoded, _ = schema.decode("frame", _random_outputs(schema, rng, 5000, 1.0), rng,
                               stochastic=True)
    assert decoded["count"].dtype == np.float64
    np.testing.assert_array_equal(decoded["count"], np.round(decoded["count"]))
    assert not np.array_equal(decoded["bimodal"], np.round(decoded["bimodal"]))


def test_values_outside_a_mode_are_mirrored_not_piled_on_the_limit():
    normalizer = ModeSpecificNormalizer(random_state=0).fit(np.linspace(0, 10, 500))
    top = int(np.argmax(normalizer.means_)) + len(normalizer.point_masses_)
    decoded = normalizer.inverse_transform(np.full(1000, top), np.linspace(0, 4, 1000))
    assert decoded.max() <= 10 and np.mean(decoded == 10) <= 0.01


def test_vae_numeric_encoding_auto_and_errors():
    X = _table(n=200)
    vae = FairLatentVAE(max_epochs=1, random_state=0)
    assert vae.fit(X).numeric_encoding_ == "mode-specific"
    assert vae.fit(X[["bimodal", "count"]].to_numpy()).numeric_encoding_ == "standard"
    Z = vae.set_params(numeric_encoding="standard").fit(X).transform(X)
    assert vae.numeric_encoding_ == "standard" and Z.shape == (200, 8)
    with pytest.raises(ValueError, match="needs a DataFrame"):
        FairLatentVAE(numeric_encoding="mode-specific", max_epochs=1).fit(
            X[["bimodal"]].to_numpy())
    with pytest.raises(InvalidParameterError):
        FairLatentVAE(numeric_encoding="quantile").fit(X)


def test_vae_transform_and_decode_contracts_with_modes():
    X = _table(n=300)
    vae = FairLatentVAE(max_epochs=2, random_state=0).fit(X)
    Z = vae.transform(X)
    np.testing.assert_array_equal(Z, vae.transform(X))  # deterministic encoding
    assert Z.shape == (300, 8) and list(vae.get_feature_names_out())[0] == "fairlatentvae0"
    rows = vae.inverse_transform(Z, stochastic=True, random_state=0)
    assert list(rows.columns) == list(X.columns) and (rows.dtypes == X.dtypes).all()
    for c in ["gain", "bimodal", "count"]:
        assert rows[c].between(X[c].min(), X[c].max()).all()
    # sampling draws the within-mode scalars from the decoder's Gaussian (with the
    # training RMSE as its scale); the most likely rows are deterministic means
    scale = vae.schema_.scalar_scale_
    assert scale.shape == (3,) and (scale > 0).all() and np.isfinite(scale).all()
    pd.testing.assert_frame_equal(vae.inverse_transform(Z, random_state=0),
                                  vae.inverse_transform(Z, random_state=1))
    vae.schema_.scalar_scale_ = None
    at_means = vae.inverse_transform(Z, stochastic=True, random_state=0)
    assert np.mean(rows["bimodal"] != at_means["bimodal"]) > 0.9
    zeros = at_means["gain"] == 0  # the same modes: point masses stay exact
    assert zeros.any() and (rows["gain"][zeros] == 0).all()


@pytest.mark.slow
def test_vae_reproduces_the_zero_fraction_where_standard_does_not():
    """A small VAE keeps the 80 % zeros of a zero-inflated column within 5
    points; the standard encoding (Gaussian mean, rounded) misses by far more."""
    X = _table(n=1000)
    real = np.mean(X["gain"] == 0)
    shares = {}
    for encoding in ["mode-specific", "standard"]:
        vae = FairLatentVAE(max_epochs=20, numeric_encoding=encoding, random_state=0).fit(X)
        Z = np.random.RandomState(0).normal(size=(3000, 8)).astype(np.float32)
        rows = vae.inverse_transform(Z, stochastic=True, random_state=0)
        shares[encoding] = np.mean(rows["gain"] == 0)
    assert abs(shares["mode-specific"] - real) < 0.05, shares
    assert abs(shares["standard"] - real) > 0.2, shares


def test_against_rdt_cluster_based_normalizer():
    """Same number of modes as rdt's ClusterBasedNormalizer on a bimodal column,
    and both round trips exact."""
    rdt = pytest.importorskip("rdt")
    from rdt.transformers.numerical import ClusterBasedNormalizer

    x = _table(n=1000)["bimodal"]
    theirs = ClusterBasedNormalizer(max_clusters=10, enforce_min_max_values=True)
    theirs.fit(pd.DataFrame({"x": x}), "x")
    ours = ModeSpecificNormalizer(random_state=0).fit(x)
    assert ours.n_modes_ == int(np.sum(theirs.valid_component_indicator)) == 2
    back = theirs.reverse_transform(theirs.transform(pd.DataFrame({"x": x})))["x"]
    np.testing.assert_allclose(back, x, atol=1e-6)
    np.testing.assert_allclose(ours.inverse_transform(*ours.transform(x)), x, atol=1e-9)
    assert rdt.__version__
