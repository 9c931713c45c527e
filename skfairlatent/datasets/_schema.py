"""The schema of a mixed table: encode rows for a network, decode its outputs back.

:class:`TabularSchema` is what :class:`~skfairlatent.FairLatentVAE` uses to
turn a DataFrame of mixed columns (or a numeric array) and an optional target
into the arrays its network reconstructs, and the network's outputs back into
a frame with the training columns, dtypes and categories:

* "category", object, string and bool columns are categorical: one-hot at the
  encoder's input, integer codes for the cross-entropy, and a category picked
  (most likely, or drawn) from the decoder's logits;
* the other columns are numeric. With ``numeric_encoding="standard"`` they
  are standardised with the training mean and standard deviation,
  un-standardised and clipped to the training range when decoded, rounded
  for integer dtypes. With ``"mode-specific"`` (frames only) each is
  encoded by a :class:`ModeSpecificNormalizer` as a categorical *mode*
  (one softmax more for the network) and a within-mode scalar (one Gaussian
  mean), and decoded back with its point masses, integer support and range;
* a target is a class label (encoded ``0 .. n_classes - 1``) or, when
  continuous, a standardised number.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target

__all__ = ["ModeSpecificNormalizer", "RowCopies", "StandardisedRows", "TabularSchema",
           "is_categorical"]

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


def _reflect_into(values, low, high):
    """Values outside ``[low, high]`` mirrored at the limit they crossed, then clipped.

    A draw past a limit lands as far inside it as it was outside, so no
    probability mass piles up on the limit; only a draw more than the whole
    range outside is clipped.
    """
    values = np.where(values > high, 2 * high - values, values)
    values = np.where(values < low, 2 * low - values, values)
    return np.clip(values, low, high)


class ModeSpecificNormalizer:
    """Mode-specific normalisation of one numeric column, with point masses.

    A column x is encoded as a pair (mode, scalar):

    * values holding at least ``point_mass_share`` of the rows (at most
      ``max_point_masses`` of them, the most frequent first; e.g. the zeros of
      a zero-inflated column) are *point masses*: modes ``0 .. n_point_masses
      - 1``, scalar 0, decoded exactly;
    * the other values are modelled by a variational Bayesian Gaussian mixture
      (a Dirichlet-process prior with concentration
      ``weight_concentration_prior``, up to ``max_modes`` components, those of
      weight below ``weight_threshold`` dropped; at most 300 EM iterations)
      fitted on at most
      ``max_fit_rows`` of them drawn at random; a value's mode is its most
      probable component k and its scalar ``(x - mu_k) / sigma_k``.

    Decoding maps a mode and a scalar back to ``mu_k + clip(scalar, -4, 4) *
    sigma_k``, mirrors a value outside the training range at the limit it
    crossed (so no mass piles up on a limit), and rounds it when every
    training value was an integer.

    Parameters
    ----------
    max_modes : int, default=10
    weight_concentration_prior : float, default=1e-3
    weight_threshold : float, default=0.005
    point_mass_share : float, default=0.05
    max_point_masses : int, default=10
    max_fit_rows : int, default=20000
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample and the mixture's initialisation.

    Attributes
    ----------
    point_masses_ : ndarray of float64
        The values decoded exactly (modes ``0 .. len - 1``).
    means_, stds_ : ndarray of float64
        The kept mixture components (modes ``len(point_masses_) ..``).
    n_modes_ : int
    min_, max_ : float
        The training range.
    integer_ : bool
        Whether every training value is an integer.

    Notes
    -----
    Xu et al. write the scalar as ``(x - mu_k) / (4 sigma_k)`` clipped to
    [-1, 1]; ours is 4 times it, clipped to [-4, 4] when decoded, so that
    the decoder's unit-variance Gaussian matches the spread within a mode.
    The mode of a value is the most probable component (deterministic), where
    Xu et al. and ``rdt`` draw it from the posterior.

    References
    ----------
    L. Xu, M. Skoularidou, A. Cuesta-Infante, K. Veeramachaneni, "Modeling
    Tabular Data using Conditional GAN", NeurIPS 2019, section 4.2 (as
    ``rdt``'s ``ClusterBasedNormalizer``).
    """

    def __init__(self, max_modes=10, weight_concentration_prior=1e-3, weight_threshold=0.005,
                 point_mass_share=0.05, max_point_masses=10, max_fit_rows=20000,
                 random_state=None):
        self.max_modes = max_modes
        self.weight_concentration_prior = weight_concentration_prior
        self.weight_threshold = weight_threshold
        self.point_mass_share = point_mass_share
        self.max_point_masses = max_point_masses
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    def fit(self, x):
        """Learn the point masses and the mixture of the finite 1-d float array ``x``."""
        x = np.asarray(x, dtype=np.float64)
        rng = check_random_state(self.random_state)
        self.min_, self.max_ = float(x.min()), float(x.max())
        self.integer_ = bool(np.all(x == np.round(x)))
        values, counts = np.unique(x, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:self.max_point_masses]
        frequent = order[counts[order] >= self.point_mass_share * len(x)]
        self.point_masses_ = values[frequent]
        rest = x[~np.isin(x, self.point_masses_)]
        self.means_, self.stds_ = self._fit_mixture(rest, rng)
        self.n_modes_ = len(self.point_masses_) + len(self.means_)
        return self

    def _fit_mixture(self, rest, rng):
        """Means and standard deviations of the kept components (empty without rows)."""
        if rest.size == 0:
            return np.zeros(0), np.zeros(0)
        if rest.size > self.max_fit_rows:
            rest = rng.choice(rest, self.max_fit_rows, replace=False)
        floor = 1e-3 * max(self.max_ - self.min_, 1.0)
        n_unique = len(np.unique(rest))
        if n_unique == 1:
            return rest[:1].copy(), np.array([floor])
        mixture = BayesianGaussianMixture(
            n_components=min(self.max_modes, n_unique),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=self.weight_concentration_prior, n_init=1, max_iter=300,
            random_state=rng.randint(2 ** 31 - 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(rest[:, None])
        keep = mixture.weights_ > self.weight_threshold
        self._mixture, self._kept = mixture, np.flatnonzero(keep)
        stds = np.sqrt(mixture.covariances_.reshape(-1)[keep])
        return mixture.means_[keep, 0].copy(), np.maximum(stds, floor)

    def transform(self, x):
        """Modes (int64) and scalars (float64) of the 1-d array ``x``, each of shape (n,)."""
        x = np.asarray(x, dtype=np.float64)
        n_masses = len(self.point_masses_)
        modes = np.zeros(len(x), dtype=np.int64)
        scalars = np.zeros(len(x))
        is_mass = np.isin(x, self.point_masses_)
        if n_masses:
            sorter = np.argsort(self.point_masses_)
            modes[is_mass] = sorter[np.searchsorted(self.point_masses_, x[is_mass], sorter=sorter)]
        other = np.flatnonzero(~is_mass)
        if len(self.means_) == 0:  # only point masses: the nearest one
            near = np.abs(x[other, None] - self.point_masses_[None]).argmin(1)
            modes[other] = near
            return modes, scalars
        for rows in _chunks(len(other)):
            index = other[rows]
            k = self._component(x[index])
            modes[index] = n_masses + k
            scalars[index] = (x[index] - self.means_[k]) / self.stds_[k]
        return modes, scalars

    def _component(self, values):
        """Index (among the kept components) of each value's most probable component."""
        if len(self.means_) == 1:
            return np.zeros(len(values), dtype=np.int64)
        proba = self._mixture.predict_proba(values[:, None])[:, self._kept]
        return proba.argmax(1)

    def inverse_transform(self, modes, scalars):
        """Column values (float64, shape (n,)) of modes and within-mode scalars."""
        modes = np.asarray(modes, dtype=np.int64)
        n_masses = len(self.point_masses_)
        k = np.clip(modes - n_masses, 0, max(len(self.means_) - 1, 0))
        values = np.zeros(len(modes))
        if len(self.means_):
            values = self.means_[k] + np.clip(np.asarray(scalars, np.float64), -4, 4) \
                * self.stds_[k]
        if n_masses:
            values = np.where(modes < n_masses,
                              self.point_masses_[np.minimum(modes, n_masses - 1)], values)
        values = _reflect_into(values, self.min_, self.max_)
        return np.round(values) if self.integer_ else values


def _one_hot(codes, size):
    one_hot = np.zeros((len(codes), size), dtype=np.float32)
    one_hot[np.arange(len(codes)), codes] = 1.0
    return one_hot


class TabularSchema:
    """Columns, categories, scalings and target of a training table.

    Fitted with :meth:`fit` (and :meth:`fit_target`); then :meth:`encode`
    turns rows into network inputs and :meth:`decode` turns decoder outputs
    into rows. ``kind`` is ``"frame"`` (a DataFrame) or ``"array"`` (a 2-d
    numeric array, every column numeric).

    The network sees every categorical column as a softmax and every numeric
    column as one Gaussian mean; with ``numeric_encoding_ ==
    "mode-specific"`` each numeric column is also a softmax over its modes
    (after the categorical columns, in column order) and its Gaussian mean is
    the within-mode scalar (:class:`ModeSpecificNormalizer`).

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
    numeric_encoding_ : {"standard", "mode-specific"}
    normalizers_ : dict
        Numeric column -> its fitted :class:`ModeSpecificNormalizer`
        (``"mode-specific"`` only; empty otherwise).
    scalar_scale_ : ndarray of shape (n_numeric,) or None
        Standard deviation of the decoder's Gaussian for each within-mode
        scalar, set by the model after training; None: decoded scalars are
        the means.
    target_kind_ : {"categorical", "numeric"} or None
    target_classes_ : ndarray or None
    target_mean_, target_scale_ : float
        Standardisation of a continuous target.
    """

    def fit(self, kind, X, numeric_encoding="standard", random_state=None):
        """Learn the columns of ``X``; raise ``ValueError`` for unusable columns.

        ``numeric_encoding`` is ``"standard"`` or ``"mode-specific"`` (frames
        only: a ``ValueError`` for arrays); ``random_state`` seeds the
        mixtures of the latter.
        """
        if numeric_encoding == "mode-specific" and kind != "frame":
            raise ValueError("numeric_encoding='mode-specific' needs a DataFrame; wrap the "
                             "array in pd.DataFrame or use 'standard'.")
        self.numeric_encoding_ = numeric_encoding
        self.normalizers_ = {}
        self.scalar_scale_ = None
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
        if numeric_encoding == "mode-specific":
            rng = check_random_state(random_state)
            self.normalizers_ = {
                c: ModeSpecificNormalizer(random_state=rng.randint(2 ** 31 - 1)).fit(num[:, j])
                for j, c in enumerate(self.numeric_columns_)}
        return self

    @property
    def cardinalities(self):
        """Sizes of the network's softmaxes: each categorical column's categories,
        then (mode-specific) each numeric column's modes."""
        return ([len(self.categories_[c]) for c in self.categorical_columns_]
                + [self.normalizers_[c].n_modes_ for c in self.normalizers_])

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
        "num": standardised numerics}``; mode-specific: ``"cat"`` ends with
        the numeric columns' modes and ``"num"`` holds their within-mode
        scalars. For a numeric array (``kind="array"``,
        validated as finite by the caller) ``"X"`` and ``"num"`` are one
        :class:`StandardisedRows`: the rows are standardised when indexed, so
        no copy of ``X`` is made; a frame is encoded into arrays.
        """
        if kind == "array":
            rows = StandardisedRows(X, self.numeric_mean_, self.numeric_scale_)
            return {"X": rows, "cat": np.zeros((len(X), 0), dtype=np.int64), "num": rows}
        codes = np.zeros((len(X), len(self.cardinalities)), dtype=np.int64)
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
            blocks.append(_one_hot(idx, len(cats)))
        num = self._numeric_block(kind, X)
        if self.normalizers_:
            num = num.copy()
            for j, c in enumerate(self.numeric_columns_):
                normalizer = self.normalizers_[c]
                modes, num[:, j] = normalizer.transform(num[:, j])
                codes[:, len(self.categorical_columns_) + j] = modes
                blocks.append(_one_hot(modes, normalizer.n_modes_))
            num = num.astype(np.float32)
        else:
            num = ((num - self.numeric_mean_) / self.numeric_scale_).astype(np.float32)
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
        do not change with how the label is decoded. Numeric columns: the
        standard encoding un-standardises the decoded means and clips them to
        the training range; the mode-specific one picks each column's mode
        as a categorical column (after them) and decodes it with the
        within-mode scalar (:meth:`ModeSpecificNormalizer.inverse_transform`):
        the decoded mean, or, when ``stochastic`` and ``scalar_scale_`` is
        set, a draw from N(mean, scalar_scale_^2) (drawn after every mode).

        Returns
        -------
        X : DataFrame (kind "frame") or ndarray of float32 (kind "array")
        y : ndarray or None
        """
        n = len(outputs["numeric"])

        def uniforms():
            return rng.random_sample((n, 1))

        y = None
        if self.target_kind_ == "categorical":
            u = uniforms() if stochastic or stochastic_label else None
            y = self.target_classes_[pick_class(outputs["target"], u if stochastic_label else None)]
        elif self.target_kind_ == "numeric":
            y = outputs["target"][:, 0] * self.target_scale_ + self.target_mean_
        if kind == "array":
            return self._decode_standard(outputs).astype(np.float32), y
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
        if self.normalizers_:
            modes = []
            for c in self.numeric_columns_:
                size = self.normalizers_[c].n_modes_
                modes.append(pick_class(outputs["logits"][:, left:left + size],
                                        uniforms() if stochastic else None))
                left += size
            scalars = outputs["numeric"].astype(np.float64)
            if stochastic and self.scalar_scale_ is not None:
                scalars = scalars + self.scalar_scale_ * rng.standard_normal(scalars.shape)
            num = np.column_stack([
                self.normalizers_[c].inverse_transform(modes[j], scalars[:, j])
                for j, c in enumerate(self.numeric_columns_)]) if n else scalars
        else:
            num = self._decode_standard(outputs)
        for j, c in enumerate(self.numeric_columns_):
            dtype = self.dtypes_[c]
            values = num[:, j]
            if pd.api.types.is_integer_dtype(dtype):
                values = np.round(values)
            columns[c] = pd.Series(values).astype(dtype)
        return pd.DataFrame({c: columns[c] for c in self.columns_}), y

    def _decode_standard(self, outputs):
        """Un-standardised numeric outputs, clipped to the training range (float64)."""
        num = outputs["numeric"].astype(np.float64) * self.numeric_scale_ + self.numeric_mean_
        return np.clip(num, self.numeric_min_, self.numeric_max_)
