"""Tests for skfairlatent.datasets: shipped real data, generators, preprocessing."""

from __future__ import annotations

import gzip
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from skfairlatent.datasets import (
    load_adult,
    load_colored_mnist,
    load_compas,
    load_drug,
    load_german,
    make_preprocessor,
    make_unfair_gaussians,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "skfairlatent" / "datasets" / "data"


# --------------------------------------------------------------------------- #
# Cached loads (the loaders themselves return fresh objects every call)
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def adult():
    return load_adult()


@pytest.fixture(scope="module")
def compas():
    return load_compas()


@pytest.fixture(scope="module")
def german():
    return load_german()


@pytest.fixture(scope="module")
def drug():
    return load_drug()


@pytest.fixture(scope="module")
def cmnist():
    return load_colored_mnist(random_state=0)


TABULAR = {
    "adult": (load_adult, 45_222, 11, "sex", {"Female", "Male"}),
    "compas": (load_compas, 7_214, 8, "sex", {"Female", "Male"}),
    "german": (load_german, 1_000, 20, "sex", {"Female", "Male"}),
    "drug": (load_drug, 1_885, 12, "gender", {"Female", "Male"}),
}


# --------------------------------------------------------------------------- #
# Shipped files
# --------------------------------------------------------------------------- #
def test_shipped_files_small_and_present():
    names = {p.name for p in DATA_DIR.iterdir()}
    assert {"adult.csv.gz", "compas.csv.gz", "german.csv.gz", "german_values_maps.json",
            "drug.csv.gz", "mnist_5k.csv.gz"} <= names
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir())
    assert total < 5 * 1024 * 1024


def test_compas_file_has_no_identifying_columns():
    with gzip.open(DATA_DIR / "compas.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
    assert header == [
        "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count",
        "juv_other_count", "priors_count", "c_charge_degree",
        "days_b_screening_arrest", "is_recid", "score_text", "two_year_recid",
    ]
    for forbidden in ("id", "name", "first", "last", "dob", "c_case_number",
                      "r_case_number", "vr_case_number"):
        assert forbidden not in header


def test_drug_file_has_no_id_column():
    with gzip.open(DATA_DIR / "drug.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
    assert "ID" not in header and len(header) == 12 + 19


# --------------------------------------------------------------------------- #
# Common contract of the tabular loaders
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", list(TABULAR))
def test_bunch_fields_and_shapes(name, request):
    loader, n_rows, n_features, sens_name, sens_values = TABULAR[name]
    bunch = request.getfixturevalue(name)
    assert isinstance(bunch, Bunch)
    for field in ("data", "target", "sensitive", "frame", "feature_names",
                  "target_names", "DESCR"):
        assert field in bunch
    assert isinstance(bunch.data, pd.DataFrame)
    assert bunch.data.shape == (n_rows, n_features)
    assert list(bunch.data.columns) == bunch.feature_names
    assert isinstance(bunch.target, pd.Series) and bunch.target.shape == (n_rows,)
    assert set(np.unique(bunch.target)) == {0, 1}
    assert bunch.target.dtype == np.int64
    assert isinstance(bunch.sensitive, pd.Series) and len(bunch.sensitive) == n_rows
    assert bunch.sensitive.name == sens_name
    assert set(bunch.sensitive) == sens_values
    assert bunch.frame.shape == (n_rows, n_features + 1)
    pd.testing.assert_frame_equal(bunch.frame[bunch.feature_names], bunch.data)
    assert isinstance(bunch.data.index, pd.RangeIndex)
    assert not bunch.data.isna().any().any()
    assert f"{n_rows:,}" in bunch.DESCR
    assert "Source" in bunch.DESCR and ("Licence" in bunch.DESCR or "licence" in bunch.DESCR
                                        or "ProPublica" in bunch.DESCR)
    # Columns are either "category" or numeric, never raw strings/objects.
    for col, dtype in bunch.data.dtypes.items():
        assert isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_numeric_dtype(dtype), col


@pytest.mark.parametrize("name", list(TABULAR))
def test_return_X_y_A_tuple(name, request):
    loader = TABULAR[name][0]
    X, y, A = loader(return_X_y_A=True)
    bunch = request.getfixturevalue(name)
    pd.testing.assert_frame_equal(X, bunch.data)
    pd.testing.assert_series_equal(y, bunch.target)
    pd.testing.assert_series_equal(A, bunch.sensitive)


@pytest.mark.parametrize("name", list(TABULAR))
def test_as_frame_false_gives_arrays(name):
    loader, n_rows, n_features, _, _ = TABULAR[name]
    X, y, A = loader(return_X_y_A=True, as_frame=False)
    assert isinstance(X, np.ndarray) and X.shape == (n_rows, n_features)
    assert isinstance(y, np.ndarray) and y.shape == (n_rows,)
    assert isinstance(A, np.ndarray) and A.dtype == object


@pytest.mark.parametrize("name", list(TABULAR))
def test_loaders_return_fresh_copies(name):
    loader = TABULAR[name][0]
    X1, y1, A1 = loader(return_X_y_A=True)
    first = X1.columns[0]
    del X1[first]
    y1.iloc[:] = 0
    A1.iloc[:] = "changed"
    X2, y2, A2 = loader(return_X_y_A=True)
    assert first in X2.columns
    assert y2.sum() > 0
    assert "changed" not in set(A2)


@pytest.mark.parametrize(
    "loader, kwargs, match",
    [
        (load_adult, {"sensitive": "gender"}, "'sex', 'race'"),
        (load_compas, {"sensitive": "age"}, "'sex', 'race', 'age_cat'"),
        (load_german, {"sensitive": "race"}, "'sex', 'age'"),
        (load_drug, {"sensitive": "sex"}, "'gender', 'age', 'ethnicity'"),
        (load_drug, {"target": "Coffee"}, "Coke"),
        (load_drug, {"target": ["Coke", "Tea"]}, "Coke"),
        (load_drug, {"target": []}, "Coke"),
        (load_drug, {"target": ["Coke", "coke"]}, "twice"),
        (load_adult, {"return_X_y_A": "yes"}, "True or False"),
        (load_compas, {"propublica_filter": 1}, "True or False"),
        (load_drug, {"multiclass": None}, "True or False"),
    ],
)
def test_bad_options_raise(loader, kwargs, match):
    with pytest.raises(ValueError, match=match):
        loader(**kwargs)


# --------------------------------------------------------------------------- #
# Per-dataset content
# --------------------------------------------------------------------------- #
def test_adult_content(adult):
    assert adult.feature_names == [
        "age", "workclass", "education-num", "marital-status", "occupation",
        "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    ]
    assert adult.target.sum() == 11_208
    assert adult.target.mean() == pytest.approx(0.248, abs=0.001)
    assert adult.sensitive.value_counts().to_dict() == {"Male": 30_527, "Female": 14_695}
    assert (adult.sensitive == adult.data["sex"].astype(str)).all()
    assert "?" not in set(adult.data["workclass"].astype(str))
    assert adult.target_names == ["<=50K", ">50K"]
    # Men earn >50K far more often: the bias the benchmark is about.
    rates = adult.target.groupby(adult.sensitive).mean()
    assert rates["Male"] > 0.3 > 0.12 > rates["Female"]


def test_adult_race():
    A = load_adult(sensitive="race", return_X_y_A=True)[2]
    assert set(A) == {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"}
    assert (A == "White").sum() == 38_903


def test_compas_content(compas):
    assert compas.feature_names == [
        "sex", "age_cat", "race", "juv_fel_count", "juv_misd_count",
        "juv_other_count", "priors_count", "c_charge_degree",
    ]
    assert compas.sensitive.value_counts().to_dict() == {"Male": 5_819, "Female": 1_395}
    assert compas.target.name == "two_year_recid"
    assert compas.target.mean() == pytest.approx(0.4507, abs=0.001)
    assert list(compas.data["age_cat"].cat.categories) == [
        "Less than 25", "25 - 45", "Greater than 45"]
    assert set(compas.data["c_charge_degree"].astype(str)) == {"F", "M"}


def test_compas_propublica_filter_and_other_sensitive():
    X, y, A = load_compas(propublica_filter=True, sensitive="race", return_X_y_A=True)
    assert len(X) == len(y) == len(A) == 6_172
    assert A.value_counts()["African-American"] == 3_175
    assert set(X["c_charge_degree"].astype(str)) == {"F", "M"}
    A_age = load_compas(sensitive="age_cat", return_X_y_A=True)[2]
    assert set(A_age) == {"Less than 25", "25 - 45", "Greater than 45"}


def test_german_content(german):
    assert german.target.value_counts().to_dict() == {1: 700, 0: 300}
    assert german.target_names == ["bad", "good"]
    assert german.sensitive.value_counts().to_dict() == {"Male": 690, "Female": 310}
    data = german.data
    # Decoded, readable categories, no A-codes left.
    for col, dtype in data.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            assert not any(str(c).startswith("A") and str(c)[1:].isdigit()
                           for c in dtype.categories), col
    assert "no checking account" in set(data["checking_status"].astype(str))
    assert set(data["foreign_worker"].astype(str)) == {"yes", "no"}
    assert data.loc[0, "age"] == 67 and data.loc[0, "credit_amount"] == 1169
    assert data.loc[1, "sex"] == "Female"  # A92 in row 2 of german.data


def test_german_age_sensitive():
    X, _, A = load_german(sensitive="age", return_X_y_A=True)
    assert set(A) == {"old", "young"}
    assert ((A == "old") == (X["age"] >= 25)).all()
    assert (A == "young").sum() == 149


def test_drug_content(drug):
    assert drug.feature_names == [
        "Age", "Gender", "Education", "Country", "Ethnicity", "Nscore", "Escore",
        "Oscore", "Ascore", "Cscore", "Impulsive", "SS",
    ]
    assert (drug.data.dtypes == np.float64).all()
    assert drug.target.name == "Coke"
    assert drug.target.value_counts().to_dict() == {0: 1_038, 1: 847}
    female = drug.data["Gender"].round(5) == 0.48246
    assert (female == (drug.sensitive == "Female")).all()
    assert drug.sensitive.value_counts().to_dict() == {"Male": 943, "Female": 942}


def test_drug_targets_and_sensitive():
    y = load_drug(target="benzos", return_X_y_A=True)[1]
    assert y.name == "Benzos" and set(y) == {0, 1}
    bunch = load_drug(target=["Coke", "Benzos", "Ketamine", "Mushrooms"])
    assert isinstance(bunch.target, pd.DataFrame)
    assert list(bunch.target.columns) == ["Coke", "Benzos", "Ketamine", "Mushrooms"]
    assert bunch.frame.shape == (1_885, 16)
    Y_all = load_drug(target="all", return_X_y_A=True)[1]
    assert Y_all.shape == (1_885, 19) and set(np.unique(Y_all)) == {0, 1}
    multi = load_drug(multiclass=True)
    assert set(multi.target) == set(range(7))
    assert multi.target_names == [f"CL{i}" for i in range(7)]
    assert ((multi.target > 0).astype(int) == load_drug().target).all()
    A_age = load_drug(sensitive="age", return_X_y_A=True)[2]
    assert set(A_age) == {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    A_eth = load_drug(sensitive="ethnicity", return_X_y_A=True)[2]
    assert (A_eth == "White").sum() == 1_720 and A_eth.nunique() == 7


# --------------------------------------------------------------------------- #
# make_preprocessor
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", list(TABULAR))
def test_preprocessor_on_each_dataset(name, request):
    bunch = request.getfixturevalue(name)
    X = bunch.data
    Z = make_preprocessor().fit_transform(X)
    n_cat = sum(isinstance(t, pd.CategoricalDtype) for t in X.dtypes)
    n_num = X.shape[1] - n_cat
    n_levels = sum(X[c].nunique() for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype))
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float64
    assert Z.shape == (len(X), n_levels + n_num)
    assert np.isfinite(Z).all()


def test_preprocessor_in_pipeline_with_logistic_regression(compas):
    X, y = compas.data, compas.target
    pipe = make_pipeline(make_preprocessor(), LogisticRegression(max_iter=500))
    pipe.fit(X.iloc[:5000], y.iloc[:5000])
    assert pipe.score(X.iloc[5000:], y.iloc[5000:]) > 0.6
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X.iloc[5000:]), pipe.predict(X.iloc[5000:]))
    clone(pipe).fit(X.iloc[:200], y.iloc[:200])


def test_preprocessor_dtype_selection_pandas_strings():
    X = pd.DataFrame({
        "s": pd.Series(["a", "b", "a", "c"], dtype="str"),
        "o": pd.Series(["x", "y", "x", "y"], dtype=object),
        "c": pd.Categorical(["u", "v", "u", "u"]),
        "b": [True, False, True, False],
        "f": [1.0, 2.0, 3.0, 4.0],
        "i": [1, 2, 3, 5],
        "t": pd.to_datetime(["2020-01-01"] * 4),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre = make_preprocessor().fit(X)
        Z = pre.transform(X)
    # 3 + 2 + 2 + 2 one-hot columns, 2 scaled, the datetime column dropped.
    assert Z.shape == (4, 11)
    np.testing.assert_allclose(Z[:, -2:].mean(axis=0), 0.0, atol=1e-12)
    # Unknown category at transform time is ignored (all-zero block).
    X_new = X.copy()
    X_new.loc[0, "s"] = "zzz"
    assert np.isfinite(pre.transform(X_new)).all()


def test_preprocessor_explicit_columns():
    X = pd.DataFrame({"code": [1, 2, 1, 3], "x": [0.5, 1.5, 2.5, 3.5], "s": ["a", "b", "a", "b"]})
    Z = make_preprocessor(categorical=["code"]).fit_transform(X)
    assert Z.shape == (4, 3 + 1)  # "code" one-hot, "x" scaled, "s" only by request
    Z = make_preprocessor(categorical=["code", "s"], numeric=["x"]).fit_transform(X)
    assert Z.shape == (4, 3 + 2 + 1)
    Z = make_preprocessor(categorical=[0], numeric=[1]).fit_transform(
        X.to_numpy()[:, :2].astype(float))
    assert Z.shape == (4, 4)
    with pytest.raises(ValueError, match="both"):
        make_preprocessor(categorical=["x"], numeric=["x"])
    with pytest.raises(TypeError, match="DataFrame"):
        make_preprocessor().fit(np.zeros((3, 2)))


# --------------------------------------------------------------------------- #
# make_unfair_gaussians
# --------------------------------------------------------------------------- #
def test_unfair_gaussians_groups_and_means():
    X, y, A = make_unfair_gaussians(n_samples=(1000, 1000, 4000, 4000), random_state=0)
    assert X.shape == (10_000, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and A.dtype == np.int64
    counts = {(yy, aa): int(((y == yy) & (A == aa)).sum()) for yy in (0, 1) for aa in (0, 1)}
    assert counts == {(1, 1): 1000, (0, 1): 1000, (1, 0): 4000, (0, 0): 4000}
    expected_mean = {(1, 1): [1, 1], (0, 1): [1, 0.7], (1, 0): [0, 1], (0, 0): [0, 0]}
    expected_std = {(1, 1): 0.2, (0, 1): 0.2, (1, 0): 0.6, (0, 0): 0.6}
    for key, mean in expected_mean.items():
        sel = (y == key[0]) & (A == key[1])
        np.testing.assert_allclose(X[sel].mean(axis=0), mean, atol=0.05)
        np.testing.assert_allclose(X[sel].std(axis=0), expected_std[key], rtol=0.08)


def test_unfair_gaussians_defaults_deterministic_and_unfair():
    X, y, A = make_unfair_gaussians(random_state=1)
    assert X.shape == (1000, 2)
    assert np.bincount(A).tolist() == [800, 200]
    X2, y2, A2 = make_unfair_gaussians(random_state=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    # The unfair regions of ALFA App. C: (a=1, y=0) over-predicted as 1,
    # (a=0, y=1) under-predicted, compared with the other groups.
    pred = LogisticRegression().fit(X, y).predict(X)
    err = {(yy, aa): np.mean(pred[(y == yy) & (A == aa)] != yy) for yy in (0, 1) for aa in (0, 1)}
    assert err[(0, 1)] > err[(1, 1)] + 0.2
    assert err[(1, 0)] > err[(1, 1)]


def test_unfair_gaussians_options():
    bunch = make_unfair_gaussians(n_samples=103, shuffle=False, random_state=0,
                                  return_X_y_A=False)
    assert len(bunch.data) == 103
    assert np.bincount(bunch.group)[1:].sum() == 103
    assert (np.diff(bunch.group) >= 0).all()  # unshuffled: group by group
    np.testing.assert_allclose(bunch.means[1], [1.0, 0.7])
    for bad in [(1, 2, 3), (1, 2, 3, -1), (10, 10, 10, 10.5), "many", 2, True]:
        with pytest.raises(ValueError, match="n_samples"):
            make_unfair_gaussians(n_samples=bad)
    with pytest.raises(ValueError, match="sigma"):
        make_unfair_gaussians(sigma=0)
    with pytest.raises(ValueError, match="K"):
        make_unfair_gaussians(K=-1.0)


# --------------------------------------------------------------------------- #
# load_colored_mnist
# --------------------------------------------------------------------------- #
def test_colored_mnist_shapes_dtypes_ranges(cmnist):
    assert cmnist.X_train.shape == (4000, 3, 28, 28)
    assert cmnist.X_test.shape == (1000, 3, 28, 28)
    for X in (cmnist.X_train, cmnist.X_test):
        assert X.dtype == np.float32
        assert X.min() >= 0.0 and X.max() <= 1.0
    for y in (cmnist.y_train, cmnist.y_test):
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.bincount(cmnist.y_train).tolist() == [400] * 10
    assert np.bincount(cmnist.y_test).tolist() == [100] * 10
    assert cmnist.A_train.dtype == np.int64
    assert cmnist.color_names == ["red", "brown"]
    assert cmnist.colors.shape == (2, 3)
    assert cmnist.target_names == [str(d) for d in range(10)]
    assert "AEDA" in cmnist.DESCR


def test_colored_mnist_background_is_the_colour(cmnist):
    # The corner pixel is background in MNIST: it must equal the row's colour.
    for X, A in ((cmnist.X_train, cmnist.A_train), (cmnist.X_test, cmnist.A_test)):
        np.testing.assert_allclose(X[:, :, 0, 0], cmnist.colors[A], atol=1e-6)
    # The digit stroke is white: brightest pixels reach (1, 1, 1).
    assert np.all(cmnist.X_train.min(axis=1).max(axis=(1, 2)) > 0.9)


def test_colored_mnist_train_colour_predicts_digit_ge_5(cmnist):
    np.testing.assert_array_equal(cmnist.A_train, (cmnist.y_train >= 5).astype(int))
    assert cmnist.aligned_train.all()


def test_colored_mnist_test_split_balanced(cmnist):
    for d in range(10):
        assert np.bincount(cmnist.A_test[cmnist.y_test == d]).tolist() == [50, 50]


def test_colored_mnist_bias_aligned_fraction():
    bunch = load_colored_mnist(bias_aligned_fraction=0.9, random_state=3)
    aligned = bunch.A_train == (bunch.y_train >= 5)
    np.testing.assert_array_equal(aligned, bunch.aligned_train)
    for d in range(10):
        assert (~aligned[bunch.y_train == d]).sum() == 40
    unbiased = load_colored_mnist(bias_aligned_fraction=0.5, random_state=3)
    assert np.bincount(unbiased.A_train).tolist() == [2000, 2000]


def test_colored_mnist_determinism_and_tuple_output():
    (Xtr, ytr, Atr), (Xte, yte, Ate) = load_colored_mnist(random_state=7, return_X_y_A=True)
    (Xtr2, ytr2, Atr2), (Xte2, yte2, Ate2) = load_colored_mnist(random_state=7,
                                                                 return_X_y_A=True)
    for a, b in ((Xtr, Xtr2), (ytr, ytr2), (Atr, Atr2), (Xte, Xte2), (yte, yte2), (Ate, Ate2)):
        np.testing.assert_array_equal(a, b)
    other = load_colored_mnist(random_state=8)
    assert not np.array_equal(other.y_train, ytr)
    # Returned arrays are writable copies: changing them changes no later call.
    Xtr[:] = 0
    ytr[:] = -1
    again = load_colored_mnist(random_state=7)
    np.testing.assert_array_equal(again.y_train, ytr2)


def test_colored_mnist_options():
    flat = load_colored_mnist(flatten=True, test_size=0.5, colors=["green", (0.0, 0.0, 1.0)])
    assert flat.X_train.shape == (2500, 3 * 28 * 28)
    assert flat.X_test.shape == (2500, 3 * 28 * 28)
    assert flat.color_names[0] == "green"
    np.testing.assert_allclose(flat.colors[1], [0, 0, 1])
    for kwargs, match in [
        ({"bias_aligned_fraction": 1.5}, "bias_aligned_fraction"),
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": 2}, "test_size"),
        ({"colors": ["red"]}, "colors"),
        ({"colors": ["red", "teal"]}, "colors"),
        ({"colors": ["red", (2.0, 0, 0)]}, "colors"),
        ({"colors": ["red", "red"]}, "different"),
        ({"flatten": "no"}, "True or False"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_colored_mnist(**kwargs)
