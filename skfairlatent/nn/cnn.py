"""Small convolutional feature extractor for image inputs (AEDA on coloured digits)."""

import torch
from torch import nn

from .modules import MLP

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """Convolutional encoder ``(n, C, H, W) -> (n, out_dim)``.

    One block per entry of ``channels``: 3x3 convolution (padding 1), ReLU,
    2x2 max-pooling. The feature maps are flattened and passed through an
    :class:`~skfairlatent.nn.modules.MLP` encoder with ``hidden_layer_sizes``
    (ReLU after each layer). With the defaults a 3x28x28 image goes through
    16 and 32 channels to 32x7x7 = 1568 values, then to 128 features. The
    paper (AEDA, Zhang & Sang 2020) does not state its C-MNIST network; this
    is a deliberately small one so that the benchmark runs on a CPU.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` of one image.
    channels : sequence of int, default=(16, 32)
        Output channels of the convolution blocks.
    hidden_layer_sizes : sequence of int, default=(128,)
        Widths of the dense layers after flattening; ``()`` keeps the
        flattened feature maps as features.

    Attributes
    ----------
    out_dim : int
        Number of features returned by ``forward``.
    """

    def __init__(self, input_shape, channels=(16, 32), hidden_layer_sizes=(128,)):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W); got {tuple(input_shape)!r}.")
        n_channels, height, width = (int(s) for s in input_shape)
        blocks, width_in = [], n_channels
        for width_out in channels:
            blocks += [nn.Conv2d(width_in, width_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            width_in = width_out
            height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(
                f"input_shape {tuple(input_shape)!r} is too small for {len(channels)} "
                "pooling blocks; use fewer channels entries or larger images."
            )
        self.conv = nn.Sequential(*blocks)
        self.dense = MLP(width_in * height * width, tuple(hidden_layer_sizes))
        self.input_shape = tuple(int(s) for s in input_shape)
        self.out_dim = self.dense.out_dim

    def forward(self, X):
        X = X.reshape(X.shape[0], *self.input_shape)
        return self.dense(torch.flatten(self.conv(X), start_dim=1))
