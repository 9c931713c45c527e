"""A ready ColumnTransformer for the tabular loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["make_preprocessor"]


def _is_categorical_dtype(dtype):
    return (
        isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype))
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _is_numeric_dtype(dtype):
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


class _DtypeSelector:
    """Pick DataFrame columns by kind ("categorical" or "numeric").

    A picklable replacement for :func:`sklearn.compose.make_column_selector`
    that treats pandas 3's "str" dtype, the nullable "string" dtype, object,
    "category" and bool as categorical without pandas' ``select_dtypes``
    deprecation warnings. Columns listed in ``exclude`` are never picked.
    """

    def __init__(self, kind, exclude=()):
        self.kind = kind
        self.exclude = tuple(exclude)

    def __call__(self, X):
        if not hasattr(X, "dtypes") or not hasattr(X, "columns"):
            raise TypeError(
                "make_preprocessor() selects columns by dtype only on a pandas "
                "DataFrame; got "
                f"{type(X).__name__}. Pass categorical= and numeric= explicitly "
                "(column indices) for array input."
            )
        test = _is_categorical_dtype if self.kind == "categorical" else _is_numeric_dtype
        return [c for c, t in X.dtypes.items() if c not in self.exclude and test(t)]

    def __repr__(self):
        extra = f", exclude={list(self.exclude)!r}" if self.exclude else ""
        return f"_DtypeSelector({self.kind!r}{extra})"


def _check_columns(name, columns):
    if columns is None:
        return None
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    try:
        columns = list(columns)
    except TypeError:
        raise ValueError(
            f"{name} must be None or a list of column names or indices; got {columns!r}."
        ) from None
    return columns


def make_preprocessor(*, categorical=None, numeric=None):
    """Build the usual tabular preprocessing: one-hot categories, standardised numbers.

    Returns an unfitted :class:`~sklearn.compose.ColumnTransformer` with

    * ``OneHotEncoder(handle_unknown="ignore", sparse_output=False)`` on the
      categorical columns and
    * ``StandardScaler()`` on the numeric columns;

    every other column is dropped. The output is a dense float64 array, so it
    can feed any skfairlatent (torch) estimator in a
    :class:`~sklearn.pipeline.Pipeline`. This is the encoding the ALFA
    experiments use for Adult, COMPAS, German and Drug (Appendix I).

    Parameters
    ----------
    categorical : list of str or int, or None, default=None
        Columns to one-hot encode. ``None`` selects, at fit time, every column
        of a DataFrame whose dtype is "category", bool, object, pandas'
        "str" (the pandas 3 default for text) or "string".
    numeric : list of str or int, or None, default=None
        Columns to standardise. ``None`` selects every numeric (int or float,
        not bool) column of a DataFrame that is not listed in ``categorical``.

    Returns
    -------
    preprocessor : ColumnTransformer
        Transformers named ``"categorical"`` and ``"numeric"``;
        ``sparse_threshold=0`` so ``transform`` returns a dense ndarray of
        shape (n_samples, n_encoded_features), dtype float64.

    Raises
    ------
    ValueError
        If ``categorical`` or ``numeric`` is not None or a list of column
        names/indices, or the same column is in both.
    TypeError
        At fit time, if a selection by dtype (``None``) meets an input that is
        not a DataFrame.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skfairlatent.datasets import load_compas, make_preprocessor
    >>> X, y, A = load_compas(return_X_y_A=True)
    >>> model = make_pipeline(make_preprocessor(), LogisticRegression()).fit(X, y)
    """
    categorical = _check_columns("categorical", categorical)
    numeric = _check_columns("numeric", numeric)
    if categorical is not None and numeric is not None:
        both = set(categorical) & set(numeric)
        if both:
            raise ValueError(
                f"Columns {sorted(both, key=str)!r} are listed both as categorical and numeric."
            )
    if categorical is None:
        categorical = _DtypeSelector("categorical", exclude=numeric or ())
    if numeric is None:
        numeric = _DtypeSelector("numeric",
                                 exclude=categorical if isinstance(categorical, list) else ())
    return ColumnTransformer(
        [
            ("categorical",
             OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
             categorical),
            ("numeric", StandardScaler(), numeric),
        ],
        remainder="drop",
        sparse_threshold=0.0,
    )
