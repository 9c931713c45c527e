"""Stratified splits of the tabular datasets, preprocessed, for the experiments."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from .. import datasets

#: Loader of each tabular dataset (``return_X_y_A=True`` gives ``(X, y, A)``).
TABULAR = {
    "adult": datasets.load_adult,
    "compas": datasets.load_compas,
    "german": datasets.load_german,
    "drug": datasets.load_drug,
}
#: The datasets of the ``skfairlatent`` command (``colored_mnist``: AEDA only).
DATASETS = (*TABULAR, "colored_mnist")


def subsample(X, y, A, max_rows, seed):
    """A stratified (label × group) subsample of at most ``max_rows`` rows.

    Returns ``(X, y, A)`` unchanged when ``max_rows`` is None or not smaller
    than the number of rows.
    """
    if max_rows is None or max_rows >= len(X):
        return X, y, A
    strata = y.astype(str) + "|" + A.astype(str)
    X, _, y, _, A, _ = train_test_split(X, y, A, train_size=max_rows, random_state=seed,
                                        stratify=strata)
    return X, y, A


def load_split(dataset, seed, *, validation=0.2, test=0.2, max_rows=None):
    """A stratified train/validation/test split of a tabular dataset, preprocessed.

    The split is stratified on (label, group) cells and seeded by ``seed``;
    the preprocessor (:func:`skfairlatent.datasets.make_preprocessor`) is
    fitted on the training rows only.

    Parameters
    ----------
    dataset : {"adult", "compas", "german", "drug"}
    seed : int
    validation, test : float, default=0.2
        Fractions of all rows.
    max_rows : int or None, default=None
        Stratified subsample of the dataset before splitting (quick runs).

    Returns
    -------
    dict
        Keys ``train``, ``valid``, ``test``, each ``(X, y, A)`` with ``X``
        float32 of shape (n, n_features) and ``y``, ``A`` 1-d arrays.

    Raises
    ------
    ValueError
        For an unknown dataset.
    """
    if dataset not in TABULAR:
        raise ValueError(f"Unknown tabular dataset {dataset!r}; choose from {sorted(TABULAR)}.")
    X, y, A = TABULAR[dataset](return_X_y_A=True)
    X, y, A = subsample(X, y, A, max_rows, seed)
    strata = y.astype(str) + "|" + A.astype(str)
    X_rest, X_te, y_rest, y_te, A_rest, A_te = train_test_split(
        X, y, A, test_size=test, random_state=seed, stratify=strata)
    X_tr, X_va, y_tr, y_va, A_tr, A_va = train_test_split(
        X_rest, y_rest, A_rest, test_size=validation / (1 - test), random_state=seed,
        stratify=strata.loc[y_rest.index])
    pre = datasets.make_preprocessor().fit(X_tr)
    parts = {"train": (X_tr, y_tr, A_tr), "valid": (X_va, y_va, A_va), "test": (X_te, y_te, A_te)}
    return {name: (pre.transform(Xs).astype(np.float32), np.asarray(ys), np.asarray(As))
            for name, (Xs, ys, As) in parts.items()}


def fldgm_frames(dataset, seed, *, max_rows=None, test=0.3):
    """Raw (unencoded) train/test frames with the label and sensitive columns.

    Returns ``(X_tr, y_tr, A_tr, X_te, y_te, A_te, target, sensitive)``; the
    split is 70/30, stratified on (label, group).
    """
    X, y, A = TABULAR[dataset](return_X_y_A=True)
    X, y, A = subsample(X, y, A, max_rows, seed)
    target = y.name or "target"
    sensitive = A.name or "sensitive"
    strata = y.astype(str) + "|" + A.astype(str)
    X_tr, X_te, y_tr, y_te, A_tr, A_te = train_test_split(
        X, y, A, test_size=test, random_state=seed, stratify=strata)
    return (X_tr.rename(columns=str), y_tr.rename(target), A_tr.rename(sensitive),
            X_te.rename(columns=str), y_te.rename(target), A_te.rename(sensitive),
            target, sensitive)
