"""Tests of skfairlatent.lassi (FlowTransformer, LASSIRepresentation), the image
Glow of skfairlatent.nn.glow and LASSI's end-to-end certification."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfairlatent.datasets import load_compas, make_preprocessor
from skfairlatent.lassi import FlowTransformer, LASSIRepresentation, sample_similarity_set
from skfairlatent.nn.glow import ImageGlow, squeeze, unsqueeze
from skfairlatent.smoothing import CertifiedSmoothClassifier, certify_individual_fairness

_TINY_FLOW = dict(n_blocks=1, hidden_size=8, max_epochs=1, device="cpu")


# --------------------------------------------------------------------------- #
# Image Glow
# --------------------------------------------------------------------------- #
def test_squeeze_is_inverted_by_unsqueeze():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    y = squeeze(x)
    assert y.shape == (2, 12, 2, 3)
    # channel block (i, j) of the squeeze holds pixel (2h + i, 2w + j)
    assert y[0, 1, 1, 2] == x[0, 0, 2, 5]
    torch.testing.assert_close(unsqueeze(y), x, rtol=0, atol=0)


def test_image_glow_inverse_and_log_det_against_autograd():
    torch.manual_seed(0)
    glow = ImageGlow((3, 8, 8), n_levels=2, n_steps=2, hidden_channels=8).double()
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    glow(x)  # ActNorm data initialisation
    with torch.no_grad():  # move away from the identity-initialised couplings
        for parameter in glow.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    z, log_det = glow(x)
    assert z.shape == (4, glow.n_features) and glow.n_features == 3 * 8 * 8
    torch.testing.assert_close(glow.inverse(z), x, rtol=0, atol=1e-10)
    jacobian = torch.autograd.functional.jacobian(
        lambda v: glow(v.reshape(1, 3, 8, 8))[0].reshape(-1), x[:1].reshape(-1))
    assert torch.slogdet(jacobian)[1].item() == pytest.approx(log_det[0].item(), abs=1e-8)


def test_image_glow_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="divisible"):
        ImageGlow((3, 6, 6), n_levels=2)


# --------------------------------------------------------------------------- #
# FlowTransformer
# --------------------------------------------------------------------------- #
def test_flow_transformer_round_trip_vectors_and_images():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5).astype(np.float32) * [1, 2, 3, 4, 5]
    flow = FlowTransformer(n_blocks=2, hidden_size=16, max_epochs=3, random_state=0).fit(X)
    Z = flow.transform(X)
    assert Z.shape == X.shape and Z.dtype == np.float32
    np.testing.assert_allclose(flow.inverse_transform(Z), X, atol=1e-4)
    images = rng.rand(16, 3 * 4 * 4).astype(np.float32)
    glow = FlowTransformer(image_shape=(3, 4, 4), n_levels=1, random_state=0, **{
        **_TINY_FLOW, "n_blocks": 2}).fit(images)
    np.testing.assert_allclose(glow.inverse_transform(glow.transform(images)), images, atol=1e-4)


def test_flow_transformer_learns_the_density():
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 2).astype(np.float32) @ np.array([[3.0, 0.0], [2.0, 0.5]], np.float32)
    flow = FlowTransformer(n_blocks=2, hidden_size=16, max_epochs=15, random_state=0).fit(X)
    Z = flow.transform(X)
    # the latents of Gaussian data become close to standard normal, uncorrelated
    np.testing.assert_allclose(np.cov(Z.T), np.eye(2), atol=0.25)


# --------------------------------------------------------------------------- #
# LASSIRepresentation on synthetic data
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def toy():
    rng = np.random.RandomState(0)
    A = rng.randint(0, 2, 300)
    X = rng.randn(300, 4).astype(np.float32)
    X[:, 0] += 2.0 * A
    y = (X[:, 1] + 0.5 * X[:, 0] > 0.5).astype(int)
    flow = FlowTransformer(n_blocks=1, hidden_size=8, max_epochs=2, random_state=0).fit(X)
    return X, y, np.where(A == 1, "women", "men"), flow


def test_mean_difference_attribute_vector(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    Z = flow.transform(X)
    expected = Z[A == "women"].mean(axis=0) - Z[A == "men"].mean(axis=0)
    np.testing.assert_allclose(rep.attribute_vectors_, expected[None], rtol=1e-5)
    assert list(rep.attribute_groups_[0]) == ["men", "women"]
    unit = LASSIRepresentation(flow=flow, normalize_attribute=True, max_epochs=1).fit(
        X, y, sensitive_features=A)
    assert np.linalg.norm(unit.attribute_vectors_) == pytest.approx(1.0, rel=1e-6)


def test_similar_individuals_and_center_smoothing(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=2, random_state=0).fit(
        X, y, sensitive_features=A)
    np.testing.assert_allclose(rep.generate_similar(X[:5], 0.0), X[:5], atol=1e-4)
    moved = rep.generate_similar(X[:5], 1.0)  # E(x) + a: shifted towards the other group
    np.testing.assert_allclose(flow.transform(moved), flow.transform(X[:5]) + rep.attribute_vectors_,
                               atol=1e-3)
    centers, d_cs = rep.center_smooth(X[:3], sigma=1.0, n0=1000, n=2000, delta=0.1,
                                     random_state=0)
    assert centers.shape == (3, 32) and d_cs.shape == (3,)
    finite = np.isfinite(d_cs)
    assert finite.any() and np.all(d_cs[finite] >= 0)


def test_linear_attribute_vector_is_the_unit_normal(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, attribute_vector="linear", max_epochs=1).fit(
        X, y, sensitive_features=A)
    a = rep.attribute_vectors_[0]
    assert np.linalg.norm(a) == pytest.approx(1.0, rel=1e-6)
    Z = flow.transform(X)
    # points to the second group: its latents project further along a
    assert (Z[A == "women"] @ a).mean() > (Z[A == "men"] @ a).mean()


def test_several_attributes_and_given_vectors(toy):
    X, y, A, flow = toy
    second = np.where(X[:, 2] > 0, "old", "young")
    frame = pd.DataFrame({"sex": A, "age": second})
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=frame)
    assert rep.attribute_vectors_.shape == (2, 4)
    t = sample_similarity_set(500, 4, 2, 1.5, generator=torch.Generator().manual_seed(0))
    assert t.shape == (500, 4, 2) and t.norm(dim=-1).max() <= 1.5 + 1e-6
    # Alg. 1 with two attributes smooths over t in R^2 (||t||_2 <= epsilon)
    clf = CertifiedSmoothClassifier(max_epochs=2, random_state=0).fit(rep.transform(X), y)
    report = certify_individual_fairness(rep, clf, X[:4], sigma_cs=1.0, n0_cs=1000, n_cs=2000,
                                         delta=0.1, n0_rs=50, n_rs=500, random_state=0)
    assert report.shape == (4, 5) and report["d_cs"].notna().any()
    given = LASSIRepresentation(flow=flow, attribute_vector=np.eye(4)[:1], max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(given.attribute_vectors_, np.eye(4, dtype=np.float32)[:1])


def test_no_sensitive_features_warns(toy):
    X, y, _, flow = toy
    with pytest.warns(UserWarning, match="without sensitive_features"):
        rep = LASSIRepresentation(flow=flow, max_epochs=1).fit(X, y)
    assert rep.attribute_vectors_.shape == (0, 4)
    assert rep.transform(X).shape == (300, 32)
    clf = CertifiedSmoothClassifier(max_epochs=1).fit(rep.transform(X), y)
    with pytest.raises(ValueError, match="attribute vector"):
        certify_individual_fairness(rep, clf, X[:2])


@pytest.mark.parametrize("params, match", [
    ({"epsilon": 0.0}, "epsilon"), ({"epsilon": -1.0}, "epsilon"),
    ({"attribute_vector": "pca"}, "unknown"), ({"lambda_adv": -1.0}, "lambda_adv"),
])
def test_bad_parameters(toy, params, match):
    X, y, A, flow = toy
    with pytest.raises(ValueError, match=match):
        LASSIRepresentation(flow=flow, **params).fit(X, y, sensitive_features=A)


def test_bad_sensitive_features_and_targets(toy):
    X, y, A, flow = toy
    three = np.array(["a", "b", "c"] * 100)
    with pytest.raises(ValueError, match="binary"):
        LASSIRepresentation(flow=flow).fit(X, y, sensitive_features=three)
    with pytest.raises(ValueError, match="requires y"):
        LASSIRepresentation(flow=flow).fit(X, sensitive_features=A)
    # the transfer setting trains without labels
    rep = LASSIRepresentation(flow=flow, lambda_cls=0.0, lambda_rec=0.1, max_epochs=1)
    assert rep.fit(X, sensitive_features=A).transform(X).shape == (300, 32)


def test_certify_bad_smoothing_parameters(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1).fit(X, y, sensitive_features=A)
    clf = CertifiedSmoothClassifier(max_epochs=1).fit(rep.transform(X), y)
    for kwargs, match in [({"sigma_cs": 0.0}, "sigma_cs"), ({"alpha_cs": 1.2}, "alpha_cs"),
                          ({"alpha_rs": 0.0}, "alpha_rs")]:
        with pytest.raises(ValueError, match=match):
            certify_individual_fairness(rep, clf, X[:2], **kwargs)


def test_reproducible_and_picklable(toy):
    X, y, A, flow = toy
    params = dict(flow=flow, max_epochs=2, random_state=0, device="cpu")
    first = LASSIRepresentation(**params).fit(X, y, sensitive_features=A)
    second = LASSIRepresentation(**params).fit(X, y, sensitive_features=A)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    clone = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(clone.transform(X), first.transform(X))


def test_metadata_routing_in_a_pipeline(toy):
    X, y, A, flow = toy
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            LASSIRepresentation(flow=flow, max_epochs=1, random_state=0)
            .set_fit_request(sensitive_features=True),
            CertifiedSmoothClassifier(max_epochs=2, n_samples=50, random_state=0)
            .set_fit_request(sensitive_features=False))
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no "fitted without" warning
            pipe.fit(X, y, sensitive_features=A)
        assert pipe[0].attribute_vectors_.shape == (1, 4)
        assert set(pipe.predict(X)) <= {0, 1}


_CHECK_FLOW = FlowTransformer(random_state=0, **_TINY_FLOW)


@parametrize_with_checks([
    _CHECK_FLOW,
    LASSIRepresentation(flow=_CHECK_FLOW, max_epochs=2, n_components=4,
                        hidden_layer_sizes=(8,), device="cpu", random_state=0),
])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fitted without sensitive features
        check(estimator)


# --------------------------------------------------------------------------- #
# Real data: LASSI versus the Naive representation on COMPAS (sex)
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def compas_certificates():
    X, y, A = load_compas(return_X_y_A=True)
    X_tr, X_te, y_tr, y_te, A_tr, _ = train_test_split(
        X, y, A, test_size=0.3, random_state=0, stratify=y)
    pre = make_preprocessor().fit(X_tr)
    X_tr, X_te = pre.transform(X_tr), pre.transform(X_te)
    flow = FlowTransformer(max_epochs=10, random_state=0, device="cpu").fit(X_tr)
    results = {}
    for name, lambda_adv in [("naive", 0.0), ("lassi", 1.0)]:
        rep = LASSIRepresentation(flow=flow, lambda_adv=lambda_adv, max_epochs=10,
                                  random_state=0, device="cpu")
        rep.fit(X_tr, y_tr, sensitive_features=A_tr)
        clf = CertifiedSmoothClassifier(sigma=0.5, random_state=0, device="cpu")
        clf.fit(rep.transform(X_tr), y_tr)
        accuracy = float((clf.predict(rep.transform(X_te)) == y_te).mean())
        cert = certify_individual_fairness(
            rep, clf, X_te[:100], sigma_cs=1.0, n0_cs=2000, n_cs=2000, delta=0.1,
            n0_rs=100, n_rs=2000, random_state=0)
        results[name] = accuracy, cert
    return results


def test_lassi_certifies_far_more_than_naive_at_small_accuracy_cost(compas_certificates):
    naive_acc, naive = compas_certificates["naive"]
    lassi_acc, lassi = compas_certificates["lassi"]
    assert list(lassi.columns) == ["prediction", "abstain", "certified", "d_cs", "d_rs"]
    assert lassi.attrs["confidence"] == pytest.approx(1 - 0.01 - 0.001)
    # Naive: moving along the sex direction moves R far (d_cs >> d_rs); LASSI: not.
    assert naive.attrs["certified_fraction"] <= 0.05
    assert lassi.attrs["certified_fraction"] >= naive.attrs["certified_fraction"] + 0.5
    assert lassi["d_cs"].median() < 0.1 * naive["d_cs"].median()
    assert lassi_acc >= naive_acc - 0.02
    # certified rows are exactly those with d_cs < d_rs
    ok = ~lassi["abstain"]
    np.testing.assert_array_equal(lassi["certified"][ok], (lassi["d_cs"] < lassi["d_rs"])[ok])
