"""Tests of skfairlatent.lassi (FlowTransformer, LASSIRepresentation), the image
Glow of skfairlatent.nn.glow and LASSI's end-to-end certification."""

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skfairlatent import lassi as lassi_module
from skfairlatent import smoothing as smoothing_module
from skfairlatent.datasets import load_compas, make_preprocessor
from skfairlatent.exceptions import InvalidParameterError, NonFiniteLossError
from skfairlatent.lassi import (
    FlowTransformer,
    LASSILoss,
    LASSIModule,
    LASSIRepresentation,
    sample_similarity_set,
)
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
    rep = LASSIRepresentation(flow=flow, lambda_adv=0.1, max_epochs=2, random_state=0).fit(
        X, y, sensitive_features=A)
    np.testing.assert_allclose(rep.generate_similar(X[:5], 0.0), X[:5], atol=1e-4)
    moved = rep.generate_similar(X[:5], 1.0)  # E(x) + a: shifted towards the other group
    np.testing.assert_allclose(flow.transform(moved),
                               flow.transform(X[:5]) + rep.attribute_vectors_, atol=1e-3)
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
    rep = LASSIRepresentation(flow=flow, lambda_adv=0.1, max_epochs=1, random_state=0).fit(
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
    ({"attribute_vector": "pca"}, "attribute_vector"), ({"lambda_adv": -1.0}, "lambda_adv"),
])
def test_bad_parameters(toy, params, match):
    X, y, A, flow = toy
    with pytest.raises(ValueError, match=match):
        LASSIRepresentation(flow=flow, **params).fit(X, y, sensitive_features=A)


@pytest.mark.parametrize("params", [
    {"flow": "glow"}, {"attribute_vector": 3}, {"normalize_attribute": "no"}, {"epsilon": "1"},
    {"hidden_layer_sizes": (0,)}, {"hidden_layer_sizes": "abc"}, {"n_components": 0},
    {"lambda_cls": -0.1}, {"lambda_rec": float("inf")}, {"n_adv_samples": 1.5},
    {"adv_margin": float("nan")}, {"data_augmentation": 1}, {"max_epochs": 0},
    {"batch_size": None}, {"lr": 0.0}, {"device": 3}, {"random_state": "seed"},
])
def test_every_bad_parameter_raises_invalid_parameter_error(toy, params):
    X, y, A, flow = toy
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        LASSIRepresentation(**{"flow": flow, **params}).fit(X, y, sensitive_features=A)


@pytest.mark.parametrize("params", [
    {"image_shape": (1, 4)}, {"image_shape": (1, 2, 2), "n_levels": 2},
    {"image_shape": (1, 4, 4)}, {"n_blocks": 0}, {"hidden_size": 2.0}, {"n_levels": 0},
    {"dequantization": -0.1}, {"max_grad_norm": 0.0}, {"lr": float("inf")},
])
def test_flow_bad_parameters_raise_invalid_parameter_error(toy, params):
    X = toy[0]  # 4 features: image_shape (1, 4, 4) holds 16
    with pytest.raises(InvalidParameterError, match="image_shape|" + next(iter(params))):
        FlowTransformer(**params).fit(X)


def test_lambda_adv_default_is_the_tuned_value():
    # the Defaults table of doc/lassi.md: chosen on tuning seed 100 for COMPAS and Adult
    assert LASSIRepresentation().get_params()["lambda_adv"] == 0.3


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


@pytest.mark.slow
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


# --------------------------------------------------------------------------- #
# Training step: random attack in eval mode, batch norm from clean points, Eq. (5)
# --------------------------------------------------------------------------- #
def _module(reconstruction=False, augment=False, n_adv_samples=3):
    torch.manual_seed(0)
    module = LASSIModule(4, 2, np.array([[1.0, -0.5, 0.0, 2.0]], np.float32),
                         hidden_layer_sizes=(8,), n_components=3, epsilon=1.0,
                         n_adv_samples=n_adv_samples, augment=augment,
                         reconstruction=reconstruction)
    module.train()
    module(torch.randn(64, 4))  # move the running statistics away from (0, 1)
    return module


def test_adversarial_point_is_chosen_in_eval_mode_and_normalised_with_clean_statistics(
        monkeypatch):
    module = _module()
    z = torch.randn(16, 4)
    t = torch.linspace(-1, 1, 16 * 3).reshape(16, 3, 1)
    monkeypatch.setattr(lassi_module, "sample_similarity_set", lambda *args, **kwargs: t)
    mlp, norm = module.encoder
    with torch.no_grad():  # expected values, by hand
        module.encoder.eval()
        similar = z[:, None, :] + t @ module.attribute_vectors
        gap = (module.encoder(similar.reshape(48, 4)).reshape(16, 3, -1)
               - module.encoder(z)[:, None]).norm(dim=-1)
        z_adv = similar[torch.arange(16), gap.argmax(dim=1)]
        h, h_adv = mlp(z), mlp(z_adv)
        mean, var = h.mean(dim=0), h.var(dim=0, unbiased=False)
        r = (h - mean) / torch.sqrt(var + norm.eps)
        r_adv = (h_adv - mean) / torch.sqrt(var + norm.eps)
        expected_mean = 0.9 * norm.running_mean + 0.1 * mean   # momentum 0.1, clean points
    module.train()
    logits, _, adv, _ = module(z)
    torch.testing.assert_close(adv, (r_adv - r).norm(dim=-1))
    torch.testing.assert_close(logits, module.classifier(r))
    torch.testing.assert_close(norm.running_mean, expected_mean)
    # control: statistics of the clean + perturbed mixture would differ
    mixed = torch.cat([h, mlp(similar.reshape(48, 4))]).mean(dim=0)
    assert not torch.allclose(mixed, mean, atol=1e-3)


def test_lassi_loss_hand_value():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 0])
    adv, recon = torch.tensor([0.5, 0.1]), torch.tensor([1.0, 3.0])
    empty = torch.zeros(2, 0, 2)
    loss = LASSILoss(lambda_cls=1.0, lambda_adv=2.0, lambda_rec=0.5, adv_margin=0.2)
    ce = (-math.log(math.exp(2) / (math.exp(2) + 1)) - math.log(1 / (1 + math.e))) / 2
    expected = ce + 2.0 * (0.3 + 0.0) / 2 + 0.5 * 2.0  # hinge: max(0, 0.5 - 0.2), max(0, 0.1 - 0.2)
    assert loss((logits, empty, adv, recon), y).item() == pytest.approx(expected, rel=1e-6)
    # data augmentation: the cross-entropy averages the row and its s similar points
    similar = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]]])
    ce_aug = (2 * ce + math.log(2) - math.log(math.e / (math.e + 1))) / 4
    plain = LASSILoss(lambda_cls=1.0, lambda_adv=0.0)
    assert plain((logits, similar, adv, recon), y).item() == pytest.approx(ce_aug, rel=1e-6)


def test_reconstruction_term_is_the_l2_error_of_the_decoder():
    module = _module(reconstruction=True).eval()
    z = torch.randn(5, 4)
    _, _, adv, recon = module(z)
    with torch.no_grad():
        expected = (z - module.decoder(module.encoder(z))).norm(dim=1)
    torch.testing.assert_close(recon, expected)
    assert torch.all(adv == 0)  # no attack outside training


def test_augmented_points_use_the_clean_statistics(monkeypatch):
    module = _module(augment=True)
    module.adversarial = False
    z = torch.randn(16, 4)
    t = torch.linspace(-1, 1, 48).reshape(16, 3, 1)
    monkeypatch.setattr(lassi_module, "sample_similarity_set", lambda *args, **kwargs: t)
    mlp, norm = module.encoder
    with torch.no_grad():
        similar = z[:, None, :] + t @ module.attribute_vectors
        h = mlp(z)
        mean, var = h.mean(dim=0), h.var(dim=0, unbiased=False)
        expected = module.classifier((mlp(similar) - mean) / torch.sqrt(var + norm.eps))
    _, logits_similar, adv, _ = module(z)
    torch.testing.assert_close(logits_similar, expected)
    assert torch.all(adv == 0)


# --------------------------------------------------------------------------- #
# Conventions and bad input (issue 13)
# --------------------------------------------------------------------------- #
def test_feature_names_and_pandas_output(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, n_components=3, random_state=0).fit(
        X, y, sensitive_features=A)
    assert list(rep.get_feature_names_out()) == [f"lassirepresentation{i}" for i in range(3)]
    frame = rep.set_output(transform="pandas").transform(X[:4])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(
        rep.get_feature_names_out())
    flow_frame = clone(flow).set_output(transform="pandas").fit(X).transform(X[:4])
    assert list(flow_frame.columns) == [f"flowtransformer{i}" for i in range(4)]


def test_certify_checks_the_classifier_up_front(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    wrong_width = CertifiedSmoothClassifier(max_epochs=1).fit(X, y)  # 4 features, not 32
    with pytest.raises(ValueError, match="expects 4 input features.*outputs 32"):
        certify_individual_fairness(rep, wrong_width, X[:2])
    with pytest.raises(TypeError, match="CertifiedSmoothClassifier.*LogisticRegression"):
        certify_individual_fairness(rep, LogisticRegression().fit(rep.transform(X), y), X[:2])
    with pytest.raises(TypeError, match="LASSIRepresentation"):
        certify_individual_fairness(flow, wrong_width, X[:2])


@pytest.mark.parametrize("name", ["epsilon", "lr", "lambda_adv", "adv_margin"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_hyperparameters_are_rejected(toy, name, value):
    X, y, A, flow = toy
    with pytest.raises(ValueError, match=name):
        LASSIRepresentation(flow=flow, **{name: value}).fit(X, y, sensitive_features=A)
    if name == "lr":
        with pytest.raises(ValueError, match="lr"):
            FlowTransformer(lr=value).fit(X)


def test_extreme_input_scale_is_not_silently_collapsed(toy):
    X, y, A, _ = toy
    rep = LASSIRepresentation(flow=FlowTransformer(random_state=0, **_TINY_FLOW), lambda_adv=0.1,
                              max_epochs=1, random_state=0).fit(X * 1e30, y, sensitive_features=A)
    R = rep.transform(X * 1e30)
    assert np.isfinite(R).all() and R.std(axis=0).min() > 0.1  # rows differ
    with pytest.raises(NonFiniteLossError, match="LASSIRepresentation.*loss became"):
        LASSIRepresentation(flow=rep.flow_, lambda_adv=0.1, lr=1e30, max_epochs=2,
                            random_state=0).fit(
            X, y, sensitive_features=A)


def test_certificates_do_not_depend_on_the_batch(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, lambda_adv=0.1, max_epochs=2, random_state=0).fit(
        X, y, sensitive_features=A)
    clf = CertifiedSmoothClassifier(max_epochs=2, random_state=0).fit(rep.transform(X), y)
    kwargs = dict(sigma_cs=1.0, n0_cs=1000, n_cs=1000, delta=0.1, n0_rs=50, n_rs=5000,
                  random_state=0)
    together = certify_individual_fairness(rep, clf, X[:4], **kwargs)
    alone = certify_individual_fairness(rep, clf, X[2:3], batch_size=333, **kwargs)
    # the same noise; only float rounding of the flow's batched products may differ
    pd.testing.assert_frame_equal(alone.reset_index(drop=True),
                                  together.iloc[2:3].reset_index(drop=True), rtol=1e-4)


def test_repeated_rows_get_their_own_certificates(toy, monkeypatch):
    """A person listed three times gets three independent certificates (noise per row).

    The repeats sit in different row chunks, which change nothing; the
    representation's own center smoothing is step 1 of Alg. 1 with the same seeds.
    """
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    clf = CertifiedSmoothClassifier(max_epochs=1, random_state=0).fit(rep.transform(X), y)
    rows = X[[0, 1, 0, 2, 0]]
    kwargs = dict(sigma_cs=1.0, n0_cs=1000, n_cs=2000, delta=0.2, n0_rs=20, n_rs=200,
                  random_state=0)
    expected = certify_individual_fairness(rep, clf, rows, **kwargs)
    assert np.isfinite(expected["d_cs"]).all() and expected["d_cs"][[0, 2, 4]].nunique() == 3
    centers, d_cs = rep.center_smooth(rows, sigma=1.0, n0=1000, n=2000, delta=0.2,
                                     random_state=0)
    np.testing.assert_allclose(d_cs, expected["d_cs"], rtol=1e-5)
    chunked = smoothing_module.row_chunks
    monkeypatch.setattr(smoothing_module, "row_chunks", lambda n: chunked(n, 2))
    got = certify_individual_fairness(rep, clf, rows, **kwargs)
    # the same noise; only float rounding of the flow's batched products may differ
    pd.testing.assert_frame_equal(expected, got, rtol=1e-4)


def test_certificate_confidence_is_the_sum_of_the_two_alphas(toy, monkeypatch):
    """Alg. 1 hands alpha_cs to center smoothing and alpha_rs to CERTIFY; the report's
    confidence is exactly 1 - alpha_cs - alpha_rs, for both center rules.

    At alpha_cs = 2**-40 a candidate-rule term such as (1/2 - 1/4)**32 = 2**-64 would
    show in center smoothing's failure probability (float64 keeps 52 bits)."""
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    clf = CertifiedSmoothClassifier(max_epochs=1, random_state=0).fit(rep.transform(X), y)
    used = {}
    center_smooth, certify_points = smoothing_module.center_smooth, clf._certify_points

    def spy_center_smooth(*args, **kwargs):
        result = center_smooth(*args, **kwargs)
        used["alpha_cs"], used["failure"] = kwargs["alpha"], result.failure_probability
        return result

    def spy_certify(*args, **kwargs):
        used["alpha_rs"] = kwargs["alpha"]
        return certify_points(*args, **kwargs)

    monkeypatch.setattr(smoothing_module, "center_smooth", spy_center_smooth)
    monkeypatch.setattr(clf, "_certify_points", spy_certify)
    for center in ("candidates", "exact"):
        report = certify_individual_fairness(
            rep, clf, X[:2], n0_cs=2000, n_cs=300, delta=0.25, n0_rs=20, n_rs=200,
            alpha_cs=2.0 ** -40, alpha_rs=2.0 ** -41, center=center, n_candidates=32,
            random_state=0)
        assert used == {"alpha_cs": 2.0 ** -40, "failure": 2.0 ** -40, "alpha_rs": 2.0 ** -41}
        assert report.attrs["confidence"] == 1.0 - 2.0 ** -40 - 2.0 ** -41


# --------------------------------------------------------------------------- #
# project_attributes: R invariant along the attribute directions by construction
# --------------------------------------------------------------------------- #
def test_project_attributes_makes_the_similarity_set_collapse(toy):
    X, y, A, flow = toy
    params = dict(flow=flow, lambda_adv=0.0, max_epochs=2, random_state=0, device="cpu")
    projected = LASSIRepresentation(project_attributes=True, **params).fit(
        X, y, sensitive_features=A)
    control = LASSIRepresentation(**params).fit(X, y, sensitive_features=A)  # Naive
    Z = projected.encode_latent(X[:30])
    a = projected.attribute_vectors_[0]
    for t in (-3.0, -1.0, 0.5, 2.0):
        moved = np.abs(projected.represent_latent(Z + t * a) - projected.represent_latent(Z))
        assert moved.max() < 1e-4
    moved = np.linalg.norm(control.represent_latent(Z + a) - control.represent_latent(Z), axis=1)
    assert np.median(moved) > 0.1  # the control moves: the invariance is the projection's
    # the projection only removes span(A): the weight stays a free, trained parameter
    first = projected.net_.module_.encoder[0].layers[0]
    basis = first.basis.numpy()
    np.testing.assert_allclose(basis @ basis.T, np.eye(1), atol=1e-6)
    np.testing.assert_allclose(np.abs(basis[0]), np.abs(a) / np.linalg.norm(a), atol=1e-6)
    kwargs = dict(sigma_cs=1.0, n0_cs=1000, n_cs=1000, delta=0.1, n0_rs=100, n_rs=2000,
                  random_state=0)
    certified = {}
    for name, rep in (("projected", projected), ("control", control)):
        clf = CertifiedSmoothClassifier(sigma=0.5, max_epochs=3, random_state=0,
                                        device="cpu").fit(rep.transform(X), y)
        cert = certify_individual_fairness(rep, clf, X[:30], **kwargs)
        certified[name] = cert
    cert = certified["projected"]
    assert np.nanmax(cert["d_cs"]) < 1e-4
    # every row where randomized smoothing does not abstain is certified
    np.testing.assert_array_equal(cert["certified"], ~cert["abstain"])
    assert (cert.attrs["certified_fraction"]
            >= certified["control"].attrs["certified_fraction"] + 0.3)
    restored = pickle.loads(pickle.dumps(projected))
    np.testing.assert_array_equal(restored.transform(X[:5]), projected.transform(X[:5]))
    with pytest.raises(ValueError, match="'project_attributes' parameter"):
        LASSIRepresentation(flow=flow, project_attributes="yes").fit(X, y, sensitive_features=A)


def test_cosine_lr_schedule_anneals_and_is_validated(toy):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, lr_schedule="cosine", max_epochs=4, lr=1e-3,
                              random_state=0, device="cpu").fit(X, y, sensitive_features=A)
    final = rep.net_.optimizer_.param_groups[0]["lr"]
    assert final < 0.05 * 1e-3  # annealed towards 0 over max_epochs
    constant = LASSIRepresentation(flow=flow, max_epochs=2, lr=1e-3, random_state=0,
                                   device="cpu").fit(X, y, sensitive_features=A)
    assert constant.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="'lr_schedule' parameter"):
        LASSIRepresentation(flow=flow, lr_schedule="step").fit(X, y, sensitive_features=A)


# --------------------------------------------------------------------------- #
# Streaming: memmaps and chunked passes
# --------------------------------------------------------------------------- #
def _read_only_memmap(X, tmp_path, name="X"):
    path = tmp_path / f"{name}.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")
    assert isinstance(memmap, np.memmap) and not memmap.flags.writeable
    return memmap


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_mean_is_numpys_mean_bit_for_bit(dtype):
    X = np.random.RandomState(0).standard_cauchy((1000, 3)).astype(dtype)
    mask = X[:, 0] > 0
    chunks = list(lassi_module.row_chunks(len(X), 7))
    np.testing.assert_array_equal(lassi_module._column_mean(X[rows] for rows in chunks),
                                  X.mean(axis=0))
    np.testing.assert_array_equal(
        lassi_module._column_mean(X[rows][mask[rows]] for rows in chunks), X[mask].mean(axis=0))


def test_flow_and_lassi_on_a_read_only_memmap_match_in_memory(toy, tmp_path):
    X, y, A, _ = toy
    memmap = _read_only_memmap(X, tmp_path)
    flows = [FlowTransformer(random_state=0, **_TINY_FLOW).fit(data) for data in (X, memmap)]
    for method in ("transform", "score_samples"):
        np.testing.assert_array_equal(getattr(flows[0], method)(X),
                                      getattr(flows[1], method)(memmap))
    np.testing.assert_array_equal(flows[0].inverse_transform(flows[0].transform(X)),
                                  flows[1].inverse_transform(_read_only_memmap(
                                      flows[1].transform(memmap), tmp_path, "Z")))
    params = dict(flow=FlowTransformer(random_state=0, **_TINY_FLOW), max_epochs=1,
                  random_state=0)
    reps = [LASSIRepresentation(**params).fit(data, y, sensitive_features=A)
            for data in (X, memmap)]
    np.testing.assert_array_equal(reps[0].attribute_vectors_, reps[1].attribute_vectors_)
    np.testing.assert_array_equal(reps[0].transform(X), reps[1].transform(memmap))
    clf = CertifiedSmoothClassifier(max_epochs=1, random_state=0).fit(reps[0].transform(X), y)
    kwargs = dict(n0_cs=100, n_cs=100, n0_rs=20, n_rs=100, random_state=0)
    expected = certify_individual_fairness(reps[0], clf, X[:3], **kwargs)
    pd.testing.assert_frame_equal(expected,
                                  certify_individual_fairness(reps[1], clf, memmap[:3], **kwargs))


def test_certify_individual_fairness_streams_rows_in_chunks(toy, monkeypatch):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    clf = CertifiedSmoothClassifier(max_epochs=1, random_state=0).fit(rep.transform(X), y)
    kwargs = dict(n0_cs=100, n_cs=100, n0_rs=20, n_rs=100, random_state=0)
    expected = certify_individual_fairness(rep, clf, X[:5], **kwargs)
    chunked = smoothing_module.row_chunks
    monkeypatch.setattr(smoothing_module, "row_chunks", lambda n: chunked(n, 2))
    got = certify_individual_fairness(rep, clf, X[:5], **kwargs)
    # the same noise; only float rounding of the flow's batched products may differ
    pd.testing.assert_frame_equal(expected, got, rtol=1e-4)
    assert got.attrs == expected.attrs


def test_center_smooth_streams_rows_in_chunks(toy, monkeypatch):
    X, y, A, flow = toy
    rep = LASSIRepresentation(flow=flow, max_epochs=1, random_state=0).fit(
        X, y, sensitive_features=A)
    kwargs = dict(n0=100, n=100, random_state=np.random.RandomState(0))
    expected = rep.center_smooth(X[:5], **kwargs)
    chunked = lassi_module.row_chunks
    monkeypatch.setattr(lassi_module, "row_chunks", lambda n, rows=None: chunked(n, 2))
    kwargs["random_state"] = np.random.RandomState(0)
    got = rep.center_smooth(X[:5], **kwargs)
    # the same noise; only float rounding of the flow's batched products may differ
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a, b, rtol=1e-4)
