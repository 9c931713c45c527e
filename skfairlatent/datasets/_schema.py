"""The schema of a mixed table: encode rows for a network, decode its outputs back.

:class:`TabularSchema` is what :class:`~skfairlatent.FairLatentVAE` uses to
turn a DataFrame of mixed columns (or a numeric array) and an optional target
into the arrays its network reconstructs, and the network's outputs back into
a frame with the training columns, dtypes and categories:

* "category", object, string and bool columns are categorical: one-hot at the
  encoder's input, integer codes for the cross-entropy, and a category picked
  (most likely, or drawn) from the decoder's logits;
* the other columns are numeric: standardised with the training mean and
  standard deviation, un-standardised and clipped to the training range when
  decoded, rounded for integer dtypes;
* a target is a class label (encoded ``0 .. n_classes - 1``) or, when
  continuous, a standardised number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import type_of_target

__all__ = ["RowCopies", "StandardisedRows", "TabularSchema", "is_categorical"]

#: Rows per chunk of the passes over a numeric array (statistics, checks).
_CHUNK_ROWS = 2 ** 14


def is_categorical(dtype):
    """Whether a column of this dtype is categorical (category, bool, object or string)."""
    return (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype))


def pick_class(logits, u):
    """The class drawn by the uniforms ``u`` from softmax(logits).

    The argmax if ``u`` is None.
    """
    if u is None:
        return logits.argmax(1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return np.minimum((p.cumsum(1) < u).sum(1), p.shape[1] - 1)


def _chunks(n_rows):
    for start in range(0, n_rows, _CHUNK_ROWS):
        yield slice(start, min(start + _CHUNK_ROWS, n_rows))


def _running_sum(total, block):
    """``total + block.sum(0)`` summed row after row, as ``block.sum(0)`` of all rows is.

    NumPy sums a C-ordered array over its first axis one row after another, so
    carrying ``total`` in as the first row makes a chunked sum bit-identical
    to the sum over all rows at once.
    """
    return np.add.reduce(np.concatenate([total[None], block]), axis=0)


def _numeric_array_statistics(X):
    """Mean, standard deviation, min and max of each column of a 2-d numeric array.

    ``X`` (an ndarray or a ``np.memmap``) is read a chunk of rows at a time in
    float64; memory ~ one chunk. The results are bit-identical to
    ``np.asarray(X, np.float64).mean(0)``, ``.std(0)``, ``.min(0)`` and ``.max(0)``.

    Raises
    ------
    ValueError
        NaN or infinity in a column.
    """
    n, d = X.shape
    total, low, high, finite = np.zeros(d), np.full(d, np.inf), np.full(d, -np.inf), \
        np.ones(d, dtype=bool)
    for rows in _chunks(n):
        block = np.asarray(X[rows], dtype=np.float64)
        finite &= np.isfinite(block).all(0)
        total = _running_sum(total, block)
        low, high = np.minimum(low, block.min(0)), np.maximum(high, block.max(0))
    if not finite.all():
        raise ValueError("Input contains NaN or infinity in numeric columns "
                         f"{np.flatnonzero(~finite).tolist()}.")
    mean = total / n
    squares = np.zeros(d)
    for rows in _chunks(n):
        block = np.asarray(X[rows], dtype=np.float64) - mean
        squares = _running_sum(squares, block * block)
    return mean, np.sqrt(squares / n), low, high


class RowCopies:
    """Rows of a read-only array (a ``np.memmap``), each indexed row a writable copy.

    For skorch, which indexes one row at a time: torch then never wraps a
    non-writable array, and ``X`` is never copied whole.
    """

    def __init__(self, X):
        self.X = X

    @property
    def shape(self):
        return self.X.shape

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        return np.array(self.X[index])


class StandardisedRows(RowCopies):
    """A numeric array standardised row by row when indexed, never as a whole.

    ``rows[index]`` is ``((X[index] as float64 - mean) / scale)`` as float32,
    the same values as standardising all of ``X`` at once; ``X`` (an ndarray
    or a read-only ``np.memmap``) is neither copied nor written. skorch
    batches it like an array (it indexes one row at a time), and slices give
    chunks, so the memory used is a batch or a chunk.

    Parameters
    ----------
    X : ndarray or np.memmap of shape (n_samples, n_features)
    mean, scale : ndarray of shape (n_features,)
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, X, mean, scale):
        super().__init__(X)
        self.mean, self.scale = mean, scale

    def __getitem__(self, index):
        return ((np.asarray(self.X[index], dtype=np.float64) - self.mean)
                / self.scale).astype(np.float32)

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)


class TabularSchema:
    """Columns, categories, scalings and target of a training table.

    Fitted with :meth:`fit` (and :meth:`fit_target`); then :meth:`encode`
    turns rows into network inputs and :meth:`decode` turns decoder outputs
    into rows. ``kind`` is ``"frame"`` (a DataFrame) or ``"array"`` (a 2-d
    numeric array, every column numeric).

    Attributes
    ----------
    columns_ : list
        Column names (indices for arrays), in order.
    dtypes_ : Series
        The frame's dtypes (frames only).
    categorical_columns_, numeric_columns_ : list
        Columns of each kind.
    categories_ : dict
        Categorical column -> ndarray of its categories (the softmax classes).
    numeric_mean_, numeric_scale_, numeric_min_, numeric_max_ : ndarray
        Standardisation and range of the numeric columns.
    target_kind_ : {"categorical", "numeric"} or None
    target_classes_ : ndarray or None
    target_mean_, target_scale_ : float
        Standardisation of a continuous target.
    """

    def fit(self, kind, X):
        """Learn the columns of ``X``; raise ``ValueError`` for unusable columns."""
        if kind == "frame":
            self.columns_ = list(X.columns)
            self.dtypes_ = X.dtypes.copy()
            self.categorical_columns_ = [c for c in X.columns if is_categorical(X[c].dtype)]
            bad = [c for c in X.columns if c not in self.categorical_columns_
                   and not pd.api.types.is_numeric_dtype(X[c].dtype)]
            if bad:
                raise ValueError(f"Columns {bad} are neither numeric nor categorical "
                                 "(category, object, string or bool); convert them first.")
            self.numeric_columns_ = [c for c in X.columns if c not in self.categorical_columns_]
        else:
            self.columns_ = list(range(X.shape[1]))
            self.categorical_columns_ = []
            self.numeric_columns_ = list(self.columns_)
        self.categories_ = {}
        for c in self.categorical_columns_:
            col = X[c]
            if col.isna().any():
                raise ValueError(f"Column {c!r} has missing values; impute them first.")
            if isinstance(col.dtype, pd.CategoricalDtype):
                cats = np.asarray(col.cat.categories, dtype=object)
            else:
                cats = np.asarray(pd.unique(col), dtype=object)
                try:
                    cats = np.asarray(sorted(cats), dtype=object)
                except TypeError:
                    pass
            self.categories_[c] = cats
        if kind == "array":
            # read a chunk at a time: X may be a memmap larger than memory
            self.numeric_mean_, scale, self.numeric_min_, self.numeric_max_ = \
                _numeric_array_statistics(X)
            self.numeric_scale_ = np.where(scale > 0, scale, 1.0)
            return self
        num = self._numeric_block(kind, X)
        self.numeric_mean_ = num.mean(0) if num.shape[1] else np.zeros(0)
        scale = num.std(0) if num.shape[1] else np.zeros(0)
        self.numeric_scale_ = np.where(scale > 0, scale, 1.0)
        self.numeric_min_ = num.min(0) if num.shape[1] else np.zeros(0)
        self.numeric_max_ = num.max(0) if num.shape[1] else np.zeros(0)
        return self

    @property
    def cardinalities(self):
        """Number of categories of each categorical column."""
        return [len(self.categories_[c]) for c in self.categorical_columns_]

    def _numeric_block(self, kind, X):
        if kind == "array":
            num = np.asarray(X, dtype=np.float64)
        elif self.numeric_columns_:
            try:
                num = X[self.numeric_columns_].to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Numeric columns {self.numeric_columns_} could not be "
                                 f"converted to numbers: {exc}") from exc
        else:
            num = np.zeros((len(X), 0))
        if not np.isfinite(num).all():
            bad = [self.numeric_columns_[j] for j in np.flatnonzero(~np.isfinite(num).all(0))]
            raise ValueError(f"Input contains NaN or infinity in numeric columns {bad}.")
        return num

    def encode(self, kind, X):
        """Encode ``X`` for the networks.

        Returns ``{"X": encoder input (float32), "cat": codes (int64),
        "num": standardised numerics}``. For a numeric array (``kind="array"``,
        validated as finite by the caller) ``"X"`` and ``"num"`` are one
        :class:`StandardisedRows`: the rows are standardised when indexed, so
        no copy of ``X`` is made; a frame is encoded into arrays.
        """
        if kind == "array":
            rows = StandardisedRows(X, self.numeric_mean_, self.numeric_scale_)
            return {"X": rows, "cat": np.zeros((len(X), 0), dtype=np.int64), "num": rows}
        codes = np.zeros((len(X), len(self.categorical_columns_)), dtype=np.int64)
        blocks = []
        for j, c in enumerate(self.categorical_columns_):
            cats = self.categories_[c]
            lookup = {v: i for i, v in enumerate(cats)}
            values = X[c].to_numpy(dtype=object)
            idx = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64,
                              count=len(values))
            if (idx < 0).any():
                unseen = sorted({str(v) for v in values[idx < 0]})[:5]
                raise ValueError(f"Column {c!r} has categories not seen during fit: {unseen}.")
            codes[:, j] = idx
            one_hot = np.zeros((len(X), len(cats)), dtype=np.float32)
            one_hot[np.arange(len(X)), idx] = 1.0
            blocks.append(one_hot)
        num = ((self._numeric_block(kind, X) - self.numeric_mean_)
               / self.numeric_scale_).astype(np.float32)
        blocks.append(num)
        return {"X": np.concatenate(blocks, axis=1), "cat": codes, "num": num}

    def fit_target(self, y, n):
        """Learn and encode the target: class codes (int64), a standardised number, or None."""
        if y is None:
            self.target_kind_, self.target_classes_ = None, None
            return None
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"y must be 1-d with one value per row of X; got shape {y.shape}.")
        if pd.isna(pd.Series(y, dtype=object)).any():
            raise ValueError("y contains missing values.")
        if type_of_target(y) == "continuous":
            self.target_kind_, self.target_classes_ = "numeric", None
            y = y.astype(np.float64)
            self.target_mean_, self.target_scale_ = y.mean(), (y.std() or 1.0)
            return ((y - self.target_mean_) / self.target_scale_).astype(np.float32)
        encoder = LabelEncoder().fit(y)
        self.target_kind_, self.target_classes_ = "categorical", encoder.classes_
        return encoder.transform(y).astype(np.int64)

    def decode(self, kind, outputs, rng, *, stochastic=False, stochastic_label=False):
        """Rows and target from the decoder's outputs ``{"numeric", "logits", "target"}``.

        Categorical columns (and a categorical target) are the most likely
        category, or drawn from the softmax with uniforms of ``rng`` when
        ``stochastic`` (``stochastic_label`` for the target). The label's
        uniforms are drawn whenever the features' are, so that the features
        do not change with how the label is decoded.

        Returns
        -------
        X : DataFrame (kind "frame") or ndarray of float32 (kind "array")
        y : ndarray or None
        """
        n = len(outputs["numeric"])

        def uniforms():
            return rng.random_sample((n, 1))

        num = outputs["numeric"].astype(np.float64) * self.numeric_scale_ + self.numeric_mean_
        num = np.clip(num, self.numeric_min_, self.numeric_max_)
        y = None
        if self.target_kind_ == "categorical":
            u = uniforms() if stochastic or stochastic_label else None
            y = self.target_classes_[pick_class(outputs["target"], u if stochastic_label else None)]
        elif self.target_kind_ == "numeric":
            y = outputs["target"][:, 0] * self.target_scale_ + self.target_mean_
        if kind == "array":
            return num.astype(np.float32), y
        columns, left = {}, 0
        for c in self.categorical_columns_:
            size = len(self.categories_[c])
            values = self.categories_[c][pick_class(outputs["logits"][:, left:left + size],
                                                    uniforms() if stochastic else None)]
            left += size
            dtype = self.dtypes_[c]
            columns[c] = pd.Series(values, dtype=object).astype(
                dtype if not isinstance(dtype, pd.CategoricalDtype)
                else pd.CategoricalDtype(self.categories_[c]))
            if isinstance(dtype, pd.CategoricalDtype):
                columns[c] = columns[c].astype(dtype)
        for j, c in enumerate(self.numeric_columns_):
            dtype = self.dtypes_[c]
            values = num[:, j]
            if pd.api.types.is_integer_dtype(dtype):
                values = np.round(values)
            columns[c] = pd.Series(values).astype(dtype)
        return pd.DataFrame({c: columns[c] for c in self.columns_}), y
