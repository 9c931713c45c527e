"""LASSI: latent space smoothing for individually fair representations.

Peychev, Ruoss, Balunović, Baader, Vechev, "Latent Space Smoothing for
Individually Fair Representations", ECCV 2022 (arXiv:2111.13650).

* :class:`FlowTransformer` -- the generative model ``G = (E, D)``: a Glow
  normalizing flow fitted on ``X`` by maximum likelihood; ``transform`` is
  the encoder ``E``, ``inverse_transform`` the decoder ``D``
  (vector Glow :class:`~skfairlatent.nn.flows.VectorFlow` for tabular rows,
  multiscale :class:`~skfairlatent.nn.glow.ImageGlow` for images).
* :class:`LASSIRepresentation` -- step by step, Sec. 4.1-4.2:

  1. ``z = E(x)``;
  2. attribute vectors ``a_j`` from the sensitive attribute(s) (Sec. 4.1):
     mean latent with the attribute minus without, or the unit normal of a
     logistic-regression boundary; the similarity set is
     ``S(x) = {E(x) + sum_j t_j a_j : ||t||_2 <= epsilon}``;
  3. the representation ``R`` (MLP ending in a non-affine batch
     normalisation), an auxiliary linear classifier and an optional
     reconstruction network are trained on Eq. (5):
     ``lambda_cls CE + lambda_adv L_adv + lambda_rec L_rec`` with the random
     attack of Eq. (2): ``s`` uniform points of ``S(x)``, the farthest in
     ``R``-space;
  4. ``transform(X) = R(E(X))``; :meth:`LASSIRepresentation.center_smooth`
     gives the center-smoothed representation and its radius ``d_cs``.

Certification of a downstream :class:`~skfairlatent.CertifiedSmoothClassifier`
(Alg. 1) is :func:`skfairlatent.smoothing.certify_individual_fairness`,
also reachable as :meth:`LASSIRepresentation.certify`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import GradientNormClipping, LRScheduler
from torch import nn
from torch.nn import functional as F

from .base import (
    CHUNK_BYTES,
    CHUNK_ROWS,
    FiniteLoss,
    _FairLatentEstimator,
    check_finite_output,
    check_hidden_layer_sizes,
    check_sensitive_features,
    derive_seed,
    make_net,
    require_binary_groups,
    row_chunks,
    torch_seeded,
)
from .datasets._schema import StandardisedRows
from .exceptions import InvalidParameterError
from .nn.flows import VectorFlow, standard_normal_nll
from .nn.glow import ImageGlow
from .nn.modules import MLP
from .smoothing import (
    _BATCHED_LOADING,
    _mix,
    _row_seeds,
    center_smooth,
    certify_individual_fairness,
)

__all__ = ["FlowTransformer", "LASSIRepresentation"]

_ATTRIBUTE_VECTORS = ("mean_difference", "linear")
_COUNT = [Interval(Integral, 1, None, closed="left")]
_POSITIVE = [Interval(Real, 0, np.inf, closed="neither")]         # finite and > 0
_NON_NEGATIVE = [Interval(Real, 0, np.inf, closed="left")]        # finite and >= 0
_HIDDEN_LAYER_SIZES = ["array-like", Interval(Integral, 1, None, closed="left")]
#: Rows per forward pass of the flow in transform-like methods (divides CHUNK_ROWS).
_FLOW_BATCH = 4096
assert CHUNK_ROWS % _FLOW_BATCH == 0


def _check_finite(values, what, estimator):
    """:func:`check_finite_output` a chunk of rows at a time (no full float64 copy)."""
    for rows in row_chunks(len(values)):
        if not np.isfinite(values[rows]).all():
            check_finite_output(values, what, estimator)  # raises, counting all rows


def _column_mean(chunks):
    """Mean over rows of the row blocks ``chunks``, as NumPy's ``mean(axis=0)`` of their stack.

    NumPy sums axis 0 of a C-ordered array row after row into one accumulator
    (no pairwise summation) and then divides by the row count; this does the
    same one block at a time, so the result is bit-identical to
    ``np.concatenate(list(chunks)).mean(axis=0)`` in the blocks' dtype while
    only one block is held in memory.
    """
    total, count = None, 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        block = chunk if total is None else np.concatenate([total, chunk])
        total = np.add.reduce(block, axis=0, keepdims=True)
        count += len(chunk)
    mean = total[0]
    return np.true_divide(mean, np.intp(count), out=mean, casting="unsafe")


# =========================================================================== #
# Generative model G = (E, D)
# =========================================================================== #
class _DequantizedFlow(nn.Module):
    """A flow that adds dequantisation noise to its input in training mode.

    ``noise="gaussian"``: ``N(0, scale^2)`` (standardised tabular features, whose
    one-hot columns would otherwise give a degenerate density);
    ``noise="uniform"``: ``U[0, scale)`` (pixel values quantised in steps of
    ``scale``, Glow Sec. 5 / RealNVP).
    """

    def __init__(self, n_features, image_shape=None, n_blocks=4, hidden_size=64,
                 n_levels=2, noise="gaussian", noise_scale=0.2):
        super().__init__()
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        if self.image_shape is None:
            self.flow = VectorFlow(n_features, n_blocks=n_blocks, hidden_size=hidden_size)
        else:
            self.flow = ImageGlow(self.image_shape, n_levels=n_levels, n_steps=n_blocks,
                                  hidden_channels=hidden_size)
        self.noise = noise
        self.noise_scale = float(noise_scale)

    def forward(self, X):
        if self.training and self.noise_scale > 0:
            if self.noise == "uniform":
                X = X + self.noise_scale * torch.rand_like(X)
            else:
                X = X + self.noise_scale * torch.randn_like(X)
        if self.image_shape is not None:
            X = X.reshape(-1, *self.image_shape)
        return self.flow(X)

    def inverse(self, Z):
        X = self.flow.inverse(Z)
        return X.reshape(X.shape[0], -1)


class FlowNLLLoss(nn.Module):
    """Negative log-likelihood per dimension (nats) of a flow's ``(z, log_det)``."""

    def forward(self, output, y_true=None):
        z, log_det = output
        return standard_normal_nll(z, log_det) / z.shape[1]


class FlowTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _FairLatentEstimator):
    """Glow normalizing flow as a transformer: ``transform = E``, ``inverse_transform = D``.

    The bijective generative model ``G = (E, D)`` of LASSI (Peychev et al.
    2022, Sec. 4.1), whose latent space defines which individuals are
    similar. It is fitted on ``X`` by maximum likelihood under a standard
    normal base distribution (Glow, Kingma & Dhariwal 2018, Eq. 1-3). Tabular
    rows are standardised, then dequantised with Gaussian noise while
    training; images (rows flattened channels-first, with ``image_shape``)
    are centred (``x - 0.5``) and dequantised with uniform noise.

    Parameters
    ----------
    image_shape : tuple (c, h, w) or None, default=None
        ``None``: rows are vectors and the flow is a vector Glow
        (:class:`~skfairlatent.nn.flows.VectorFlow`). Otherwise each row of
        ``X`` is an image flattened channels-first, ``h`` and ``w`` divisible
        by ``2 ** n_levels``, and the flow is the multiscale
        :class:`~skfairlatent.nn.glow.ImageGlow`.
    n_blocks : int >= 1, default=4
        Vector Glow blocks, or steps of flow per level for images (Glow's K).
    hidden_size : int >= 1, default=64
        Width (channels for images) of the coupling networks.
    n_levels : int >= 1, default=2
        Squeeze/split levels of the image Glow (Glow's L); unused for vectors.
    dequantization : float >= 0 or None, default=None
        Scale of the training noise. ``None`` gives 0.2 for vectors (the
        standard deviation of Gaussian noise, in standard deviations of each
        column) and 1/256 for images (the width of uniform noise, one
        quantisation step of 8-bit pixels). The vector value was chosen on
        Adult. See the Defaults table in :doc:`/lassi`.
    max_epochs : int >= 1, default=20
    batch_size : int >= 1, default=256
    lr : float > 0, default=1e-3
        Adam learning rate.
    max_grad_norm : float > 0, default=1.0
        Gradients are clipped to this L2 norm.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    random_state : None, int or RandomState, default=None
    verbose : int, default=0

    Attributes
    ----------
    net_ : skorch net
        ``net_.module_.flow`` is the torch flow.
    mean_, scale_ : ndarray of shape (n_features,)
        Input standardisation (0.5 and 1 for images), computed in float64.
    n_features_in_ : int
    device_ : str

    Raises
    ------
    InvalidParameterError
        From ``fit``, for a hyperparameter outside its range, an
        ``image_shape`` that does not hold ``n_features`` values or whose
        sides are not divisible by ``2 ** n_levels``.
    NonFiniteLossError
        From ``fit``, if the training loss becomes NaN or inf.

    See Also
    --------
    LASSIRepresentation : fits a default FlowTransformer when ``flow=None``.

    Notes
    -----
    ``score_samples`` is the exact log-likelihood of the standardised data by
    the change of variables, ``log N(E(x); 0, I) + log |det dE/dx|``.
    ``get_feature_names_out()`` names the latent dimensions
    ``flowtransformer0, flowtransformer1, ...`` so that
    ``set_output(transform="pandas")`` works. Departure from Glow: the image
    flow models the split-off channels with the standard normal base
    (Glow learns a conditional prior); the map stays an exact bijection.

    References
    ----------
    Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1
    Convolutions", NeurIPS 2018 (arXiv:1807.03039).

    Examples
    --------
    >>> import numpy as np
    >>> from skfairlatent.lassi import FlowTransformer
    >>> X = np.random.RandomState(0).randn(100, 3).astype(np.float32)
    >>> flow = FlowTransformer(max_epochs=2, random_state=0, device="cpu").fit(X)
    >>> Z = flow.transform(X)
    >>> bool(np.allclose(flow.inverse_transform(Z), X, atol=1e-4))
    True
    """

    _parameter_constraints: dict = {
        **_FairLatentEstimator._parameter_constraints,
        "image_shape": [None, "array-like"],
        "n_blocks": _COUNT,
        "hidden_size": _COUNT,
        "n_levels": _COUNT,
        "dequantization": [None, *_NON_NEGATIVE],
        "max_epochs": _COUNT,
        "batch_size": _COUNT,
        "lr": _POSITIVE,
        "max_grad_norm": _POSITIVE,
    }

    def __init__(self, image_shape=None, n_blocks=4, hidden_size=64, n_levels=2,
                 dequantization=None, max_epochs=20, batch_size=256, lr=1e-3,
                 max_grad_norm=1.0, device="auto", random_state=None, verbose=0):
        self.image_shape = image_shape
        self.max_grad_norm = max_grad_norm
        self.n_blocks = n_blocks
        self.hidden_size = hidden_size
        self.n_levels = n_levels
        self.dequantization = dequantization
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_param_relations(self):
        if self.image_shape is None:
            return
        shape = tuple(self.image_shape)
        if len(shape) != 3 or not all(isinstance(v, Integral) and v >= 1 for v in shape):
            raise InvalidParameterError(
                f"image_shape must be None or three positive ints (c, h, w); got {shape!r}.")
        if shape[1] % 2 ** self.n_levels or shape[2] % 2 ** self.n_levels:
            raise InvalidParameterError(
                f"image height and width must be divisible by 2**n_levels = "
                f"{2 ** self.n_levels}; got image_shape={shape!r}.")

    def fit(self, X, y=None):
        """Fit the flow on ``X`` by maximum likelihood.

        ``X`` (a read-only float32 ``np.memmap`` included, never written) is read
        a chunk of rows at a time for the float64 column moments; the flow is
        trained on one standardised float32 copy of ``X``. Memory: ``X`` plus
        that copy plus one chunk; time linear in the rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            For a hyperparameter outside its range, or ``image_shape`` not
            matching the number of features.
        NonFiniteLossError
            If the training loss becomes NaN or inf.
        """
        start = self._start_fit(X, None, None, encode_y=False, mitigates=False)
        X = start.X
        image = self.image_shape is not None
        if image and int(np.prod(self.image_shape)) != X.shape[1]:
            raise InvalidParameterError(f"image_shape={self.image_shape!r} does not match "
                                        f"{X.shape[1]} features per row.")
        if image:
            self.mean_ = np.full(X.shape[1], 0.5)
            self.scale_ = np.ones(X.shape[1])
        else:
            # float64 (float32 overflows on x^2 for |x| ~ 1e20), one chunk at a time; the
            # same values as X.astype(np.float64).mean(axis=0) and .std(axis=0)
            chunks = list(row_chunks(len(X)))
            self.mean_ = _column_mean(X[rows].astype(np.float64) for rows in chunks)
            std = np.sqrt(_column_mean(np.square(X[rows].astype(np.float64) - self.mean_)
                                       for rows in chunks))
            self.scale_ = np.where(std > 1e-6 * np.maximum(1.0, np.abs(self.mean_)), std, 1.0)
        noise_scale = self.dequantization
        if noise_scale is None:
            noise_scale = 1.0 / 256 if image else 0.2
        self._n_features_out = X.shape[1]
        self.net_ = make_net(
            _DequantizedFlow, FlowNLLLoss, device=start.device, max_epochs=self.max_epochs,
            batch_size=self.batch_size, lr=self.lr, verbose=self.verbose,
            module__n_features=X.shape[1], module__image_shape=self.image_shape,
            module__n_blocks=self.n_blocks, module__hidden_size=self.hidden_size,
            module__n_levels=self.n_levels,
            module__noise="uniform" if image else "gaussian",
            module__noise_scale=float(noise_scale),
            callbacks=[("clip", GradientNormClipping(gradient_clip_value=self.max_grad_norm)),
                       ("finite_loss", FiniteLoss(type(self).__name__))],
            **_BATCHED_LOADING,
        )
        with torch_seeded(start.seed, start.device):
            # standardised a batch at a time: no standardised copy of all of X
            self.net_.fit(StandardisedRows(X, self.mean_, self.scale_), None)
        self.net_.module_.eval()
        return self

    def _standardize(self, X):
        """``(X - mean_) / scale_`` computed in float64, float32 out, a chunk at a time."""
        out = np.empty(np.shape(X), dtype=np.float32)
        for rows in row_chunks(len(out)):
            out[rows] = (np.asarray(X[rows], dtype=np.float64) - self.mean_) / self.scale_
        return out

    def _chunk_map(self, function, read, n_rows, width):
        """``function`` on tensors of at most ``_FLOW_BATCH`` rows, as a float32 array.

        ``read(rows)`` returns the float32 input rows ``rows`` (a slice of
        ``CHUNK_ROWS`` rows), so the input is read one chunk at a time; the
        blocks of ``_FLOW_BATCH`` rows that ``function`` sees do not depend on
        the chunking. Returns an array of shape (n_rows, *width).
        """
        out = np.empty((n_rows, *width), dtype=np.float32)
        # Wide rows take fewer rows per chunk (a multiple of _FLOW_BATCH, so the
        # flow's batches stay the same): a float64 chunk of X stays near 8 MiB.
        row_bytes = 8 * int(np.prod(self.mean_.shape))
        chunk_rows = min(CHUNK_ROWS, max(_FLOW_BATCH, CHUNK_BYTES // row_bytes
                                         // _FLOW_BATCH * _FLOW_BATCH))
        with torch.no_grad():
            for rows in row_chunks(n_rows, chunk_rows):
                chunk = torch.as_tensor(read(rows), device=self.device_)
                for s in range(0, len(chunk), _FLOW_BATCH):
                    out[rows.start + s:rows.start + s + _FLOW_BATCH] = (
                        function(chunk[s:s + _FLOW_BATCH]).cpu().numpy())
        return out

    def _encode(self, X):
        module = self.net_.module_.eval()
        Z = self._chunk_map(lambda x: module(x)[0], lambda rows: self._standardize(X[rows]),
                            len(X), (self._n_features_out,))
        _check_finite(Z, "the flow latents E(X) of transform", self)
        return Z

    def transform(self, X):
        """Encode: ``z = E(x)``, ndarray of shape (n_samples, n_features), float32.

        ``X`` (a read-only ``np.memmap`` included) is read a chunk of rows at a
        time; memory is the output plus one chunk.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self._encode(X)

    def inverse_transform(self, Z):
        """Decode: ``x = D(z)``, ndarray of shape (n_samples, n_features), float32.

        ``Z`` is read a chunk of rows at a time; memory is the output plus one chunk.
        """
        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float32)
        module = self.net_.module_.eval()
        X = self._chunk_map(module.inverse, lambda rows: np.array(Z[rows]), len(Z),
                            (self._n_features_out,))
        for rows in row_chunks(len(X)):
            X[rows] = X[rows] * self.scale_ + self.mean_
        return X

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` in nats per row (of the standardised data).

        ``X`` is read a chunk of rows at a time; memory is the output plus one chunk.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        module = self.net_.module_.eval()
        return self._chunk_map(
            lambda x: -standard_normal_nll(*module(x), reduction="none"),
            lambda rows: self._standardize(X[rows]), len(X), ())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # torch computes in float32
        return tags


# =========================================================================== #
# Representation R, auxiliary classifier, reconstruction network and Eq. (5)
# =========================================================================== #
def sample_similarity_set(n_rows, n_points, n_attributes, epsilon, generator=None, device="cpu"):
    """Draw ``t`` uniformly from the L2 ball of radius ``epsilon`` in R^n_attributes.

    Returns a tensor of shape (n_rows, n_points, n_attributes): uniform on
    ``[-epsilon, epsilon]`` for one attribute (LASSI Sec. 4.2's random attack).
    """
    direction = torch.randn((n_rows, n_points, n_attributes), generator=generator, device=device)
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    radius = torch.rand((n_rows, n_points, 1), generator=generator, device=device)
    return epsilon * radius.pow(1.0 / n_attributes) * direction


class _ProjectedLinear(nn.Linear):
    """``x -> W (I - U U^T) x + c``, ``U`` an orthonormal basis of span(A) (rows of ``basis``).

    Replaces the first linear layer of ``R`` when ``project_attributes=True``:
    ``R(z + t A) = R(z)`` for every ``t`` up to float rounding, so the
    adversarial loss of Eq. (2) is zero by construction rather than by
    training. ``W`` stays a free parameter; only its effect along span(A)
    is removed.
    """

    def __init__(self, linear, vectors):
        super().__init__(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            self.weight.copy_(linear.weight)
            if linear.bias is not None:
                self.bias.copy_(linear.bias)
        basis = np.linalg.qr(np.asarray(vectors, dtype=np.float64).T)[0].T   # (n_attributes, q)
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32))

    def effective_weight(self):
        """``W (I - U^T U)`` for ``U = basis``: the weight the layer applies."""
        return self.weight - (self.weight @ self.basis.T) @ self.basis

    def forward(self, x):
        return F.linear(x - (x @ self.basis.T) @ self.basis, self.weight, self.bias)


class LASSIModule(nn.Module):
    """``R`` (MLP + non-affine BatchNorm), ``C_aux`` (linear) and optional ``Q``.

    ``forward(z)`` returns ``(logits, logits_similar, adv, recon)``:
    ``logits`` (n, n_classes); ``logits_similar`` (n, s, n_classes) for
    points of ``S(x)`` when data augmentation is on (else empty); ``adv``
    (n,), ``||R(z) - R(z_adv)||_2`` in training (Eq. 2; zeros otherwise);
    ``recon`` (n,), ``||z - Q(R(z))||_2`` (Eq. 4; zeros without ``Q``).

    Training step, as in LASSI's code: the random attack draws ``s``
    uniform points ``z + t_i A`` of ``S(x)`` and keeps the one farthest
    from ``z`` in ``R``-space, ranked with ``R`` in eval mode and without
    gradient; the clean batch then goes through ``R`` in training mode, so
    the batch normalisation's batch statistics and running statistics come
    from clean points only, and the adversarial (and augmented) points are
    normalised with the clean batch's statistics in a separate pass.
    """

    def __init__(self, in_features, n_classes, attribute_vectors, hidden_layer_sizes=(128,),
                 n_components=32, epsilon=1.0, n_adv_samples=10, adversarial=True,
                 augment=False, reconstruction=False, project_attributes=False):
        super().__init__()
        self.encoder = nn.Sequential(
            MLP(in_features, tuple(hidden_layer_sizes), out_features=n_components),
            nn.BatchNorm1d(n_components, affine=False))
        vectors = np.asarray(attribute_vectors, dtype=np.float32).reshape(-1, in_features)
        if project_attributes and len(vectors):
            layers = self.encoder[0].layers
            layers[0] = _ProjectedLinear(layers[0], vectors)
        self.classifier = nn.Linear(n_components, n_classes)
        self.decoder = (MLP(n_components, tuple(reversed(hidden_layer_sizes)),
                            out_features=in_features) if reconstruction else None)
        self.register_buffer("attribute_vectors",
                             torch.as_tensor(np.asarray(attribute_vectors, dtype=np.float32)))
        self.epsilon = float(epsilon)
        self.n_adv_samples = int(n_adv_samples)
        self.adversarial = bool(adversarial)
        self.augment = bool(augment)

    def _normalize_like(self, h, mean, var):
        """Apply the final batch norm with given (clean-batch) statistics."""
        return (h - mean) / torch.sqrt(var + self.encoder[1].eps)

    def forward(self, z):
        n = z.shape[0]
        n_attributes = self.attribute_vectors.shape[0]
        perturb = self.training and n_attributes > 0 and (self.adversarial or self.augment)
        empty = z.new_zeros((n, 0, self.classifier.out_features))
        adv, logits_similar = z.new_zeros(n), empty
        if perturb:
            s = self.n_adv_samples
            t = sample_similarity_set(n, s, n_attributes, self.epsilon, device=z.device)
            similar = z[:, None, :] + t @ self.attribute_vectors          # (n, s, q)
            mlp, norm = self.encoder
            h = mlp(z)
            r = norm(h)                      # batch statistics of the clean points only
            mean, var = h.mean(dim=0), h.var(dim=0, unbiased=False)
            if self.adversarial:
                with torch.no_grad():        # the random attack, in eval mode (LASSI)
                    self.encoder.eval()
                    gap = (self.encoder(similar.reshape(n * s, -1)).reshape(n, s, -1)
                           - self.encoder(z)[:, None, :]).norm(dim=-1)
                    self.encoder.train()
                    farthest = gap.argmax(dim=1)
                z_adv = similar[torch.arange(n, device=z.device), farthest]
                r_adv = self._normalize_like(mlp(z_adv), mean, var)
                adv = (r_adv - r).norm(dim=-1)
            if self.augment:
                r_similar = self._normalize_like(mlp(similar.reshape(n * s, -1)), mean, var)
                logits_similar = self.classifier(r_similar.reshape(n, s, -1))
        else:
            r = self.encoder(z)
        recon = ((z - self.decoder(r)).norm(dim=1) if self.decoder is not None
                 else z.new_zeros(n))
        return self.classifier(r), logits_similar, adv, recon


class LASSILoss(nn.Module):
    """Eq. (5): ``lambda_cls CE + lambda_adv mean(max(0, L_adv - margin)) + lambda_rec L_rec``.

    With data augmentation (the DataAug baseline) the cross-entropy averages
    over the row and its ``s`` similar points. The weights have no defaults
    here: :class:`LASSIRepresentation` passes its own.
    """

    def __init__(self, lambda_cls, lambda_adv, lambda_rec=0.0, adv_margin=0.0):
        super().__init__()
        self.lambda_cls = lambda_cls
        self.lambda_adv = lambda_adv
        self.lambda_rec = lambda_rec
        self.adv_margin = adv_margin

    def forward(self, output, y_true):
        logits, logits_similar, adv, recon = output
        y = y_true.long().reshape(-1)
        loss = logits.new_zeros(())
        if self.lambda_cls:
            if logits_similar.shape[1]:
                s = logits_similar.shape[1]
                all_logits = torch.cat([logits[:, None], logits_similar], dim=1)
                ce = F.cross_entropy(all_logits.reshape(-1, logits.shape[1]),
                                     y.repeat_interleave(s + 1))
            else:
                ce = F.cross_entropy(logits, y)
            loss = loss + self.lambda_cls * ce
        if self.lambda_adv:
            loss = loss + self.lambda_adv * F.relu(adv - self.adv_margin).mean()
        if self.lambda_rec:
            loss = loss + self.lambda_rec * recon.mean()
        return loss


def _attribute_columns(sensitive_features, n_samples):
    """One validated binary attribute per column of ``sensitive_features``."""
    if isinstance(sensitive_features, pd.DataFrame):
        columns = [sensitive_features.iloc[:, j] for j in range(sensitive_features.shape[1])]
    else:
        array = np.asarray(sensitive_features, dtype=object)
        columns = ([array[:, j] for j in range(array.shape[1])] if array.ndim == 2
                   else [sensitive_features])
    attributes = []
    for column in columns:
        encoded = check_sensitive_features(column, n_samples)
        require_binary_groups(encoded, "LASSIRepresentation (one attribute vector per column)")
        attributes.append(encoded)
    return attributes


class LASSIRepresentation(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                          _FairLatentEstimator):
    """Individually fair representation learned in a flow's latent space (LASSI).

    Two people are similar when their latents under a normalizing flow
    ``E`` differ only along the sensitive attribute's latent direction ``a``:
    ``S(x) = {E(x) + t a : ||t||_2 <= epsilon}`` (Peychev et al. 2022,
    Sec. 4.1). ``fit`` learns ``a`` from the sensitive features and trains a
    representation ``R`` that maps all of ``S(x)`` close together (Eq. 5,
    with the random attack of Eq. 2); ``transform`` returns ``R(E(X))``. A
    :class:`~skfairlatent.CertifiedSmoothClassifier` fitted on that output
    can then be certified individually fair row by row with
    :meth:`certify` (Alg. 1).

    Parameters
    ----------
    flow : transformer or None, default=None
        The bijective generative model ``G = (E, D)``: any transformer with
        ``transform`` (encoder) and ``inverse_transform`` (decoder). ``None``
        fits a default :class:`FlowTransformer` on ``X``; an unfitted
        transformer is cloned and fitted on ``X``; a fitted one is used as is.
        (``sklearn.base.clone``, used by ``GridSearchCV``, returns estimator
        parameters unfitted, so the flow is then refitted on each training
        split; wrap a pre-fitted flow in ``sklearn.frozen.FrozenEstimator``
        to keep it.)
    attribute_vector : {"mean_difference", "linear"} or array-like, default="mean_difference"
        How to compute one latent direction per sensitive attribute
        (Sec. 4.1): ``"mean_difference"``, mean latent of the group with the
        attribute (the second of the two sorted group labels) minus the mean
        of the other group; ``"linear"``, the unit normal of a
        logistic-regression boundary separating the groups, pointing to the
        second group. An array of shape (n_attributes, n_latent) gives the
        vectors directly (sensitive features are then not needed).
    normalize_attribute : bool, default=False
        Scale each attribute vector to unit L2 norm (``"linear"`` always is).
    epsilon : float > 0, default=1.0
        Radius of the similarity set in attribute coefficients ``t``
        (paper: 1 for mean differences, 10 for unit normals).
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Hidden layers of ``R`` (paper, 64x64 images: (2048, 1024)).
    n_components : int >= 1, default=32
        Output width ``k`` of ``R`` (paper: 512).
    lambda_cls : float >= 0, default=1.0
        ``lambda_1`` of Eq. (5), weight of the auxiliary cross-entropy.
        ``lambda_cls=0`` with ``lambda_rec > 0`` is the transfer
        (unsupervised) setting, where ``y`` may be None.
    lambda_adv : float >= 0, default=0.3
        ``lambda_2`` of Eq. (5), weight of the adversarial loss
        ``max_{z' in S(x)} ||R(z) - R(z')||_2``; ``lambda_adv=0`` (with
        ``lambda_rec=0``) is the paper's Naive baseline. 0.3 was chosen on a
        tuning seed for COMPAS and Adult. See the Defaults table in
        :doc:`/lassi`.
    lambda_rec : float >= 0, default=0.0
        ``lambda_3`` of Eq. (5), weight of the reconstruction loss
        ``||z - Q(R(z))||_2`` (Eq. 4); ``> 0`` adds the network ``Q``.
    n_adv_samples : int >= 1, default=10
        ``s``, points of ``S(x)`` drawn by the random attack (and by data
        augmentation).
    adv_margin : float >= 0, default=0.0
        Hinge of the adversarial loss, ``max(0, L_adv - adv_margin)``.
    data_augmentation : bool, default=False
        The DataAug baseline: cross-entropy also on ``s`` random points of
        ``S(x)`` per row and epoch.
    project_attributes : bool, default=False
        Not in the paper. Remove the attribute directions from ``R``'s input:
        the first linear layer computes ``W (I - U U^T) z + c``, ``U`` an
        orthonormal basis of the attribute vectors' span, so
        ``R(z + t A) = R(z)`` up to float rounding and ``L_adv`` is zero by
        construction. Whatever label information lies along span(A) is lost.
    max_epochs : int >= 1, default=20
    batch_size : int >= 1, default=256
    lr : float > 0, default=1e-3
        Adam learning rate (paper).
    lr_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"`` anneals the learning rate from ``lr`` towards 0 over
        ``max_epochs`` (``torch.optim.lr_scheduler.CosineAnnealingLR``, one
        step per epoch; not in the paper), which lets the first layer's
        response to a large attribute vector settle below the floor that
        Adam's constant step leaves. See the Defaults table in :doc:`/lassi`.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    random_state : None, int or RandomState, default=None
    verbose : int, default=0

    Attributes
    ----------
    flow_ : fitted flow transformer
        ``E = flow_.transform``, ``D = flow_.inverse_transform``.
    attribute_vectors_ : ndarray of shape (n_attributes, n_latent), float32
        The rows of ``A``; empty (0 rows) when fitted without sensitive features.
    attribute_groups_ : list of ndarray
        The two group labels of each attribute (negative, positive).
    classes_ : ndarray of shape (n_classes,)
        Labels of the auxiliary classifier (``[0]`` when ``lambda_cls = 0``
        and ``y`` is None).
    net_ : skorch net holding :class:`LASSIModule`.
    n_features_in_ : int
    device_ : str

    Raises
    ------
    InvalidParameterError
        From ``fit``, for any hyperparameter outside its range.
    ValueError
        From ``fit``, for a sensitive attribute with other than two groups,
        or ``y=None`` with ``lambda_cls > 0``.
    NonFiniteLossError
        From ``fit``, if a training loss becomes NaN or inf.

    See Also
    --------
    FlowTransformer : the default generative model ``G``.
    skfairlatent.CertifiedSmoothClassifier : the downstream classifier ``C``.
    skfairlatent.smoothing.certify_individual_fairness : Alg. 1.

    Notes
    -----
    ``fit`` minimises Eq. (5),
    ``lambda_cls CE(C_aux(R(z)), y) + lambda_adv max(0, L_adv - adv_margin)
    + lambda_rec ||z - Q(R(z))||_2``, with ``L_adv = ||R(z) - R(z_adv)||_2``
    and ``z_adv`` the farthest in ``R``-space of ``s`` points drawn uniformly
    from ``S(x)`` (Eq. 2, the random attack). As in the authors' code, the
    farthest point is chosen with ``R`` in eval mode and without gradient,
    and the final batch normalisation's statistics come from the clean batch
    only; the perturbed points are normalised with them. ``R`` ends in a
    non-affine batch normalisation, so its output has unit variance per
    component, which fixes the scale of ``d_cs`` and of the classifier's
    noise. With several attributes, ``t`` is drawn uniformly from the L2 ball
    of radius ``epsilon`` in ``R^n_attributes``. ``get_feature_names_out()``
    returns ``lassirepresentation0, ...`` so that
    ``set_output(transform="pandas")`` works.

    References
    ----------
    Peychev, Ruoss, Balunović, Baader, Vechev, "Latent Space Smoothing for
    Individually Fair Representations", ECCV 2022 (arXiv:2111.13650).

    Examples
    --------
    >>> import numpy as np
    >>> from skfairlatent import CertifiedSmoothClassifier, LASSIRepresentation
    >>> rng = np.random.RandomState(0)
    >>> A = rng.randint(0, 2, 200)
    >>> X = rng.randn(200, 4).astype(np.float32)
    >>> X[:, 0] += 2.0 * A
    >>> y = (X[:, 1] > 0).astype(int)
    >>> rep = LASSIRepresentation(max_epochs=2, random_state=0, device="cpu").fit(
    ...     X, y, sensitive_features=A)
    >>> clf = CertifiedSmoothClassifier(max_epochs=2, random_state=0, device="cpu").fit(
    ...     rep.transform(X), y)
    >>> report = rep.certify(clf, X[:2], n0_cs=500, n_cs=500, n0_rs=50, n_rs=500,
    ...                      random_state=0)
    >>> list(report.columns)
    ['prediction', 'abstain', 'certified', 'd_cs', 'd_rs']
    """

    _parameter_constraints: dict = {
        **_FairLatentEstimator._parameter_constraints,
        "flow": [None, HasMethods(["fit", "transform", "inverse_transform"])],
        "attribute_vector": [StrOptions(set(_ATTRIBUTE_VECTORS)), "array-like"],
        "normalize_attribute": ["boolean"],
        "epsilon": _POSITIVE,
        "hidden_layer_sizes": _HIDDEN_LAYER_SIZES,
        "n_components": _COUNT,
        "lambda_cls": _NON_NEGATIVE,
        "lambda_adv": _NON_NEGATIVE,
        "lambda_rec": _NON_NEGATIVE,
        "n_adv_samples": _COUNT,
        "adv_margin": _NON_NEGATIVE,
        "data_augmentation": ["boolean"],
        "project_attributes": ["boolean"],
        "max_epochs": _COUNT,
        "batch_size": _COUNT,
        "lr": _POSITIVE,
        "lr_schedule": [StrOptions({"constant", "cosine"})],
    }

    def __init__(self, flow=None, attribute_vector="mean_difference", normalize_attribute=False,
                 epsilon=1.0, hidden_layer_sizes=(128,), n_components=32, lambda_cls=1.0,
                 lambda_adv=0.3, lambda_rec=0.0, n_adv_samples=10, adv_margin=0.0,
                 data_augmentation=False, project_attributes=False, max_epochs=20,
                 batch_size=256, lr=1e-3, lr_schedule="constant", device="auto",
                 random_state=None, verbose=0):
        self.flow = flow
        self.attribute_vector = attribute_vector
        self.normalize_attribute = normalize_attribute
        self.epsilon = epsilon
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_components = n_components
        self.lambda_cls = lambda_cls
        self.lambda_adv = lambda_adv
        self.lambda_rec = lambda_rec
        self.n_adv_samples = n_adv_samples
        self.adv_margin = adv_margin
        self.data_augmentation = data_augmentation
        self.project_attributes = project_attributes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_param_relations(self):
        check_hidden_layer_sizes(self.hidden_layer_sizes)

    def _fit_flow(self, X, seed):
        if self.flow is None:
            flow = FlowTransformer(device=self.device, random_state=seed, verbose=self.verbose)
            return flow.fit(X)
        try:
            check_is_fitted(self.flow)
            return self.flow
        except NotFittedError:
            return clone(self.flow).fit(X)

    def _attribute_vectors(self, Z, sensitive_features):
        if not isinstance(self.attribute_vector, str):
            vectors = np.atleast_2d(np.asarray(self.attribute_vector, dtype=np.float32))
            if vectors.shape[1] != Z.shape[1]:
                raise InvalidParameterError(
                    f"attribute_vector has {vectors.shape[1]} columns but the flow's latent "
                    f"space has {Z.shape[1]} dimensions.")
            groups = [np.array([None, None], dtype=object)] * len(vectors)
        elif sensitive_features is None:
            return np.zeros((0, Z.shape[1]), dtype=np.float32), []
        else:
            vectors, groups = [], []
            for attribute in _attribute_columns(sensitive_features, Z.shape[0]):
                positive = attribute.codes == 1
                if self.attribute_vector == "mean_difference":
                    # Z[positive].mean(axis=0) - Z[~positive].mean(axis=0), a chunk at a time
                    chunks = list(row_chunks(len(Z)))
                    vector = (_column_mean(Z[rows][positive[rows]] for rows in chunks)
                              - _column_mean(Z[rows][~positive[rows]] for rows in chunks))
                else:
                    logistic = LogisticRegression(max_iter=1000).fit(Z, attribute.codes)
                    vector = logistic.coef_[0] / np.linalg.norm(logistic.coef_[0])
                vectors.append(vector)
                groups.append(attribute.groups)
            vectors = np.asarray(vectors, dtype=np.float32)
        if self.normalize_attribute:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
        return vectors.astype(np.float32), groups

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None, *, sensitive_features=None):
        """Fit the flow (if needed), the attribute vectors and ``R`` (Eq. 5).

        ``X`` (a read-only float32 ``np.memmap`` included, never written) is
        read a chunk of rows at a time; ``R`` is trained on the flow latents
        ``E(X)``, held as one float32 array of ``X``'s shape. Memory: ``X``
        plus one array of its size (the flow's standardised training copy,
        then ``E(X)``) plus one chunk; time linear in the rows. With
        ``attribute_vector="linear"`` the logistic regression is fitted on
        all of ``E(X)`` (scikit-learn's copies).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
            Labels of the auxiliary classification task; required when
            ``lambda_cls > 0``.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
            One binary attribute per column (each column gives one attribute
            vector). ``None`` warns and trains without the adversarial loss.

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            For a hyperparameter outside its range.
        ValueError
            For a non-binary attribute, or ``y`` missing with ``lambda_cls > 0``.
        NonFiniteLossError
            If a training loss becomes NaN or inf.
        """
        if y is None:
            self._validate_params()
            if self.lambda_cls > 0:
                raise ValueError("LASSIRepresentation requires y to be passed, but the target y "
                                 "is None: y is needed when lambda_cls > 0; pass "
                                 "lambda_cls=0 for the unsupervised (transfer) setting.")
        from_groups = isinstance(self.attribute_vector, str)  # else the vectors are given
        start = self._start_fit(X, y, sensitive_features if from_groups else None,
                                mitigates=from_groups)
        X, seed = start.X, start.seed
        if y is None:
            self.classes_, y_enc = np.array([0]), np.zeros(X.shape[0], dtype=np.int64)
        else:
            y_enc = start.y_encoded
        if start.sensitive is None:
            sensitive_features = None
        self.flow_ = self._fit_flow(X, seed)
        Z = np.asarray(self.flow_.transform(X), dtype=np.float32)
        self.attribute_vectors_, self.attribute_groups_ = self._attribute_vectors(
            Z, sensitive_features)
        self.net_ = make_net(
            LASSIModule, LASSILoss, device=start.device, max_epochs=self.max_epochs,
            batch_size=self.batch_size, lr=self.lr, verbose=self.verbose,
            module__in_features=Z.shape[1], module__n_classes=len(self.classes_),
            module__attribute_vectors=self.attribute_vectors_,
            module__hidden_layer_sizes=check_hidden_layer_sizes(self.hidden_layer_sizes),
            module__n_components=self.n_components, module__epsilon=float(self.epsilon),
            module__n_adv_samples=self.n_adv_samples,
            module__adversarial=self.lambda_adv > 0,
            module__augment=bool(self.data_augmentation),
            module__reconstruction=self.lambda_rec > 0,
            module__project_attributes=bool(self.project_attributes),
            criterion__lambda_cls=self.lambda_cls, criterion__lambda_adv=self.lambda_adv,
            criterion__lambda_rec=self.lambda_rec, criterion__adv_margin=self.adv_margin,
            iterator_train__drop_last=len(Z) > self.batch_size,
            callbacks=[("finite_loss", FiniteLoss(type(self).__name__))] + (
                [("lr_schedule", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                                             T_max=self.max_epochs, step_every="epoch"))]
                if self.lr_schedule == "cosine" else []),
            **_BATCHED_LOADING,
        )
        with torch_seeded(seed, start.device):
            self.net_.fit(Z, y_enc)
        self.net_.module_.eval()
        self._n_features_out = int(self.n_components)
        return self

    # --------------------------------------------------------------- transform
    def encode_latent(self, X):
        """``z = E(x)``: the flow latents, ndarray (n_samples, n_latent), float32.

        ``X`` is read a chunk of rows at a time (with the default flow).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return np.asarray(self.flow_.transform(X), dtype=np.float32)

    @torch.no_grad()
    def represent_latent(self, Z):
        """``R(z)`` for flow latents ``Z`` (n, n_latent): ndarray (n, n_components), float32."""
        check_is_fitted(self)
        encoder = self.net_.module_.eval().encoder
        Z = torch.as_tensor(np.asarray(Z, dtype=np.float32), device=self.device_)
        R = torch.cat([encoder(Z[s:s + 8192]) for s in range(0, len(Z), 8192)]
                      or [Z.new_zeros((0, self.n_components))]).cpu().numpy()
        _check_finite(R, "the representation R(E(X)) of transform", self)
        return R


    def transform(self, X):
        """The representation ``R(E(X))``: ndarray (n_samples, n_components), float32.

        Memory: the output and ``E(X)`` (n_samples, n_latent), float32.
        """
        return self.represent_latent(self.encode_latent(X))

    def generate_similar(self, X, t):
        """Decode similar individuals ``D(E(x) + t A)`` (the set ``S_in(x)`` of Sec. 4.1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        t : float or array-like of shape (n_attributes,) or (n_samples, n_attributes)
            Attribute coefficients (``||t||_2 <= epsilon`` stays in ``S(x)``).

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        Z = self.encode_latent(X)
        n_attributes = len(self.attribute_vectors_)
        t = np.asarray(t, dtype=np.float32)
        t = np.full((1, n_attributes), t) if t.ndim == 0 else t.reshape(-1, n_attributes)
        t = np.broadcast_to(t, (len(Z), n_attributes))
        return self.flow_.inverse_transform(Z + t @ self.attribute_vectors_)

    def _smoothing_function(self):
        """``(z, t) -> R(z + t A)`` on tensors, for :func:`.smoothing.center_smooth`.

        ``z`` (b, n_latent), ``t`` (b, m, n_attributes) -> (b, m, n_components).
        The first linear layer ``x -> W x + c`` of ``R`` is applied as
        ``(W z + c) + t (W A^T)``: one product per row instead of one per
        noise sample (the same map up to float rounding), which matters when
        the latent space is wide (images).
        """
        encoder = self.net_.module_.eval().encoder
        vectors = self.net_.module_.attribute_vectors
        device = self.device_
        layers = list(encoder[0].layers)
        first = layers[0] if layers and isinstance(layers[0], nn.Linear) else None
        if first is not None:
            rest = nn.Sequential(*layers[1:], encoder[1])
            with torch.no_grad():
                weight = (first.effective_weight() if hasattr(first, "effective_weight")
                          else first.weight)
                direction = vectors @ weight.T                             # (n_attributes, h1)

        @torch.no_grad()
        def func(z, t):
            z, t = z.to(device), t.to(device)
            b, m = t.shape[0], t.shape[1]
            if first is None:
                points = z[:, None, :] + t @ vectors
                out = encoder(points.reshape(b * m, -1))
            else:
                hidden = first(z)[:, None, :] + t @ direction               # (b, m, h1)
                out = rest(hidden.reshape(b * m, -1))
            return out.reshape(b, m, -1).cpu()

        return func

    def center_smooth(self, X, *, sigma=0.5, n0=10_000, n=10_000, alpha=0.01, delta=0.05,
                      beta=2.0, center="candidates", n_candidates=64, random_state=None,
                      batch_size=None):
        """Center-smoothed representation ``r_cs`` and its radius bound ``d_cs``.

        Center smoothing (Kumar & Goldstein 2021) of ``t -> R(E(x) + t A)``
        with noise ``t ~ N(0, sigma^2 I)`` on the attribute coefficients only
        (LASSI Sec. 4.4): with probability at least ``1 - alpha``, for every
        non-abstaining row, every individual of ``S(x)`` (``||t||_2 <= epsilon``)
        has a smoothed representation within ``d_cs`` of ``r_cs``.

        Each row's noise is seeded by
        :func:`~skfairlatent.smoothing.row_seeds` (``random_state``, the row's
        values and its count of earlier repeats in ``X``; repeated rows get
        independent noise), exactly as step 1 of
        :func:`~skfairlatent.smoothing.certify_individual_fairness`: with the
        same arguments both give the same ``r_cs`` and ``d_cs``.

        ``X`` is read, encoded and smoothed ``CHUNK_ROWS`` rows at a time: memory
        is the outputs plus one chunk's latents and noise samples; the results
        do not depend on the chunks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sigma : float > 0, default=0.5
        n0, n : int, default=10000, 10000
        alpha : float in (0, 1), default=0.01
        delta : float in (0, 1/2), default=0.05
        beta : float >= 2, default=2.0
        center : {"candidates", "exact"}, default="candidates"
        n_candidates : int >= 32, default=64
            See :func:`~skfairlatent.smoothing.center_smooth`.
        random_state : None, int or RandomState
        batch_size : int or None

        Returns
        -------
        centers : ndarray of shape (n_samples, n_components), float32 (NaN rows where abstaining)
        d_cs : ndarray of shape (n_samples,), float64 (NaN where abstaining, inf if unbounded)
        """
        if len(getattr(self, "attribute_vectors_", ())) == 0:
            check_is_fitted(self)
            raise ValueError("No attribute vector: fit with sensitive_features first.")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        func = self._smoothing_function()
        # all rows' seeds first (repeats counted over X), stream 1 as in Alg. 1's step 1
        seeds = [_mix(seed, 1) for seed in _row_seeds(X, derive_seed(random_state))]
        centers, radii = [], []
        for rows in row_chunks(len(X)):  # X is read and encoded a chunk at a time
            Z = np.asarray(self.flow_.transform(X[rows]), dtype=np.float32)
            result = center_smooth(func, Z, noise_dim=len(self.attribute_vectors_),
                                   sigma=sigma, epsilon=float(self.epsilon), n0=n0, n=n,
                                   alpha=alpha, delta=delta, beta=beta, center=center,
                                   n_candidates=n_candidates, batch_size=batch_size,
                                   seeds=seeds[rows])
            centers.append(result.center)
            radii.append(result.radius)
        return np.concatenate(centers), np.concatenate(radii)

    def certify(self, classifier, X, **kwargs):
        """Alg. 1 with ``classifier``.

        See :func:`~skfairlatent.smoothing.certify_individual_fairness`.
        """
        return certify_individual_fairness(self, classifier, X, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.lambda_cls > 0
        tags.transformer_tags.preserves_dtype = ["float32"]  # torch computes in float32
        return tags
