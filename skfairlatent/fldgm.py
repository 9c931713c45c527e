"""FairLatentSynthesizer: stages 2-3 of FLDGM, fair synthetic tables.

Ramachandranpillai, Sikder, Heintz, "Fair Latent Deep Generative Models
(FLDGMs) for Syntax-Agnostic and Fair Synthetic Data Generation", ECAI 2023.

1. Fair abstract compression (section 4.1): a :class:`~skfairlatent.FairLatentVAE`
   encodes (x, s) into a latent z nearly independent of s.
2. Fair latent vector generation (section 4.2): a generator -- a DDPM,
   WGAN-GP or LSGAN on vectors (:mod:`skfairlatent.nn.generators`) -- is
   trained on the standardised latents.
3. High-fidelity reconstruction (section 4.3, Eq. 9-10): generated latents
   z' are decoded in one pass by p(x | z', s'') and the label by p(y | z')
   from z' alone. The recorded sensitive attribute s' and the decoder's
   s'' are two independent draws from p(s | z'), a classifier of s fitted
   on the training latents.

The evaluation of synthetic data (:func:`~skfairlatent.metrics.evaluate_synthetic`,
:func:`~skfairlatent.metrics.density_coverage`,
:func:`~skfairlatent.metrics.alpha_precision_beta_recall_authenticity`) lives in
:mod:`skfairlatent.metrics`; importing it from here still works for this
release.
"""

from __future__ import annotations

import numbers
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.dataset import unpack_data

from .base import (
    FiniteLoss,
    _FairLatentEstimator,
    check_hidden_layer_sizes,
    derive_seed,
    make_net,
    resolve_device,
    row_chunks,
    torch_seeded,
)
from .datasets._schema import _running_sum
from .exceptions import InvalidParameterError
from .fair_vae import FairLatentVAE, group_codes

# re-exported for one release: these moved to skfairlatent.metrics
from .metrics import (  # noqa: F401
    alpha_precision_beta_recall_authenticity,
    density_coverage,
    evaluate_synthetic,
)
from .nn.generators import (
    GAN,
    DiffusionLoss,
    VectorDDPM,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    wgan_generator_loss,
    wgan_gp_critic_loss,
)

__all__ = ["DEFAULT_VAE_KL_WEIGHT", "FAIRNESS_GOALS", "FairLatentSynthesizer"]

#: KL weight of the VAE that ``FairLatentSynthesizer(vae=None)`` builds (the
#: VAE's own default is 1.0). See the Defaults table in doc/fldgm.md.
DEFAULT_VAE_KL_WEIGHT = 0.1

#: What each ``fairness`` goal sets: the sampling pipeline (``encoder``,
#: ``label_from``, ``label_decode``; None follows ``decode``) and the penalties
#: of the VAE built when ``vae=None``. See the Defaults table in doc/fldgm.md.
FAIRNESS_GOALS = {
    "demographic_parity": dict(encoder="blind", label_from="features", label_decode="mode",
                               vae=dict(alpha=1.0, alpha_target=2.0)),
    "paper": dict(encoder="conditional", label_from="latent", label_decode=None,
                  vae=dict(alpha=1.0, alpha_target=0.0)),
    "none": dict(encoder="blind", label_from="features", label_decode="mode",
                 vae=dict(alpha=0.0, alpha_target=0.0)),
}


# --------------------------------------------------------------------------- #
# skorch glue for the generators
# --------------------------------------------------------------------------- #
def draw_latents(batch, dim):
    """Latent vectors for a training batch.

    ``batch`` of shape (n, 2 * dim) holds standardised posterior means and
    log standard deviations: a fresh z = mean + exp(log_std) * eps is drawn
    on every step (as the authors' code re-encodes with noise each epoch).
    A batch of shape (n, dim) is returned unchanged.
    """
    if batch.shape[1] == 2 * dim:
        mean, log_std = batch[:, :dim], batch[:, dim:]
        return mean + torch.exp(log_std) * torch.randn_like(mean)
    return batch


class LatentDDPM(VectorDDPM):
    """:class:`~skfairlatent.nn.generators.VectorDDPM` trained on posterior draws."""

    def forward(self, x0):
        return super().forward(draw_latents(x0, self.dim))


class AdversarialNet(NeuralNet):
    """skorch net training a :class:`~skfairlatent.nn.generators.GAN` on vectors.

    One training step per batch updates the critic; every ``n_critic``-th
    step also updates the generator. ``loss="wgan-gp"``: critic loss of
    Eq. 4 with gradient penalty ``gp_weight`` (interpolation weight uniform
    on [0, 1] per row), generator loss -E[D(G(xi))] (Gulrajani et al.,
    2017). ``loss="lsgan"``: the least-squares losses of Eq. 2-3 with
    a = 0, b = c = 1 (Mao et al., 2017). Two Adam optimisers with
    betas (0.5, 0.9), learning rate ``lr``. The recorded ``train_loss`` is
    the critic's loss.
    """

    def __init__(self, *args, loss="wgan-gp", n_critic=5, gp_weight=10.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss = loss
        self.n_critic = n_critic
        self.gp_weight = gp_weight

    def initialize_optimizer(self, triggered_directly=None):
        self.optimizer_critic_ = torch.optim.Adam(self.module_.critic.parameters(), lr=self.lr,
                                                  betas=(0.5, 0.9))
        self.optimizer_generator_ = torch.optim.Adam(self.module_.generator.parameters(),
                                                     lr=self.lr, betas=(0.5, 0.9))
        self.critic_steps_ = 0
        return self

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        gan = self.module_
        real = draw_latents(torch.as_tensor(Xi, device=self.device), gan.dim)
        fake = gan.generator(gan.noise(len(real))).detach()
        self.optimizer_critic_.zero_grad()
        if self.loss == "wgan-gp":
            critic_loss = wgan_gp_critic_loss(gan.critic, real, fake, self.gp_weight)
        else:
            critic_loss = lsgan_discriminator_loss(gan.critic, real, fake)
        critic_loss.backward()
        self.optimizer_critic_.step()
        self.critic_steps_ += 1
        every = self.n_critic if self.loss == "wgan-gp" else 1
        if self.critic_steps_ % every == 0:
            self.optimizer_generator_.zero_grad()
            fake = gan.generator(gan.noise(len(real)))
            if self.loss == "wgan-gp":
                gen_loss = wgan_generator_loss(gan.critic, fake)
            else:
                gen_loss = lsgan_generator_loss(gan.critic, fake)
            gen_loss.backward()
            self.optimizer_generator_.step()
        return {"loss": critic_loss.detach(), "y_pred": real}


def _with_squares(Z):
    """[Z, Z**2]: features of a quadratic logistic model of p(s | z)."""
    Z = np.asarray(Z, dtype=np.float64)
    features = np.empty((len(Z), 2 * Z.shape[1]))
    features[:, :Z.shape[1]] = Z
    np.square(Z, out=features[:, Z.shape[1]:])  # no temporary of the squares
    return features


def _default_sensitive_model():
    return make_pipeline(FunctionTransformer(_with_squares), LogisticRegression(max_iter=1000))


class FairLatentSynthesizer(_FairLatentEstimator):
    """Fair synthetic data: a generator trained on the latents of a fair VAE (FLDGM).

    ``fit`` trains stage 1, a :class:`~skfairlatent.FairLatentVAE` (or uses
    a fitted one), and stage 2, the generator of the fair latents (paper
    sections 4.1-4.2); ``sample`` runs stage 3 (section 4.3, Eq. 9-10),
    decoding generated latents into rows with the training schema, the
    sensitive column and the label. ``fairness`` names the notion the
    samples are made fair for; by default a classifier trained on the
    samples has demographic parity on real rows.

    Parameters
    ----------
    fairness : {"demographic_parity", "paper", "none"}, default="demographic_parity"
        The fairness goal. It sets the sampling pipeline (the advanced
        ``encoder``, ``label_from`` and ``label_decode`` below, where they are
        None) and the penalties of the VAE built when ``vae=None``
        (:data:`FAIRNESS_GOALS`):

        - ``"demographic_parity"``: DP of a classifier trained on the samples
          and applied to **real** rows, P(h(x) = 1 | s) equal across groups
          (measured by :func:`~skfairlatent.metrics.evaluate_synthetic`).
          Blind encoder q(z | x), the label read back from the decoded
          features and set to the fair label head's decision
          (``label_from="features"``, ``label_decode="mode"``); VAE
          ``alpha=1`` (Eq. 8) and the label penalty ``alpha_target=2``.
          Costs utility: on Adult AUROC about 0.80 against 0.87 for
          ``"paper"`` (see Notes).
        - ``"paper"``: the paper's pipeline (sections 4.1-4.3): conditional
          encoder q(z | x, s) (Eq. 7), dCor penalty ``alpha=1`` (Eq. 8), the
          label decoded from the generated latent, y' ~ p(y | z'). It targets
          independence of the latent from s, hence DP and FTU **on synthetic
          rows** (the recorded s' is independent of (x', y') given z'); on
          real rows it only reduces DP (about halved on Adult).
        - ``"none"``: no fairness, the control: the pipeline of
          ``"demographic_parity"`` with the VAE's penalties off (``alpha=0``,
          ``alpha_target=0``). Its samples keep about the real data's DP.
    generator : {"ddpm", "wgan-gp", "lsgan"}, default="ddpm"
        Stage 2: FLD-DM, FLD-WGAN-GP or FLD-LSGAN (paper sections 2.3, 4.2).
    vae : FairLatentVAE or None, default=None
        Stage 1. None: ``FairLatentVAE(kl_weight=0.1, batch_size=batch_size,
        condition_encoder=(encoder == "conditional"), device=device,
        verbose=verbose, **FAIRNESS_GOALS[fairness]["vae"])``, its other
        parameters at the VAE's defaults (the KL weight 0.1 was chosen for
        synthetic tables; see the Defaults table in :doc:`/fldgm`). A given
        VAE must agree with the goal: ``condition_encoder`` must match the
        encoder, ``fairness="none"`` needs ``alpha=alpha_target=0`` and the
        other goals a penalty (else ``InvalidParameterError``);
        ``"demographic_parity"`` with ``alpha_target=0`` warns (``UserWarning``:
        DP on real rows is then only reduced). An unfitted VAE is cloned and
        fitted, seeded from ``random_state`` when its own ``random_state`` is
        None; a fitted one is used as is.
    generator_hidden_layer_sizes : int or tuple of int, default=(256, 256)
        Hidden widths of the denoiser, or of the GAN's generator and critic.
    generator_max_epochs : int, default=200
    generator_lr : float, default=1e-3
        Adam learning rate of the generator (1e-3 for the DDPM; GANs usually
        want 1e-4 to 2e-4).
    timesteps : int, default=200
        DDPM steps T (the authors use 1000). Every reverse step clips its
        predicted x_0 to the range of the standardised training latents, as
        the authors' code clips to the range of theirs. See the Defaults
        table in :doc:`/fldgm`.
    schedule : {"cosine", "linear"}, default="cosine"
    prediction : {"eps", "v"}, default="eps"
        DDPM regression target.
    n_critic : int, default=5
        WGAN-GP critic steps per generator step (LSGAN alternates 1:1).
    gp_weight : float, default=10.0
        WGAN-GP gradient-penalty weight lambda.
    batch_size : int, default=512
        Batch size of the generator, and of the VAE built when ``vae=None``.
    decode : {"sample", "mode"}, default="sample"
        Categorical columns (and the label, unless ``label_decode`` says
        otherwise) are drawn from the decoder's softmax ("sample") or set to
        its most likely value ("mode").
    label_decode : {"sample", "mode"} or None, default=None
        Advanced. How the label alone is decoded. None: the goal's
        (``"mode"`` for ``"demographic_parity"`` and ``"none"``, ``decode``
        for ``"paper"``). With "mode" the label is the fair head's decision.
    sensitive_model : classifier or None, default=None
        The model of p(s | z) from which s' is drawn given z' (fitted on one
        posterior draw per training row, its ``predict_proba`` used). None:
        logistic regression on the standardised latents and their squares
        (a quadratic boundary, few parameters to overfit a fair latent).
    latent_input : {"draws", "mean"}, default="draws"
        What the generator learns: posterior draws z = mu + sigma * eps,
        fresh at every step (the authors' code re-encodes with noise), or
        the posterior means.
    decoder_sensitive : {"independent", "shared"}, default="independent"
        The s'' given to the decoder p(x | z', s''): a second draw from
        p(s | z'), independent of the recorded s' given z', or the recorded
        s' itself (the features then follow the sensitive column as in the
        real data). The paper does not say which s Eq. 9 receives. See the
        Defaults table in :doc:`/fldgm`.
    encoder : {"conditional", "blind"} or None, default=None
        Advanced (ablations). What stage 1 sees; None: the goal's.
        "conditional": q(z | x, s), the paper's Eq. 7. "blind": q(z | x), with
        the column of X that holds s (Adult's ``sex``) left out of the VAE's
        input; the decoder still gets s and ``sample`` writes the recorded s'
        into that column.
    label_from : {"latent", "features"} or None, default=None
        Advanced (ablations). Where a sample's label is decoded from; None:
        the goal's. "latent": y' ~ p(y | z'). "features": y' ~ p(y | E(x')),
        the decoded features read back by the encoder E (with a conditional
        encoder E gets s'', and a column of X that holds s is read as
        decoded, before the recorded s' is written).
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    vae_ : FairLatentVAE
        The fitted stage 1.
    encoder_ : {"conditional", "blind"}
        The encoder of the fit.
    sensitive_model_ : fitted classifier or None
        p(s | z) on standardised latents (None without sensitive features).
    generator_net_ : skorch net
        ``generator_net_.module_`` is the trained DDPM or GAN.
    latent_mean_, latent_scale_ : ndarray of shape (latent_dim,)
        Standardisation of the aggregate posterior.
    n_features_in_, feature_names_in_ : as the training X
    sensitive_name_ : str or list of str
        Column name(s) of s in the samples (the Series/DataFrame names, else
        ``"sensitive"``).
    target_name_ : str or None
        Column name of the label (``y.name``, else ``"target"``).

    Raises
    ------
    InvalidParameterError
        A hyperparameter outside its range, or a ``vae`` that conflicts with
        ``fairness`` (its encoder, or its penalties).
    NonFiniteLossError
        A training loss became nan or inf.

    Warns
    -----
    UserWarning
        ``fairness="demographic_parity"`` with a given ``vae`` whose label
        penalty is off (``alpha_target=0``).

    See Also
    --------
    skfairlatent.FairLatentVAE : stage 1, fair latent codes.
    skfairlatent.metrics.evaluate_synthetic : the paper's Table 1 for a synthetic table.

    Notes
    -----
    **Where the fairness comes from.** A sample is drawn as z' ~ generator,
    s' ~ p(s | z') (the recorded sensitive attribute), s'' ~ p(s | z')
    (given to the decoder), x' ~ p(x | z', s'') and its label y' (from z'
    or from x', ``label_from``). Given z', s' is independent of (x', y'), so
    its dependence on them is exactly the dependence of s on z that the
    penalties left: hardly any with them, the real data's without
    (``fairness="none"``). Nothing *guarantees* DP or FTU: both are
    properties of a classifier trained on the samples, measured on real rows
    by :func:`~skfairlatent.metrics.evaluate_synthetic`.

    **Why DP on real rows needs more than the paper's pipeline.** A
    conditional encoder makes z fair by correcting each row relative to its
    group, a correction a classifier trained on the samples cannot make on
    real rows without reading s; and a label drawn from p(y | z') is learnt
    by the classifier from features that still carry s through proxies. The
    ``"demographic_parity"`` goal therefore encodes blind, penalises the
    dependence of the decoded label on s (the VAE's ``alpha_target``, our
    reading of the paper's DP variants) and labels each sample with the fair
    head's decision on its own decoded features, the very function the
    downstream classifier then learns.

    **Departures from the paper**, where it is silent (its public code stops
    at the generated latents): the label is decoded by a head that does not
    see s, because a well-fitted conditional decoder p(x, y | z, s)
    reproduces p(x, y | s) of the real data whatever the penalty; the
    decoder's s'' is not the recorded s' (``decoder_sensitive``).

    **Results.** At their defaults on Adult (12,000 training rows, 12,000
    other real test rows, seeds 10-12, a random forest trained on 12,000
    samples; ``benchmarks/studies/fldgm/results/fldgm_fairness_goals_n12000.md``):
    ``"demographic_parity"`` DP 0.019 +- 0.005 at AUROC 0.790, ``"none"``
    DP 0.171 +- 0.007 at AUROC 0.850, real data DP 0.183. With fewer than
    about 8,000 training rows the default's label head decides the majority
    class for (almost) every sample (see :doc:`/fldgm`, "Small tables").
    On Adult (33,000 training rows, 12,000 real test rows,
    seeds 0-2, a random forest trained on 33,000 samples, VAE 40 epochs;
    ``benchmarks/results/fldgm_table1_adult_label_mode_n33000.md``):
    the ``"demographic_parity"`` setting gives DP 0.005 +- 0.005, FTU 0.002,
    AUROC 0.808; ``"paper"`` DP 0.103 +- 0.025, FTU 0.012, AUROC 0.867 (real
    data DP 0.188, the paper pipeline's ``alpha=0`` control 0.173). For a
    fair classifier rather than a fair table, fairlearn's
    ``ExponentiatedGradient`` reaches DP 0.016 at AUROC 0.725 there.

    References
    ----------
    R. Ramachandranpillai, M. F. Sikder, F. Heintz, "Fair Latent Deep
    Generative Models (FLDGMs) for Syntax-Agnostic and Fair Synthetic Data
    Generation", ECAI 2023, sections 4.1-4.3, Eq. 2-10.
    J. Ho, A. Jain, P. Abbeel, "Denoising diffusion probabilistic models",
    NeurIPS 2020. I. Gulrajani et al., "Improved training of Wasserstein
    GANs", NeurIPS 2017. X. Mao et al., "Least squares generative
    adversarial networks", ICCV 2017.

    Examples
    --------
    >>> from skfairlatent import FairLatentSynthesizer, FairLatentVAE
    >>> from skfairlatent.datasets import load_adult
    >>> X, y, A = load_adult(return_X_y_A=True)
    >>> # the goal's VAE (blind, alpha_target=2, kl_weight=0.1) at 5 epochs
    >>> vae = FairLatentVAE(condition_encoder=False, alpha_target=2, kl_weight=0.1,
    ...                     max_epochs=5)
    >>> syn = FairLatentSynthesizer(vae=vae, generator_max_epochs=5, random_state=0)
    >>> syn.fit(X, y, sensitive_features=A).sample(3, random_state=0).shape
    (3, 12)
    """

    _parameter_constraints = {
        **_FairLatentEstimator._parameter_constraints,
        "vae": [FairLatentVAE, None],
        "generator": [StrOptions({"ddpm", "wgan-gp", "lsgan"})],
        "generator_hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "generator_max_epochs": [Interval(Integral, 1, None, closed="left")],
        "generator_lr": [Interval(Real, 0, None, closed="neither")],
        "timesteps": [Interval(Integral, 1, None, closed="left")],
        "schedule": [StrOptions({"cosine", "linear"})],
        "prediction": [StrOptions({"eps", "v"})],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
        "gp_weight": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "latent_input": [StrOptions({"draws", "mean"})],
        "decode": [StrOptions({"sample", "mode"})],
        "label_decode": [StrOptions({"sample", "mode"}), None],
        "decoder_sensitive": [StrOptions({"independent", "shared"})],
        "fairness": [StrOptions(set(FAIRNESS_GOALS))],
        "encoder": [StrOptions({"conditional", "blind"}), None],
        "label_from": [StrOptions({"latent", "features"}), None],
        "sensitive_model": [HasMethods(["fit", "predict_proba"]), None],
    }
    _fitted_attribute = "generator_net_"

    def __init__(self, fairness="demographic_parity", generator="ddpm", vae=None,
                 generator_hidden_layer_sizes=(256, 256), generator_max_epochs=200,
                 generator_lr=1e-3, timesteps=200, schedule="cosine", prediction="eps",
                 n_critic=5, gp_weight=10.0, batch_size=512, decode="sample",
                 label_decode=None, sensitive_model=None, latent_input="draws",
                 decoder_sensitive="independent", encoder=None, label_from=None,
                 device="auto", random_state=None, verbose=0):
        self.fairness = fairness
        self.generator = generator
        self.vae = vae
        self.generator_hidden_layer_sizes = generator_hidden_layer_sizes
        self.generator_max_epochs = generator_max_epochs
        self.generator_lr = generator_lr
        self.timesteps = timesteps
        self.schedule = schedule
        self.prediction = prediction
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.batch_size = batch_size
        self.decode = decode
        self.label_decode = label_decode
        self.sensitive_model = sensitive_model
        self.latent_input = latent_input
        self.decoder_sensitive = decoder_sensitive
        self.encoder = encoder
        self.label_from = label_from
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _pipeline(self):
        """``(encoder, label_from, label_decode)``: the goal's, where not set."""
        goal = FAIRNESS_GOALS[self.fairness]
        label_decode = self.label_decode if self.label_decode is not None else goal["label_decode"]
        return (self.encoder or goal["encoder"], self.label_from or goal["label_from"],
                label_decode or self.decode)

    def _check_param_relations(self):
        check_hidden_layer_sizes(self.generator_hidden_layer_sizes, "generator_hidden_layer_sizes")
        if self.vae is not None:
            self._check_vae_against_goal(self.vae.get_params())

    def _check_vae_against_goal(self, params):
        """A given VAE must agree with the encoder and the fairness goal.

        Raises ``InvalidParameterError`` where they conflict; warns where
        the goal's key penalty is off (an ablation, not the goal).
        """
        encoder = self._pipeline()[0]
        if params["condition_encoder"] != (encoder == "conditional"):
            raise InvalidParameterError(
                f"fairness={self.fairness!r} uses encoder={encoder!r}, which needs a "
                f"FairLatentVAE with condition_encoder={encoder == 'conditional'}; the given vae "
                f"has condition_encoder={params['condition_encoder']}. Set it on the vae, or "
                "leave vae=None.")
        penalised = params["alpha"] > 0 or params["alpha_target"] > 0
        if self.fairness == "none" and penalised:
            raise InvalidParameterError(
                "fairness='none' needs a FairLatentVAE without fairness penalties (alpha=0, "
                f"alpha_target=0); the given vae has alpha={params['alpha']}, "
                f"alpha_target={params['alpha_target']}.")
        if self.fairness != "none" and not penalised:
            raise InvalidParameterError(
                f"fairness={self.fairness!r} needs a FairLatentVAE with a fairness penalty; the "
                "given vae has alpha=0 and alpha_target=0. Use fairness='none' for no fairness.")
        if self.fairness == "demographic_parity" and params["alpha_target"] == 0:
            warnings.warn(
                "fairness='demographic_parity' with a vae without the label penalty "
                "(alpha_target=0): DP on real rows is then only reduced, not removed (see the "
                "Defaults table of doc/fldgm.md); FAIRNESS_GOALS['demographic_parity'] gives "
                "the goal's VAE penalties.", UserWarning, stacklevel=4)

    def _default_vae(self):
        """The FairLatentVAE that ``vae=None`` stands for under the fairness goal."""
        return FairLatentVAE(**{
            "kl_weight": DEFAULT_VAE_KL_WEIGHT, "batch_size": self.batch_size,
            "condition_encoder": self._pipeline()[0] == "conditional", "device": self.device,
            "verbose": self.verbose, **FAIRNESS_GOALS[self.fairness]["vae"]})

    def _make_vae(self, seed):
        """Stage 1 and whether it is prefitted."""
        if self.vae is None:
            return self._default_vae().set_params(random_state=seed), False
        try:
            check_is_fitted(self.vae)
            return self.vae, True
        except NotFittedError:
            vae = clone(self.vae)
            if vae.random_state is None:
                vae.set_params(random_state=seed)
            return vae, False

    def fit(self, X, y=None, *, sensitive_features=None):
        """Train the fair VAE (unless prefitted) and the latent generator.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features) or array-like
            Training rows (mixed columns in a DataFrame). Numeric rows (e.g. a
            read-only float32 ``np.memmap``) are streamed by the VAE and never
            copied; beyond the VAE's fit, memory ~ a few latent matrices of
            width ``latent_dim`` (the posterior, the generator's targets, one
            draw per row and the sensitive model's features).
        y : array-like of shape (n_samples,), default=None
            Label to synthesise (decoded from the fair latent alone).
        sensitive_features : array-like of shape (n_samples,) or DataFrame
            The attribute s; None warns and applies no fairness constraint.

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            Bad hyperparameters.
        ValueError
            Bad data (raised by the VAE), or images (use the VAE directly).
        NonFiniteLossError
            A training loss became nan or inf.
        """
        # Not _start_fit: the VAE validates X, y and s (and warns without s) itself.
        self._validate_params()
        self._check_param_relations()
        seeds = check_random_state(derive_seed(self.random_state)).randint(2**31 - 1, size=2)
        self._record_names(X, y, sensitive_features)
        self.encoder_ = self._pipeline()[0]
        X_vae = self._vae_input(X)
        vae, prefit = self._make_vae(int(seeds[0]))
        if prefit:
            if sensitive_features is None and vae.condition_encoder:
                warnings.warn("The prefitted VAE encodes without sensitive_features: the "
                              "mixture posterior over groups is used.", UserWarning, stacklevel=2)
        else:
            vae.fit(X_vae, y, sensitive_features=sensitive_features)
        self.vae_ = vae
        if vae.input_kind_ == "image":
            raise ValueError("FairLatentSynthesizer synthesises tabular rows; for images use "
                             "FairLatentVAE and decode generated latents with inverse_transform.")
        self.n_features_in_ = vae.n_features_in_ + int(X_vae is not X)
        if isinstance(X, pd.DataFrame) and hasattr(vae, "feature_names_in_"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)

        known = sensitive_features is not None and vae.sensitive_groups_[0] is not None
        codes = group_codes(vae, sensitive_features, len(X_vae)) if known else None
        mean, logvar = vae.transform_posterior(X_vae, sensitive_features if known else None)
        latents, draws = self._standardise(mean, logvar, int(seeds[1]))
        del mean, logvar
        self.sensitive_model_ = None
        if codes is not None:
            # p(s | z) on latents distributed as the generator's training targets
            model = (clone(self.sensitive_model) if self.sensitive_model is not None
                     else _default_sensitive_model())
            self.sensitive_model_ = model.fit(draws, codes)
        clip_x0 = float(max(draws.max(), -draws.min())) if len(draws) else None
        del draws  # the generator trains on the latents alone

        self.device_ = resolve_device(self.device)
        dim = vae.latent_dim
        common = dict(device=self.device_, max_epochs=self.generator_max_epochs,
                      batch_size=self.batch_size, lr=self.generator_lr, verbose=self.verbose,
                      callbacks=[("finite", FiniteLoss(type(self).__name__))])
        hidden = check_hidden_layer_sizes(self.generator_hidden_layer_sizes,
                                          "generator_hidden_layer_sizes")
        with torch_seeded(int(seeds[1]), self.device_):
            if self.generator == "ddpm":
                net = make_net(LatentDDPM, DiffusionLoss, module__dim=dim,
                               module__hidden_layer_sizes=hidden, module__timesteps=self.timesteps,
                               module__schedule=self.schedule, module__prediction=self.prediction,
                               module__clip_x0=clip_x0,
                               **common)
            else:
                net = make_net(GAN, torch.nn.MSELoss, net_class=AdversarialNet, module__dim=dim,
                               module__hidden_layer_sizes=hidden, loss=self.generator,
                               n_critic=self.n_critic, gp_weight=self.gp_weight, **common)
            net.fit(latents, None)
        self.generator_net_ = net
        return self

    def _standardise(self, mean, logvar, seed):
        """The generator's training targets and one posterior draw per row, standardised.

        Sets ``latent_mean_`` and ``latent_scale_`` (of the aggregate
        posterior with ``latent_input="draws"``, of the means otherwise).
        Returns ``(latents, draws)``: latents of shape (n, 2 d) float32
        (standardised means and log standard deviations, drawn from at every
        step) or (n, d), and draws of shape (n, d) (float64; the latents
        themselves with ``latent_input="mean"``). Computed a chunk of rows at
        a time (statistics summed row after row as NumPy sums all rows, the
        noise drawn in the same order), so memory ~ the two outputs.
        """
        n, d = mean.shape

        def chunk(rows):
            return mean[rows].astype(np.float64), 0.5 * logvar[rows].astype(np.float64)

        total, spread = np.zeros(d), np.zeros(d)
        for rows in row_chunks(n):
            mu, log_std = chunk(rows)
            total = _running_sum(total, mu)
            if self.latent_input != "mean":
                spread = _running_sum(spread, np.exp(2 * log_std))
        self.latent_mean_ = total / n
        squares = np.zeros(d)
        for rows in row_chunks(n):
            centred = chunk(rows)[0] - self.latent_mean_
            squares = _running_sum(squares, centred * centred)
        if self.latent_input == "mean":
            self.latent_scale_ = np.sqrt(squares / n) + 1e-8
            latents = np.empty((n, d), dtype=np.float32)
            for rows in row_chunks(n):
                latents[rows] = (chunk(rows)[0] - self.latent_mean_) / self.latent_scale_
            return latents, latents
        self.latent_scale_ = np.sqrt(squares / n + spread / n)
        latents = np.empty((n, 2 * d), dtype=np.float32)
        draws = np.empty((n, d))
        # one posterior draw per row, distributed as the generator's targets
        random = check_random_state(seed)
        for rows in row_chunks(n):
            mu, log_std = chunk(rows)
            block = np.concatenate([(mu - self.latent_mean_) / self.latent_scale_,
                                    log_std - np.log(self.latent_scale_)],
                                   axis=1).astype(np.float32)
            latents[rows] = block
            noise = random.standard_normal((len(block), d))
            draws[rows] = block[:, :d] + np.exp(block[:, d:]) * noise
        return latents, draws

    def _label_of_features(self, X, decoder_groups, rng):
        """The label of decoded rows read back from their features: y' ~ p(y | E(x')).

        The rows are re-encoded (with the decoder's s'' when the encoder is
        conditional) and the label head decodes the posterior means, so the
        label is the one the fair head gives these features -- the function
        a classifier trained on the samples has to learn.
        """
        vae = self.vae_
        sensitive = decoder_groups if vae.condition_encoder else None
        z = vae.transform(X, sensitive_features=sensitive)
        return vae.decode(z, decoder_groups, stochastic_label=self._label_decode() == "sample",
                          random_state=rng)[1]

    def _label_decode(self):
        return self._pipeline()[2]

    def _vae_input(self, X):
        """The columns the VAE sees: X, or X without its sensitive column when blind.

        ``encoder="blind"`` must not let s in through a column of X (Adult's
        ``sex``): the column is left out of the VAE, and ``sample`` writes
        the recorded s' back into it.
        """
        if self.encoder_ == "blind" and self.sensitive_in_X_:
            return X.drop(columns=self.sensitive_name_)
        return X

    def _record_names(self, X, y, sensitive_features):
        if isinstance(sensitive_features, pd.DataFrame):
            self.sensitive_name_ = [str(c) for c in sensitive_features.columns]
        elif isinstance(sensitive_features, pd.Series) and sensitive_features.name is not None:
            self.sensitive_name_ = sensitive_features.name
        else:
            self.sensitive_name_ = "sensitive"
        self.target_name_ = None
        if y is not None:
            self.target_name_ = (y.name if isinstance(y, pd.Series) and y.name is not None
                                 else "target")
        # Is s also a column of X (e.g. Adult's "sex")? Then samples carry s' there.
        self.sensitive_in_X_ = False
        if (sensitive_features is not None and isinstance(X, pd.DataFrame)
                and isinstance(self.sensitive_name_, str) and self.sensitive_name_ in X.columns):
            self.sensitive_in_X_ = bool(
                (X[self.sensitive_name_].astype(str).to_numpy()
                 == np.asarray(sensitive_features).astype(str)).all())
        if self.sensitive_in_X_:
            self.sensitive_dtype_ = X[self.sensitive_name_].dtype
        self.target_dtype_ = np.asarray(y).dtype if y is not None else None

    def sample_latents(self, n_samples, random_state=None):
        """Generate fair latents z' (un-standardised), shape (n_samples, latent_dim)."""
        check_is_fitted(self)
        gen = torch.Generator(device=self.device_).manual_seed(derive_seed(random_state))
        module = self.generator_net_.module_
        module.eval()
        with torch.no_grad():
            z = module.sample(int(n_samples), generator=gen).cpu().numpy().astype(np.float64)
        return (z * self.latent_scale_ + self.latent_mean_).astype(np.float32)

    def sensitive_proba(self, Z):
        """p(s | z) for latents ``Z`` (n, latent_dim), shape (n, n_groups).

        The training frequencies for every row when the synthesizer was
        fitted without sensitive features.
        """
        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float64)
        prior = self.vae_.group_prior_
        if self.sensitive_model_ is None or len(Z) == 0:
            return np.tile(prior, (len(Z), 1))
        standard = (Z - self.latent_mean_) / self.latent_scale_
        proba = np.zeros((len(Z), len(prior)))
        proba[:, self.sensitive_model_.classes_] = self.sensitive_model_.predict_proba(standard)
        return proba

    @staticmethod
    def _target_proportions(sensitive_proportions, groups):
        if isinstance(sensitive_proportions, str) and sensitive_proportions == "balanced":
            return np.full(len(groups), 1.0 / len(groups))
        if isinstance(sensitive_proportions, dict):
            unknown = [g for g in sensitive_proportions if g not in set(groups)]
            if unknown:
                raise ValueError(f"Unknown groups {unknown}; known: {list(groups)!r}.")
            prior = np.array([float(sensitive_proportions.get(g, 0.0)) for g in groups])
            if not np.isfinite(prior).all() or (prior < 0).any() or prior.sum() <= 0:
                raise ValueError("sensitive_proportions must be finite, non-negative and not "
                                 "all 0.")
            return prior / prior.sum()
        raise ValueError("sensitive_proportions must be 'balanced' or a dict; got "
                         f"{sensitive_proportions!r}.")

    def sample(self, n_samples=1, random_state=None, *, sensitive_value=None,
               sensitive_proportions=None):
        """Generate synthetic rows (stage 2 then the one-pass decoding of stage 3).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Seeds the generator noise, the drawn s' and the categories; the
            same int gives the same frame on CPU.
        sensitive_value : group label, default=None
            Give every row this sensitive group (e.g. ``"Female"``), recorded
            and given to the decoder: the intervention do(s' = s'' = value),
            z' generated as usual.
        sensitive_proportions : "balanced" or dict {group: weight}, default=None
            Rebalance s' by a prior shift of the learned p(s | z):
            p'(s | z) proportional to p(s | z) p'(s) / p(s), with p'(s) equal
            groups or the given (normalised) weights; s' and s'' are both
            drawn from the shifted model. Default: s', s'' ~ p(s | z'), whose
            marginal is about the training frequencies.

        Returns
        -------
        DataFrame of shape (n_samples, n_columns)
            The training columns with their dtypes and categories, then the
            sensitive column(s) (unless s is already a column of X) and the
            label column when ``y`` was given.

        Raises
        ------
        ValueError
            Negative ``n_samples``, both ``sensitive_value`` and
            ``sensitive_proportions``, unknown groups, negative or
            non-finite proportions.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative integer; got {n_samples!r}.")
        if sensitive_value is not None and sensitive_proportions is not None:
            raise ValueError("Give sensitive_value or sensitive_proportions, not both.")
        rng = check_random_state(random_state)
        vae = self.vae_
        groups = vae.sensitive_groups_
        z = self.sample_latents(n_samples, rng)
        if sensitive_value is not None:
            s = group_codes(vae, sensitive_value, n_samples, allow_scalar=True)
            s_decoder = s
        else:
            proba = self.sensitive_proba(z)
            if sensitive_proportions is not None:
                target = self._target_proportions(sensitive_proportions, groups)
                # prior shift: p'(s | z) proportional to p(s | z) * p'(s) / p(s)
                proba = proba * (target / np.maximum(vae.group_prior_, 1e-12))[None, :]
                proba /= np.maximum(proba.sum(1, keepdims=True), 1e-300)

            def draw():
                u = rng.random_sample((n_samples, 1))
                return np.minimum((proba.cumsum(1) < u).sum(1), len(groups) - 1).astype(np.int64)

            s = draw()
            # "independent": a second draw from p(s | z'), so that the recorded s' and the
            # decoded (x', y') are independent given z' (see Notes)
            s_decoder = draw() if self.decoder_sensitive == "independent" else s
        decoder_groups = groups[s_decoder] if len(s) else np.empty(0, dtype=object)
        X, y = vae.decode(z, decoder_groups, stochastic=self.decode == "sample",
                          stochastic_label=self._label_decode() == "sample", random_state=rng)
        if self._pipeline()[1] == "features" and y is not None and len(X):
            y = self._label_of_features(X, decoder_groups, rng)
        codes = s
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X, columns=[str(c) for c in
                                         getattr(self.vae_, "feature_names_in_",
                                                 [f"x{j}" for j in range(X.shape[1])])])
        labels = groups[codes]
        if groups[0] is not None:
            if isinstance(self.sensitive_name_, list):
                for j, name in enumerate(self.sensitive_name_):
                    X[name] = [g[j] for g in labels]
            elif self.sensitive_in_X_:
                X[self.sensitive_name_] = pd.Series(labels, dtype=object,
                                                    index=X.index).astype(self.sensitive_dtype_)
            else:
                X[self.sensitive_name_] = labels
        if self.sensitive_in_X_ and self.encoder_ == "blind":
            X = X[list(self.feature_names_in_) + [c for c in X.columns
                                                  if c not in set(self.feature_names_in_)]]
        if self.target_name_ is not None:
            X[self.target_name_] = pd.Series(y).astype(self.target_dtype_)
        return X
