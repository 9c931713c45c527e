"""ALFAClassifier: Adversarial Latent Feature Augmentation for group fairness.

Jung, Chai & Wang, "Adversarial Latent Feature Augmentation for
Fairness", ICLR 2025 (``shared/papers/alfa_adversarial_latent_feature_augmentation.txt``).

Algorithm 1, as ``fit`` runs it:

1. pretrain an encoder f and a linear head g by cross-entropy (Sec. 3.3);
2. balanced upsampling: the same number of rows from every (a, y) cell,
   N_p = 4·max n_ay (Sec. 3.1), or, by default, balanced batches of the
   authors' code (N_p ≈ n);
3. ε, the mean absolute distance from the latent features to the decision
   boundary (per (a, y) cell, as the authors' code does);
4. the fairness attack δ* = argmax_{‖δ‖₂ ≤ ε} L_fair - α·D(z, z + δ)/s with f
   and g frozen (Eq. 2-4, App. B.2, App. D); s is the unit of the Sinkhorn
   cost (``sinkhorn_scale``, our normalisation), all attack batches are one
   stacked problem and the Sinkhorn potentials are warm-started across
   Adam steps (:func:`skfairlatent.nn.attacks.fairness_attack`);
5. fine-tune a (freshly initialised) last layer on the original and the
   perturbed latents, weighted (1 - λ) and λ (Eq. 5, App. N): with the
   latents fixed a weighted logistic regression, solved by L-BFGS.
"""

import copy
import numbers
import sys
import time
from contextlib import contextmanager
from functools import partial

try:
    import resource
except ImportError:  # Windows
    resource = None

import numpy as np
import torch
from skorch.callbacks import Callback
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from tqdm.auto import tqdm

from .base import (
    check_finite_positive,
    check_fit_sensitive_features,
    check_hidden_layer_sizes,
    check_positive,
    derive_seed,
    encode_target,
    make_net,
    resolve_device,
    torch_seeded,
)
from .metrics import delta_dp, delta_eod
from .nn.attacks import (
    balanced_upsampling,
    batch_cell_radius,
    fairness_attack,
    per_batch_upsampling,
)
from .nn.losses import (
    WeightedBCEWithLogitsLoss,
    convex_fairness_loss,
    covariance_attack_signs,
    covariance_fairness_loss,
    squared_distances,
)
from .nn.modules import MLP, EncoderHead

__all__ = ["ALFAClassifier"]


class ALFAClassifier(ClassifierMixin, BaseEstimator):
    """Adversarial Latent Feature Augmentation (ALFA) classifier.

    A neural classifier (encoder f + linear head g) made fairer in the sense
    of equalized odds by augmenting its latent space with adversarial
    features: a *fairness attack* moves balanced latent features into the
    unfair region of the pretrained classifier, then the last layer is
    fine-tuned on the original and the perturbed features so the decision
    boundary covers that region (Jung et al., ICLR 2025, Algorithm 1).

    Parameters
    ----------
    alpha : float, default=0.1
        Weight α of the Sinkhorn distance in the attack objective
        L_fair - α·D(z, z + δ)/s (Eq. 4), with s set by ``sinkhorn_scale``.
        Larger α keeps perturbed features closer to the clean distribution.
        The paper searches {0, 0.001, 0.01, 0.1, 1, 10} per dataset (App. F);
        grid-search it. With the default ``sinkhorn_scale="epsilon"`` α is
        dimensionless: α ≲ 0.1 leaves the ε-ball as the only limit (every
        ‖δ_i‖ = ε_i, the full attack), α ≈ 1 pulls δ to a third to a half of its
        budget, α ≈ 10 leaves little more than δ's random start (measured
        on COMPAS, Drug; see ``doc/alfa.md``).
    lambda_ : float in [0, 1], default=0.5
        Weight λ of the perturbed latents in fine-tuning, (1 - λ) for the
        originals (App. N). 0.5 is Eq. 5. 0 is the baseline "same model
        without ALFA": no attack is run and the last layer is fine-tuned on
        the original latents only.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden layers of the MLP encoder (ReLU). ``()`` is the paper's
        logistic-regression variant: no encoder, the attack perturbs the
        input features and the head is the whole model.
    encoder : torch.nn.Module or None, default=None
        A user-supplied encoder mapping float32 (n, n_features) to
        (n, latent_dim); replaces the MLP. It is deep-copied at fit.
    train_encoder : bool, default=True
        Whether pretraining updates the encoder (set False for an already
        trained ``encoder``; only the head is then pretrained).
    epsilon : "auto" or float, default="auto"
        Radius ε of the L2 ball of each perturbation. ``"auto"``: for each
        (a, y) cell, the mean absolute distance |w·z + b| / ‖w‖₂ of the cell's
        latents to the pretrained boundary (Alg. 1; per cell as the authors'
        code). In input space with an MLP the distance is linearised,
        |g(f(x))| / ‖∇ₓ g(f(x))‖₂.
    fairness_constraint : {"covariance", "convex"}, default="covariance"
        L_fair of the attack: the covariance constraint with the sign rule of
        Eq. 3 and the piecewise-linear logit (m = 10 segments, β = 1e-7,
        App. B.2), or the convex surrogate of App. L (binary attribute and
        target only).
    perturbation_space : {"latent", "input"}, default="latent"
        Where the attack acts. ``"input"`` is App. K: inputs are perturbed
        and the whole network is fine-tuned.
    attack_steps : int, default=10
        Adam iterations of the attack.
    attack_lr : float, default=0.1
        Adam learning rate of the attack.
    attack_batch_size : int, default=128
        Rows drawn from each cell per attack batch (the authors' 4 × 128).
    sinkhorn_reg : float, default=0.1
        Entropic regularisation of the Sinkhorn distance (App. D).
    sinkhorn_max_iter : int, default=10
        Sinkhorn scaling iterations per Adam step of the attack (the authors'
        10), warm-started from the previous step's potentials.
    sinkhorn_scale : "epsilon", "median" or float, default="epsilon"
        The unit s of the squared-distance cost of D (and so of
        ``sinkhorn_reg``). ``"epsilon"``: s = mean ε_i² over the rows, so D ≈ 1
        when every row moves by its full radius, whatever the latent scale:
        α then compares the fairness gain with the spent attack budget.
        ``"median"``: s = the median squared distance between clean latent
        features (a 512-row sample). A float fixes s; ``1.0`` is the raw
        cost of the paper and the authors' code, whose α depends on the
        latent scale of each dataset. The paper does not normalise the cost;
        this is our choice, to make α comparable across datasets.
    upsampling : {"per_batch", "paper"}, default="per_batch"
        How the attacked rows are drawn (step 2). ``"per_batch"`` (the
        authors' code): the shuffled rows are cut into chunks of n_cells ·
        ``attack_batch_size``, each chunk gives ``attack_batch_size`` rows of
        every cell (drawn with replacement when the chunk holds fewer), so
        N_p ≈ n; with ``epsilon="auto"`` ε is the mean distance to the
        boundary per cell *of each batch*
        (:func:`skfairlatent.nn.attacks.per_batch_upsampling`). ``"paper"``:
        N_p = n_cells · max n_ay rows, every cell upsampled to the largest one
        over the whole training set (Sec. 3.1), cut into batches of
        ``attack_batch_size`` rows per cell, ε per cell over the training set.
        The default follows the authors: as fair on our tuning seeds, and
        about half the attacked rows where the cells are unequal (Adult: 27k
        against 50k), which is most of the attack's time.
    class_prior : {"data", "balanced"}, default="data"
        Class shares of the perturbed rows used in fine-tuning. The attack
        always runs on cell-balanced batches (Thm. B.2 needs equal (a, y)
        cells). ``"balanced"``: every attacked row is fine-tuned on, so each
        class is 1/n_classes of them (the paper and the authors' code).
        ``"data"`` (our choice, not in the paper): the attacked rows are
        subsampled, the groups still equal within each class, so that each
        class keeps its share of the training set; cell balancing then
        equalises the groups without also moving the decision threshold
        towards the rarer class (on Adult, 24 % positives, balanced classes
        cost about 1.5 accuracy points). Ignored for multilabel targets.
    finetune_on : {"all", "upsampled"}, default="all"
        The clean rows of fine-tuning. ``"all"``: every original training row
        beside the N_p perturbed ones (Eq. 5 as the paper writes it).
        ``"upsampled"``: the N_p cell-balanced clean rows that were attacked,
        paired 1:1 with their perturbed copies, as the authors' code does.
        (``lambda_=0`` fine-tunes on the original rows either way.)
    reinit_head : bool, default=True
        Fine-tune a freshly initialised last layer, as the paper says
        (Sec. 3.3). False continues from the pretrained head, as the authors'
        code does.
    finetune_solver : {"lbfgs", "adam"}, default="lbfgs"
        How step 5 fits the last layer. With the features fixed, Eq. 5 is a
        weighted logistic regression, a convex problem. ``"lbfgs"`` solves it:
        full-batch L-BFGS (strong-Wolfe line search) in float64 until the
        largest gradient entry is below 1e-4 or ``finetune_max_iter``
        iterations, the stopping rule of scikit-learn's
        ``LogisticRegression``. ``"adam"`` follows the paper's training recipe
        (App. F: Adam, ``lr``, ``max_epochs``, ``batch_size``), which stops
        well short of the minimum. The logistic-regression model
        (``hidden_layer_sizes=()``), whose head is the whole model, is fit
        the same way. App. K's input-space attack on an MLP always fine-tunes
        the whole network with Adam (not convex).
    finetune_max_iter : int, default=100
        Most L-BFGS iterations of ``finetune_solver="lbfgs"`` (scikit-learn's
        ``LogisticRegression`` default). On linearly separable fine-tuning
        data the minimum is at infinity and the cap is what stops the solver.
    max_epochs : int, default=50
        Epochs of pretraining, and of fine-tuning with
        ``finetune_solver="adam"`` (T = 50, App. F).
    batch_size : int, default=128
    lr : float, default=1e-3
        Adam learning rate of pretraining, and of fine-tuning with
        ``finetune_solver="adam"``.
    keep_attack_data : bool, default=True
        Keep the attacked and perturbed latents as fitted attributes (for
        :func:`skfairlatent.plotting.plot_unfair_region`); they take
        N_p × d × 8 bytes.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available.
    random_state : int, RandomState or None, default=None
        Seeds torch, numpy and the data loaders; two fits with the same
        seed give the same predictions on CPU.
    verbose : int, default=0
        0 silent; 1 a progress bar per phase.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``[0, 1]`` for a multilabel target).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.
    net_ : skorch.NeuralNet
        The trained network (encoder + fine-tuned head); ``net_.module_``
        is an :class:`skfairlatent.nn.modules.EncoderHead`.
    sensitive_groups_ : ndarray or None
        Group labels seen at fit, in code order (None without sensitive features).
    sinkhorn_cost_scale_ : float
        The unit s of the Sinkhorn cost used by the attack (``sinkhorn_scale``).
    epsilon_ : ndarray of shape (n_groups, n_cells_y) or None
        Radius ε used for each (a, y) cell (columns: classes; a single
        column for a multilabel target).
    attack_signs_ : ndarray
        Signs of the covariance constraint (Eq. 3), one per group indicator
        and output.
    attack_report_ : dict or None
        ``delta_eod_clean``/``delta_eod_perturbed`` and
        ``delta_dp_clean``/``delta_dp_perturbed``: the frozen pretrained
        model's gaps on the upsampled clean and perturbed features. A
        successful attack raises them (binary target and attribute only).
    attack_latents_, perturbed_latents_ : ndarray of shape (N_p, d)
        Clean upsampled features z and z + δ*.
    attack_sensitive_ : ndarray of shape (N_p,), int
        Sensitive group codes of the attacked rows.
    attack_targets_ : ndarray of shape (N_p,) or (N_p, T), int
    attack_radius_ : ndarray of shape (N_p,)
        ε of each attacked row.
    finetune_n_iter_ : int or None
        Iterations of step 5: L-BFGS iterations (``finetune_solver="lbfgs"``)
        or epochs (``"adam"``); None when nothing was fine-tuned (no
        sensitive features).
    pretrained_coef_, coef_ : ndarray of shape (n_outputs, d)
        Weights of the pretrained and of the fine-tuned head.
    pretrained_intercept_, intercept_ : ndarray of shape (n_outputs,)
    fit_profile_ : dict
        For each phase run (``"pretrain"``, ``"attack"``, ``"finetune"``):
        ``{"seconds": wall time, "peak_rss_mb": the process's peak resident
        memory after the phase (``resource.getrusage``; None where that
        module is missing)}``. The peak is process-wide and never decreases,
        so a phase's own need shows as the increase over the phase before.

    Raises
    ------
    ValueError
        At fit, for NaN/inf in X, a target with one class, bad
        hyperparameters or unusable sensitive features.

    Notes
    -----
    * Multi-class targets are handled one-vs-rest (App. J.3): one sigmoid
      output per class, each attacked with the sign of its own Cov(a, 1[y=k]);
      ``predict_proba`` normalises the sigmoid scores.
    * Multilabel targets (a 0/1 indicator matrix, App. J.1) get one sigmoid
      output per label; L_fair averages the outputs. Upsampling balances the
      sensitive groups only (cells of label combinations would explode).
    * Several sensitive groups (App. J.2): every group indicator is attacked
      towards its own covariance with the label; cells are (group, class).
    * The paper and the authors' code keep the fine-tuning epoch with the
      best validation accuracy; this estimator has no validation split and
      does not (choose ``alpha`` by cross-validation; the default L-BFGS
      fine-tuning has no epochs to choose from). Measured on a tuning
      seed (``benchmarks/alfa_diagnose.py``, Adult and COMPAS, MLP) that
      choice picks early epochs that are less fair (Adult: the control's test
      ΔEOd 0.097 -> 0.192, ALFA α=0 0.098 -> 0.156) for at most 0.5 accuracy
      points.
    * Part of ALFA's effect is the cell-balanced fine-tuning itself: the same
      pipeline with the attack off (``alpha=0, epsilon=1e-8``, the
      upsampling-only control) already lowers ΔEOd. Over 5 seeds at the
      defaults (``benchmarks/alfa_ablation.py``, ``doc/alfa.md``) the attack
      lowers it further, at equal accuracy, on COMPAS (MLP −0.035, LR −0.057,
      every seed), Drug (MLP −0.100) and Adult (−0.015, 4 of 5 seeds), and
      not on German.
    * ``finetune_solver="lbfgs"`` (default) fine-tunes the λ=0 baseline to
      Eq. 5's minimum too, which already makes it fairer than the paper's
      recipe does (COMPAS-MLP test ΔEOd 0.372 → 0.207 over 5 seeds).
    * On data with Cov(a, y) = 0 (e.g. ALFA's synthetic Gaussians, balanced
      labels per group) Eq. 3's sign is a tie and the covariance attack may
      push the wrong way; ``fairness_constraint="convex"`` takes its sign from
      the clean model's ΔEOd instead.

    Examples
    --------
    >>> from skfairlatent import ALFAClassifier
    >>> from skfairlatent.datasets import make_unfair_gaussians
    >>> X, y, A = make_unfair_gaussians(random_state=0)
    >>> clf = ALFAClassifier(max_epochs=5, random_state=0).fit(X, y, sensitive_features=A)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, alpha=0.1, lambda_=0.5, hidden_layer_sizes=(128, 128), encoder=None,
                 train_encoder=True, epsilon="auto", fairness_constraint="covariance",
                 perturbation_space="latent", attack_steps=10, attack_lr=0.1,
                 attack_batch_size=128, sinkhorn_reg=0.1, sinkhorn_max_iter=10,
                 sinkhorn_scale="epsilon", upsampling="per_batch", class_prior="data",
                 finetune_on="all", reinit_head=True, finetune_solver="lbfgs",
                 finetune_max_iter=100, max_epochs=50,
                 batch_size=128, lr=1e-3, keep_attack_data=True, device="auto",
                 random_state=None, verbose=0):
        self.alpha = alpha
        self.lambda_ = lambda_
        self.hidden_layer_sizes = hidden_layer_sizes
        self.encoder = encoder
        self.train_encoder = train_encoder
        self.epsilon = epsilon
        self.fairness_constraint = fairness_constraint
        self.perturbation_space = perturbation_space
        self.attack_steps = attack_steps
        self.attack_lr = attack_lr
        self.attack_batch_size = attack_batch_size
        self.sinkhorn_reg = sinkhorn_reg
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.sinkhorn_scale = sinkhorn_scale
        self.upsampling = upsampling
        self.class_prior = class_prior
        self.finetune_on = finetune_on
        self.reinit_head = reinit_head
        self.finetune_solver = finetune_solver
        self.finetune_max_iter = finetune_max_iter
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.keep_attack_data = keep_attack_data
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ #
    # fit: Algorithm 1
    # ------------------------------------------------------------------ #
    def fit(self, X, y, *, sensitive_features=None):
        """Pretrain, attack and fine-tune (Algorithm 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features (encode and scale categoricals upstream, e.g.
            with :func:`skfairlatent.datasets.make_preprocessor`).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type, or a 0/1 multilabel indicator matrix.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, k), default=None
            The sensitive attribute(s): 1-d array, list, Series of any dtype,
            or a DataFrame whose columns are intersected. ``None`` fits the
            plain classifier (no attack) with a ``UserWarning``.

        Returns
        -------
        self : ALFAClassifier
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True,
                             y_numeric=False)
        multilabel = type_of_target(y) == "multilabel-indicator"
        if not multilabel and np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)
        self.classes_, y_codes = encode_target(y, allow_multilabel=True)
        self._multilabel = multilabel
        targets = self._output_targets(y_codes)
        sensitive = check_fit_sensitive_features(sensitive_features, X.shape[0], self)

        seed = derive_seed(self.random_state)
        device = resolve_device(self.device)
        self.fit_profile_ = {}
        with torch_seeded(seed, device):
            with _profiled(self.fit_profile_, "pretrain"):
                self.net_ = self._pretrain(X, targets, device)
            self._store_head("pretrained_")
            if sensitive is None:
                self._skip_attack()
            else:
                self._attack_and_finetune(X, y_codes, targets, sensitive, seed, device)
                self.sensitive_groups_ = sensitive.groups
        self._store_head("")
        return self

    def _check_params(self):
        check_hidden_layer_sizes(self.hidden_layer_sizes)
        check_finite_positive(self.alpha, "alpha", allow_zero=True)
        if not (_is_real(self.lambda_) and 0 <= self.lambda_ <= 1):
            raise ValueError(f"lambda_ must be a number in [0, 1]; got {self.lambda_!r}.")
        if self.epsilon != "auto" and not (_is_real(self.epsilon) and np.isfinite(self.epsilon)
                                           and self.epsilon > 0):
            raise ValueError(f"epsilon must be 'auto' or a finite float > 0; got {self.epsilon!r}.")
        if not (self.sinkhorn_scale in ("median", "epsilon") or (
                _is_real(self.sinkhorn_scale) and np.isfinite(self.sinkhorn_scale)
                and self.sinkhorn_scale > 0)):
            raise ValueError("sinkhorn_scale must be 'median', 'epsilon' or a finite float > 0; "
                             f"got {self.sinkhorn_scale!r}.")
        if self.fairness_constraint not in ("covariance", "convex"):
            raise ValueError("fairness_constraint must be 'covariance' or 'convex'; "
                             f"got {self.fairness_constraint!r}.")
        if self.upsampling not in ("per_batch", "paper"):
            raise ValueError(f"upsampling must be 'per_batch' or 'paper'; got {self.upsampling!r}.")
        if self.class_prior not in ("data", "balanced"):
            raise ValueError(f"class_prior must be 'data' or 'balanced'; got {self.class_prior!r}.")
        if self.finetune_on not in ("all", "upsampled"):
            raise ValueError(f"finetune_on must be 'all' or 'upsampled'; got {self.finetune_on!r}.")
        if self.finetune_solver not in ("lbfgs", "adam"):
            raise ValueError("finetune_solver must be 'lbfgs' or 'adam'; "
                             f"got {self.finetune_solver!r}.")
        if self.perturbation_space not in ("latent", "input"):
            raise ValueError("perturbation_space must be 'latent' or 'input'; "
                             f"got {self.perturbation_space!r}.")
        for name in ("attack_steps", "attack_batch_size", "sinkhorn_max_iter", "max_epochs",
                     "batch_size", "finetune_max_iter"):
            check_positive(getattr(self, name), name, integer=True)
        for name in ("attack_lr", "lr", "sinkhorn_reg"):
            check_finite_positive(getattr(self, name), name)

    def _output_targets(self, y_codes):
        """0/1 float targets, one column per sigmoid output (OvR for multi-class)."""
        if self._multilabel:
            return y_codes.astype(np.float32)
        if len(self.classes_) == 2:
            return y_codes.astype(np.float32)
        return np.eye(len(self.classes_), dtype=np.float32)[y_codes]

    @property
    def _n_outputs(self):
        if self._multilabel or len(self.classes_) > 2:
            return self.n_outputs_
        return 1

    # -- step 1: pretraining ------------------------------------------- #
    def _build_module(self, n_features, n_outputs):
        if self.encoder is not None:
            encoder = copy.deepcopy(self.encoder)
            with torch.no_grad():
                latent_dim = encoder(torch.zeros(2, n_features)).shape[-1]
        else:
            encoder = MLP(n_features, check_hidden_layer_sizes(self.hidden_layer_sizes))
            latent_dim = encoder.out_dim
        if not self.train_encoder:
            encoder.requires_grad_(False)
        return EncoderHead(encoder, latent_dim, n_outputs)

    def _pretrain(self, X, targets, device):
        self.n_outputs_ = 1 if targets.ndim == 1 else targets.shape[1]
        net = make_net(
            self._build_module(X.shape[1], self.n_outputs_),
            WeightedBCEWithLogitsLoss,
            device=device,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            verbose=self.verbose,
            callbacks=[("finite_loss", _FiniteLoss())],
        )
        return net.fit(X, targets)

    def _store_head(self, prefix):
        head = self.net_.module_.head
        setattr(self, prefix + "coef_", head.weight.detach().cpu().numpy().copy())
        setattr(self, prefix + "intercept_", head.bias.detach().cpu().numpy().copy())

    def _skip_attack(self):
        self.finetune_n_iter_ = None
        self.sensitive_groups_ = None
        self.sinkhorn_cost_scale_ = None
        self.epsilon_ = None
        self.attack_signs_ = None
        self.attack_report_ = None
        for name in ("attack_latents_", "perturbed_latents_", "attack_sensitive_", "attack_targets_",
                     "attack_radius_"):
            setattr(self, name, None)

    # -- steps 2-5 ---------------------------------------------------- #
    def _attack_and_finetune(self, X, y_codes, targets, sensitive, seed, device):
        in_input_space = self.perturbation_space == "input" or self._is_logistic
        module = self.net_.module_
        module.eval()
        X_t = torch.as_tensor(X, device=device)
        with torch.no_grad():
            features = X_t if in_input_space else module.encode(X_t)
        if self.lambda_ == 0:
            # Eq. 5 with λ = 0 gives perturbed rows no weight: the baseline
            # (same pretraining, same fine-tuning on the originals) needs no attack.
            self._skip_attack()
            with _profiled(self.fit_profile_, "finetune"):
                self._finetune(features, features[:0], targets, targets[:0], in_input_space, device)
            return
        attacked_model = self._frozen_copy(module if in_input_space else module.head)

        a = torch.as_tensor(sensitive.codes, device=device)
        t = torch.as_tensor(targets, device=device)
        cells = self._cell_codes(sensitive.codes, y_codes)
        radius = self._attack_radius(attacked_model, features, cells, device)
        fairness_loss = self._fairness_loss(attacked_model, features, a, t)

        rng = np.random.default_rng(seed)
        if self.upsampling == "per_batch":                   # step 2, the authors' code
            upsampled = None
            batches = per_batch_upsampling(cells, rng, self.attack_batch_size)
            if self.epsilon == "auto":                       # ε per cell of each batch
                distance = self._distance_to_boundary(attacked_model, features)
                radius = batch_cell_radius(distance, batches, len(np.unique(cells)))
            else:
                radius = radius[torch.as_tensor(batches, device=device)]
        else:                                                # step 2, the paper
            upsampled, batches = balanced_upsampling(cells, rng), None
        self.sinkhorn_cost_scale_ = self._cost_scale(features, radius, rng)
        with _profiled(self.fit_profile_, "attack"):
            rows, delta = fairness_attack(                      # step 4
                features, attacked_model, fairness_loss,
                sensitive=a, targets=t, radius=radius, upsampled=upsampled,
                batches=batches, alpha=self.alpha, steps=self.attack_steps, lr=self.attack_lr,
                batch_size=self.attack_batch_size, sinkhorn_reg=self.sinkhorn_reg,
                sinkhorn_max_iter=self.sinkhorn_max_iter,
                cost_scale=self.sinkhorn_cost_scale_, verbose=self.verbose,
            )
        row_radius = radius.reshape(-1) if batches is not None else radius[
            torch.as_tensor(rows, device=device)]
        self._report_attack(attacked_model, features[rows], features[rows] + delta,
                            sensitive.codes[rows], targets[rows])
        if self.class_prior == "data" and not self._multilabel:
            prior = np.bincount(y_codes, minlength=len(self.classes_)) / len(y_codes)
            keep = _class_prior_subsample(y_codes[rows], sensitive.codes[rows], prior, rng)
            rows, delta, row_radius = rows[keep], delta[torch.as_tensor(keep, device=device)], \
                row_radius[torch.as_tensor(keep, device=device)]
        clean, perturbed = features[rows], features[rows] + delta
        with _profiled(self.fit_profile_, "finetune"):                         # step 5
            if self.finetune_on == "upsampled":     # the authors' code
                self._finetune(clean, perturbed, targets[rows], targets[rows], in_input_space, device)
            else:                                   # Eq. 5: every original row
                self._finetune(features, perturbed, targets, targets[rows], in_input_space, device)

        if self.keep_attack_data:
            self.attack_latents_ = clean.cpu().numpy()
            self.perturbed_latents_ = perturbed.cpu().numpy()
            self.attack_sensitive_ = sensitive.codes[rows]
            self.attack_targets_ = y_codes[rows]
            self.attack_radius_ = row_radius.cpu().numpy()
        else:
            self.attack_latents_ = self.perturbed_latents_ = None
            self.attack_sensitive_ = self.attack_targets_ = self.attack_radius_ = None

    def _cost_scale(self, features, radius, rng):
        """The unit of the Sinkhorn cost (see ``sinkhorn_scale``)."""
        if not isinstance(self.sinkhorn_scale, str):
            return float(self.sinkhorn_scale)
        if self.sinkhorn_scale == "epsilon":
            return float(radius.pow(2).mean().clamp_min(1e-12))
        sample = features[torch.as_tensor(rng.choice(len(features), min(len(features), 512),
                                                     replace=False), device=features.device)]
        cost = squared_distances(sample, sample)
        off_diagonal = cost[~torch.eye(len(sample), dtype=torch.bool, device=cost.device)]
        return float(off_diagonal.median().clamp_min(1e-12))

    @property
    def _is_logistic(self):
        return self.encoder is None and len(check_hidden_layer_sizes(self.hidden_layer_sizes)) == 0

    @staticmethod
    def _frozen_copy(model):
        frozen = copy.deepcopy(model).eval()
        frozen.requires_grad_(False)
        return frozen

    def _cell_codes(self, groups, y_codes):
        """(a, y) cell of each row; the group alone for multilabel targets."""
        if self._multilabel:
            return groups
        return groups * len(self.classes_) + y_codes

    def _attack_radius(self, model, features, cells, device):
        """ε per row: the mean distance to the boundary over the row's (a, y) cell (step 3)."""
        n_y = 1 if self._multilabel else len(self.classes_)
        n_cells = int(cells.max()) + 1
        if self.epsilon == "auto":
            distance = self._distance_to_boundary(model, features).cpu().numpy()
            per_cell = np.array([distance[cells == c].mean() if np.any(cells == c) else np.nan
                                 for c in range(n_cells)])
        else:
            per_cell = np.full(n_cells, float(self.epsilon))
        per_cell = np.pad(per_cell, (0, (-n_cells) % n_y), constant_values=np.nan)
        self.epsilon_ = per_cell.reshape(-1, n_y)
        return torch.as_tensor(per_cell[cells], dtype=features.dtype, device=device)

    @staticmethod
    def _distance_to_boundary(model, features):
        """|g(z)| / ‖∇g(z)‖₂, averaged over outputs; exact for a linear head."""
        features = features.detach().requires_grad_(True)
        logits = model(features).reshape(len(features), -1)
        distances = []
        for k in range(logits.shape[1]):
            (grad,) = torch.autograd.grad(logits[:, k].sum(), features, retain_graph=True)
            distances.append(logits[:, k].abs() / grad.norm(dim=1).clamp_min(1e-12))
        return torch.stack(distances, dim=1).mean(dim=1).detach()

    def _fairness_loss(self, model, features, a, t):
        """L_fair as a callable (logits, a, y) -> scalar, its signs fixed on clean data."""
        if self.fairness_constraint == "convex":
            if int(a.max()) > 1 or self._n_outputs > 1:
                raise ValueError("fairness_constraint='convex' (App. L) supports a binary "
                                 "sensitive attribute and a binary target only.")
            with torch.no_grad():
                predicted = (model(features).reshape(-1) > 0).cpu().numpy()
            sign = _signed_eod_gap(t.cpu().numpy(), predicted, a.cpu().numpy())
            self.attack_signs_ = np.array([1.0 if sign >= 0 else -1.0])
            return partial(_convex_loss, sign=self.attack_signs_[0])
        signs = covariance_attack_signs(a, t)
        self.attack_signs_ = signs.cpu().numpy()
        return partial(_covariance_loss, signs=signs)

    def _report_attack(self, model, clean, perturbed, groups, targets):
        """ΔEOd and ΔDP of the frozen model on clean vs perturbed features."""
        if self._n_outputs > 1 or len(np.unique(groups)) != 2:
            self.attack_report_ = None
            return
        with torch.no_grad():
            before = (model(clean).reshape(-1) > 0).cpu().numpy().astype(int)
            after = (model(perturbed).reshape(-1) > 0).cpu().numpy().astype(int)
        self.attack_report_ = {
            "delta_eod_clean": delta_eod(targets, before, sensitive_features=groups),
            "delta_eod_perturbed": delta_eod(targets, after, sensitive_features=groups),
            "delta_dp_clean": delta_dp(targets, before, sensitive_features=groups),
            "delta_dp_perturbed": delta_dp(targets, after, sensitive_features=groups),
        }

    # -- step 5: fine-tuning --------------------------------------------- #
    def _finetune(self, features, perturbed, targets, perturbed_targets, in_input_space, device):
        """Minimise (1-λ)·CE(original) + λ·CE(perturbed) (Eq. 5 and App. N).

        Weights are 2(1-λ) and 2λ so that λ = 0.5 is exactly Eq. 5.
        """
        inputs = torch.cat([features, perturbed]).cpu().numpy()
        all_targets = np.concatenate([targets, perturbed_targets])
        weights = np.concatenate([
            np.full(len(features), 2 * (1 - self.lambda_), dtype=np.float32),
            np.full(len(perturbed), 2 * self.lambda_, dtype=np.float32),
        ])
        module = self.net_.module_
        if self.reinit_head:
            module.head.reset_parameters()
        if in_input_space and not self._is_logistic:
            # App. K: the whole network is fine-tuned on the perturbed inputs.
            module.train()
            self.net_.initialize_optimizer()
            self.net_.partial_fit({"X": inputs, "sample_weight": weights}, all_targets,
                                  epochs=self.max_epochs)
            self.finetune_n_iter_ = self.max_epochs
            return
        # Latent space, or logistic regression (identity encoder): only the head learns.
        if self.finetune_solver == "lbfgs":
            self._solve_head(module.head, inputs, all_targets, weights, device)
        else:
            self._train_head(module.head, inputs, all_targets, weights, device)

    def _solve_head(self, head, inputs, targets, weights, device):
        """Eq. 5's minimum over the linear head: full-batch L-BFGS in float64.

        Stops when the largest gradient entry is below 1e-4 (scikit-learn's
        ``LogisticRegression`` tolerance) or after ``finetune_max_iter``
        iterations. Raises ``ValueError`` when the loss is not finite.
        """
        X = torch.as_tensor(inputs, dtype=torch.float64, device=device)
        Y = torch.as_tensor(targets, dtype=torch.float64, device=device)
        W = torch.as_tensor(weights, dtype=torch.float64, device=device)
        weight = head.weight.detach().to(torch.float64).clone().requires_grad_(True)
        bias = head.bias.detach().to(torch.float64).clone().requires_grad_(True)
        criterion = WeightedBCEWithLogitsLoss()
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=self.finetune_max_iter,
                                      tolerance_grad=1e-4, tolerance_change=1e-12,
                                      history_size=20, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            logits = X @ weight.T + bias
            if logits.shape[-1] == 1:
                logits = logits.squeeze(-1)
            loss = criterion(logits, Y, W)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        _check_finite_loss(float(loss.detach()), "fine-tuning", 0)
        with torch.no_grad():
            head.weight.copy_(weight)
            head.bias.copy_(bias)
        head.eval()
        self.finetune_n_iter_ = int(optimizer.state[weight]["n_iter"])

    def _train_head(self, head, inputs, targets, weights, device):
        """Adam on the weighted BCE of the linear head alone, shuffled mini-batches.

        A plain torch loop: the features are fixed tensors, so skorch's
        per-batch machinery (several times the cost of a 128 × d matmul) buys
        nothing here. Raises ``ValueError`` when the loss is not finite.
        """
        X = torch.as_tensor(inputs, device=device)
        Y = torch.as_tensor(targets, dtype=torch.float32, device=device)
        W = torch.as_tensor(weights, device=device)
        criterion = WeightedBCEWithLogitsLoss()
        optimizer = torch.optim.Adam(head.parameters(), lr=self.lr)
        head.train()
        for epoch in tqdm(range(self.max_epochs), desc="fine-tune", disable=not self.verbose,
                          leave=False):
            order = torch.randperm(len(X), device=device)
            total = 0.0
            for start in range(0, len(X), self.batch_size):
                index = order[start:start + self.batch_size]
                logits = head(X[index])
                if logits.shape[-1] == 1:
                    logits = logits.squeeze(-1)
                loss = criterion(logits, Y[index], W[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            _check_finite_loss(total, "fine-tuning", epoch)
        head.eval()
        self.finetune_n_iter_ = self.max_epochs

    # ------------------------------------------------------------------ #
    # prediction
    # ------------------------------------------------------------------ #
    def decision_function(self, X):
        """Logits of the fine-tuned model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for a binary target, else (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        self.net_.module_.eval()
        logits = self.net_.forward(X, training=False, device="cpu")
        return logits.numpy()

    def predict_proba(self, X):
        """Class probabilities.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            For a binary target ``[1 - p, p]``; for a multi-class target the
            one-vs-rest sigmoid scores normalised to sum to one; for a
            multilabel target the probability of each label, shape
            (n_samples, n_labels).
        """
        scores = 1.0 / (1.0 + np.exp(-self.decision_function(X).astype(np.float64)))
        if self._multilabel:
            return scores
        if scores.ndim == 1:
            return np.column_stack([1 - scores, scores])
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels, of the type of ``classes_``.

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) of 0/1 for a multilabel target
        """
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_is_fitted__(self):
        # ``lambda_`` is a hyperparameter, so the default trailing-underscore rule misfires.
        return hasattr(self, "net_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@contextmanager
def _profiled(profile, phase):
    """Record the wall time and the process's peak RSS after ``phase``."""
    start = time.perf_counter()
    yield
    peak = None
    if resource is not None:
        # ru_maxrss is in KiB on Linux and in bytes on macOS.
        scale = 1024 ** 2 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    profile[phase] = {"seconds": time.perf_counter() - start, "peak_rss_mb": peak}


def _check_finite_loss(value, phase, epoch):
    if not np.isfinite(value):
        raise ValueError(
            f"ALFAClassifier: the training loss became {value} in epoch {epoch + 1} of {phase}. "
            "The inputs are probably badly scaled (standardise X, e.g. with "
            "skfairlatent.datasets.make_preprocessor or StandardScaler) or lr is too large.")


class _FiniteLoss(Callback):
    """skorch callback: stop pretraining with a clear error on a non-finite loss."""

    def on_epoch_end(self, net, **kwargs):
        _check_finite_loss(net.history[-1, "train_loss"], "pretraining",
                           len(net.history) - 1)


def _covariance_loss(logits, a, t, *, signs):
    return covariance_fairness_loss(logits, a, signs)


def _convex_loss(logits, a, t, *, sign):
    # stacked attack batches (B, N): the sum of each batch's constraint
    return sum(convex_fairness_loss(logits[b], a[b], t[b].reshape(-1), sign)
               for b in range(len(logits)))


def _class_prior_subsample(y, a, prior, rng):
    """Indices of the largest subset of attacked rows with the training class shares.

    Class k keeps c_k = ⌊min_j(N_j / π_j) · π_k⌋ of its N_k attacked rows,
    the same number from each group where the groups allow it (the rest
    spread over the groups with rows left), drawn at random.

    Parameters
    ----------
    y, a : ndarray of shape (N_p,), int
        Class and group codes of the attacked rows.
    prior : ndarray of shape (n_classes,)
        Class shares π of the training set.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (≤ N_p,), int, sorted
    """
    classes = [k for k in range(len(prior)) if prior[k] > 0 and np.any(y == k)]
    scale = min(np.sum(y == k) / prior[k] for k in classes)
    keep = []
    for k in classes:
        wanted = int(np.floor(scale * prior[k] + 1e-9))
        cells = [np.flatnonzero((y == k) & (a == g)) for g in np.unique(a[y == k])]
        sizes = np.zeros(len(cells), dtype=int)
        while wanted > sizes.sum():        # equal per group, capped by each group's rows
            open_ = [i for i, rows in enumerate(cells) if sizes[i] < len(rows)]
            share = max(1, (wanted - sizes.sum()) // len(open_))
            for i in open_:
                sizes[i] = min(len(cells[i]), sizes[i] + share, sizes[i] + wanted - sizes.sum())
        keep += [rng.choice(rows, size, replace=False) for rows, size in zip(cells, sizes)]
    return np.sort(np.concatenate(keep))


def _signed_eod_gap(y, y_pred, a):
    """(TPR₁ - TPR₀) + (FPR₁ - FPR₀): the sign of the clean gap for App. L."""
    gap = 0.0
    for label in (0, 1):
        rates = [y_pred[(a == g) & (y == label)].mean() for g in (0, 1)
                 if np.any((a == g) & (y == label))]
        if len(rates) == 2:
            gap += rates[1] - rates[0]
    return gap
