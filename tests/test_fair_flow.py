"""FairLatentFlow (arXiv 2412.17523) on real data, the estimator contract, counterfactuals.

The integration tests use COMPAS (all 7,214 rows, sensitive attribute sex,
half for training) and, as the latent space E, the last hidden layer
(8 tanh units) of an MLP encoder trained on the one-hot/standardised rows.
The flow is fitted once (module fixture, fixed seeds).
"""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfairlatent import FairLatentFlow
from skfairlatent.datasets import load_compas, make_preprocessor
from skfairlatent.metrics import delta_dp, delta_eod

SMALL = dict(n_blocks=2, hidden_size=8, max_epochs=3, batch_size=64, random_state=0)


def _mlp_latent(P, mlp):
    h = P
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        h = np.tanh(h @ W + b)
    return h.astype(np.float32)


@pytest.fixture(scope="module")
def compas():
    X, y, A = load_compas(return_X_y_A=True)
    y, A = np.asarray(y), np.asarray(A, dtype=object)
    Xtr, Xte, ytr, yte, Atr, Ate = train_test_split(X, y, A, test_size=0.5, random_state=0,
                                                    stratify=y)
    pre = make_preprocessor().fit(Xtr)
    mlp = MLPClassifier((32, 8), activation="tanh", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(pre.transform(Xtr), ytr)
    Etr, Ete = _mlp_latent(pre.transform(Xtr), mlp), _mlp_latent(pre.transform(Xte), mlp)
    flow = FairLatentFlow(max_epochs=30, random_state=0).fit(Etr, ytr, sensitive_features=Atr)
    return dict(Etr=Etr, Ete=Ete, ytr=ytr, yte=yte, Atr=Atr, Ate=Ate, flow=flow)


# --------------------------------------------------------------------------- #
# Real-data outcomes
# --------------------------------------------------------------------------- #
def test_classifier_on_zy_is_fairer_than_on_e(compas):
    d, flow = compas, compas["flow"]
    base = LogisticRegression().fit(d["Etr"], d["ytr"])
    fair = LogisticRegression().fit(flow.transform(d["Etr"]), d["ytr"])
    p_base, p_fair = base.predict(d["Ete"]), fair.predict(flow.transform(d["Ete"]))
    eod_base = delta_eod(d["yte"], p_base, sensitive_features=d["Ate"])
    eod_fair = delta_eod(d["yte"], p_fair, sensitive_features=d["Ate"])
    dp_base = delta_dp(d["yte"], p_base, sensitive_features=d["Ate"])
    dp_fair = delta_dp(d["yte"], p_fair, sensitive_features=d["Ate"])
    acc_base, acc_fair = np.mean(p_base == d["yte"]), np.mean(p_fair == d["yte"])
    # measured (seed 0): ΔEOd 0.33 -> 0.07, ΔDP 0.19 -> 0.07, accuracy 0.67 -> 0.65
    assert eod_fair < 0.5 * eod_base, (eod_base, eod_fair)
    assert dp_fair < 0.6 * dp_base, (dp_base, dp_fair)
    assert acc_fair > acc_base - 0.05, (acc_base, acc_fair)


def test_sensitive_probe_on_zy_is_near_chance(compas):
    d, flow = compas, compas["flow"]
    male = d["Ate"] == "Male"

    def probe_auc(train, test):
        probe = LogisticRegression().fit(train, d["Atr"] == "Male")
        return roc_auc_score(male, probe.predict_proba(test)[:, 1])

    auc_e = probe_auc(d["Etr"], d["Ete"])
    auc_zy = probe_auc(flow.transform(d["Etr"]), flow.transform(d["Ete"]))
    flow_s = flow.set_params(output="sensitive")
    auc_zs = probe_auc(flow_s.transform(d["Etr"]), flow_s.transform(d["Ete"]))
    flow.set_params(output="label")
    assert auc_e > 0.95  # sex is in the encoder's latent
    assert abs(auc_zy - 0.5) < 0.1, auc_zy  # but not in Z_Y
    assert auc_zs > 0.9, auc_zs  # it went to Z_S


def test_covariance_of_z_is_close_to_diagonal(compas):
    d, flow = compas, compas["flow"]
    flow.set_params(output="all")
    Z = flow.transform(d["Ete"])
    flow.set_params(output="label")

    def mean_abs_offdiag_corr(M):
        c = np.corrcoef(M.T)
        return np.abs(c[~np.eye(len(c), dtype=bool)]).mean()

    c_e, c_z = mean_abs_offdiag_corr(d["Ete"]), mean_abs_offdiag_corr(Z)
    assert c_z < 0.1 and c_z < 0.5 * c_e, (c_e, c_z)


def test_exact_inverse_on_real_latents(compas):
    d, flow = compas, compas["flow"]
    flow.set_params(output="all")
    Z = flow.transform(d["Ete"])
    flow.set_params(output="label")
    np.testing.assert_allclose(flow.inverse_transform(Z), d["Ete"], atol=1e-4)
    with pytest.raises(ValueError, match="all of Z"):
        flow.inverse_transform(Z[:, :2])


def test_counterfactuals(compas):
    d, flow = compas, compas["flow"]
    E, A = d["Ete"][:500], d["Ate"][:500]
    fair = make_pipeline(flow, LogisticRegression())
    fair.steps[1] = ("lr", LogisticRegression().fit(flow.transform(d["Etr"]), d["ytr"]))
    biased = LogisticRegression().fit(d["Etr"], d["ytr"])
    E_s = flow.counterfactual(E, flip="sensitive", sensitive_features=A)
    assert E_s.shape == E.shape and E_s.dtype == np.float32
    # flipping Z_S leaves the fair decision unchanged ...
    assert np.mean(fair.predict(E_s) == fair.predict(E)) > 0.99
    # ... edits the input (and moves the sensitive head to the other group) ...
    assert np.abs(E_s - E).mean() > 0.05
    flow_s = flow.set_params(output="sensitive")
    head = flow.net_.module_.sensitive_head
    import torch
    with torch.no_grad():
        s_pred = head(torch.as_tensor(flow_s.transform(E_s))).argmax(1).numpy()
    flow.set_params(output="label")
    assert np.mean(flow.sensitive_groups_[s_pred] != A) > 0.9
    # ... and flipping Z_Y changes it for many rows
    E_y = flow.counterfactual(E, flip="label")
    assert np.mean(fair.predict(E_y) != fair.predict(E)) > 0.3
    # strength 0 is the round trip; the groups can also come from the sensitive head
    np.testing.assert_allclose(flow.counterfactual(E, strength=0.0), E, atol=1e-4)
    assert flow.counterfactual(E[:5]).shape == (5, E.shape[1])
    # a classifier on E itself is not invariant to the sensitive edit
    assert np.mean(biased.predict(E_s) != biased.predict(E)) > \
        np.mean(fair.predict(E_s) != fair.predict(E))


def test_counterfactual_errors(compas):
    flow, E = compas["flow"], compas["Ete"][:4]
    with pytest.raises(ValueError, match="flip"):
        flow.counterfactual(E, flip="both")
    with pytest.raises(ValueError, match="not seen in fit"):
        flow.counterfactual(E, sensitive_features=["x"] * 4)
    with pytest.raises(ValueError, match="rows"):
        flow.counterfactual(E, sensitive_features=["Male"] * 3)
    with pytest.raises(ValueError, match="target"):
        flow.counterfactual(E, target="Other")
    E_m = flow.counterfactual(E, target="Male", sensitive_features=["Male"] * 4)
    np.testing.assert_allclose(E_m, E, atol=1e-4)  # already there
    with pytest.warns(UserWarning, match="without sensitive_features"):
        plain = FairLatentFlow(**SMALL).fit(E[:4].repeat(10, 0), [0, 1] * 20)
    with pytest.raises(ValueError, match="fitted with sensitive_features"):
        plain.counterfactual(E)


# --------------------------------------------------------------------------- #
# Contract
# --------------------------------------------------------------------------- #
@parametrize_with_checks([FairLatentFlow(n_label_dims=1, n_sensitive_dims=1, **SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*without sensitive_features.*")
        check(estimator)


def _toy(n=300, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.choice(["a", "b"], n)
    y = (rng.rand(n) < np.where(A == "a", 0.3, 0.7)).astype(int)
    E = np.c_[y + (A == "a") + rng.randn(n), rng.randn(n, 3)]
    return E, y, A


def test_reproducible_and_does_not_modify_inputs():
    E, y, A = _toy()
    E0, A0 = E.copy(), A.copy()
    z1 = FairLatentFlow(**SMALL).fit(E, y, sensitive_features=A).transform(E)
    z2 = FairLatentFlow(**SMALL).fit(E, y, sensitive_features=A).transform(E)
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(E, E0)
    np.testing.assert_array_equal(A, A0)
    z3 = FairLatentFlow(**{**SMALL, "random_state": 1}).fit(E, y, sensitive_features=A).transform(E)
    assert not np.allclose(z1, z3)


def test_routing_pipeline_and_grid_search():
    E, y, A = _toy()
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            FairLatentFlow(**SMALL).set_fit_request(sensitive_features=True),
            LogisticRegression().set_fit_request(sample_weight=False),
        )
        search = GridSearchCV(pipe, {"fairlatentflow__lambda_di": [0.0, 2.0]}, cv=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # sensitive_features must arrive
            search.fit(E, y, sensitive_features=A)
    assert search.predict(E).shape == (300,)
    # routing off: the step__param form
    pipe = make_pipeline(FairLatentFlow(**SMALL), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pipe.fit(E, y, fairlatentflow__sensitive_features=A)
    assert list(pipe[0].sensitive_groups_) == ["a", "b"]


def test_outputs_pickle_and_feature_names():
    import pandas as pd
    E, y, A = _toy()
    frame = pd.DataFrame(E, columns=list("pqrs"))
    flow = FairLatentFlow(n_label_dims=2, n_sensitive_dims=1, **SMALL).fit(
        frame, y, sensitive_features=pd.Series(A))
    assert list(flow.feature_names_in_) == list("pqrs")
    assert flow.transform(frame).shape == (300, 2)
    assert list(flow.get_feature_names_out()) == ["z_label0", "z_label1"]
    flow.set_params(output="sensitive")
    assert flow.transform(frame).shape == (300, 1)
    flow.set_params(output="all")
    assert list(flow.get_feature_names_out()) == ["z_label0", "z_label1", "z_sensitive0",
                                                  "z_rest0"]
    Z = flow.transform(frame)
    clone = pickle.loads(pickle.dumps(flow))
    np.testing.assert_array_equal(clone.transform(frame), Z)
    np.testing.assert_allclose(clone.inverse_transform(Z), E, atol=1e-4)
    assert flow.label_means_.shape == (2, 2) and flow.sensitive_means_.shape == (2, 1)


@pytest.mark.parametrize("params, match", [
    (dict(n_label_dims=3, n_sensitive_dims=2), "only 4 feature"),
    (dict(n_label_dims=0), "n_label_dims"),
    (dict(lambda_di=-1.0), "lambda_di"),
    (dict(output="both"), "output"),
    (dict(di_pairing="random"), "pairing"),
    (dict(covariance_on="Z"), "covariance_on"),
    (dict(device="cuda:7" if not __import__("torch").cuda.is_available() else 3), "device"),
])
def test_bad_parameters(params, match):
    E, y, A = _toy(60)
    with pytest.raises((ValueError, TypeError), match=match):
        FairLatentFlow(**{**SMALL, **params}).fit(E, y, sensitive_features=A)


def test_bad_sensitive_features_and_targets():
    E, y, A = _toy(60)
    with pytest.raises(ValueError, match="rows"):
        FairLatentFlow(**SMALL).fit(E, y, sensitive_features=A[:-1])
    with pytest.raises(ValueError, match="two groups"):
        FairLatentFlow(**SMALL).fit(E, y, sensitive_features=["a"] * 60)
    with pytest.raises(ValueError, match="missing"):
        FairLatentFlow(**SMALL).fit(E, y, sensitive_features=[None] + list(A[1:]))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        FairLatentFlow(**SMALL).fit(E, E[:, 0], sensitive_features=A)


def test_multigroup_and_multiclass():
    rng = np.random.RandomState(0)
    E = rng.randn(240, 5)
    y = rng.choice(["lo", "mid", "hi"], 240)
    A = pd_frame = np.c_[rng.choice(["f", "m"], 240), rng.choice(["x", "y"], 240)]
    flow = FairLatentFlow(**SMALL).fit(E, y, sensitive_features=pd_frame)
    assert len(flow.sensitive_groups_) == 4 and flow.label_means_.shape == (3, 2)
    with pytest.raises(ValueError, match="needs target"):
        flow.counterfactual(E, flip="label")
    out = flow.counterfactual(E, flip="sensitive", target=("m", "y"),
                              sensitive_features=A)
    assert out.shape == E.shape
    assert flow.counterfactual(E, flip="label", target="hi", y=y).shape == E.shape
