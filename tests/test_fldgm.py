"""Tests of FairLatentSynthesizer (FLDGM stages 2-3), the vector generators and
evaluate_synthetic."""

import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from skfairlatent import FairLatentSynthesizer, FairLatentVAE
from skfairlatent.datasets import load_adult
from skfairlatent.exceptions import InvalidParameterError
from skfairlatent.metrics import (
    alpha_precision_beta_recall_authenticity,
    density_coverage,
    evaluate_synthetic,
)
from skfairlatent.nn.generators import GAN, VectorDDPM, gradient_penalty, noise_schedule

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- #
# Generators
# --------------------------------------------------------------------------- #
def test_noise_schedules():
    for kind in ("linear", "cosine"):
        betas = noise_schedule(100, kind)
        assert betas.shape == (100,) and (betas > 0).all() and (betas < 1).all()
        assert torch.cumprod(1 - betas, 0)[-1] < 0.05  # x_T is nearly pure noise
    with pytest.raises(ValueError):
        noise_schedule(10, "quadratic")


def test_gradient_penalty_of_linear_critic():
    # D(x) = w.x has gradient w everywhere: GP = (||w|| - 1)^2
    critic = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))
    gp = gradient_penalty(critic, torch.randn(16, 3), torch.randn(16, 3))
    assert gp.item() == pytest.approx(16.0)


@pytest.mark.slow
@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_ddpm_learns_a_shifted_gaussian(prediction):
    torch.manual_seed(0)
    # roughly standardised data, as the synthesizer feeds it
    data = torch.randn(2048, 2) * torch.tensor([0.5, 1.0]) + torch.tensor([1.0, -0.5])
    model = VectorDDPM(2, hidden_layer_sizes=(64, 64), timesteps=50, schedule="linear",
                       prediction=prediction)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2000):
        batch = data[torch.randint(0, len(data), (256,))]
        pred, target = model(batch)
        loss = ((pred - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    samples = model.sample(2000, generator=torch.Generator().manual_seed(0))
    assert samples.mean(0).sub(torch.tensor([1.0, -0.5])).abs().max() < 0.2
    assert samples.std(0).sub(torch.tensor([0.5, 1.0])).abs().max() < 0.2


def test_gan_sample_shapes_and_reproducibility():
    gan = GAN(4, hidden_layer_sizes=(8,))
    a = gan.sample(5, generator=torch.Generator().manual_seed(1))
    b = gan.sample(5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, 4) and torch.equal(a, b)


# --------------------------------------------------------------------------- #
# Sample-level metrics against their definitions
# --------------------------------------------------------------------------- #
def _brute_density_coverage(real, fake, k):
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    radii = np.sort(d_rr, axis=1)[:, k]  # column 0 is the point itself
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=2)  # (M, N)
    inside = d_fr < radii[None]
    return inside.sum() / (k * len(fake)), inside.any(axis=0).mean()


def test_density_coverage_match_definition():
    rng = np.random.RandomState(0)
    real, fake = rng.normal(size=(300, 3)), rng.normal(0.3, 1.2, size=(250, 3))
    d, c = density_coverage(real, fake, n_neighbors=5, chunk_size=64)
    d_ref, c_ref = _brute_density_coverage(real, fake, 5)
    assert d == pytest.approx(d_ref) and c == pytest.approx(c_ref)
    # far away synthetic data: nothing covered
    assert density_coverage(real, fake + 100.0) == (0.0, 0.0)


def test_alpha_precision_beta_recall_authenticity():
    rng = np.random.RandomState(0)
    real = rng.normal(size=(1000, 2))
    same = rng.normal(size=(1000, 2))
    p, r, a = alpha_precision_beta_recall_authenticity(real, same)
    # same distribution: a real point has its nearest synthetic point within its
    # nearest-real distance about half of the time, so beta-recall is about 0.5
    assert p > 0.9 and r > 0.4 and a > 0.3
    # exact copies of the training rows are not authentic
    assert alpha_precision_beta_recall_authenticity(real, real[:500])[2] == 0.0
    # synthetic data shrunk to the centre: alpha-precision curve far above the diagonal
    assert alpha_precision_beta_recall_authenticity(real, 0.1 * same)[0] < 0.6


# --------------------------------------------------------------------------- #
# The synthesizer on Adult
# --------------------------------------------------------------------------- #
#: Seeds of the fairness tests (the Adult rows drawn and the fits): CI runs 0-2;
#: SKFAIRLATENT_TEST_SEEDS="5,6,7" runs the second set (the convention of conftest.py).
FAIRNESS_SEEDS = tuple(
    int(s) for s in (os.environ.get("SKFAIRLATENT_TEST_SEEDS", "").strip() or "0,1,2").split(","))
#: The seed of the one fitted pair (fair, control) of the module-scoped fixtures.
PAIR_SEED = FAIRNESS_SEEDS[0]

# Bars of test_penalty_removes_the_unfairness_that_alpha_zero_keeps, set from its spread
# on seeds 0-7 (benchmarks/studies/fldgm/fldgm_penalty_test_spread.py, rows and fits
# seeded, results/fldgm_penalty_test_spread.jsonl). The fixture fits one pair, so each bar
# holds on every seed measured, not only on the mean. Label gap |P(y|Male) - P(y|Female)|
# in the samples / real: fair 0.07-0.24 (mean gap 0.033), control 0.57-0.96 (0.142; real
# 0.196). Downstream DP / real: fair 0.00-0.33 (mean 0.021), control / fair 2.4-183 (mean
# control 0.141, real 0.195; the control's own fraction of real DP falls to 0.23 on seed
# 6, so its contrast is asserted against the fair model). AUROC fair 0.55-0.71, control
# 0.82-0.86; FTU fair <= 0.052; p(s|z) spread control / fair 4.9-8.3.
GAP_FRACTION = 0.4  # of the real label gap: fair below on every seed, control above
FAIR_DP_FRACTION = 0.45  # of the real DP
CONTROL_OVER_FAIR_DP = 2.0


@pytest.fixture(scope="module")
def adult_split():
    X, y, A = load_adult(return_X_y_A=True)
    idx = np.random.RandomState(PAIR_SEED).choice(len(X), 3000, replace=False)
    X, y, A = (X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True),
               A.iloc[idx].reset_index(drop=True))
    return train_test_split(X, y, A, test_size=0.4, random_state=PAIR_SEED)


_SYNTH = dict(generator_max_epochs=60, timesteps=100, batch_size=256, random_state=PAIR_SEED,
              device="cpu")


def _vae(**params):
    """The VAE of the fixtures: the synthesizer's default VAE (kl_weight=0.1) at 30 epochs."""
    return FairLatentVAE(**{**dict(kl_weight=0.1, max_epochs=30, batch_size=256, device="cpu"),
                            **params})


# the paper's pipeline spelt out, for its alpha=0 control (fairness="none" keeps it)
_PAPER_PIPELINE = dict(encoder="conditional", label_from="latent", label_decode="sample")


@pytest.fixture(scope="module")
def fitted_pair(adult_split):
    """The paper's pipeline (fairness="paper") and its control, the same pipeline with
    alpha=0."""
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    # standardised numerics: the bars were measured so; with the mode-specific default
    # the fair model's AUROC falls to 0.47-0.57 at this size (seeds 0-2), beside the point
    # of a test of the penalty
    standard = dict(numeric_encoding="standard")
    fair = FairLatentSynthesizer(fairness="paper", vae=_vae(**standard), **_SYNTH).fit(
        X_tr, y_tr, sensitive_features=A_tr)
    control = FairLatentSynthesizer(fairness="none", vae=_vae(alpha=0.0, **standard),
                                    **_PAPER_PIPELINE, **_SYNTH).fit(
        X_tr, y_tr, sensitive_features=A_tr)
    return fair, control


@pytest.fixture(scope="module")
def fitted_synth(fitted_pair):
    return fitted_pair[0]


@pytest.mark.slow
def test_samples_keep_the_schema(adult_split, fitted_synth):
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    S = fitted_synth.sample(500, random_state=0)
    assert list(S.columns) == list(X_tr.columns) + ["income"]
    assert (S[X_tr.columns].dtypes == X_tr.dtypes).all()
    assert S["income"].dtype == y_tr.dtype and set(S["income"]) <= {0, 1}
    for c in X_tr.select_dtypes("category"):
        assert list(S[c].cat.categories) == list(X_tr[c].cat.categories)
        assert S[c].notna().all()
    assert S["age"].between(X_tr["age"].min(), X_tr["age"].max()).all()
    # same seed, same frame; sex follows the training frequencies
    pd.testing.assert_frame_equal(S, fitted_synth.sample(500, random_state=0))
    assert abs((S["sex"] == "Male").mean() - (A_tr == "Male").mean()) < 0.06
    assert (fitted_synth.sample(50, random_state=1,
                                sensitive_value="Female")["sex"] == "Female").all()
    balanced = fitted_synth.sample(2000, random_state=2, sensitive_proportions="balanced")
    assert abs((balanced["sex"] == "Male").mean() - 0.5) < 0.06
    assert fitted_synth.sample(0).shape == (0, S.shape[1])
    with pytest.raises(ValueError, match="not seen"):
        fitted_synth.sample(3, sensitive_value="Other")
    with pytest.raises(ValueError, match="finite"):
        fitted_synth.sample(3, sensitive_proportions={"Male": np.inf})


def _dp_over_samples(synth, real_tr, real_te, seeds=(0, 1)):
    results = [evaluate_synthetic(real_tr, real_te, synth.sample(len(real_tr), random_state=k),
                                  target="income", sensitive="sex", random_state=0)
               for k in seeds]
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


def _label_gap(frame):
    """|P(income = 1 | Male) - P(income = 1 | Female)| in a frame (the data's own DP)."""
    rates = frame.groupby(frame["sex"].astype(str), observed=True)["income"].mean()
    return float(abs(rates["Male"] - rates["Female"]))


def _scores_of_pair(adult_split, fair, control):
    """Downstream scores of the real rows, the fair synthesizer and its control (two
    sampling seeds each), and the label gap in the samples of each."""
    X_tr, X_te, y_tr, y_te, _, _ = adult_split
    real_tr, real_te = X_tr.assign(income=y_tr), X_te.assign(income=y_te)
    real = evaluate_synthetic(real_tr, real_te, real_tr, target="income", sensitive="sex",
                              random_state=0)
    gaps = {name: np.mean([_label_gap(m.sample(len(real_tr), random_state=k)) for k in (0, 1)])
            for name, m in (("fair", fair), ("control", control))}
    gaps["real"] = _label_gap(real_tr)
    return (real, _dp_over_samples(fair, real_tr, real_te),
            _dp_over_samples(control, real_tr, real_te), gaps)


@pytest.mark.slow
def test_penalty_removes_the_unfairness_that_alpha_zero_keeps(adult_split, fitted_pair):
    """fairness="paper": the fairness comes from the fair latent: the same pipeline with alpha=0
    keeps the real label gap and DP (the control); the penalty removes them and
    leaves the classifier nothing to read in the sex column (FTU)."""
    fair, control = fitted_pair
    real, syn, ctl, gaps = _scores_of_pair(adult_split, fair, control)
    # p(s | z) is informative without the penalty, nearly flat with it
    z = control.sample_latents(2000, 0)
    assert control.sensitive_proba(z).std(0).max() > 3 * fair.sensitive_proba(
        fair.sample_latents(2000, 0)).std(0).max()
    # in the data themselves: the label gap between the recorded groups; the control
    # fails the fair model's bar
    assert gaps["fair"] < GAP_FRACTION * gaps["real"], gaps
    assert not gaps["control"] < GAP_FRACTION * gaps["real"], gaps
    # downstream, a random forest trained on the samples, tested on real rows
    assert real["dp"] > 0.12
    assert syn["dp"] < FAIR_DP_FRACTION * real["dp"], (real, syn)
    assert ctl["dp"] > CONTROL_OVER_FAIR_DP * syn["dp"], (syn, ctl)
    assert syn["ftu"] < 0.06, syn  # a bound, not a claim: the control's FTU is as small here
    assert syn["auroc"] > 0.5 and ctl["auroc"] > 0.78
    assert 0 <= syn["coverage"] <= 1 and syn["authenticity"] > 0.3
    assert real["authenticity"] < 0.2  # the real rows are their own copies


# --------------------------------------------------------------------------- #
# The fairness goals, on seed means
# --------------------------------------------------------------------------- #
#: The fairness-goal tests average over FAIRNESS_SEEDS (above).
#: benchmarks/studies/fldgm/fldgm_test_spread.py measures these tests' spread at their
#: scale; it was not run yet (CPU), so the bars below are provisional, set from the
#: 12,000-row record (results/fldgm_fairness_goals_n12000.md) with room for fewer rows.
GOAL_N_TRAIN, GOAL_N_TEST = 8000, 4000
_GOAL_FIT = dict(generator_max_epochs=50, timesteps=50, device="cpu")
DP_BAR, AUROC_BAR, CONTROL_FRACTION = 0.05, 0.72, 0.7


def _goal_rows(seed):
    X, y, A = load_adult(return_X_y_A=True)
    X_tr, X_te, y_tr, y_te, A_tr, _ = train_test_split(
        X, y, A, train_size=GOAL_N_TRAIN, test_size=GOAL_N_TEST, stratify=y, random_state=seed)
    return X_tr.assign(income=y_tr), X_te.assign(income=y_te), A_tr


def _goal_synth(name, seed):
    """The default (fairness="demographic_parity"), its control fairness="none", and the
    alpha_target-only control: the default VAE with its label penalty off (alpha=1)."""
    if name == "alpha_only":
        vae = FairLatentSynthesizer()._default_vae().set_params(alpha_target=0.0)
        return FairLatentSynthesizer(vae=vae, random_state=seed, **_GOAL_FIT)
    fairness = "demographic_parity" if name == "default" else name
    return FairLatentSynthesizer(fairness=fairness, random_state=seed, **_GOAL_FIT)


@pytest.fixture(scope="module")
def goal_scores():
    """Mean DP and AUROC on real test rows (evaluate_synthetic) over FAIRNESS_SEEDS."""
    scores = {}
    for seed in FAIRNESS_SEEDS:
        real_tr, real_te, A_tr = _goal_rows(seed)
        X_tr, y_tr = real_tr.drop(columns="income"), real_tr["income"]
        samples = {"real": real_tr}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # alpha_only: no label penalty
            for name in ("default", "none", "alpha_only"):
                synth = _goal_synth(name, seed).fit(X_tr, y_tr, sensitive_features=A_tr)
                samples[name] = synth.sample(GOAL_N_TRAIN, random_state=seed)
        for name, S in samples.items():
            result = evaluate_synthetic(real_tr, real_te, S, target="income", sensitive="sex",
                                        random_state=seed, max_rows=500)
            scores.setdefault(name, []).append({k: result[k] for k in ("dp", "auroc")})
    return {name: {k: float(np.mean([r[k] for r in rows])) for k in ("dp", "auroc")}
            for name, rows in scores.items()}


@pytest.fixture(scope="module")
def fitted_none(adult_split):
    """fairness="none": the default's pipeline (blind encoder, label from the decoded
    features, the head's decision) with the VAE's penalties off."""
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    return FairLatentSynthesizer(fairness="none", vae=_vae(alpha=0.0, condition_encoder=False),
                                 **_SYNTH).fit(X_tr, y_tr, sensitive_features=A_tr)


# The default needs data: its label is the decision of a penalised head, which on a few
# thousand Adult rows collapses to the majority class (doc/fldgm.md, "Small tables"), so
# its fairness is asserted at 8,000 training rows -- 9 fits of minutes each, beyond the
# CI budget: opt in with SKFAIRLATENT_FLDGM_GOAL_TESTS=1.
_GOAL_TESTS = pytest.mark.skipif(os.environ.get("SKFAIRLATENT_FLDGM_GOAL_TESTS") != "1",
                                 reason="minutes of fits; SKFAIRLATENT_FLDGM_GOAL_TESTS=1")


@pytest.mark.slow
@_GOAL_TESTS
def test_default_is_fair_on_real_rows_and_its_controls_are_not(goal_scores):
    """FairLatentSynthesizer() delivers DP on real rows at a useful AUROC (seed mean);
    the same pipeline without the penalties (fairness="none") keeps the real DP, and
    without the label penalty alone (alpha=1, alpha_target=0) fails the DP bar."""
    means = goal_scores
    fair = means["default"]
    assert fair["dp"] < DP_BAR and fair["auroc"] > AUROC_BAR, means
    assert means["none"]["dp"] > CONTROL_FRACTION * means["real"]["dp"], means
    assert not means["none"]["dp"] < DP_BAR, means  # the control fails the default's bar
    assert not means["alpha_only"]["dp"] < DP_BAR, means


def _refitted_copy(fitted, **sampling_params):
    """A copy of a fitted synthesizer with other sampling parameters (no refit): the
    fitted attributes are shared, so the fixture itself is left as it was."""
    synth = clone(fitted)
    synth.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    return synth.set_params(**sampling_params)


@pytest.mark.slow
def test_decoder_gets_an_independent_draw_of_s(fitted_synth):
    """decoder_sensitive="independent": the features are decoded from a second draw
    s'' of p(s | z'), so with a fair latent the recorded sex no longer shows in
    them; "shared" gives the decoder the recorded s' and the features follow it as
    in the real data (Adult's "Husband" is nearly only decoded for men)."""
    shared = _refitted_copy(fitted_synth, decoder_sensitive="shared")

    def husband_among_women(model):
        S = model.sample(2000, random_state=0)
        return float((S.loc[S["sex"] == "Female", "relationship"] == "Husband").mean())

    rates = husband_among_women(shared), husband_among_women(fitted_synth)
    # measured 0.105 (shared: the small decoder's softmax is not sharp) and 0.42 (about the
    # overall share of "Husband"); in the real data no woman is a "Husband"
    assert rates[0] < 0.2 and rates[1] > 0.3 and rates[1] > 3 * rates[0], rates
    with pytest.raises(ValueError, match="decoder_sensitive"):
        shared.set_params(decoder_sensitive="same")._validate_params()


@pytest.mark.slow
def test_blind_encoder_leaves_the_sensitive_column_out(adult_split):
    """encoder="blind": the VAE never sees s, not even as Adult's "sex" column, and the
    samples still have the training schema with the recorded s' in that column."""
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    X_before = X_tr.copy()
    blind = FairLatentSynthesizer(encoder="blind", generator_max_epochs=2,
                                  timesteps=10, batch_size=256, random_state=0, device="cpu")
    blind.fit(X_tr, y_tr, sensitive_features=A_tr)
    pd.testing.assert_frame_equal(X_tr, X_before)
    assert not blind.vae_.condition_encoder
    assert "sex" not in list(blind.vae_.feature_names_in_)
    assert blind.n_features_in_ == X_tr.shape[1] == blind.vae_.n_features_in_ + 1
    assert list(blind.feature_names_in_) == list(X_tr.columns)
    S = blind.sample(300, random_state=0)
    assert list(S.columns) == list(X_tr.columns) + ["income"]
    assert (S[X_tr.columns].dtypes == X_tr.dtypes).all()
    assert (blind.sample(20, random_state=1, sensitive_value="Female")["sex"] == "Female").all()
    with pytest.raises(ValueError, match="condition_encoder=False"):
        FairLatentSynthesizer(encoder="blind", vae=FairLatentVAE()).fit(
            X_tr, y_tr, sensitive_features=A_tr)
    with pytest.raises(ValueError, match="'encoder' parameter"):
        FairLatentSynthesizer(encoder="aware").fit(X_tr, y_tr, sensitive_features=A_tr)


@pytest.mark.slow
def test_label_from_features_is_the_head_of_the_decoded_row(fitted_pair):
    """label_from="features": the label of a sample is the label head applied to its
    own decoded features, re-encoded (decode="mode": its most likely class). On the
    control, whose mode labels take both classes."""
    synth = _refitted_copy(fitted_pair[1], decode="mode", label_from="features",
                           label_decode="mode", decoder_sensitive="shared")
    S = synth.sample(400, random_state=0)
    vae = synth.vae_
    X = S[list(vae.feature_names_in_)]
    z = vae.transform(X, sensitive_features=S["sex"])
    expected = vae.inverse_transform(z, sensitive_features=S["sex"], return_y=True)[1]
    np.testing.assert_array_equal(S["income"].to_numpy(), np.asarray(expected).astype(int))
    assert S["income"].nunique() == 2
    # "latent" decodes the label from the generated z' instead: not the same labels
    latent = synth.set_params(label_from="latent").sample(400, random_state=0)
    pd.testing.assert_frame_equal(latent.drop(columns="income"), S.drop(columns="income"))
    assert (latent["income"] != S["income"]).any()
    with pytest.raises(ValueError, match="label_from"):
        synth.set_params(label_from="x")._validate_params()


@pytest.mark.slow
def test_label_decode_mode_sets_the_label_alone_to_the_head_decision(fitted_none):
    """label_decode="mode": drawn features, the label the head's most likely class (of
    the decoded row's features with label_from="features", of z' with "latent");
    "sample" draws it. On fairness="none" (blind; its encoder reads the row as written)."""
    synth = _refitted_copy(fitted_none, decode="sample")
    S = synth.sample(400, random_state=0)
    vae = synth.vae_
    z = vae.transform(S[list(vae.feature_names_in_)])
    with torch.no_grad():
        head = vae.net_.module_.target_head(torch.as_tensor(z))
    np.testing.assert_array_equal(S["income"].to_numpy(),
                                  vae.target_classes_[head.argmax(1).numpy()])
    assert S["income"].nunique() == 2
    assert synth.get_params()["label_decode"] is None  # the goal's: "mode"
    drawn = synth.set_params(label_decode="sample").sample(400, random_state=0)
    pd.testing.assert_frame_equal(drawn.drop(columns="income"), S.drop(columns="income"))
    assert (drawn["income"] != S["income"]).any()
    latent = synth.set_params(label_from="latent", label_decode="mode").sample(400, random_state=0)
    plain = synth.set_params(label_decode="sample").sample(400, random_state=0)
    pd.testing.assert_frame_equal(latent.drop(columns="income"), plain.drop(columns="income"))
    with torch.no_grad():
        head = vae.net_.module_.target_head(torch.as_tensor(
            synth.sample_latents(400, np.random.RandomState(0))))
    np.testing.assert_array_equal(latent["income"].to_numpy(),
                                  vae.target_classes_[head.argmax(1).numpy()])
    with pytest.raises(ValueError, match="'label_decode' parameter"):
        synth.set_params(label_decode="argmax")._validate_params()


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["wgan-gp", "lsgan"])
def test_gan_synthesizers_with_prefitted_vae(adult_split, fitted_synth, generator):
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    vae = fitted_synth.vae_
    syn = FairLatentSynthesizer(fairness="paper", generator=generator, vae=vae,
                                generator_max_epochs=2,
                                generator_lr=2e-4, random_state=0, device="cpu")
    syn.fit(X_tr, y_tr, sensitive_features=A_tr)
    assert syn.vae_ is vae
    S = syn.sample(100, random_state=0)
    assert S.shape == (100, X_tr.shape[1] + 1) and np.isfinite(S["age"]).all()
    restored = pickle.loads(pickle.dumps(syn))
    pd.testing.assert_frame_equal(S, restored.sample(100, random_state=0))


def test_bad_input_and_evaluate_errors(adult_split):
    X_tr, X_te, y_tr, y_te, A_tr, _ = adult_split
    with pytest.raises(ValueError, match="generator"):
        FairLatentSynthesizer(generator="vae").fit(X_tr, y_tr, sensitive_features=A_tr)
    with pytest.raises(ValueError, match="at least two groups"):
        FairLatentSynthesizer().fit(X_tr, y_tr, sensitive_features=["Male"] * len(X_tr))
    for name in ("generator_lr", "timesteps", "fairness"):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            FairLatentSynthesizer(**{name: np.inf}).fit(X_tr, y_tr, sensitive_features=A_tr)
    with pytest.raises(ValueError, match="latent_input"):
        FairLatentSynthesizer(latent_input="z").fit(X_tr, y_tr, sensitive_features=A_tr)
    real_tr = X_tr.assign(income=y_tr)
    with pytest.raises(ValueError, match="lacks the columns"):
        evaluate_synthetic(real_tr, real_tr, real_tr.drop(columns="income"), target="income",
                           sensitive="sex")
    with pytest.raises(ValueError, match="single class"):
        evaluate_synthetic(real_tr, real_tr, real_tr.assign(income=0), target="income",
                           sensitive="sex")


def test_each_goal_builds_its_vae_and_a_given_vae_must_agree(adult_split):
    """vae=None builds FAIRNESS_GOALS[fairness]'s VAE; a given VAE that conflicts with
    the goal raises before any training; the DP goal without its label penalty warns."""
    X_tr, _, y_tr, _, A_tr, _ = adult_split
    base = FairLatentVAE().get_params() | dict(kl_weight=0.1, batch_size=256, device="cpu")
    expected = {
        "demographic_parity": dict(condition_encoder=False, alpha=1.0, alpha_target=2.0),
        "paper": dict(condition_encoder=True, alpha=1.0, alpha_target=0.0),
        "none": dict(condition_encoder=False, alpha=0.0, alpha_target=0.0),
    }
    assert FairLatentSynthesizer().fairness == "demographic_parity"
    for goal, params in expected.items():
        vae = FairLatentSynthesizer(fairness=goal, batch_size=256, device="cpu")._default_vae()
        assert vae.get_params() == base | params, goal
    conflicts = {
        ("demographic_parity", "condition_encoder=False"): FairLatentVAE(alpha_target=2),
        ("paper", "condition_encoder=True"): FairLatentVAE(condition_encoder=False),
        ("none", "without fairness penalties"): FairLatentVAE(condition_encoder=False),
        ("paper", "fairness='none'"): FairLatentVAE(alpha=0.0),
        ("demographic_parity", "fairness='none'"): FairLatentVAE(
            alpha=0.0, condition_encoder=False),
    }
    for (goal, message), vae in conflicts.items():
        with pytest.raises(InvalidParameterError, match=message):
            FairLatentSynthesizer(fairness=goal, vae=vae).fit(X_tr, y_tr,
                                                              sensitive_features=A_tr)
    # an advanced encoder override moves the constraint with it
    with pytest.raises(InvalidParameterError, match="condition_encoder=False"):
        FairLatentSynthesizer(fairness="paper", encoder="blind", vae=FairLatentVAE()).fit(
            X_tr, y_tr, sensitive_features=A_tr)
    with pytest.warns(UserWarning, match="alpha_target=0"):
        FairLatentSynthesizer(vae=FairLatentVAE(condition_encoder=False, max_epochs=1),
                              generator_max_epochs=1, timesteps=5, device="cpu").fit(
            X_tr, y_tr, sensitive_features=A_tr)
    # the VAE's parameters are the VAE's: the synthesizer has no copies of them
    with pytest.raises(TypeError):
        FairLatentSynthesizer(alpha=1.0)


def test_evaluation_is_reexported_from_fldgm():
    from skfairlatent import fldgm, metrics

    for name in ("evaluate_synthetic", "density_coverage",
                 "alpha_precision_beta_recall_authenticity"):
        assert getattr(fldgm, name) is getattr(metrics, name)



def test_read_only_memmap_gives_the_same_samples_as_the_array(tmp_path):
    # the VAE streams a numeric X; the latents are standardised a chunk at a time
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4).astype(np.float32)
    y, A = (X[:, 0] > 0).astype(int), (rng.rand(200) < 0.5).astype(int)
    np.save(tmp_path / "X.npy", X)
    M = np.load(tmp_path / "X.npy", mmap_mode="r")
    kw = dict(fairness="paper", vae=FairLatentVAE(max_epochs=2, device="cpu"),
              generator_max_epochs=2,
              timesteps=10, batch_size=64, random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        on_map = FairLatentSynthesizer(**kw).fit(M, y, sensitive_features=A)
    on_array = FairLatentSynthesizer(**kw).fit(X, y, sensitive_features=A)
    np.testing.assert_array_equal(on_map.latent_scale_, on_array.latent_scale_)
    pd.testing.assert_frame_equal(on_map.sample(50, random_state=1),
                                  on_array.sample(50, random_state=1))
