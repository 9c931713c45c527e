"""A small multiscale Glow for images (Kingma & Dhariwal 2018).

The image counterpart of :class:`skfairlatent.nn.flows.VectorFlow`, used by
LASSI (Peychev et al. 2022, Sec. 5) to define similarity in an image's latent
space. Layout (Glow Fig. 2b): ``n_levels`` levels, each

    squeeze -> n_steps x (ActNorm, invertible 1x1 convolution, affine coupling) -> split

where the last level does not split. The per-channel steps reuse the vector
layers of :mod:`skfairlatent.nn.flows`: an ActNorm or invertible 1x1
convolution on a (n, c, h, w) tensor is the vector layer applied to each of
the ``n h w`` pixels' channel vectors, so its log-determinant is the vector
layer's times ``h w`` (Glow Table 1). The affine coupling is convolutional.

Simplification with respect to Glow: the split-off half of the channels is
modelled by the standard normal base distribution (Glow conditions it on the
other half with a learned prior). The map stays an exact bijection with an
exact log-determinant; only the density model is simpler.

Every module maps ``x`` to ``(y, log_det)`` with ``log_det`` of shape (n,)
and has an exact ``inverse``.

References
----------
Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions",
NeurIPS 2018, arXiv:1807.03039.
Dinh, Sohl-Dickstein, Bengio, "Density Estimation using Real NVP", ICLR 2017,
arXiv:1605.08803.
Peychev, Ruoss, Balunović, Baader, Vechev, "Latent Space Smoothing for
Individually Fair Representations", ECCV 2022, arXiv:2111.13650.
"""

from __future__ import annotations

import torch
from torch import nn

from skfairlatent.nn.flows import ActNorm, InvertibleLinear

__all__ = ["squeeze", "unsqueeze", "ActNorm2d", "InvConv2d", "AffineCoupling2d",
           "GlowStep", "ImageGlow"]


def squeeze(x):
    """Space-to-depth: (n, c, h, w) -> (n, 4c, h/2, w/2) (Glow Sec. 3, RealNVP Sec. 3.6)."""
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"squeeze needs even height and width; got {h}x{w}.")
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x):
    """Inverse of :func:`squeeze`: (n, 4c, h, w) -> (n, c, 2h, 2w)."""
    n, c4, h, w = x.shape
    c = c4 // 4
    x = x.reshape(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c, 2 * h, 2 * w)


def _pixels(x):
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n * h * w, c)


def _image(v, shape):
    n, c, h, w = shape
    return v.reshape(n, h, w, c).permute(0, 3, 1, 2)


class _PerPixel(nn.Module):
    """Apply a vector flow layer to every pixel's channel vector."""

    def forward(self, x):
        y, log_det = self.layer(_pixels(x))
        return _image(y, x.shape), log_det.reshape(x.shape[0], -1).sum(dim=1)

    def inverse(self, y):
        return _image(self.layer.inverse(_pixels(y)), y.shape)


class ActNorm2d(_PerPixel):
    """Per-channel ActNorm with data-dependent initialisation (Glow Sec. 3.1)."""

    def __init__(self, n_channels):
        super().__init__()
        self.layer = ActNorm(n_channels)


class InvConv2d(_PerPixel):
    """Invertible 1x1 convolution, LU-parametrised (Glow Sec. 3.2)."""

    def __init__(self, n_channels):
        super().__init__()
        self.layer = InvertibleLinear(n_channels)


class AffineCoupling2d(nn.Module):
    """Convolutional affine coupling (Glow Sec. 3.3).

    The first ``c // 2`` channels condition, through conv3x3-ReLU-conv1x1-ReLU-
    conv3x3 (last layer zero-initialised), a bounded log-scale
    ``s = 2 tanh(h_s / 2)`` and a shift ``t`` applied to the other channels.
    """

    def __init__(self, n_channels, hidden_channels=64, max_log_scale=2.0):
        super().__init__()
        self.c_a = n_channels // 2
        self.c_b = n_channels - self.c_a
        self.max_log_scale = float(max_log_scale)
        last = nn.Conv2d(hidden_channels, 2 * self.c_b, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(
            nn.Conv2d(self.c_a, hidden_channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden_channels, hidden_channels, 1), nn.ReLU(), last)

    def _scale_shift(self, x_a):
        h = self.net(x_a)
        h_s, t = h[:, : self.c_b], h[:, self.c_b:]
        c = self.max_log_scale
        return c * torch.tanh(h_s / c), t

    def forward(self, x):
        x_a, x_b = x[:, : self.c_a], x[:, self.c_a:]
        s, t = self._scale_shift(x_a)
        return torch.cat([x_a, x_b * torch.exp(s) + t], dim=1), s.flatten(1).sum(dim=1)

    def inverse(self, y):
        y_a, y_b = y[:, : self.c_a], y[:, self.c_a:]
        s, t = self._scale_shift(y_a)
        return torch.cat([y_a, (y_b - t) * torch.exp(-s)], dim=1)


class GlowStep(nn.Module):
    """One step of flow: ActNorm, invertible 1x1 convolution, affine coupling."""

    def __init__(self, n_channels, hidden_channels=64):
        super().__init__()
        self.layers = nn.ModuleList([ActNorm2d(n_channels), InvConv2d(n_channels),
                                     AffineCoupling2d(n_channels, hidden_channels)])

    def forward(self, x):
        log_det = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, y):
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


class ImageGlow(nn.Module):
    """Multiscale Glow on (n, c, h, w) images with a flat latent.

    Parameters
    ----------
    image_shape : tuple (c, h, w)
        ``h`` and ``w`` divisible by ``2 ** n_levels``.
    n_levels : int, default=2
        Number of squeeze levels (Glow's L; the paper's 64x64 Glow uses 4).
    n_steps : int, default=4
        Steps of flow per level (Glow's K; the paper uses 32).
    hidden_channels : int, default=64
        Width of the coupling networks.

    ``forward(x)`` returns ``(z, log_det)`` with ``z`` of shape
    (n, c h w), the split-off parts then the final output, flattened and
    concatenated; ``inverse(z)`` returns images of shape (n, c, h, w).
    """

    def __init__(self, image_shape, n_levels=2, n_steps=4, hidden_channels=64):
        super().__init__()
        c, h, w = (int(v) for v in image_shape)
        if h % (2 ** n_levels) or w % (2 ** n_levels):
            raise ValueError(f"image height and width must be divisible by 2**n_levels = "
                             f"{2 ** n_levels}; got {h}x{w}.")
        self.image_shape = (c, h, w)
        self.levels = nn.ModuleList()
        self.shapes = []  # shape (c, h, w) of each latent part, in order
        for level in range(n_levels):
            c, h, w = 4 * c, h // 2, w // 2
            self.levels.append(
                nn.ModuleList([GlowStep(c, hidden_channels) for _ in range(n_steps)]))
            if level < n_levels - 1:
                self.shapes.append((c // 2, h, w))
                c = c - c // 2
        self.shapes.append((c, h, w))
        self.n_features = c * h * w + sum(a * b * d for a, b, d in self.shapes[:-1])

    def forward(self, x):
        log_det = x.new_zeros(x.shape[0])
        parts = []
        for i, steps in enumerate(self.levels):
            x = squeeze(x)
            for step in steps:
                x, ld = step(x)
                log_det = log_det + ld
            if i < len(self.levels) - 1:
                c_out = self.shapes[i][0]
                parts.append(x[:, :c_out].flatten(1))
                x = x[:, c_out:]
        parts.append(x.flatten(1))
        return torch.cat(parts, dim=1), log_det

    def inverse(self, z):
        sizes = [a * b * c for a, b, c in self.shapes]
        parts = list(torch.split(z, sizes, dim=1))
        x = parts[-1].reshape(-1, *self.shapes[-1])
        for i in reversed(range(len(self.levels))):
            if i < len(self.levels) - 1:
                x = torch.cat([parts[i].reshape(-1, *self.shapes[i]), x], dim=1)
            for step in reversed(self.levels[i]):
                x = step.inverse(x)
            x = unsqueeze(x)
        return x
