"""Normalizing flows on vectors: a Glow-style invertible network.

A :class:`VectorFlow` is a stack of blocks, each block being the three steps
of Glow (Kingma & Dhariwal, 2018, section 3) adapted from images to vectors:

1. :class:`ActNorm` -- a per-feature affine map, initialised from the first
   batch it sees so that its output has zero mean and unit variance
   (Glow section 3.1);
2. :class:`InvertibleLinear` -- a learned invertible linear mixing of the
   features, LU-parametrised so that its log-determinant is a sum of
   ``n_features`` terms (Glow section 3.2, "LU decomposition"; the vector
   analogue of the invertible 1x1 convolution);
3. :class:`AffineCoupling` -- an affine coupling layer (Dinh et al., 2017,
   RealNVP; Glow section 3.3): half of the features condition a bounded scale
   and a shift applied to the other half. The last layer of the conditioner
   is zero-initialised, so every coupling starts as the identity.

Every layer maps ``x`` of shape ``(n, d)`` to ``(y, log_det)`` with
``log_det`` of shape ``(n,)``, ``log_det[i] = log |det dy_i / dx_i|``, and has
an exact ``inverse``. :func:`standard_normal_nll` turns ``(z, log_det)`` into
the negative log-likelihood of ``x`` under the flow with a standard-normal
base distribution (the change-of-variables formula, Glow eq. 2-3).

This module is shared by :mod:`skfairlatent.fair_flow` (FairLatentFlow, the
invertible network of "Constructing Fair Latent Space for Intersection of
Fairness and Explainability", arXiv:2412.17523) and :mod:`skfairlatent.lassi`
(the generative model that defines LASSI's similarity sets). No scikit-learn
here.

References
----------
D. P. Kingma, P. Dhariwal, "Glow: Generative Flow with Invertible 1x1
Convolutions", NeurIPS 2018 (arXiv:1807.03039).
L. Dinh, J. Sohl-Dickstein, S. Bengio, "Density estimation using Real NVP",
ICLR 2017 (arXiv:1605.08803).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from skfairlatent.nn.modules import MLP

__all__ = [
    "ActNorm",
    "InvertibleLinear",
    "AffineCoupling",
    "VectorFlow",
    "standard_normal_logprob",
    "standard_normal_nll",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_input(x, n_features, name):
    if x.dim() != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"{name} expects a tensor of shape (n_samples, {n_features}); "
            f"got shape {tuple(x.shape)}."
        )


class ActNorm(nn.Module):
    """Per-feature affine normalisation with data-dependent initialisation.

    ``y = (x + loc) * exp(log_scale)``, so ``log|det| = sum(log_scale)`` for
    every row (Glow, Kingma & Dhariwal 2018, section 3.1 and Table 1).

    On the first call to :meth:`forward` (in any mode) ``loc`` and
    ``log_scale`` are set from that batch so that its output has zero mean
    and unit (biased) variance per feature; afterwards they are ordinary
    trainable parameters. A feature that is constant in the first batch gets
    scale 1. Calling :meth:`inverse` before any forward pass uses the
    identity. Whether the layer is initialised is stored in the buffer
    ``initialized`` and therefore travels with ``state_dict`` and pickles.

    Parameters
    ----------
    n_features : int
        Width ``d`` of the input.
    data_init : bool, default=True
        If False, the layer starts (and stays until trained) as the identity.
    eps : float, default=1e-6
        Standard deviations below ``eps`` count as a constant feature.
    """

    def __init__(self, n_features, data_init=True, eps=1e-6):
        super().__init__()
        self.n_features = int(n_features)
        self.eps = float(eps)
        self.loc = nn.Parameter(torch.zeros(self.n_features))
        self.log_scale = nn.Parameter(torch.zeros(self.n_features))
        self.register_buffer("initialized", torch.tensor(not data_init))

    @torch.no_grad()
    def _initialize(self, x):
        mean = x.mean(dim=0)
        std = x.std(dim=0, unbiased=False)
        std = torch.where(std > self.eps, std, torch.ones_like(std))
        self.loc.copy_(-mean)
        self.log_scale.copy_(-torch.log(std))
        self.initialized.fill_(True)

    def forward(self, x):
        """Map ``x`` (n, d) to ``(y, log_det)`` with ``log_det`` of shape (n,)."""
        _check_input(x, self.n_features, "ActNorm")
        if not bool(self.initialized):
            self._initialize(x)
        y = (x + self.loc) * torch.exp(self.log_scale)
        log_det = self.log_scale.sum().expand(x.shape[0])
        return y, log_det

    def inverse(self, y):
        """Exact inverse: ``x = y * exp(-log_scale) - loc``."""
        _check_input(y, self.n_features, "ActNorm.inverse")
        return y * torch.exp(-self.log_scale) - self.loc


class InvertibleLinear(nn.Module):
    """Invertible linear mixing ``y = x W^T``, LU-parametrised.

    ``W = P L (U + diag(sign * exp(log_s)))`` with ``P`` a fixed permutation,
    ``L`` unit lower triangular, ``U`` strictly upper triangular and
    ``sign``/``log_s`` the signs and log-magnitudes of U's diagonal (Glow,
    section 3.2). Hence ``log|det W| = sum(log_s)``, ``O(d)`` instead of
    ``O(d^3)``, and ``W`` stays invertible for any value of the parameters.
    ``W`` starts as a random rotation (QR of a Gaussian matrix, drawn from
    torch's global generator), so ``log|det W| = 0`` at initialisation.

    Parameters
    ----------
    n_features : int
        Width ``d`` of the input.
    """

    def __init__(self, n_features):
        super().__init__()
        d = self.n_features = int(n_features)
        q, _ = torch.linalg.qr(torch.randn(d, d))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(d, d), diagonal=-1))
        self.register_buffer("eye", torch.eye(d))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, diagonal=1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def _factors(self):
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def weight(self):
        """The current matrix ``W`` of shape (d, d)."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def forward(self, x):
        """Map ``x`` (n, d) to ``(x W^T, log|det W|)``; log_det of shape (n,)."""
        _check_input(x, self.n_features, "InvertibleLinear")
        y = x @ self.weight().T
        log_det = self.log_s.sum().expand(x.shape[0])
        return y, log_det

    def inverse(self, y):
        """Exact inverse by two triangular solves: ``x^T = U^-1 L^-1 P^T y^T``."""
        _check_input(y, self.n_features, "InvertibleLinear.inverse")
        lower, upper = self._factors()
        rhs = self.perm.T.to(y.dtype) @ y.T
        rhs = torch.linalg.solve_triangular(lower.to(y.dtype), rhs, upper=False,
                                            unitriangular=True)
        x_t = torch.linalg.solve_triangular(upper.to(y.dtype), rhs, upper=True)
        return x_t.T


class AffineCoupling(nn.Module):
    """Affine coupling layer with a bounded log-scale.

    The input is split into ``x_a = x[:, :d_a]`` (``d_a = d // 2``) and
    ``x_b = x[:, d_a:]``; a conditioner MLP maps ``x_a`` to ``(h_s, t)`` and

        y_a = x_a,   y_b = x_b * exp(s) + t,   s = c * tanh(h_s / c)

    with ``c = max_log_scale`` (RealNVP, Dinh et al. 2017, eq. 6-7; Glow
    section 3.3). The soft clamp keeps every scale in ``[e^-c, e^c]``, so
    training cannot blow up the Jacobian, and ``log|det| = sum(s)``. The
    conditioner's last layer is zero-initialised: the layer starts as the
    identity. An odd ``d`` is handled by the uneven split (``d_b = d - d_a``);
    with ``d = 1`` there is nothing to condition on and the layer is an
    unconditional, learned affine map of the single feature.

    Parameters
    ----------
    n_features : int
        Width ``d`` of the input.
    hidden_size : int, default=64
        Width of the conditioner's hidden layers.
    n_hidden_layers : int, default=2
        Number of hidden layers of the conditioner (ReLU).
    max_log_scale : float, default=2.0
        Bound ``c`` on ``|s|``.
    """

    def __init__(self, n_features, hidden_size=64, n_hidden_layers=2, max_log_scale=2.0):
        super().__init__()
        self.n_features = int(n_features)
        self.d_a = self.n_features // 2
        self.d_b = self.n_features - self.d_a
        self.max_log_scale = float(max_log_scale)
        if self.d_a > 0:
            self.conditioner = MLP(self.d_a, (hidden_size,) * n_hidden_layers,
                                   out_features=2 * self.d_b)
            last = self.conditioner.layers[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        else:
            self.conditioner = None
            self.bias = nn.Parameter(torch.zeros(2 * self.d_b))

    def _scale_shift(self, x_a):
        if self.conditioner is None:
            h = self.bias.expand(x_a.shape[0], -1)
        else:
            h = self.conditioner(x_a)
        h_s, t = h[:, : self.d_b], h[:, self.d_b:]
        c = self.max_log_scale
        s = c * torch.tanh(h_s / c)
        return s, t

    def forward(self, x):
        """Map ``x`` (n, d) to ``(y, log_det)`` with ``log_det`` of shape (n,)."""
        _check_input(x, self.n_features, "AffineCoupling")
        x_a, x_b = x[:, : self.d_a], x[:, self.d_a:]
        s, t = self._scale_shift(x_a)
        y_b = x_b * torch.exp(s) + t
        return torch.cat([x_a, y_b], dim=1), s.sum(dim=1)

    def inverse(self, y):
        """Exact inverse: ``x_b = (y_b - t) * exp(-s)``, ``s, t`` from ``y_a = x_a``."""
        _check_input(y, self.n_features, "AffineCoupling.inverse")
        y_a, y_b = y[:, : self.d_a], y[:, self.d_a:]
        s, t = self._scale_shift(y_a)
        x_b = (y_b - t) * torch.exp(-s)
        return torch.cat([y_a, x_b], dim=1)


class VectorFlow(nn.Module):
    """Glow on vectors: ``n_blocks`` x (ActNorm, InvertibleLinear, AffineCoupling).

    A bijection ``f: R^d -> R^d`` with exact inverse and exact
    log-determinant (Glow, Kingma & Dhariwal 2018, Fig. 2a with the
    invertible 1x1 convolution replaced by a dense invertible linear map).
    The learned mixing between couplings replaces RealNVP's fixed
    permutations, so every feature is transformed in every block.

    Parameters
    ----------
    n_features : int
        Width ``d`` of the data (any ``d >= 1``, odd included).
    n_blocks : int, default=4
        Number of Glow blocks.
    hidden_size : int, default=64
        Width of the coupling conditioners' hidden layers.
    n_hidden_layers : int, default=2
        Hidden layers per conditioner.
    max_log_scale : float, default=2.0
        Bound on each coupling's log-scale (see :class:`AffineCoupling`).
    actnorm : bool, default=True
        Include the ActNorm step (data-dependent initialisation on the first
        forward batch, so call the flow once on representative data, e.g. the
        first training batch, before using :meth:`inverse`).

    Examples
    --------
    >>> import torch
    >>> flow = VectorFlow(3, n_blocks=2, hidden_size=8)
    >>> x = torch.randn(5, 3)
    >>> z, log_det = flow(x)
    >>> z.shape, log_det.shape
    (torch.Size([5, 3]), torch.Size([5]))
    >>> bool(torch.allclose(flow.inverse(z), x, atol=1e-5))
    True
    """

    def __init__(self, n_features, n_blocks=4, hidden_size=64, n_hidden_layers=2,
                 max_log_scale=2.0, actnorm=True):
        super().__init__()
        if int(n_features) < 1:
            raise ValueError(f"n_features must be >= 1; got {n_features!r}.")
        if int(n_blocks) < 1:
            raise ValueError(f"n_blocks must be >= 1; got {n_blocks!r}.")
        self.n_features = int(n_features)
        layers = []
        for _ in range(int(n_blocks)):
            if actnorm:
                layers.append(ActNorm(self.n_features))
            layers.append(InvertibleLinear(self.n_features))
            layers.append(AffineCoupling(self.n_features, hidden_size, n_hidden_layers,
                                         max_log_scale))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        """Map data ``x`` of shape (n, d) to ``(z, log_det)``.

        Returns
        -------
        z : Tensor of shape (n, d)
        log_det : Tensor of shape (n,)
            ``log |det dz_i/dx_i|`` for each row.
        """
        _check_input(x, self.n_features, "VectorFlow")
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z):
        """Exact inverse ``x = f^-1(z)`` for ``z`` of shape (n, d)."""
        _check_input(z, self.n_features, "VectorFlow.inverse")
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def log_prob(self, x):
        """``log p(x)`` under the flow with a standard-normal base, shape (n,)."""
        z, log_det = self(x)
        return standard_normal_logprob(z) + log_det


def standard_normal_logprob(z):
    """Row-wise ``log N(z; 0, I)``: ``-0.5 * (||z||^2 + d log 2 pi)``, shape (n,)."""
    return -0.5 * (z.pow(2).sum(dim=1) + z.shape[1] * _LOG_2PI)


def standard_normal_nll(z, log_det, reduction="mean"):
    """Negative log-likelihood of the data under a flow with a N(0, I) base.

    By the change of variables, ``-log p(x) = -log N(f(x); 0, I) - log|det J_f(x)|``
    (Glow, eq. 2-3), given ``z = f(x)`` and ``log_det = log|det J_f(x)|``.

    Parameters
    ----------
    z : Tensor of shape (n, d)
    log_det : Tensor of shape (n,)
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over rows (nats per sample, not per dimension).

    Returns
    -------
    Tensor
        A scalar, or shape (n,) with ``reduction="none"``.
    """
    nll = -(standard_normal_logprob(z) + log_det)
    if reduction == "mean":
        return nll.mean()
    if reduction == "sum":
        return nll.sum()
    if reduction == "none":
        return nll
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}.")
