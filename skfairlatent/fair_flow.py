"""FairLatentFlow: an invertible fair latent space with counterfactual explanations.

Implements "Constructing Fair Latent Space for Intersection of Fairness and
Explainability" (arXiv:2412.17523). The algorithm, step by step:

1. The input ``E`` is a given latent space: the output of a pretrained
   encoder (an upstream pipeline step) or standardised features.
2. An invertible network ``f`` (a Glow-style flow on vectors,
   :class:`skfairlatent.nn.flows.VectorFlow`) maps ``E`` to
   ``Z = f(E) = [Z_Y, Z_S, Z_R]``: ``n_label_dims`` dimensions assigned to
   the label, ``n_sensitive_dims`` to the sensitive attribute and the rest
   ``Z_R`` to everything else (section 3).
3. ``f`` is trained, with a linear label head on ``Z_Y`` and a linear
   sensitive head on ``Z_S`` so that each kind of information lands in its
   assigned dimensions, on (section 3.2)

       L = CE(h_Y(Z_Y), y) + lambda_s CE(h_S(Z_S), s)
           + lambda_dg L_dg(Z) + lambda_eq L_eq(Z) + lambda_di L_di(Z_Y; y, s)
           + lambda_g L_g(E)

   with L_dg the off-diagonal of the covariance of Z, L_eq the spread of its
   variances, L_di the L2 distance between samples of opposite sensitive
   groups with the same label (different labels kept apart) and L_g the
   Gaussian negative log-likelihood of the flow (per dimension); see
   :mod:`skfairlatent.nn.losses`.
4. ``transform`` returns ``Z_Y``: a downstream classifier on it is fair.
   Because ``f`` is a bijection, ``inverse_transform`` maps any edited ``Z``
   back to the input space exactly; ``counterfactual`` moves ``Z_S`` (or
   ``Z_Y``) by the difference of the group (or class) means and inverts, which
   shows what in ``E`` changes a decision and checks that changing the
   sensitive part does not (section 4, counterfactual explanations).

The paper trains on the 512-d latent of a pretrained diffusion autoencoder
on face images; here the latent is any vector input. Where the published
text leaves a formula open (normalisations, the margin of L_di, pairing
without matched samples) the choices are stated in the docstrings of
:mod:`skfairlatent.nn.losses`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import GradientNormClipping
from skorch.utils import to_tensor
from torch import nn
from torch.nn import functional as F

from skfairlatent.base import (
    FiniteLoss,
    RowExtrasNet,
    _FairLatentEstimator,
    as_label_column,
    make_net,
    row_chunks,
    torch_seeded,
)
from skfairlatent.datasets._schema import RowCopies
from skfairlatent.nn.flows import VectorFlow, standard_normal_nll
from skfairlatent.nn.losses import (
    _PAIRINGS,
    decorrelation_loss,
    group_pair_distance_loss,
    variance_equality_loss,
)

__all__ = ["FairFlowLoss", "FairFlowNetwork", "FairLatentFlow"]

_OUTPUTS = ("label", "sensitive", "all")

#: Rows per chunk of the passes over all rows (transform, counterfactuals, the
#: training means of Z_Y and Z_S).
_CHUNK_ROWS = 4096


# --------------------------------------------------------------------------- #
# torch: the network and its loss
# --------------------------------------------------------------------------- #
class FairFlowNetwork(nn.Module):
    """The invertible network with its two classifier heads.

    Parameters
    ----------
    n_features : int
        Width of the latent ``E`` (and of ``Z``).
    n_label_dims, n_sensitive_dims : int
        Widths of ``Z_Y = Z[:, :n_label_dims]`` and of
        ``Z_S = Z[:, n_label_dims:n_label_dims + n_sensitive_dims]``.
    n_classes : int
        Outputs of the linear label head on ``Z_Y``.
    n_groups : int
        Outputs of the linear sensitive head on ``Z_S`` (0: no head).
    n_blocks, hidden_size : int
        Passed to :class:`~skfairlatent.nn.flows.VectorFlow`.
    noise_std : float
        Standard deviation of the Gaussian noise added to ``E`` in training
        mode only (dequantisation of discrete inputs).

    ``forward(E)`` returns ``(z, log_det, label_logits, sensitive_logits)`` of
    shapes (n, d), (n,), (n, n_classes) and (n, n_groups).
    """

    def __init__(self, n_features, n_label_dims, n_sensitive_dims, n_classes, n_groups,
                 n_blocks=4, hidden_size=64, noise_std=0.0):
        super().__init__()
        self.n_label_dims = n_label_dims
        self.n_sensitive_dims = n_sensitive_dims
        self.noise_std = noise_std
        self.flow = VectorFlow(n_features, n_blocks=n_blocks, hidden_size=hidden_size)
        self.label_head = nn.Linear(n_label_dims, n_classes)
        self.sensitive_head = nn.Linear(n_sensitive_dims, n_groups) if n_groups else None

    def split(self, z):
        """``(Z_Y, Z_S)`` views of ``z``."""
        k = self.n_label_dims
        return z[:, :k], z[:, k:k + self.n_sensitive_dims]

    def forward(self, X):
        if self.training and self.noise_std > 0:
            X = X + self.noise_std * torch.randn_like(X)
        z, log_det = self.flow(X)
        z_y, z_s = self.split(z)
        label_logits = self.label_head(z_y)
        if self.sensitive_head is None:
            sensitive_logits = z.new_zeros((z.shape[0], 0))
        else:
            sensitive_logits = self.sensitive_head(z_s)
        return z, log_det, label_logits, sensitive_logits


class FairFlowLoss(nn.Module):
    """The training objective of section 3.2 (see the module docstring).

    ``forward((z, log_det, label_logits, sensitive_logits), y, sensitive=None,
    di_rows=None)`` with ``y`` the encoded labels (n,) and ``sensitive`` the
    group codes (n,) batched with the rows
    (:class:`skfairlatent.base.RowExtrasNet`). Without ``sensitive`` only the
    label head, L_dg, L_eq and L_g are trained. ``di_rows = (z_y, y, s)``,
    when given, are the ``Z_Y`` (m, n_label_dims), labels and groups of a
    (label, group)-stratified draw (:class:`_StratifiedDiNet`): L_di is then
    computed on them instead of on the batch.
    """

    def __init__(self, n_label_dims, n_sensitive_dims=0, covariance_on="all",
                 lambda_sensitive=1.0, lambda_dg=1.0, lambda_eq=1.0, lambda_di=2.0,
                 lambda_g=0.1, di_margin=4.0, di_pairing="quantile"):
        super().__init__()
        self.di_pairing = di_pairing
        self.n_label_dims = n_label_dims
        self.n_sensitive_dims = n_sensitive_dims
        self.covariance_on = covariance_on
        self.lambda_sensitive = lambda_sensitive
        self.lambda_dg = lambda_dg
        self.lambda_eq = lambda_eq
        self.lambda_di = lambda_di
        self.lambda_g = lambda_g
        self.di_margin = di_margin

    def _parts(self, z):
        if self.covariance_on == "all":
            return [z]
        k, m = self.n_label_dims, self.n_sensitive_dims
        return [p for p in (z[:, :k], z[:, k:k + m]) if p.shape[1] > 1]

    def forward(self, y_pred, y_true, sensitive=None, di_rows=None):
        z, log_det, label_logits, sensitive_logits = y_pred
        y_true = y_true.long()
        loss = F.cross_entropy(label_logits, y_true)
        if z.shape[0] > 1:
            for part in self._parts(z):
                if self.lambda_dg:
                    loss = loss + self.lambda_dg * decorrelation_loss(part)
                if self.lambda_eq:
                    loss = loss + self.lambda_eq * variance_equality_loss(part)
        if self.lambda_g:
            loss = loss + self.lambda_g * standard_normal_nll(z, log_det) / z.shape[1]
        if sensitive is not None and sensitive_logits.shape[1]:
            sensitive = sensitive.long()
            loss = loss + self.lambda_sensitive * F.cross_entropy(sensitive_logits, sensitive)
            if self.lambda_di:
                if di_rows is None:
                    di_rows = (z[:, : self.n_label_dims], y_true, sensitive)
                z_di, y_di, s_di = di_rows
                loss = loss + self.lambda_di * group_pair_distance_loss(
                    z_di, y_di.long(), s_di.long(), margin=self.di_margin,
                    pairing=self.di_pairing)
        return loss


class _StratifiedDiNet(RowExtrasNet):
    """``RowExtrasNet`` whose training steps give L_di its own stratified draw.

    Before ``fit`` the estimator sets ``di_pool = (E, y, s, cells)`` (``E``
    the training rows as given, an ndarray or ``np.memmap`` never copied
    whole; ``y``, ``s`` and the index ``cells`` tensors) and
    ``di_cell_size = m``. At every training step,
    ``m`` rows are drawn uniformly from each (label, group) cell of the pool
    (with replacement; torch's global generator, seeded by the estimator),
    mapped through the flow (with the same training noise as the batch) and
    handed to the criterion as ``di_rows``; the batch itself still trains
    every other term. With ``di_pool = None`` it is a plain ``RowExtrasNet``.
    """

    di_pool = None
    di_cell_size = None

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not training or self.di_pool is None or not isinstance(X, dict) \
                or "sensitive" not in X:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        E, y, s, cells = self.di_pool
        m = self.di_cell_size
        picks = torch.cat([cell[torch.randint(len(cell), (m,))] for cell in cells])
        module = self.module_
        E_di = torch.as_tensor(np.array(E[picks.cpu().numpy()], dtype=np.float32),
                               device=self.device)
        if module.noise_std > 0:
            E_di = E_di + module.noise_std * torch.randn_like(E_di)
        z_di = module.flow(E_di)[0][:, :module.n_label_dims]
        extras = {key: to_tensor(value, device=self.device)
                  for key, value in X.items() if key != "X"}
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred, y_true, di_rows=(z_di, y[picks], s[picks]), **extras)


# --------------------------------------------------------------------------- #
# The estimator
# --------------------------------------------------------------------------- #
class FairLatentFlow(TransformerMixin, _FairLatentEstimator):
    """Invertible fair latent space with counterfactual explanations.

    A Glow-style invertible network maps a given latent space ``E`` (the
    output of any encoder, or standardised features) to
    ``Z = [Z_Y, Z_S, Z_R]`` in which the label information sits in ``Z_Y``
    and the sensitive information in ``Z_S`` (arXiv:2412.17523, section 3).
    ``transform`` returns ``Z_Y``, so
    ``make_pipeline(FairLatentFlow(), LogisticRegression())`` is a fair
    classifier; ``inverse_transform`` inverts exactly and ``counterfactual``
    edits ``Z_S`` or ``Z_Y`` and maps the result back to ``E``.

    Parameters
    ----------
    n_label_dims : int, default=2
        Dimensions of ``Z_Y`` (the first ones of ``Z``; section 3). Set by
        hand on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    n_sensitive_dims : int, default=2
        Dimensions of ``Z_S`` (the next ones). ``n_label_dims +
        n_sensitive_dims`` must not exceed the number of input features, and
        must be ``>= 1`` when ``sensitive_features`` are given. Set by hand on
        COMPAS. See the Defaults table in :doc:`/fair_flow`.
    n_blocks : int, default=4
        Glow blocks (ActNorm, invertible linear, affine coupling). Set by hand
        on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    hidden_size : int, default=64
        Width of the coupling networks' two hidden layers. Set by hand on
        COMPAS. See the Defaults table in :doc:`/fair_flow`.
    lambda_sensitive : float, default=1.0
        Weight of the cross-entropy of the linear sensitive head on ``Z_S``
        (section 3.2), which draws the sensitive information into ``Z_S``. Set
        by hand on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    lambda_dg : float, default=1.0
        Weight of L_dg, the squared off-diagonal of the batch covariance of
        ``Z`` divided by its width (section 3.2, "subtract the term
        element-wise multiplied by the identity";
        :func:`~skfairlatent.nn.losses.decorrelation_loss`). Set by hand on
        COMPAS. See the Defaults table in :doc:`/fair_flow`.
    lambda_eq : float, default=1.0
        Weight of L_eq, the spread of the variances of ``Z`` around their mean
        (section 3.1, equal eigenvalues of ``C_{Z_Y}``;
        :func:`~skfairlatent.nn.losses.variance_equality_loss`). Set by hand
        on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    lambda_di : float, default=2.0
        Weight of L_di on ``Z_Y`` (sections 3.1-3.2): the squared L2 distance
        per dimension between paired rows of opposite sensitive groups with
        the same label, plus a hinge keeping different labels ``di_margin``
        apart (:func:`~skfairlatent.nn.losses.group_pair_distance_loss`). The
        fairness term proper: with ``lambda_di=0`` and ``lambda_sensitive=0``
        nothing removes the sensitive attribute from ``Z_Y``. Set by hand on
        COMPAS; Adult prefers larger values with larger batches. See the
        Defaults table in :doc:`/fair_flow`.
    lambda_g : float, default=0.1
        Weight of L_g, the standard-normal negative log-likelihood of the flow
        in nats per dimension (the Gaussianisation of section 3;
        :func:`~skfairlatent.nn.flows.standard_normal_nll`). Set by hand on
        COMPAS. See the Defaults table in :doc:`/fair_flow`.
    di_margin : float, default=4.0
        Margin of L_di's hinge between rows of different labels, in squared
        distance per dimension; 0 switches the hinge off (see Notes). Set by
        hand on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    di_pairing : {"quantile", "matched", "random", "nearest", "all"}, \
            default="quantile"
        Which rows of opposite groups with the same label L_di pairs (see
        Notes). ``"quantile"``: rank-matched pairs on the axes of ``Z_Y`` and
        8 random directions (a sliced 2-Wasserstein distance); ``"matched"``:
        one-to-one pairs of least total squared distance (Hungarian algorithm
        per batch and label); ``"random"``: one-to-one random pairs;
        ``"nearest"``: each row with its nearest counterpart; ``"all"``: every
        cross-group pair. No pairing is best on every benchmark dataset. See
        the Defaults table in :doc:`/fair_flow`.
    di_cell_size : int or None, default=None
        ``None``: L_di pairs the rows of each training batch, so a (label,
        group) cell holding a fraction ``p`` of the data contributes about
        ``p * batch_size`` rows per step. An int ``m``: at every step L_di is
        computed instead on its own draw of ``m`` rows from *each* (label,
        group) cell of the training set (uniform, with replacement), the
        paper's equal-size pairs ``x^y_s0,i``, ``x^y_s1,i``, ``i = 1..m``
        (section 3.2); the batch still trains every other term. Costs a flow
        pass over ``m * n_classes * n_groups`` extra rows per step. The
        stratified draw helps when a cell is rare (the headline runs use 128
        or 256). See the Defaults table in :doc:`/fair_flow`.
    covariance_on : {"all", "parts"}, default="all"
        L_dg and L_eq on the covariance of all of ``Z`` or, as the paper's
        ``C_{Z_Y}`` (section 3.1), on ``Z_Y`` and ``Z_S`` separately. Set by
        hand on COMPAS. See the Defaults table in :doc:`/fair_flow`.
    output : {"label", "sensitive", "all"}, default="label"
        What :meth:`transform` returns: ``Z_Y``, ``Z_S`` or all of ``Z``.
    noise_std : float, default=0.0
        Standard deviation of the Gaussian noise added to ``E`` during
        training only (dequantisation of discrete columns, whose likelihood
        is otherwise unbounded).
    max_epochs : int, default=50
        Passes over the training data. Set by hand on COMPAS. See the Defaults
        table in :doc:`/fair_flow`.
    batch_size : int, default=256
        Rows per step. L_dg, L_eq and (with ``di_cell_size=None``) L_di are
        batch statistics, so a batch should hold every (label, group) cell.
        Set by hand on COMPAS; a rare (label, group) cell needs larger batches
        (Adult: 1024). See the Defaults table in :doc:`/fair_flow`.
    lr : float, default=1e-3
        Adam learning rate; gradients are clipped to norm 10. Adam's usual
        rate. See the Defaults table in :doc:`/fair_flow`.
    device : {"auto", "cpu", "cuda"} or str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available.
    random_state : None, int or RandomState, default=None
        Seeds flow initialisation, training noise, the stratified draws and
        batch order; on CPU two fits with the same seed give identical
        results.
    verbose : int, default=0
        0 silent, 1 a progress bar over epochs.

    Attributes
    ----------
    net_ : skfairlatent.base.RowExtrasNet
        The fitted skorch net; its ``module_`` is a :class:`FairFlowNetwork`.
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``.
    sensitive_groups_ : ndarray of shape (n_groups,) or None
        Sensitive groups seen in ``fit`` (``None`` when fitted without).
    label_means_ : ndarray of shape (n_classes, n_label_dims)
        Mean of ``Z_Y`` per class on the training data.
    sensitive_means_ : ndarray of shape (n_groups, n_sensitive_dims) or None
        Mean of ``Z_S`` per sensitive group on the training data.
    device_ : str
        The device the net was trained on.
    n_features_in_ : int
        Width of ``E`` (and of ``Z``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string column names.

    Raises
    ------
    InvalidParameterError
        From ``fit``, for a hyperparameter outside its constraints (a
        ``ValueError`` and a ``TypeError``).
    ValueError
        From ``fit``, for bad ``X``, ``y`` or ``sensitive_features``, fewer
        features than ``n_label_dims + n_sensitive_dims``, or sensitive
        features with ``n_sensitive_dims=0``.
    NonFiniteLossError
        From ``fit``, when the training loss becomes NaN or infinite (a
        ``FloatingPointError``; unscaled inputs or too large a ``lr``).

    See Also
    --------
    skfairlatent.nn.flows.VectorFlow : the invertible network.
    skfairlatent.ALFAClassifier : fair classifier by latent augmentation.
    skfairlatent.metrics.delta_eod, skfairlatent.metrics.worst_group_accuracy

    Notes
    -----
    The objective is the paper's (section 3.2) with linear heads ``h_Y`` on
    ``Z_Y`` and ``h_S`` on ``Z_S``::

        L = CE(h_Y(Z_Y), y) + lambda_sensitive CE(h_S(Z_S), s)
            + lambda_dg L_dg(Z) + lambda_eq L_eq(Z) + lambda_di L_di(Z_Y; y, s)
            + lambda_g L_g

    Where the code departs from the paper:

    * **Pairs in L_di.** The paper's L_di is the L2 distance between matched
      samples ``x^y_s0,i`` and ``x^y_s1,i``; neither its images nor tabular
      rows come with given pairs, so pairs are formed per batch (or per
      stratified draw), per label and per pair of groups, by ``di_pairing``.
      The default quantile pairing matches the two groups' whole
      distributions; pairing every cross-group row (``"all"``) minimises
      ``|mu_0 - mu_1|^2 + tr C_0 + tr C_1`` and collapses the minority
      group's cells instead.
    * **The hinge** ``max(0, di_margin - d)`` between different labels is
      our reading of the contrastive "reducing g(x_s0,i, x_s1,j)" of
      section 3.1; the paper's final L_di is the L2 term alone.
    * **Normalisations** the text leaves open: L_dg is divided by the width
      (as VICReg), L_di distances and L_g are per dimension.
    * L_dg and L_eq act on all of ``Z`` by default (``covariance_on``).
    * The input is any vector latent rather than the 512-d latent of a
      pretrained diffusion autoencoder, and the paper's CLIP reader of
      counterfactual images is left to the user (e.g. a probe trained on
      ``E``).

    A classifier on ``Z_Y`` is unchanged by ``counterfactual(flip=
    "sensitive")`` by construction (``Z_Y`` is not edited), whatever the
    flow learned; fairness is measured by a probe of the sensitive attribute
    on ``Z_Y`` and by the label edit (:doc:`/fair_flow`).

    References
    ----------
    .. [1] "Constructing Fair Latent Space for Intersection of Fairness and
       Explainability", arXiv:2412.17523, 2024.
    .. [2] D. P. Kingma, P. Dhariwal, "Glow: Generative Flow with Invertible
       1x1 Convolutions", NeurIPS 2018 (arXiv:1807.03039).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randint(0, 2, 400)
    >>> y = (rng.rand(400) < 0.3 + 0.4 * A).astype(int)
    >>> E = np.c_[y + A + rng.randn(400), rng.randn(400, 3)]
    >>> flow = FairLatentFlow(max_epochs=5, random_state=0)
    >>> clf = make_pipeline(flow, LogisticRegression())
    >>> clf.fit(E, y, fairlatentflow__sensitive_features=A).predict(E[:3]).shape
    (3,)
    >>> E_cf = clf[0].counterfactual(E[:3], flip="sensitive", sensitive_features=A[:3])
    >>> E_cf.shape
    (3, 4)
    """

    _parameter_constraints: dict = {
        **_FairLatentEstimator._parameter_constraints,
        "n_label_dims": [Interval(Integral, 1, None, closed="left")],
        "n_sensitive_dims": [Interval(Integral, 0, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        # right=np.inf with an open right end rejects inf; Interval rejects nan
        "lambda_sensitive": [Interval(Real, 0, np.inf, closed="left")],
        "lambda_dg": [Interval(Real, 0, np.inf, closed="left")],
        "lambda_eq": [Interval(Real, 0, np.inf, closed="left")],
        "lambda_di": [Interval(Real, 0, np.inf, closed="left")],
        "lambda_g": [Interval(Real, 0, np.inf, closed="left")],
        "di_margin": [Interval(Real, 0, np.inf, closed="left")],
        "di_pairing": [StrOptions(set(_PAIRINGS))],
        "di_cell_size": [Interval(Integral, 1, None, closed="left"), None],
        "covariance_on": [StrOptions({"all", "parts"})],
        "output": [StrOptions(set(_OUTPUTS))],
        "noise_std": [Interval(Real, 0, np.inf, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, np.inf, closed="neither")],
    }

    def __init__(self, n_label_dims=2, n_sensitive_dims=2, *, n_blocks=4, hidden_size=64,
                 lambda_sensitive=1.0, lambda_dg=1.0, lambda_eq=1.0, lambda_di=2.0,
                 lambda_g=0.1, di_margin=4.0, di_pairing="quantile", di_cell_size=None,
                 covariance_on="all",
                 output="label", noise_std=0.0, max_epochs=50,
                 batch_size=256, lr=1e-3, device="auto", random_state=None, verbose=0):
        self.n_label_dims = n_label_dims
        self.n_sensitive_dims = n_sensitive_dims
        self.n_blocks = n_blocks
        self.hidden_size = hidden_size
        self.lambda_sensitive = lambda_sensitive
        self.lambda_dg = lambda_dg
        self.lambda_eq = lambda_eq
        self.lambda_di = lambda_di
        self.lambda_g = lambda_g
        self.di_margin = di_margin
        self.di_pairing = di_pairing
        self.di_cell_size = di_cell_size
        self.covariance_on = covariance_on
        self.output = output
        self.noise_std = noise_std
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, *, sensitive_features=None):
        """Train the invertible network on the latent space ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The latent space ``E`` (converted to float32), at least 2 rows
            and ``n_label_dims + n_sensitive_dims`` columns. A float32 array
            or read-only ``np.memmap`` is never copied or written: skorch
            batches its rows, the stratified L_di draws index it, and the
            training means of ``Z_Y`` and ``Z_S`` are computed 4,096 rows at a
            time; fit memory ~ the model, a batch and a few numbers per row
            (labels, groups, ``Z_Y`` and ``Z_S``).
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes), \
                default=None
            Sensitive attribute(s), any dtype; several columns are intersected.
            ``None`` fits without the sensitive head and L_di (no mitigation)
            and warns.

        Returns
        -------
        self : FairLatentFlow

        Raises
        ------
        InvalidParameterError
            For a hyperparameter outside its constraints (negative, non-finite,
            of the wrong type, an unknown option).
        ValueError
            For too few samples, too few features for ``n_label_dims +
            n_sensitive_dims``, sensitive features with ``n_sensitive_dims=0``,
            fewer than two classes, or invalid sensitive features.
        NonFiniteLossError
            If the training loss becomes NaN or infinite (e.g. inputs of
            extreme magnitude, or too large a learning rate).
        """
        start = self._start_fit(X, y, sensitive_features, ensure_min_samples=2)
        X, y_enc, sensitive = start.X, start.y_encoded, start.sensitive
        if y_enc is None:
            raise ValueError("FairLatentFlow requires y to be passed, but the target y is None.")
        needed = self.n_label_dims + self.n_sensitive_dims
        if needed > X.shape[1]:
            raise ValueError(
                f"FairLatentFlow assigns n_label_dims + n_sensitive_dims = {needed} "
                f"dimensions of Z but X has only {X.shape[1]} feature(s); lower them "
                "or pass a wider latent space."
            )
        if sensitive is not None and self.n_sensitive_dims == 0:
            raise ValueError("n_sensitive_dims must be >= 1 to use sensitive_features.")
        self.sensitive_groups_ = None if sensitive is None else sensitive.groups
        n_groups = 0 if sensitive is None else sensitive.n_groups

        # a read-only X (a memmap) is handed to skorch through row copies, so that
        # torch never wraps a non-writable array
        X_fit = {"X": X if X.flags.writeable else RowCopies(X)}
        if sensitive is not None:
            X_fit["sensitive"] = sensitive.codes
        with torch_seeded(start.seed, self.device_):
            self.net_ = make_net(
                FairFlowNetwork,
                FairFlowLoss,
                net_class=_StratifiedDiNet,
                module__n_features=X.shape[1],
                module__n_label_dims=self.n_label_dims,
                module__n_sensitive_dims=self.n_sensitive_dims,
                module__n_classes=len(self.classes_),
                module__n_groups=n_groups,
                module__n_blocks=self.n_blocks,
                module__hidden_size=self.hidden_size,
                module__noise_std=float(self.noise_std),
                criterion__n_label_dims=self.n_label_dims,
                criterion__n_sensitive_dims=self.n_sensitive_dims,
                criterion__covariance_on=self.covariance_on,
                criterion__lambda_sensitive=self.lambda_sensitive,
                criterion__lambda_dg=self.lambda_dg,
                criterion__lambda_eq=self.lambda_eq,
                criterion__lambda_di=self.lambda_di,
                criterion__lambda_g=self.lambda_g,
                criterion__di_margin=self.di_margin,
                criterion__di_pairing=self.di_pairing,
                device=self.device_,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                verbose=self.verbose,
                callbacks=[("clip", GradientNormClipping(gradient_clip_value=10.0)),
                           ("finite_loss", FiniteLoss("FairLatentFlow"))],
            )
            if sensitive is not None and self.di_cell_size is not None and self.lambda_di:
                device = torch.device(self.device_)
                y_t = torch.as_tensor(y_enc, dtype=torch.long, device=device)
                s_t = torch.as_tensor(sensitive.codes, dtype=torch.long, device=device)
                cells = [idx for k in range(len(self.classes_)) for g in range(n_groups)
                         if len(idx := torch.nonzero((y_t == k) & (s_t == g))[:, 0])]
                self.net_.di_pool = (X, y_t, s_t, cells)
                self.net_.di_cell_size = int(self.di_cell_size)
            try:
                self.net_.fit(X_fit, y_enc)
            finally:  # the fitted estimator keeps no copy of the training data
                self.net_.di_pool = None

        # Z_Y and Z_S of the training rows (a few columns), a chunk at a time
        k, m = self.n_label_dims, self.n_sensitive_dims
        z = self._run(lambda e: self._module.flow(e)[0][:, :k + m], X, k + m)
        z_y, z_s = self._split(z)
        self.label_means_ = np.stack([z_y[y_enc == k].mean(axis=0)
                                      for k in range(len(self.classes_))])
        self.sensitive_means_ = None
        if sensitive is not None:
            self.sensitive_means_ = np.stack([z_s[sensitive.codes == g].mean(axis=0)
                                              for g in range(n_groups)])
        return self

    # ----------------------------------------------------- torch helpers
    @property
    def _module(self):
        return self.net_.module_

    def _run(self, fn, array, width=None):
        """Apply a torch function to ``array`` in eval mode, 4096 rows at a time.

        ``array`` (an ndarray or a read-only ``np.memmap``) is read a chunk at
        a time and never copied whole; the output, float32 of shape
        (n_samples, width), is filled chunk by chunk (``width`` defaults to
        ``n_features_in_``; it is only needed for an empty ``array``).
        """
        module = self._module
        device = next(module.parameters()).device
        was_training = module.training
        module.eval()
        out = None
        try:
            with torch.no_grad():
                for rows in row_chunks(len(array), _CHUNK_ROWS):
                    batch = torch.as_tensor(np.array(array[rows], dtype=np.float32),
                                            device=device)
                    result = fn(batch).cpu().numpy()
                    if out is None:
                        out = np.empty((len(array), *result.shape[1:]), dtype=np.float32)
                    out[rows] = result
        finally:
            module.train(was_training)
        if out is None:
            return np.empty((0, self.n_features_in_ if width is None else width),
                            dtype=np.float32)
        return out

    def _latent(self, X, columns=slice(None)):
        """``Z[:, columns]`` of the rows ``X``, a chunk at a time."""
        width = len(range(self.n_features_in_)[columns])
        return self._run(lambda e: self._module.flow(e)[0][:, columns], X, width)

    def _split(self, z):
        k, m = self.n_label_dims, self.n_sensitive_dims
        return z[:, :k], z[:, k:k + m]

    # ------------------------------------------------------- transforms
    def transform(self, X):
        """Map ``E`` to the fair latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Read 4,096 rows at a time (a read-only float32 ``np.memmap`` is
            not copied); memory ~ the output plus one chunk.

        Returns
        -------
        Z : ndarray of dtype float32
            ``Z_Y`` of shape (n_samples, n_label_dims) with ``output="label"``,
            ``Z_S`` (n_samples, n_sensitive_dims) with ``"sensitive"``, or all
            of ``Z`` (n_samples, n_features_in_) with ``"all"``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        k, m = self.n_label_dims, self.n_sensitive_dims
        columns = {"label": slice(0, k), "sensitive": slice(k, k + m)}.get(self.output,
                                                                          slice(None))
        return self._latent(X, columns)

    def inverse_transform(self, Z):
        """Exact inverse of the flow: map a full ``Z`` back to ``E``.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features_in_)
            All of ``Z`` (as ``transform`` returns with ``output="all"``); a
            part of ``Z`` alone does not determine ``E``.

        Returns
        -------
        E : ndarray of shape (n_samples, n_features_in_), dtype float32

        Raises
        ------
        ValueError
            If ``Z`` does not have ``n_features_in_`` columns.
        """
        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.n_features_in_:
            raise ValueError(
                f"inverse_transform needs all of Z, shape (n_samples, {self.n_features_in_}); "
                f"got shape {Z.shape}. Use output='all' to obtain it from transform."
            )
        return self._run(self._module.flow.inverse, np.ascontiguousarray(Z))

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``z_label0``, ``z_sensitive0``, ``z_rest0``, ..."""
        check_is_fitted(self)
        k, m = self.n_label_dims, self.n_sensitive_dims
        names = ([f"z_label{i}" for i in range(k)] + [f"z_sensitive{i}" for i in range(m)]
                 + [f"z_rest{i}" for i in range(self.n_features_in_ - k - m)])
        if self.output == "label":
            names = names[:k]
        elif self.output == "sensitive":
            names = names[k:k + m]
        return np.asarray(names, dtype=object)

    # --------------------------------------------------- counterfactuals
    def _resolve_target(self, labels, own, target, what):
        """Codes of the target group/class for each row."""
        if target is None:
            if len(labels) != 2:
                raise ValueError(
                    f"flip={what!r} with {len(labels)} {what} groups needs target= one of "
                    f"{list(labels)!r}."
                )
            return 1 - own
        matches = [i for i, label in enumerate(labels) if label == target]
        if not matches:
            raise ValueError(f"target={target!r} is not one of the fitted {what} values "
                             f"{list(labels)!r}.")
        return np.full_like(own, matches[0])

    def counterfactual(self, X, *, flip="sensitive", sensitive_features=None, y=None,
                       target=None, strength=1.0):
        """Edit ``Z_S`` (or ``Z_Y``) toward another group (class) and invert.

        Each row's part ``Z_S`` is moved by ``strength * (mu_target - mu_own)``,
        the difference of the training means of ``Z_S`` of the target group
        and of the row's own group (``flip="label"``: the same on ``Z_Y`` with
        class means), the other parts of ``Z`` are kept, and the flow is
        inverted (arXiv:2412.17523, section 4, counterfactual explanations).
        Comparing a decision on ``X`` and on the result shows what the
        decision depends on: a fair classifier on ``Z_Y`` gives the same
        decision after ``flip="sensitive"`` (up to float32 round-off), a
        biased one on ``E`` may not.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Mapped, edited and inverted 4,096 rows at a time (a read-only
            float32 ``np.memmap`` is not copied); memory ~ the output.
        flip : {"sensitive", "label"}, default="sensitive"
        sensitive_features : array-like of shape (n_samples,), default=None
            The rows' own groups for ``flip="sensitive"``; optional: ``None``
            uses the groups predicted by the sensitive head on ``Z_S``.
            Values must be groups seen in ``fit``.
        y : array-like of shape (n_samples,), default=None
            The rows' own classes for ``flip="label"``; ``None`` uses the
            label head's prediction.
        target : group or class label, default=None
            Where to move every row. ``None`` with two groups (classes): the
            other one; required with more than two.
        strength : float, default=1.0
            Fraction of the mean difference to move (0 returns ``X``
            reconstructed; 1 moves a row to the target's mean offset).

        Returns
        -------
        X_cf : ndarray of shape (n_samples, n_features_in_), dtype float32

        Raises
        ------
        ValueError
            For an unknown ``flip``, ``flip="sensitive"`` on an estimator
            fitted without sensitive features, unseen groups or targets.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        if not isinstance(strength, Real) or isinstance(strength, bool):
            raise ValueError(f"strength must be a number; got {strength!r}.")
        k, m = self.n_label_dims, self.n_sensitive_dims
        module = self._module
        if flip == "sensitive":
            if self.sensitive_means_ is None:
                raise ValueError("flip='sensitive' needs an estimator fitted with "
                                 "sensitive_features.")
            labels, means, part = self.sensitive_groups_, self.sensitive_means_, slice(k, k + m)
            if sensitive_features is None:
                own = self._run(lambda e: module.sensitive_head(module.split(module.flow(e)[0])[1]),
                                X).argmax(axis=1)
            else:
                own = self._codes_of(sensitive_features, labels, X.shape[0], "sensitive")
        elif flip == "label":
            labels, means, part = self.classes_, self.label_means_, slice(0, k)
            if y is None:
                own = self._run(lambda e: module.label_head(module.split(module.flow(e)[0])[0]),
                                X).argmax(axis=1)
            else:
                own = self._codes_of(y, labels, X.shape[0], "label")
        else:
            raise ValueError(f"flip must be 'sensitive' or 'label'; got {flip!r}.")
        goal = self._resolve_target(labels, own, target, flip)
        # one chunk of rows at a time: Z, its edit and the inverse (memory ~ the output)
        out = np.empty(X.shape, dtype=np.float32)
        for rows in row_chunks(len(X), _CHUNK_ROWS):
            z = self._latent(X[rows])
            z[:, part] += strength * (means[goal[rows]] - means[own[rows]])
            out[rows] = self._run(module.flow.inverse, z)
        return out

    @staticmethod
    def _codes_of(values, labels, n_samples, what):
        """Codes (positions in ``labels``) of the rows' own groups or classes."""
        raw = as_label_column(values)  # tuples for several sensitive columns
        if len(raw) != n_samples:
            raise ValueError(f"{what} values have {len(raw)} rows but X has {n_samples}.")
        lookup = {label: i for i, label in enumerate(labels)}
        unseen = sorted({repr(v) for v in raw if v not in lookup})
        if unseen:
            raise ValueError(f"{what} values {unseen} were not seen in fit; fitted values: "
                             f"{list(labels)!r}.")
        return np.array([lookup[v] for v in raw], dtype=np.int64)
