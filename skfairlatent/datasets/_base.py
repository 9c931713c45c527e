"""Helpers shared by the dataset loaders: file access, option checks, Bunch assembly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name):
    """Return the path of a shipped data file, with a clear error if it is missing."""
    path = DATA_DIR / name
    if not path.is_file():  # pragma: no cover - only on a broken install
        raise FileNotFoundError(
            f"The shipped data file {name!r} is missing from {DATA_DIR}. Reinstall "
            "skfairlatent, or regenerate it with tools/build_datasets.py."
        )
    return path


def check_option(name, value, accepted):
    """Raise a ValueError naming the accepted values when ``value`` is not one of them."""
    if isinstance(value, str) and value in accepted:
        return value
    raise ValueError(
        f"{name}={value!r} is not supported; accepted values are "
        + ", ".join(repr(a) for a in accepted)
        + "."
    )


def check_bool(name, value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False; got {value!r}.")


def as_category(series, categories=None):
    """Return ``series`` as a pandas "category" column (string categories)."""
    series = series.astype(object).astype(str) if categories is None else series
    return series.astype(pd.CategoricalDtype(categories=categories))


def labels(series):
    """Return a readable string Series (pandas' default string dtype)."""
    return series.astype(object).astype(str)


def finish(*, data, target, sensitive, target_names, descr, return_X_y_A, as_frame=True):
    """Assemble the sklearn-style return value of a tabular loader.

    ``data`` is a DataFrame with a RangeIndex, ``target`` a Series (or a
    DataFrame for several targets) and ``sensitive`` a Series, all aligned.
    """
    return_X_y_A = check_bool("return_X_y_A", return_X_y_A)
    as_frame = check_bool("as_frame", as_frame)
    data = data.reset_index(drop=True)
    target = target.reset_index(drop=True)
    sensitive = sensitive.reset_index(drop=True)
    feature_names = list(data.columns)
    frame = pd.concat([data, target], axis=1) if as_frame else None
    if not as_frame:
        data = data.to_numpy(dtype=np.float64 if all(
            pd.api.types.is_numeric_dtype(t) for t in data.dtypes) else object)
        target = target.to_numpy()
        sensitive = sensitive.to_numpy(dtype=object)
    if return_X_y_A:
        return data, target, sensitive
    return Bunch(
        data=data,
        target=target,
        sensitive=sensitive,
        frame=frame,
        feature_names=feature_names,
        target_names=list(target_names),
        DESCR=descr,
    )
