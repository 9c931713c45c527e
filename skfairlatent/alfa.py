"""ALFAClassifier: Adversarial Latent Feature Augmentation for group fairness.

H. Jung, J. Chai, X. Wang, "Adversarial Latent Feature Augmentation for
Fairness", ICLR 2025.

Algorithm 1, as ``fit`` runs it:

1. pretrain an encoder f and a linear head g by cross-entropy (Sec. 3.3);
2. balanced upsampling: the same number of rows from every (a, y) cell
   (Sec. 3.1; by default per attack batch, as the authors' code);
3. ε, the mean absolute distance from the latent features to the decision
   boundary, per (a, y) cell;
4. the fairness attack δ* = argmax_{‖δ‖₂ ≤ ε} L_fair - α·D(z, z + δ)/s with f
   and g frozen (Eq. 2-4, App. B.2, App. D;
   :func:`skfairlatent.nn.attacks.fairness_attack`);
5. fine-tune a freshly initialised last layer on the original and the
   perturbed latents, weighted (1 - λ) and λ (Eq. 5, App. N).
"""

import copy
import sys
import time
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

try:
    import resource
except ImportError:  # Windows
    resource = None

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from tqdm.auto import tqdm

from .base import (
    FiniteLoss,
    RowStore,
    _FairLatentEstimator,
    check_hidden_layer_sizes,
    chunk_rows_for,
    encode_target,
    make_net,
    row_chunks,
    torch_seeded,
)
from .exceptions import NonFiniteLossError
from .metrics import delta_dp, delta_eod
from .nn.attacks import (
    attack_stacks,
    balanced_upsampling,
    batch_cell_radius,
    distance_to_boundary,
    fairness_attack_chunks,
    per_batch_upsampling,
    sinkhorn_cost_scale,
)
from .nn.losses import (
    WeightedBCEWithLogitsLoss,
    convex_fairness_loss,
    covariance_attack_signs,
    covariance_fairness_loss,
)
from .nn.modules import MLP, EncoderHead

__all__ = ["ALFAClassifier"]

_POSITIVE = Interval(Real, 0, np.inf, closed="neither")      # finite, > 0
_COUNT = Interval(Integral, 1, None, closed="left")


class ALFAClassifier(ClassifierMixin, _FairLatentEstimator):
    """Adversarial Latent Feature Augmentation (ALFA) classifier.

    A neural classifier, an encoder f followed by a linear head g, made fairer
    in the sense of equalized odds by augmenting its latent space. After
    pretraining, a *fairness attack* moves cell-balanced latent features into
    the region where the frozen classifier is most unfair; the last layer is
    then fine-tuned on the original and the perturbed features, so that the
    decision boundary covers that region (Jung, Chai & Wang, ICLR 2025,
    Algorithm 1). Predicting needs no sensitive features. User guide,
    defaults and measured results: :doc:`/alfa`.

    Parameters
    ----------
    alpha : float >= 0, default=0.1
        Weight α of the Sinkhorn distance in the attack objective
        L_fair - α·D(z, z + δ)/s (Eq. 4); a larger α keeps the perturbed
        features closer to the clean ones. The paper searches
        {0, 0.001, 0.01, 0.1, 1, 10} per dataset (App. F); grid-search it.
        The default was chosen on tuning seeds: see the Defaults table in
        :doc:`/alfa`.
    lambda_ : float in [0, 1], default=0.5
        Weight λ of the perturbed latents in fine-tuning, (1 - λ) for the
        originals (App. N); 0.5 is Eq. 5. ``0`` is the baseline "same model
        without ALFA": no attack is run and the last layer is fine-tuned on
        the original latents only.
    hidden_layer_sizes : int or tuple of int, default=(128, 128)
        Hidden layers of the ReLU MLP encoder (App. F). ``()`` is the
        logistic-regression variant (Sec. 3.3): no encoder, the attack
        perturbs the inputs and the head is the whole model.
    encoder : torch.nn.Module or None, default=None
        Replaces the MLP: maps float32 (n, n_features) to (n, latent_dim).
        It is deep-copied at fit; the caller's module is left unchanged.
    train_encoder : bool, default=True
        Whether pretraining updates the encoder (False for an already trained
        ``encoder``: only the head is pretrained).
    epsilon : "auto" or float > 0, default="auto"
        Radius ε of the L2 ball of each perturbation (Alg. 1). ``"auto"``: per
        (a, y) cell, the mean distance |w·z + b| / ‖w‖₂ of the cell's latents
        to the pretrained boundary (per cell as the authors' code; linearised,
        |g(f(x))| / ‖∇ₓ g(f(x))‖₂, for an input-space attack on an MLP).
    fairness_constraint : {"covariance", "convex"}, default="covariance"
        L_fair of the attack: the covariance constraint with the sign rule of
        Eq. 3 and the piecewise-linear logit of App. B.2 (m = 10 segments,
        β = 1e-7), or the convex surrogate of App. L (binary sensitive
        attribute and binary target only).
    perturbation_space : {"latent", "input"}, default="latent"
        Where the attack acts. ``"input"`` is App. K: the inputs are perturbed
        and the whole network is fine-tuned.
    attack_steps : int >= 1, default=10
        Adam iterations of the attack (App. F).
    attack_lr : float > 0, default=0.1
        Adam learning rate of the attack (App. F).
    attack_batch_size : int >= 1, default=128
        Rows drawn from each (a, y) cell per attack batch (the authors' 4 × 128).
    sinkhorn_reg : float > 0, default=0.1
        Entropic regularisation of D (App. D), in units of the scaled cost.
    sinkhorn_max_iter : int >= 1, default=10
        Sinkhorn iterations per Adam step of the attack (the authors' 10),
        warm-started from the previous step's potentials.
    sinkhorn_scale : "epsilon", "median" or float > 0, default="epsilon"
        The unit s of D's squared-distance cost (and so of ``sinkhorn_reg``).
        ``"epsilon"``: s = mean ε² over the attacked rows, so D ≈ 1 when every
        row moves by its full radius and α is dimensionless. ``"median"``: the
        median squared distance between 512 clean latents. ``1.0`` is the raw
        cost of the paper. Not in the paper: see the Defaults table in
        :doc:`/alfa`.
    upsampling : {"per_batch", "paper"}, default="per_batch"
        How the attacked rows are drawn (step 2). ``"per_batch"`` (the
        authors' code): every chunk of n_cells · ``attack_batch_size``
        shuffled rows gives ``attack_batch_size`` rows of every cell (with
        replacement where the chunk holds fewer), so N_p ≈ n, and
        ``epsilon="auto"`` is computed per cell of each batch.
        ``"paper"``: every cell upsampled to the largest, N_p = n_cells ·
        max n_ay (Sec. 3.1). See the Defaults table in :doc:`/alfa`.
    class_prior : {"data", "balanced"}, default="data"
        Class shares of the perturbed rows used in fine-tuning; the attack
        itself always runs on cell-balanced batches (Thm. B.2).
        ``"balanced"``: every attacked row, 1/n_classes per class (the paper
        and the authors' code). ``"data"``: a random subset with the
        training set's class shares, the groups still equal within each
        class. Ignored for multilabel targets. See the Defaults table in
        :doc:`/alfa`.
    finetune_on : {"all", "upsampled"}, default="all"
        Clean rows of fine-tuning: every training row beside the N_p
        perturbed ones (Eq. 5), or the N_p attacked clean rows paired 1:1
        with their perturbed copies (the authors' code).
    reinit_head : bool, default=True
        Fine-tune a freshly initialised last layer (Sec. 3.3); False continues
        from the pretrained head, as the authors' code does.
    finetune_solver : {"lbfgs", "adam"}, default="lbfgs"
        How step 5 fits the last layer. With the features fixed, Eq. 5 is a
        weighted logistic regression: ``"lbfgs"`` solves it (full-batch L-BFGS
        in float64, strong-Wolfe line search, until the largest gradient
        entry is below 1e-4 or after ``finetune_max_iter`` iterations);
        ``"adam"`` is the paper's recipe (App. F: Adam, ``lr``,
        ``max_epochs``, ``batch_size``). App. K's input-space attack on an
        MLP always fine-tunes the whole network with Adam. See the Defaults
        table in :doc:`/alfa`.
    finetune_max_iter : int >= 1, default=100
        Most L-BFGS iterations of step 5 (scikit-learn's
        ``LogisticRegression`` default). On linearly separable fine-tuning
        rows the minimum is at infinity and this cap stops the solver.
    max_epochs : int >= 1, default=50
        Epochs of pretraining, and of fine-tuning with
        ``finetune_solver="adam"`` (T = 50, App. F).
    batch_size : int >= 1, default=128
        Mini-batch size of pretraining and of Adam fine-tuning (App. F).
    lr : float > 0, default=1e-3
        Adam learning rate of pretraining and of Adam fine-tuning (App. F).
    keep_attack_data : bool, default=True
        Keep the attacked and perturbed latents as fitted attributes (for
        :func:`skfairlatent.plotting.plot_unfair_region`): 2 × N_p × d × 4
        bytes, about 0.7 GB for 10⁶ Adult rows and the default MLP (N_p ≈ 0.67 n,
        d = 128). Set it to False on large data: fit's memory then stays within
        a few times that of X (see Notes).
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds torch, numpy and the data loaders; on CPU two fits with the
        same seed give the same predictions.
    verbose : int, default=0
        0 silent; 1 a progress bar per phase.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (``[0, 1]`` for a multilabel target).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.
    n_outputs_ : int
        Sigmoid outputs of the head: 1 for a binary target, else one per
        class (one-vs-rest) or label.
    device_ : str
        The torch device used.
    net_ : skorch.NeuralNet
        The trained network (encoder + fine-tuned head); ``net_.module_``
        is an :class:`skfairlatent.nn.modules.EncoderHead`.
    sensitive_groups_ : ndarray or None
        Group labels seen at fit, in code order (None without sensitive features).
    sinkhorn_cost_scale_ : float or None
        The unit s of the Sinkhorn cost used by the attack.
    epsilon_ : ndarray of shape (n_groups, n_cells_y) or None
        Radius ε of each (a, y) cell over the training set (columns: classes;
        one column for a multilabel target).
    attack_signs_ : ndarray or None
        Signs of the covariance constraint (Eq. 3), one per group indicator
        and output (one sign for the convex constraint).
    attack_report_ : dict or None
        ``delta_eod_clean``/``delta_eod_perturbed`` and
        ``delta_dp_clean``/``delta_dp_perturbed``: the frozen pretrained
        model's gaps on the attacked clean and perturbed features. A
        successful attack raises them (binary target and attribute only).
    attack_latents_, perturbed_latents_ : ndarray of shape (N_p, d) or None
        Clean attacked features z and z + δ* (with ``keep_attack_data``).
    attack_sensitive_ : ndarray of shape (N_p,), int, or None
        Sensitive group codes of the attacked rows.
    attack_targets_ : ndarray of shape (N_p,) or (N_p, T), int, or None
    attack_radius_ : ndarray of shape (N_p,) or None
        ε of each attacked row.
    finetune_n_iter_ : int or None
        L-BFGS iterations (``finetune_solver="lbfgs"``) or epochs (``"adam"``)
        of step 5; None when nothing was fine-tuned (no sensitive features).
    pretrained_coef_, coef_ : ndarray of shape (n_outputs, d)
        Weights of the pretrained and of the fine-tuned head.
    pretrained_intercept_, intercept_ : ndarray of shape (n_outputs,)
    fit_profile_ : dict
        For each phase run (``"pretrain"``, ``"attack"``, ``"finetune"``):
        ``{"seconds": wall time, "peak_rss_mb": the process's peak resident
        memory after the phase}`` (None where ``resource`` is missing). The
        peak is process-wide and never decreases.

    Raises
    ------
    InvalidParameterError
        At fit, for a hyperparameter outside its constraints (a subclass of
        both ``ValueError`` and ``TypeError``).
    ValueError
        At fit, for NaN/inf in X, a target with one class, unusable
        sensitive features, or ``fairness_constraint="convex"`` with more
        than two groups or a non-binary target.
    NonFiniteLossError
        When a training loss becomes nan or inf (a ``FloatingPointError``;
        usually unscaled X or too large a learning rate).

    See Also
    --------
    fairlearn.reductions.ExponentiatedGradient : in-processing for equalized
        odds on any estimator; no sensitive features at predict time.
    fairlearn.postprocessing.ThresholdOptimizer : group thresholds on a
        trained model's scores; needs the sensitive features at predict time.
    skfairlatent.plotting.plot_unfair_region : draws the attack (Fig. 1/8).

    Notes
    -----
    Targets and groups (App. J): a multi-class target is handled one-vs-rest,
    one sigmoid output per class, each attacked with the sign of its own
    Cov(a, 1[y = k]), and ``predict_proba`` normalises the sigmoid scores. A
    multilabel 0/1 target gets one sigmoid per label and L_fair averages the
    outputs; upsampling then balances the groups only. With more than two
    groups (or intersections of several columns) every group indicator is
    attacked towards its own covariance with the label, and the cells are
    (group, class).

    Where the code departs from the paper. ε per (a, y) cell, per-batch
    upsampling and the Xavier-uniform start of δ follow the authors' public
    code. The Sinkhorn cost is divided by s (``sinkhorn_scale``) so that α
    means the same on every dataset; the attack batches are solved as one
    stacked problem with warm-started potentials, which is exact (the
    batches' objectives are separate and Adam is element-wise).

    Memory: ``fit`` never holds the latents of all rows at once. ``X`` (which
    may be a read-only ``np.memmap``) is read a chunk at a time; the attack
    runs on stacks of at most 2²² Sinkhorn cost entries (16 batches of 4 ×
    128 rows), encoding each stack's rows when it needs them; the fine-tuning
    reads the clean and the perturbed latents from stores that keep 32 MiB in
    memory and write the rest to a temporary file
    (``tempfile.gettempdir()``, (n + N_p) × d × 4 bytes). While they fit in
    memory the head is solved on one float64 matrix; beyond, every L-BFGS
    evaluation sums the loss and gradient chunk by chunk (the same loss
    summed in another order). Time is linear in the number of rows.
    ``class_prior="data"`` and ``finetune_solver="lbfgs"`` are our choices
    (the :doc:`/alfa` page gives the evidence). The paper and the authors
    keep the fine-tuning epoch of best validation accuracy; this estimator
    has no validation split and does not, so choose ``alpha`` by
    cross-validation. For App. L's convex constraint the appendix's rule for
    a negative gap is mirrored, so the attack always deepens the existing
    gap, as Eq. 3 does. On data with Cov(a, y) = 0 Eq. 3's sign is a tie;
    ``fairness_constraint="convex"`` takes its sign from the clean model's
    gap instead.

    Part of the effect is the cell-balanced fine-tuning itself: the same
    pipeline with the attack off (``alpha=0, epsilon=1e-8``) already lowers
    ΔEOd; the user guide reports both.

    Subclasses may override two steps: ``_pretrain(X, targets, device)``
    (step 1; returns the fitted skorch net and sets ``n_outputs_``) and
    ``_distance_to_boundary(model, features)`` (step 3; the distance of each
    row to the boundary, averaged into ε).

    References
    ----------
    .. [1] H. Jung, J. Chai, X. Wang, "Adversarial Latent Feature Augmentation
       for Fairness", International Conference on Learning Representations
       (ICLR), 2025.

    Examples
    --------
    >>> from skfairlatent import ALFAClassifier
    >>> from skfairlatent.datasets import make_unfair_gaussians
    >>> X, y, A = make_unfair_gaussians(random_state=0)
    >>> clf = ALFAClassifier(max_epochs=5, random_state=0).fit(X, y, sensitive_features=A)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_FairLatentEstimator._parameter_constraints,
        "alpha": [Interval(Real, 0, np.inf, closed="left")],
        "lambda_": [Interval(Real, 0, 1, closed="both")],
        "hidden_layer_sizes": ["array-like", _COUNT],
        "encoder": [torch.nn.Module, None],
        "train_encoder": ["boolean"],
        "epsilon": [StrOptions({"auto"}), _POSITIVE],
        "fairness_constraint": [StrOptions({"covariance", "convex"})],
        "perturbation_space": [StrOptions({"latent", "input"})],
        "attack_steps": [_COUNT],
        "attack_lr": [_POSITIVE],
        "attack_batch_size": [_COUNT],
        "sinkhorn_reg": [_POSITIVE],
        "sinkhorn_max_iter": [_COUNT],
        "sinkhorn_scale": [StrOptions({"epsilon", "median"}), _POSITIVE],
        "upsampling": [StrOptions({"per_batch", "paper"})],
        "class_prior": [StrOptions({"data", "balanced"})],
        "finetune_on": [StrOptions({"all", "upsampled"})],
        "reinit_head": ["boolean"],
        "finetune_solver": [StrOptions({"lbfgs", "adam"})],
        "finetune_max_iter": [_COUNT],
        "max_epochs": [_COUNT],
        "batch_size": [_COUNT],
        "lr": [_POSITIVE],
        "keep_attack_data": ["boolean"],
    }

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
        if y is None:  # _start_fit(y=None) would validate X as for an unsupervised estimator
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        start = self._start_fit(X, y, sensitive_features, encode_y=False,
                                multi_output=True, y_numeric=False)
        X, y, sensitive, device = start.X, start.y, start.sensitive, start.device
        self._multilabel = type_of_target(y) == "multilabel-indicator"
        if not self._multilabel and np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)
        self.classes_, y_codes = encode_target(y, allow_multilabel=True)
        targets = self._output_targets(y_codes)

        self.fit_profile_ = {}
        with torch_seeded(start.seed, device):
            with _profiled(self.fit_profile_, "pretrain"):          # step 1
                self.net_ = self._pretrain(X, targets, device)
            self._store_head("pretrained_")
            if sensitive is None:
                self._skip_attack()
            else:                                                   # steps 2-5
                self._attack_and_finetune(X, y_codes, targets, sensitive, start.seed, device)
                self.sensitive_groups_ = sensitive.groups
        self._store_head("")
        return self

    def _check_param_relations(self):
        check_hidden_layer_sizes(self.hidden_layer_sizes)

    def _output_targets(self, y_codes):
        """0/1 float targets, one column per sigmoid output (OvR for multi-class)."""
        if self._multilabel or len(self.classes_) == 2:
            return y_codes.astype(np.float32)
        return np.eye(len(self.classes_), dtype=np.float32)[y_codes]

    @property
    def _n_outputs(self):
        if self._multilabel or len(self.classes_) > 2:
            return self.n_outputs_
        return 1

    @property
    def _is_logistic(self):
        return self.encoder is None and len(check_hidden_layer_sizes(self.hidden_layer_sizes)) == 0

    # -- step 1: pretraining ------------------------------------------- #
    def _pretrain(self, X, targets, device):
        """Step 1: fit encoder f and head g by (weighted) BCE; sets ``n_outputs_``."""
        self.n_outputs_ = 1 if targets.ndim == 1 else targets.shape[1]
        module = _build_module(self.encoder, self.hidden_layer_sizes, self.train_encoder,
                               X.shape[1], self.n_outputs_)
        net = make_net(module, WeightedBCEWithLogitsLoss, device=device,
                       max_epochs=self.max_epochs, batch_size=self.batch_size, lr=self.lr,
                       verbose=self.verbose,
                       callbacks=[("finite_loss", FiniteLoss(type(self).__name__))])
        return net.fit(X, targets)

    def _store_head(self, prefix):
        head = self.net_.module_.head
        setattr(self, prefix + "coef_", head.weight.detach().cpu().numpy().copy())
        setattr(self, prefix + "intercept_", head.bias.detach().cpu().numpy().copy())

    def _skip_attack(self):
        self.finetune_n_iter_ = None
        for name in ("sensitive_groups_", "sinkhorn_cost_scale_", "epsilon_", "attack_signs_",
                     "attack_report_", "attack_latents_", "perturbed_latents_",
                     "attack_sensitive_", "attack_targets_", "attack_radius_"):
            setattr(self, name, None)

    # -- steps 2-5 ---------------------------------------------------- #
    def _attack_and_finetune(self, X, y_codes, targets, sensitive, seed, device):
        # The latents of all rows are never held at once: the attack encodes the
        # rows of each stack of batches when it needs them, and the head solve
        # reads clean and perturbed latents from RowStores (memory-bounded).
        in_input_space = self.perturbation_space == "input" or self._is_logistic
        module = self.net_.module_
        module.eval()
        features = _FeatureRows(X, None if in_input_space else module.encode, device)
        if self.lambda_ == 0:
            # Eq. 5 with λ = 0 gives perturbed rows no weight: the baseline
            # (same pretraining, same fine-tuning on the originals) needs no attack.
            self._skip_attack()
            with _profiled(self.fit_profile_, "finetune"):
                self._finetune(features, RowStore(features.shape[1]), targets, targets[:0],
                               in_input_space, device)
            return
        attacked_model = _frozen_copy(module if in_input_space else module.head)

        a = torch.as_tensor(sensitive.codes, device=device)
        t = torch.as_tensor(targets, device=device)
        cells = self._cell_codes(sensitive.codes, y_codes)
        distance = None
        if self.epsilon == "auto":
            distance = features.map(partial(self._distance_to_boundary, attacked_model),
                                    grad=True)
        radius = self._attack_radius(distance, cells, device)                   # step 3
        fairness_loss = self._fairness_loss(attacked_model, features, a, t)

        rng = np.random.default_rng(seed)
        if self.upsampling == "per_batch":                   # step 2, the authors' code
            upsampled = None
            batches = per_batch_upsampling(cells, rng, self.attack_batch_size)
            if self.epsilon == "auto":                       # ε per cell of each batch
                radius = batch_cell_radius(distance, batches, len(np.unique(cells)))
            else:
                radius = radius[torch.as_tensor(batches, device=device)]
        else:                                                # step 2, the paper
            upsampled, batches = balanced_upsampling(cells, rng), None
        self.sinkhorn_cost_scale_ = sinkhorn_cost_scale(features, radius, self.sinkhorn_scale, rng)
        stacks = attack_stacks(upsampled=upsampled, batches=batches, radius=radius,
                               batch_size=self.attack_batch_size)
        rows = np.concatenate([stack_rows.reshape(-1) for stack_rows, _ in stacks])
        row_radius = torch.cat([ball.reshape(-1) for _, ball in stacks]).cpu().numpy()
        kept = np.ones(len(rows), dtype=bool)
        if self.class_prior == "data" and not self._multilabel:
            prior = np.bincount(y_codes, minlength=len(self.classes_)) / len(y_codes)
            kept[:] = False
            kept[_class_prior_subsample(y_codes[rows], sensitive.codes[rows], prior, rng)] = True
        with _profiled(self.fit_profile_, "attack"):
            clean, perturbed, flips = self._attack(                 # step 4
                features, attacked_model, fairness_loss, a, t, radius, upsampled, batches,
                kept)
        self.attack_report_ = _attack_report(
            flips, sensitive.codes[rows], targets[rows], single_output=self._n_outputs == 1)
        rows, row_radius = rows[kept], row_radius[kept]
        with _profiled(self.fit_profile_, "finetune"):                         # step 5
            if self.finetune_on == "upsampled":     # the authors' code
                self._finetune(clean, perturbed, targets[rows], targets[rows], in_input_space,
                               device)
            else:                                   # Eq. 5: every original row
                self._finetune(features, perturbed, targets, targets[rows], in_input_space,
                               device)

        if self.keep_attack_data:
            self.attack_latents_ = clean.to_array()
            self.perturbed_latents_ = perturbed.to_array()
            self.attack_sensitive_ = sensitive.codes[rows]
            self.attack_targets_ = y_codes[rows]
            self.attack_radius_ = row_radius
        else:
            self.attack_latents_ = self.perturbed_latents_ = None
            self.attack_sensitive_ = self.attack_targets_ = self.attack_radius_ = None
        clean.close()
        perturbed.close()

    def _attack(self, features, model, fairness_loss, a, t, radius, upsampled, batches, kept):
        """Step 4, stack by stack: the kept rows' clean and perturbed features.

        Returns
        -------
        clean, perturbed : RowStore
            z and z + δ* of the kept attacked rows, in attack order (``clean`` stays
            empty unless it is needed: ``keep_attack_data`` or
            ``finetune_on="upsampled"``).
        flips : (ndarray, ndarray) or None
            The frozen model's 0/1 decisions on every attacked row, clean and
            perturbed (single output only), for ``attack_report_``.
        """
        d = features.shape[1]
        clean_store, perturbed_store = RowStore(d), RowStore(d)
        keep_clean = self.keep_attack_data or self.finetune_on == "upsampled"
        before, after, start = [], [], 0
        for _, clean, delta in fairness_attack_chunks(
                features, model, fairness_loss, sensitive=a, targets=t, radius=radius,
                upsampled=upsampled, batches=batches, alpha=self.alpha,
                steps=self.attack_steps, lr=self.attack_lr,
                batch_size=self.attack_batch_size, sinkhorn_reg=self.sinkhorn_reg,
                sinkhorn_max_iter=self.sinkhorn_max_iter, cost_scale=self.sinkhorn_cost_scale_,
                verbose=self.verbose):
            perturbed = clean + delta
            if self._n_outputs == 1:
                with torch.no_grad():
                    before.append((model(clean).reshape(-1) > 0).cpu().numpy().astype(int))
                    after.append((model(perturbed).reshape(-1) > 0).cpu().numpy().astype(int))
            mine = torch.as_tensor(kept[start:start + len(clean)], device=clean.device)
            start += len(clean)
            perturbed_store.append(perturbed[mine].cpu().numpy())
            if keep_clean:
                clean_store.append(clean[mine].cpu().numpy())
        flips = (np.concatenate(before), np.concatenate(after)) if before else None
        return clean_store, perturbed_store, flips

    def _cell_codes(self, groups, y_codes):
        """(a, y) cell of each row; the group alone for multilabel targets."""
        if self._multilabel:
            return groups
        return groups * len(self.classes_) + y_codes

    # Step 3's distance to the boundary (a subclass may override it).
    _distance_to_boundary = staticmethod(distance_to_boundary)

    def _attack_radius(self, distance, cells, device):
        """ε per row: the mean distance to the boundary over the row's (a, y) cell (step 3).

        ``distance`` is the distance of every row (a tensor), or None for a fixed ε.
        """
        n_y = 1 if self._multilabel else len(self.classes_)
        n_cells = int(cells.max()) + 1
        if self.epsilon == "auto":
            distance = distance.cpu().numpy()
            per_cell = np.array([distance[cells == c].mean() if np.any(cells == c) else np.nan
                                 for c in range(n_cells)])
        else:
            per_cell = np.full(n_cells, float(self.epsilon))
        per_cell = np.pad(per_cell, (0, (-n_cells) % n_y), constant_values=np.nan)
        self.epsilon_ = per_cell.reshape(-1, n_y)
        return torch.as_tensor(per_cell[cells], dtype=torch.float32, device=device)

    def _fairness_loss(self, model, features, a, t):
        """L_fair as a callable (logits, a, y) -> scalar, its signs fixed on clean data."""
        if self.fairness_constraint == "convex":
            if int(a.max()) > 1 or self._n_outputs > 1:
                raise ValueError("fairness_constraint='convex' (App. L) supports a binary "
                                 "sensitive attribute and a binary target only.")
            predicted = features.map(lambda z: model(z).reshape(-1) > 0).cpu().numpy()
            sign = _signed_eod_gap(t.cpu().numpy(), predicted, a.cpu().numpy())
            self.attack_signs_ = np.array([1.0 if sign >= 0 else -1.0])
            return partial(_convex_loss, sign=self.attack_signs_[0])
        signs = covariance_attack_signs(a, t)
        self.attack_signs_ = signs.cpu().numpy()
        return partial(_covariance_loss, signs=signs)

    # -- step 5: fine-tuning --------------------------------------------- #
    def _finetune(self, features, perturbed, targets, perturbed_targets, in_input_space, device):
        """Minimise (1-λ)·CE(original) + λ·CE(perturbed) (Eq. 5 and App. N).

        Weights are 2(1-λ) and 2λ so that λ = 0.5 is exactly Eq. 5. ``features`` is
        a :class:`_FeatureRows` or a :class:`RowStore`, ``perturbed`` a RowStore.
        """
        weights = (2 * (1 - self.lambda_), 2 * self.lambda_)
        module = self.net_.module_
        if self.reinit_head:
            module.head.reset_parameters()
        if in_input_space and not self._is_logistic:
            # App. K: the whole network is fine-tuned on the perturbed inputs.
            inputs, all_targets, row_weights = _stacked_parts(
                [(features, targets, weights[0]), (perturbed, perturbed_targets, weights[1])])
            module.train()
            self.net_.initialize_optimizer()
            self.net_.partial_fit({"X": inputs, "sample_weight": row_weights}, all_targets,
                                  epochs=self.max_epochs)
            self.finetune_n_iter_ = self.max_epochs
        elif self.finetune_solver == "lbfgs":
            # Latent space, or logistic regression (identity encoder): only the head learns.
            self.finetune_n_iter_ = _solve_head(
                module.head, [(features, targets, weights[0]),
                              (perturbed, perturbed_targets, weights[1])],
                max_iter=self.finetune_max_iter, device=device)
        else:
            inputs, all_targets, row_weights = _stacked_parts(
                [(features, targets, weights[0]), (perturbed, perturbed_targets, weights[1])])
            self.finetune_n_iter_ = _train_head(
                module.head, inputs, all_targets, row_weights, lr=self.lr,
                max_epochs=self.max_epochs, batch_size=self.batch_size,
                verbose=self.verbose, device=device)

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_labels) of 0/1 for a multilabel target
        """
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# --------------------------------------------------------------------------- #
# Utilities of the steps above
# --------------------------------------------------------------------------- #
def _build_module(encoder, hidden_layer_sizes, train_encoder, n_features, n_outputs):
    """Encoder (a copy of ``encoder``, or an MLP) and a linear head of ``n_outputs``."""
    if encoder is not None:
        encoder = copy.deepcopy(encoder)
        with torch.no_grad():
            latent_dim = encoder(torch.zeros(2, n_features)).shape[-1]
    else:
        encoder = MLP(n_features, check_hidden_layer_sizes(hidden_layer_sizes))
        latent_dim = encoder.out_dim
    if not train_encoder:
        encoder.requires_grad_(False)
    return EncoderHead(encoder, latent_dim, n_outputs)


def _frozen_copy(model):
    frozen = copy.deepcopy(model).eval()
    frozen.requires_grad_(False)
    return frozen


def _attack_report(flips, groups, targets, *, single_output):
    """ΔEOd and ΔDP of the frozen model on clean vs perturbed features, or None.

    ``flips`` holds the model's 0/1 decisions on the attacked rows, clean and
    perturbed. Only for a single output (binary target) and two groups.
    """
    if flips is None or not single_output or len(np.unique(groups)) != 2:
        return None
    before, after = flips
    return {
        "delta_eod_clean": delta_eod(targets, before, sensitive_features=groups),
        "delta_eod_perturbed": delta_eod(targets, after, sensitive_features=groups),
        "delta_dp_clean": delta_dp(targets, before, sensitive_features=groups),
        "delta_dp_perturbed": delta_dp(targets, after, sensitive_features=groups),
    }


class _FeatureRows:
    """The features of every row, f(x) (or x itself), computed a chunk at a time.

    ``rows[index]`` encodes the rows ``X[index]`` when asked (an integer tensor of
    any shape; the result has shape ``(*index.shape, d)``), so the latents of all
    rows are never held at once; ``X`` may be a ``np.memmap``.
    """

    def __init__(self, X, encode, device):
        self.X, self.encode, self.device = X, encode, torch.device(device)
        width = X.shape[1] if encode is None else self._encoded(X[:2]).shape[1]
        self.shape = (len(X), width)

    def __len__(self):
        return self.shape[0]

    def _encoded(self, rows):
        x = torch.as_tensor(np.asarray(rows), dtype=torch.float32, device=self.device)
        if self.encode is None:
            return x
        with torch.no_grad():
            return self.encode(x)

    def __getitem__(self, index):
        flat = np.asarray(torch.as_tensor(index).reshape(-1).cpu())
        parts = [self._encoded(self.X[flat[rows]])
                 for rows in row_chunks(len(flat), chunk_rows_for(self.X))]
        features = torch.cat(parts) if parts else self._encoded(self.X[:0])
        return features.reshape(*index.shape, self.shape[1])

    def blocks(self):
        """The features of all rows in order, a chunk at a time (NumPy arrays)."""
        for rows in row_chunks(len(self), chunk_rows_for(self.X)):
            yield self._encoded(self.X[rows]).cpu().numpy()

    def to_store(self):
        """The features of all rows in a :class:`RowStore` (X itself when not encoded)."""
        if self.encode is None:
            return self
        store = RowStore(self.shape[1])
        for block in self.blocks():
            store.append(block)
        return store

    def map(self, function, *, grad=False):
        """``function`` on every chunk of features, concatenated (a tensor on the device).

        ``grad=True`` leaves autograd on (for functions that differentiate).
        """
        outputs = []
        for rows in row_chunks(len(self), chunk_rows_for(self.X)):
            features = self._encoded(self.X[rows])
            with torch.set_grad_enabled(grad):
                outputs.append(function(features).detach())
        return torch.cat(outputs)


def _non_finite_loss(loss, where):
    return NonFiniteLossError(
        f"ALFAClassifier: the training loss became {loss} {where}. The input is "
        "probably too large or unscaled (standardise X, e.g. with "
        "skfairlatent.datasets.make_preprocessor or StandardScaler) or the learning rate "
        "too high.")


def _solve_head(head, parts, *, max_iter, device):
    """Eq. 5's minimum over the linear head: full-batch L-BFGS in float64.

    Stops when the largest gradient entry is below 1e-4 (scikit-learn's
    ``LogisticRegression`` tolerance) or after ``max_iter`` iterations.

    Parameters
    ----------
    head : torch.nn.Linear
    parts : list of (rows, targets, weight)
        ``rows`` a :class:`_FeatureRows` or a :class:`RowStore` of features,
        ``targets`` an ndarray of shape (len(rows),) or (len(rows), T), ``weight``
        the weight of every row of the part.
    max_iter : int
    device : str or torch.device

    Returns
    -------
    n_iter : int
        L-BFGS iterations run.

    Raises
    ------
    NonFiniteLossError
        When the loss is not finite.

    Notes
    -----
    The loss is the weighted mean cross-entropy over all rows. When every part
    is held in memory, the rows are stacked into one float64 matrix; otherwise
    every evaluation reads the parts ``CHUNK_ROWS`` rows at a time and sums
    the chunks' losses and gradients (the same loss, summed in another order),
    so memory stays a chunk's worth.
    """
    weight = head.weight.detach().to(torch.float64).clone().requires_grad_(True)
    bias = head.bias.detach().to(torch.float64).clone().requires_grad_(True)
    criterion = WeightedBCEWithLogitsLoss()
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter,
                                  tolerance_grad=1e-4, tolerance_change=1e-12,
                                  history_size=20, line_search_fn="strong_wolfe")
    # Latents are encoded once, not at every evaluation.
    parts = [(rows.to_store() if isinstance(rows, _FeatureRows) else rows, targets, weight)
             for rows, targets, weight in parts]
    n_total = sum(len(rows) for rows, _, _ in parts)

    def as_float64(*arrays):
        return [torch.as_tensor(array, dtype=torch.float64, device=device) for array in arrays]

    def chunk_loss(X, Y, W):
        logits = X @ weight.T + bias
        if logits.shape[-1] == 1:
            logits = logits.squeeze(-1)
        return criterion(logits, Y, W)

    if all(_fits_in_memory(rows) for rows, _, _ in parts):
        X, Y, W = as_float64(*_stacked_parts(parts))

        def closure():
            optimizer.zero_grad()
            loss = chunk_loss(X, Y, W)
            loss.backward()
            return loss
    else:
        def closure():
            optimizer.zero_grad()
            total = 0.0
            for rows, part_targets, part_weight in parts:
                start = 0
                for block in rows.blocks():
                    stop = start + len(block)
                    chunk = as_float64(block, part_targets[start:stop],
                                       np.full(len(block), part_weight, dtype=np.float32))
                    loss = chunk_loss(*chunk) * (len(block) / n_total)
                    loss.backward()
                    total += float(loss.detach())
                    start = stop
            return torch.tensor(total, dtype=torch.float64)

    loss = float(optimizer.step(closure).detach())
    if not np.isfinite(loss):
        raise _non_finite_loss(loss, "in the L-BFGS fine-tuning")
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
    head.eval()
    return int(optimizer.state[weight]["n_iter"])


def _fits_in_memory(rows):
    """Whether the features of ``rows`` take at most a RowStore's memory budget."""
    if isinstance(rows, RowStore):
        return rows.in_memory
    return len(rows) * rows.shape[1] * 4 <= RowStore(rows.shape[1]).memory_bytes


def _stacked_parts(parts):
    """The rows of ``parts`` (see :func:`_solve_head`) as one in-memory array, with their
    targets and row weights (float32)."""
    inputs = np.concatenate([np.concatenate(list(rows.blocks())) if len(rows) else
                             np.zeros((0, rows.shape[1]), np.float32) for rows, _, _ in parts])
    targets = np.concatenate([part_targets for _, part_targets, _ in parts])
    weights = np.concatenate([np.full(len(rows), part_weight, dtype=np.float32)
                              for rows, _, part_weight in parts])
    return inputs, targets, weights


def _train_head(head, inputs, targets, weights, *, lr, max_epochs, batch_size, verbose, device):
    """Adam on the weighted BCE of the linear head alone, shuffled mini-batches.

    A plain torch loop: the features are fixed tensors, so skorch's
    per-batch machinery buys nothing here.

    Returns
    -------
    n_epochs : int

    Raises
    ------
    NonFiniteLossError
        When an epoch's loss is not finite.
    """
    X = torch.as_tensor(inputs, device=device)
    Y = torch.as_tensor(targets, dtype=torch.float32, device=device)
    W = torch.as_tensor(weights, device=device)
    criterion = WeightedBCEWithLogitsLoss()
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    head.train()
    for epoch in tqdm(range(max_epochs), desc="fine-tune", disable=not verbose, leave=False):
        order = torch.randperm(len(X), device=device)
        total = 0.0
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            logits = head(X[index])
            if logits.shape[-1] == 1:
                logits = logits.squeeze(-1)
            loss = criterion(logits, Y[index], W[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        if not np.isfinite(total):
            raise _non_finite_loss(total, f"in epoch {epoch + 1} of fine-tuning")
    head.eval()
    return max_epochs


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
