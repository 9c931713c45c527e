"""Group-fairness metrics with fairlearn's signatures, and scorers for model selection.

Every metric has the signature ``metric(y_true, y_pred, *, sensitive_features,
...)`` of fairlearn's aggregate metrics (``demographic_parity_difference``,
``equalized_odds_difference``) and returns a Python ``float``; lower is fairer
for the gaps, higher is better for the accuracies.

* :func:`delta_dp` -- max_a P(Ŷ=1|a) − min_a P(Ŷ=1|a) (ALFA's ΔDP).
* :func:`delta_eod` -- TPR gap + FPR gap (ALFA's ΔEOd, section 3).
* :func:`differential_fairness` -- max_{i≠j} |log P(Ŷ=1|i) / P(Ŷ=1|j)|
  (ALFA App. J.2, after Foulds et al. 2020).
* :func:`delta_dp_multiclass` -- max_k of the gap in P(Ŷ=k|a) (ALFA App. J.3).
* :func:`worst_group_accuracy` -- min over groups (or (group, label) cells)
  of the accuracy.
* :func:`model_bias` -- Σ_t |P(Ŷ=t|b=0,Y=t) − P(Ŷ=t|b=1,Y=t)| (AEDA Eq. 1).
* :func:`balanced_group_accuracy` -- mean accuracy over (label, group)
  cells (AEDA's bACC, section 4.1).

Synthetic data (FLDGM's evaluation):

* :func:`evaluate_synthetic` -- what the FLDGM paper's Table 1 reports for a
  synthetic table: utility and DP/FTU of a classifier trained on it and
  tested on real rows, and fidelity;
* :func:`density_coverage` -- density and coverage (Naeem et al., ICML 2020);
* :func:`alpha_precision_beta_recall_authenticity` -- Alaa et al., ICML 2022.

Column fidelity of a synthetic table (SDMetrics' definitions):

* :func:`evaluate_fidelity` -- all of the below in one dict;
* :func:`column_similarity` -- KS complement (numeric) or total-variation
  complement (categorical) per column;
* :func:`correlation_similarity` -- mean over numeric column pairs of
  1 - |rho_real - rho_synthetic| / 2;
* :func:`zero_fraction`, :func:`range_limit_fraction` -- shares of exact
  zeros and of rows on the real range limits.

Using them with fairlearn's ``MetricFrame``
-------------------------------------------
``MetricFrame`` calls its metrics once per group, *without* the sensitive
features, so a between-group gap cannot be one of its per-group metrics. Use
``MetricFrame`` for the per-group view and these functions for the gaps::

    from fairlearn.metrics import MetricFrame, selection_rate
    from sklearn.metrics import accuracy_score
    mf = MetricFrame(metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
                     y_true=y, y_pred=y_pred, sensitive_features=A)
    mf.by_group                       # per-group table
    delta_dp(y, y_pred, sensitive_features=A)   # == mf.difference()["selection_rate"]
    delta_eod(y, y_pred, sensitive_features=A)  # ALFA's ΔEOd

Using them in ``GridSearchCV``
------------------------------
:func:`make_fairness_scorer` wraps a metric as a lower-is-better scorer that
requests ``sensitive_features`` through scikit-learn's metadata routing::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    search = GridSearchCV(est, grid, refit="accuracy",
                          scoring={"accuracy": "accuracy",
                                   "delta_eod": make_fairness_scorer(delta_eod)})
    search.fit(X, y, sensitive_features=A)
    search.cv_results_["mean_test_delta_eod"]   # = −ΔEOd (negated!)

References
----------
ALFA: H. Jung, J. Chai, X. Wang, "Adversarial Latent Feature Augmentation for
Fairness", ICLR 2025.
AEDA: Y. Zhang, J. Sang, "Towards Accuracy-Fairness Paradox: Adversarial
Example-based Data Augmentation for Visual Debiasing", ACM MM 2020 (arXiv:2007.13632).
J. R. Foulds, R. Islam, K. N. Keya, S. Pan, "An Intersectional Definition of
Fairness", ICDE 2020 (differential fairness).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import make_scorer, precision_score, recall_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import check_random_state

from .base import check_sensitive_features
from .datasets._schema import is_categorical

__all__ = [
    "delta_dp",
    "delta_eod",
    "differential_fairness",
    "delta_dp_multiclass",
    "worst_group_accuracy",
    "model_bias",
    "balanced_group_accuracy",
    "make_fairness_scorer",
    "evaluate_synthetic",
    "density_coverage",
    "alpha_precision_beta_recall_authenticity",
    "column_similarity",
    "correlation_similarity",
    "zero_fraction",
    "range_limit_fraction",
    "evaluate_fidelity",
]


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #
def _as_1d(values, name):
    """Return ``values`` as a new 1-d object array (the caller's data is not touched)."""
    if values is None:
        raise ValueError(f"{name} is None; pass an array-like of labels.")
    if isinstance(values, (pd.Series, pd.Index)):
        array = values.to_numpy(dtype=object)
    elif isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValueError(
                f"{name} must be 1-d; got a DataFrame with {values.shape[1]} columns."
            )
        array = values.iloc[:, 0].to_numpy(dtype=object)
    else:
        array = np.array(values, dtype=object)  # a copy
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-d; got an array of shape {array.shape}.")
    return array


def _check_inputs(y_true, y_pred, sensitive_features, *, metric):
    """Validate the three inputs and encode labels and groups.

    Returns
    -------
    t, p : ndarray of int64, shape (n_samples,)
        Codes of ``y_true`` and ``y_pred`` in a shared label set.
    labels : ndarray of object
        The label of each code.
    sf : SensitiveFeatures
    """
    if sensitive_features is None:
        raise ValueError(
            f"{metric} needs sensitive_features; call {metric}(y_true, y_pred, "
            "sensitive_features=A)."
        )
    y_true = _as_1d(y_true, "y_true")
    y_pred = _as_1d(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} samples but y_pred has {len(y_pred)}; "
            "they must have the same length."
        )
    if len(y_true) == 0:
        raise ValueError(f"{metric} got empty inputs (0 samples).")
    sf = check_sensitive_features(sensitive_features, len(y_true))
    both = np.concatenate([y_true, y_pred])
    try:
        codes, labels = pd.factorize(both, sort=True)
    except TypeError:  # unorderable mix of label types
        codes, labels = pd.factorize(both, sort=False)
    if (codes < 0).any():
        raise ValueError("y_true and y_pred must not contain missing values (NaN or None).")
    n = len(y_true)
    return (codes[:n].astype(np.int64), codes[n:].astype(np.int64),
            np.asarray(labels, dtype=object), sf)


def _pos_code(labels, pos_label):
    """Code of ``pos_label`` among ``labels``, or ValueError if it is absent."""
    for code, label in enumerate(labels):
        if label == pos_label:
            return code
    raise ValueError(
        f"pos_label={pos_label!r} is not among the labels of y_true and y_pred "
        f"({list(labels)!r}); pass the positive class as pos_label=..."
    )


def _rates(hit, codes, n_groups, mask=None):
    """Mean of boolean ``hit`` per group code (restricted to ``mask``); NaN if empty."""
    if mask is None:
        mask = np.ones(len(hit), dtype=bool)
    counts = np.bincount(codes[mask], minlength=n_groups).astype(float)
    hits = np.bincount(codes[mask], weights=hit[mask].astype(float), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.where(counts > 0, counts, 1), np.nan), counts


# --------------------------------------------------------------------------- #
# Metrics
# --------------------------------------------------------------------------- #
def delta_dp(y_true, y_pred, *, sensitive_features, pos_label=1):
    r"""Demographic-parity gap ΔDP: spread of the selection rate over groups.

    .. math::

        \Delta DP = \max_a P(\hat Y = 1 \mid A = a) - \min_a P(\hat Y = 1 \mid A = a)

    For two groups this is :math:`|P(\hat Y=1|A=1) - P(\hat Y=1|A=0)|`, ALFA's
    ΔDP; it equals fairlearn's ``demographic_parity_difference`` (and
    ``MetricFrame(metrics=selection_rate, ...).difference()``).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels; only used to check the length (as in fairlearn).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, of any type.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
        Group of each sample (several columns: their intersection).
    pos_label : scalar, default=1
        The label counted as a positive prediction, e.g. ``">50K"``.

    Returns
    -------
    float
        In ``[0, 1]``; 0 means equal selection rates.

    Raises
    ------
    ValueError
        On length mismatch, empty input, missing values, fewer than two groups,
        or a ``pos_label`` found in neither ``y_true`` nor ``y_pred``.

    References
    ----------
    ALFA, section 3 ("Motivation", DP) and the ΔDP columns of its App. H tables.
    """
    t, p, labels, sf = _check_inputs(y_true, y_pred, sensitive_features, metric="delta_dp")
    pos = _pos_code(labels, pos_label)
    rates, _ = _rates(p == pos, sf.codes, sf.n_groups)
    return float(np.max(rates) - np.min(rates))


def delta_eod(y_true, y_pred, *, sensitive_features, pos_label=1):
    r"""Equalized-odds gap ΔEOd of ALFA: TPR gap **plus** FPR gap.

    .. math::

        \Delta EOd = \sum_{y \in \{0, 1\}}
            \left| P(\hat Y = 1 \mid A = 1, Y = y) - P(\hat Y = 1 \mid A = 0, Y = y) \right|
          = |TPR_1 - TPR_0| + |FPR_1 - FPR_0|

    With more than two groups each term becomes the spread over groups:
    ``(max_a TPR_a − min_a TPR_a) + (max_a FPR_a − min_a FPR_a)``.

    fairlearn's ``equalized_odds_difference`` (``agg="worst_case"``) is the
    **maximum** of the two spreads, not their sum, so
    ``eod_diff <= delta_eod <= 2 * eod_diff``. Values in ALFA's tables are
    this sum and lie in ``[0, 2]``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels. Rows whose label is not ``pos_label`` are the negatives
        (one-vs-rest for more than two labels).
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
    pos_label : scalar, default=1

    Returns
    -------
    float
        In ``[0, 2]``.

    Raises
    ------
    ValueError
        As :func:`delta_dp`, and when fewer than two groups have positive rows
        (TPR undefined) or negative rows (FPR undefined). Groups lacking
        positives (negatives) are left out of the TPR (FPR) spread with a
        ``UserWarning`` when at least two other groups remain.

    References
    ----------
    ALFA, section 3 ("Motivation") and App. A (proof of Theorem 3.2:
    ΔEOd = |TPR_1 − TPR_0| + |FPR_1 − FPR_0|).
    """
    t, p, labels, sf = _check_inputs(y_true, y_pred, sensitive_features, metric="delta_eod")
    pos = _pos_code(labels, pos_label)
    hit = p == pos
    total = 0.0
    for name, mask in (("TPR", t == pos), ("FPR", t != pos)):
        rates, counts = _rates(hit, sf.codes, sf.n_groups, mask)
        defined = counts > 0
        if defined.sum() < 2:
            raise ValueError(
                f"delta_eod: the {name} is defined for fewer than two groups (groups "
                f"with {'positive' if name == 'TPR' else 'negative'} rows: "
                f"{list(sf.groups[defined])!r} of {list(sf.groups)!r})."
            )
        if not defined.all():
            warnings.warn(
                f"delta_eod: groups {list(sf.groups[~defined])!r} have no "
                f"{'positive' if name == 'TPR' else 'negative'} rows and are left "
                f"out of the {name} gap.",
                UserWarning,
                stacklevel=2,
            )
        total += float(np.nanmax(rates) - np.nanmin(rates))
    return total


def differential_fairness(y_true, y_pred, *, sensitive_features, pos_label=1, smoothing=0.0):
    r"""Differential fairness ε of the positive prediction (ALFA App. J.2).

    .. math::

        DF = \max_{i \in S} \max_{j \in S \setminus \{i\}}
             \left| \log \frac{P(\hat y = 1 \mid a = i)}{P(\hat y = 1 \mid a = j)} \right|
           = \log \max_a P(\hat y=1|a) - \log \min_a P(\hat y=1|a)

    (ALFA writes ``P(y = 1 | a)``; it is evaluated on the predictions, as
    Foulds et al. do.) The rates are estimated with Dirichlet smoothing, as in
    Foulds et al. (2020):

    .. math::

        P(\hat y = 1 \mid a) = \frac{N_{a, \hat y = 1} + \alpha}{N_a + 2\alpha}

    with :math:`\alpha` = ``smoothing`` and 2 outcomes. With the default
    ``smoothing=0`` (empirical rates), a group with no positive prediction
    gives ``inf`` when another group has some, and groups whose rates are
    all 0 give 0. Foulds et al. also take the maximum over the negative
    outcome ``ŷ = 0``; ALFA's definition, followed here, uses ``ŷ = 1`` only.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Only used to check the length.
    y_pred : array-like of shape (n_samples,)
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
        Two or more groups (e.g. race with three values).
    pos_label : scalar, default=1
    smoothing : float, default=0.0
        Dirichlet concentration α >= 0 (Foulds et al. use 1.0).

    Returns
    -------
    float
        In ``[0, inf]``.

    Raises
    ------
    ValueError
        As :func:`delta_dp`, or for a negative ``smoothing``.

    References
    ----------
    ALFA, App. J.2 (Table 22); Foulds et al., ICDE 2020, Eq. 2 and section on
    estimation.
    """
    if not np.isscalar(smoothing) or not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a finite number >= 0; got {smoothing!r}.")
    t, p, labels, sf = _check_inputs(
        y_true, y_pred, sensitive_features, metric="differential_fairness"
    )
    pos = _pos_code(labels, pos_label)
    counts = np.bincount(sf.codes, minlength=sf.n_groups).astype(float)
    hits = np.bincount(sf.codes, weights=(p == pos).astype(float), minlength=sf.n_groups)
    rates = (hits + smoothing) / (counts + 2.0 * smoothing)
    hi, lo = float(np.max(rates)), float(np.min(rates))
    if hi == 0.0:
        return 0.0
    if lo == 0.0:
        return float("inf")
    return float(np.log(hi) - np.log(lo))


def delta_dp_multiclass(y_true, y_pred, *, sensitive_features):
    r"""Multi-class demographic-parity gap ΔDP_multi (ALFA App. J.3).

    .. math::

        \Delta DP_{multi} = \max_{k \in [K]}
            \left| P(\hat Y = k \mid a = 1) - P(\hat Y = k \mid a = 0) \right|

    With more than two groups the absolute difference becomes the spread
    ``max_a P(Ŷ=k|a) − min_a P(Ŷ=k|a)``. Classes are those seen in ``y_true``
    or ``y_pred``; a class never predicted contributes 0. For binary labels
    this equals :func:`delta_dp`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Only used for the class set and the length.
    y_pred : array-like of shape (n_samples,)
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        As :func:`delta_dp`.

    References
    ----------
    ALFA, App. J.3 (after Denis et al., 2021), Table 23.
    """
    t, p, labels, sf = _check_inputs(
        y_true, y_pred, sensitive_features, metric="delta_dp_multiclass"
    )
    worst = 0.0
    for k in range(len(labels)):
        rates, _ = _rates(p == k, sf.codes, sf.n_groups)
        worst = max(worst, float(np.max(rates) - np.min(rates)))
    return worst


def worst_group_accuracy(y_true, y_pred, *, sensitive_features, by="group"):
    r"""Lowest accuracy over groups (or over (group, label) cells).

    .. math::

        \text{WGA} = \min_a P(\hat Y = Y \mid A = a)
        \quad\text{or, with } by=\text{"group\_and\_label"},\quad
        \min_{(a, y)} P(\hat Y = y \mid A = a, Y = y)

    Empty cells are ignored.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
    by : {"group", "group_and_label"}, default="group"

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.

    Raises
    ------
    ValueError
        As :func:`delta_dp`, or for an unknown ``by``.

    References
    ----------
    The worst-group accuracy reported in "Constructing Fair Latent Space for
    Intersection of Fairness and Explainability", arXiv:2412.17523.
    """
    if by not in ("group", "group_and_label"):
        raise ValueError(f"by must be 'group' or 'group_and_label'; got {by!r}.")
    t, p, labels, sf = _check_inputs(
        y_true, y_pred, sensitive_features, metric="worst_group_accuracy"
    )
    correct = t == p
    if by == "group":
        cells = sf.codes
    else:
        cells = sf.codes * len(labels) + t
    accuracy, _ = _rates(correct, cells, int(cells.max()) + 1)
    return float(np.nanmin(accuracy))


def model_bias(y_true, y_pred, *, sensitive_features):
    r"""AEDA's model bias: summed per-class recall gap between bias groups.

    .. math::

        bias(\theta) = \sum_{t \in T} bias(\theta, t), \qquad
        bias(\theta, t) = \left| P(\hat t = t \mid b = 0, t^* = t)
                               - P(\hat t = t \mid b = 1, t^* = t) \right|

    i.e. the per-class true-positive rates (recalls) of the two bias groups
    ``b``, differenced and summed over the target classes ``t`` in
    ``y_true``. Each term is a probability difference, so the sum lies in
    ``[0, n_classes]`` and is **not** averaged: AEDA's Table 1 reports 7.84
    for the Original classifier on 10-class C-MNIST, which matches its bACC of
    55.62% (about 95% recall on the colour seen in training and 16% on the
    other colour give 10 × 0.78 = 7.8 and (0.95 + 0.16)/2 = 0.556). Divide by
    the number of classes for a value in ``[0, 1]``.

    With more than two bias groups, ``bias(θ, t)`` is the spread
    ``max_b − min_b`` of the per-group recall. A class whose rows are all in
    one group has no gap; it is skipped with a ``UserWarning``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True target classes ``t*``.
    y_pred : array-like of shape (n_samples,)
        Predicted classes ``t̂``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
        Bias variable ``b`` (e.g. background colour, gender).

    Returns
    -------
    float
        In ``[0, n_classes]``; lower is fairer.

    Raises
    ------
    ValueError
        As :func:`delta_dp`, or when no class has rows in two groups.

    References
    ----------
    AEDA, section 2.1, Definition 1, Eq. 1 and the sum below it; Tables 1-2.
    """
    t, p, labels, sf = _check_inputs(y_true, y_pred, sensitive_features, metric="model_bias")
    total, used, skipped = 0.0, 0, []
    for k in np.unique(t):
        rates, counts = _rates(p == k, sf.codes, sf.n_groups, t == k)
        if (counts > 0).sum() < 2:
            skipped.append(labels[k])
            continue
        total += float(np.nanmax(rates) - np.nanmin(rates))
        used += 1
    if used == 0:
        raise ValueError(
            "model_bias: no target class has rows in two or more bias groups, so "
            "no per-class gap can be measured."
        )
    if skipped:
        warnings.warn(
            f"model_bias: classes {skipped!r} occur in only one bias group and are "
            "left out of the sum.",
            UserWarning,
            stacklevel=2,
        )
    return total


def balanced_group_accuracy(y_true, y_pred, *, sensitive_features):
    r"""AEDA's balanced accuracy bACC: mean accuracy over (target, bias) cells.

    .. math::

        bACC = \frac{1}{|C|} \sum_{(t, b) \in C} P(\hat t = t \mid t^* = t, b),

    where ``C`` is the set of non-empty (true class, group) cells, so every
    cell weighs the same whatever its size. Returned as a fraction (AEDA's
    tables show percentages).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.

    Raises
    ------
    ValueError
        As :func:`delta_dp`.

    References
    ----------
    AEDA, section 4.1 ("Evaluation metrics"), Tables 1-2.
    """
    t, p, labels, sf = _check_inputs(
        y_true, y_pred, sensitive_features, metric="balanced_group_accuracy"
    )
    cells = sf.codes * len(labels) + t
    accuracy, _ = _rates(t == p, cells, int(cells.max()) + 1)
    return float(np.nanmean(accuracy))


# --------------------------------------------------------------------------- #
# Scorer
# --------------------------------------------------------------------------- #
class _RoutedMetric:
    """Picklable wrapper that insists on receiving ``sensitive_features``."""

    def __init__(self, metric):
        self.metric = metric
        self.__name__ = getattr(metric, "__name__", type(metric).__name__)

    def __call__(self, y_true, y_pred, *, sensitive_features=None, **kwargs):
        if sensitive_features is None:
            raise ValueError(
                f"The fairness scorer for {self.__name__} did not receive "
                "sensitive_features. Turn metadata routing on with "
                "sklearn.set_config(enable_metadata_routing=True) and pass them to "
                "the fit of the search, e.g. GridSearchCV(...).fit(X, y, "
                "sensitive_features=A), or call scorer(estimator, X, y, "
                "sensitive_features=A)."
            )
        return self.metric(y_true, y_pred, sensitive_features=sensitive_features, **kwargs)

    def __repr__(self):
        return self.__name__


def make_fairness_scorer(metric, **metric_kwargs):
    """Wrap a fairness metric as a lower-is-better scorer that requests ``sensitive_features``.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred, *, sensitive_features, **metric_kwargs)``,
        e.g. :func:`delta_eod`, :func:`delta_dp` or a fairlearn metric such as
        ``equalized_odds_difference``. The scorer calls ``estimator.predict``.
    **metric_kwargs
        Fixed keyword arguments of the metric, e.g. ``pos_label=">50K"``.

    Returns
    -------
    scorer : sklearn scorer
        ``make_scorer(metric, greater_is_better=False, **metric_kwargs)`` with
        ``set_score_request(sensitive_features=True)`` already applied (the
        request is set even if metadata routing is off when this is called).
        It returns ``-metric(...)``.

    Raises
    ------
    TypeError
        If ``metric`` is not callable.

    Notes
    -----
    * Metadata routing must be on
      (``sklearn.set_config(enable_metadata_routing=True)``) when the search
      is fitted, and ``sensitive_features`` passed to its ``fit``; otherwise
      the scorer receives no groups and raises a ``ValueError`` that says so
      (``GridSearchCV`` with the default ``error_score=np.nan`` turns it into
      a warning and NaN scores).
    * Because scikit-learn maximises scores, ``greater_is_better=False``
      negates the metric: ``cv_results_["mean_test_<name>"]`` holds
      **−ΔEOd** (values <= 0) and ``best_score_`` is the negated gap. The
      helpers of :mod:`skfairlatent.model_selection` un-negate it.
    * Only the scorer needs to request ``sensitive_features``; an estimator
      whose ``fit`` does not take them (``LogisticRegression``) is fine.

    Examples
    --------
    >>> import sklearn
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.linear_model import LogisticRegression
    >>> sklearn.set_config(enable_metadata_routing=True)  # doctest: +SKIP
    >>> search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1]},
    ...                       scoring={"accuracy": "accuracy",
    ...                                "delta_eod": make_fairness_scorer(delta_eod)},
    ...                       refit="accuracy")
    >>> search.fit(X, y, sensitive_features=A)  # doctest: +SKIP
    """
    if not callable(metric):
        raise TypeError(f"metric must be callable; got {metric!r}.")
    scorer = make_scorer(_RoutedMetric(metric), greater_is_better=False, **metric_kwargs)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = scorer.set_score_request(sensitive_features=True)
    return scorer


# --------------------------------------------------------------------------- #
# Synthetic data (FLDGM's evaluation)
# --------------------------------------------------------------------------- #
def _embedding(reference, frames):
    """One-hot categoricals and standardised numerics, fitted on ``reference``."""
    cat = [c for c in reference.columns if is_categorical(reference[c].dtype)]
    num = [c for c in reference.columns if c not in cat]
    enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                              cat),
                             ("num", StandardScaler(), num)])
    enc.fit(_as_object(reference, cat))
    return [np.asarray(enc.transform(_as_object(f, cat)), dtype=np.float64) for f in frames]


def _as_object(frame, cat):
    frame = frame.copy()
    for c in cat:
        frame[c] = frame[c].astype(object)
    return frame


def density_coverage(real, fake, n_neighbors=5, chunk_size=2048):
    """Density and coverage (Naeem et al., ICML 2020, Eq. 3-4).

    With B(x_i, r_i) the ball around real point i whose radius r_i is the
    distance to its k-th nearest real neighbour (itself excluded):

    * density = 1 / (k M) sum_j sum_i 1[Y_j in B(X_i, r_i)] (unbounded;
      1 on average when fake and real come from the same distribution),
    * coverage = 1 / N sum_i 1[exists j: Y_j in B(X_i, r_i)] in [0, 1].

    Membership is strict (distance < radius), as in the authors' ``prdc``
    package. Memory is O(chunk_size * N).

    Parameters
    ----------
    real : ndarray of shape (N, d)
    fake : ndarray of shape (M, d)
    n_neighbors : int, default=5
        k (the authors' default).
    chunk_size : int, default=2048
        Fake rows per block of distances.

    Returns
    -------
    density, coverage : float
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if len(real) <= n_neighbors or len(fake) == 0:
        raise ValueError(f"Need more than n_neighbors={n_neighbors} real rows and at least one "
                         f"synthetic row; got {len(real)} and {len(fake)}.")
    radii = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(real).kneighbors(real)[0][:, -1]
    inside = 0
    for start in range(0, len(fake), chunk_size):
        block = np.sqrt(np.maximum(
            (fake[start:start + chunk_size] ** 2).sum(1)[:, None] + (real ** 2).sum(1)[None, :]
            - 2 * fake[start:start + chunk_size] @ real.T, 0.0))
        inside += int((block < radii[None, :]).sum())
    density = inside / (n_neighbors * len(fake))
    nearest_fake = NearestNeighbors(n_neighbors=1).fit(fake).kneighbors(real)[0][:, 0]
    coverage = float((nearest_fake < radii).mean())
    return float(density), coverage


def alpha_precision_beta_recall_authenticity(real, fake, n_alphas=30):
    """alpha-precision, beta-recall and authenticity (Alaa et al., ICML 2022).

    In the identity embedding (no learnt one-class embedding; as synthcity's
    "naive" variant), with c the mean of the real points:

    * the alpha-support of the real data is the ball around c holding a
      fraction alpha of the real points; P_alpha = fraction of synthetic points
      inside it. alpha-precision = 1 - sum_alpha |P_alpha - alpha| / sum_alpha alpha
      over ``n_alphas`` values of alpha evenly spaced in [0, 1] (1 is best);
    * R_beta = fraction of real points i whose nearest synthetic point j lies
      within i's nearest-real-neighbour distance and inside the beta-quantile
      ball of those nearest synthetic points around the synthetic mean;
      beta-recall = 1 - sum |R_beta - beta| / sum beta;
    * authenticity = fraction of synthetic points j whose nearest real point
      i* is farther from j than from i*'s own nearest real neighbour (a
      synthetic point closer than that is a likely copy of i*).

    Parameters
    ----------
    real : ndarray of shape (N, d)
        Real training rows (authenticity is about memorising them).
    fake : ndarray of shape (M, d)
    n_alphas : int, default=30

    Returns
    -------
    alpha_precision, beta_recall, authenticity : float
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    alphas = np.linspace(0, 1, n_alphas)
    centre = real.mean(0)
    radii = np.quantile(np.linalg.norm(real - centre, axis=1), alphas)
    fake_to_centre = np.linalg.norm(fake - centre, axis=1)
    precision_curve = np.array([(fake_to_centre <= r).mean() for r in radii])

    real_nn = NearestNeighbors(n_neighbors=2).fit(real)
    real_to_real = real_nn.kneighbors(real)[0][:, 1]
    real_to_fake, fake_idx = NearestNeighbors(n_neighbors=1).fit(fake).kneighbors(real)
    real_to_fake, fake_idx = real_to_fake[:, 0], fake_idx[:, 0]
    closest = fake[fake_idx]
    closest_to_centre = np.linalg.norm(closest - fake.mean(0), axis=1)
    beta_radii = np.quantile(closest_to_centre, alphas)
    recall_curve = np.array([((real_to_fake <= real_to_real) & (closest_to_centre <= r)).mean()
                             for r in beta_radii])

    fake_to_real, real_idx = real_nn.kneighbors(fake, n_neighbors=1)
    authentic = fake_to_real[:, 0] > real_to_real[real_idx[:, 0]]

    alpha_precision = 1 - np.abs(precision_curve - alphas).sum() / alphas.sum()
    beta_recall = 1 - np.abs(recall_curve - alphas).sum() / alphas.sum()
    return float(alpha_precision), float(beta_recall), float(authentic.mean())


def _ftu(model, X, sensitive, groups):
    """max - min over groups g of mean P(y_hat = pos) with every row's s set to g."""
    if sensitive not in X.columns:
        return 0.0
    rates = []
    for g in groups:
        Xg = X.copy()
        Xg[sensitive] = pd.Series([g] * len(X), index=X.index,
                                  dtype=object).astype(X[sensitive].dtype)
        rates.append(model.predict(Xg).mean())
    return float(max(rates) - min(rates))


def evaluate_synthetic(real_train, real_test, synthetic, *, target, sensitive, pos_label=1,
                       classifier=None, n_neighbors=5, max_rows=5000, random_state=None):
    """What the FLDGM paper's tables report for one synthetic dataset.

    Utility and fairness (paper section 5.2 and Table 1, the protocol of
    DECAF, van Breugel et al. 2021): a classifier (a random forest by
    default) is trained on ``synthetic`` and tested on ``real_test``.

    * precision, recall: for the label ``pos_label``; auroc: of its predicted
      probability.
    * dp: demographic parity gap of the predictions on ``real_test``,
      max - min over groups of P(y_hat = pos_label | s) (Definition 2).
    * ftu: fairness through unawareness (Definition 1) as DECAF measures it,
      |P(y_hat = pos | do(s = 1)) - P(y_hat = pos | do(s = 0))| averaged over
      ``real_test`` with the sensitive column set to each group (max - min
      over groups); 0 when the sensitive column is not a feature.

    Fidelity (in the embedding of one-hot categoricals and standardised
    numerics fitted on ``real_train``; all columns, label included; at most
    ``max_rows`` random rows of each side):

    * density, coverage: Naeem et al. 2020, see :func:`density_coverage`
      (real reference: ``real_train``).
    * alpha_precision, beta_recall, authenticity: Alaa et al. 2022, see
      :func:`alpha_precision_beta_recall_authenticity`.

    Parameters
    ----------
    real_train, real_test, synthetic : DataFrame
        Frames with the same columns: features, the ``target`` column and the
        ``sensitive`` column (which is used as a feature, as in DECAF). Pass
        ``synthetic=real_train`` for the "real data" reference row.
    target : str
        Label column.
    sensitive : str
        Sensitive column.
    pos_label : scalar, default=1
        The positive label (the paper's code takes income <=50K as positive).
    classifier : sklearn classifier or None, default=None
        Default ``RandomForestClassifier(n_estimators=100)``; cloned, and
        preceded by a one-hot encoder for categorical columns (fitted on
        ``real_train``, unknown categories ignored).
    n_neighbors : int, default=5
        k of density and coverage.
    max_rows : int, default=5000
        Subsample size for the k-NN metrics (their cost is quadratic).
    random_state : int, RandomState instance or None, default=None
        Seeds the forest and the subsamples.

    Returns
    -------
    dict of str -> float
        Keys ``precision``, ``recall``, ``auroc``, ``ftu``, ``dp``,
        ``density``, ``coverage``, ``alpha_precision``, ``beta_recall``,
        ``authenticity``.

    Raises
    ------
    ValueError
        Missing columns, an empty frame, a synthetic label with one class.
    """
    for name, frame in (("real_train", real_train), ("real_test", real_test),
                        ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise ValueError(f"{name} must be a non-empty DataFrame.")
        missing = [c for c in (target, sensitive) if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks the columns {missing}.")
    columns = list(real_train.columns)
    absent = [c for c in columns if c not in synthetic.columns or c not in real_test.columns]
    if absent:
        raise ValueError(f"Columns {absent} of real_train are missing from the other frames.")
    rng = check_random_state(random_state)
    features = [c for c in columns if c != target]
    cat = [c for c in features if is_categorical(real_train[c].dtype)]
    encoder = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), cat)], remainder="passthrough")
    clf = clone(classifier) if classifier is not None else RandomForestClassifier(
        n_estimators=100, n_jobs=1, random_state=rng.randint(2**31 - 1))
    y_syn = synthetic[target].to_numpy()
    if len(np.unique(y_syn)) < 2:
        raise ValueError("The synthetic label has a single class; no classifier can be trained.")
    model = make_pipeline(encoder, clf)

    def prep(frame):
        return _as_object(frame[features], cat)

    encoder.fit(prep(real_train))
    model.steps[0] = ("columntransformer", _FrozenTransformer(encoder))
    model.fit(prep(synthetic), y_syn)
    X_test = prep(real_test)
    y_test = real_test[target].to_numpy()
    y_hat = model.predict(X_test)
    classes = list(model.classes_)
    proba = (model.predict_proba(X_test)[:, classes.index(pos_label)]
             if pos_label in classes else np.zeros(len(X_test)))
    result = {
        "precision": float(precision_score(y_test, y_hat, pos_label=pos_label, zero_division=0)),
        "recall": float(recall_score(y_test, y_hat, pos_label=pos_label, zero_division=0)),
        "auroc": float(roc_auc_score(y_test == pos_label, proba)),
    }
    hit = _PositiveRate(model, pos_label)
    groups = pd.unique(real_test[sensitive].astype(object))
    result["ftu"] = _ftu(hit, X_test, sensitive, groups)
    result["dp"] = delta_dp(y_test, y_hat, sensitive_features=real_test[sensitive].to_numpy(),
                            pos_label=pos_label) if pos_label in set(y_hat) else 0.0

    def subsample(frame):
        if len(frame) <= max_rows:
            return frame
        return frame.iloc[rng.choice(len(frame), max_rows, replace=False)]

    ref, fake = _embedding(real_train[columns], [subsample(real_train[columns]),
                                                 subsample(synthetic[columns])])
    result["density"], result["coverage"] = density_coverage(ref, fake, n_neighbors)
    (result["alpha_precision"], result["beta_recall"],
     result["authenticity"]) = alpha_precision_beta_recall_authenticity(ref, fake)
    return result


class _FrozenTransformer(BaseEstimator):
    """A fitted transformer whose ``fit`` does nothing (fitted on real data once)."""

    def __init__(self, transformer):
        self.transformer = transformer

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return self.transformer.transform(X)


class _PositiveRate:
    """``predict`` -> 1.0 where the model predicts ``pos_label``."""

    def __init__(self, model, pos_label):
        self.model, self.pos_label = model, pos_label

    def predict(self, X):
        return (self.model.predict(X) == self.pos_label).astype(float)


# --------------------------------------------------------------------------- #
# Column fidelity of synthetic tables (as SDMetrics and CTGAN's papers measure it)
# --------------------------------------------------------------------------- #
def _check_frames(real, synthetic):
    """Both DataFrames, non-empty, with the same columns; return the numeric ones (of ``real``).

    Raises
    ------
    ValueError
        Not DataFrames, no rows, columns that differ (named), or a column
        numeric in ``real`` but not in ``synthetic``.
    """
    if not isinstance(real, pd.DataFrame) or not isinstance(synthetic, pd.DataFrame):
        raise ValueError("real and synthetic must be pandas DataFrames; got "
                         f"{type(real).__name__} and {type(synthetic).__name__}.")
    only_real = [c for c in real.columns if c not in synthetic.columns]
    only_synthetic = [c for c in synthetic.columns if c not in real.columns]
    if only_real or only_synthetic:
        raise ValueError(f"real and synthetic need the same columns; only in real: {only_real}, "
                         f"only in synthetic: {only_synthetic}.")
    if len(real) == 0 or len(synthetic) == 0:
        raise ValueError(f"real and synthetic need rows; got {len(real)} and {len(synthetic)}.")
    numeric = _numeric_columns(real)
    bad = [c for c in numeric if is_categorical(synthetic[c].dtype)
           or not pd.api.types.is_numeric_dtype(synthetic[c].dtype)]
    if bad:
        raise ValueError(f"Columns {bad} are numeric in real but not in synthetic.")
    return numeric


def _numeric_columns(frame):
    return [c for c in frame.columns if not is_categorical(frame[c].dtype)
            and pd.api.types.is_numeric_dtype(frame[c].dtype)]


def _tv_complement(real, synthetic):
    """1 - 0.5 * sum over categories of |p_real - p_synthetic| (missing values a category)."""
    p_real = real.astype(object).value_counts(normalize=True, dropna=False)
    p_synthetic = synthetic.astype(object).value_counts(normalize=True, dropna=False)
    p_real, p_synthetic = p_real.align(p_synthetic, fill_value=0.0)
    return 1.0 - 0.5 * float(np.abs(p_real - p_synthetic).sum())


def _ks_complement(real, synthetic):
    """1 - the two-sample Kolmogorov-Smirnov statistic (missing values dropped)."""
    from scipy.stats import ks_2samp

    real, synthetic = real.dropna().to_numpy(np.float64), synthetic.dropna().to_numpy(np.float64)
    if len(real) == 0 or len(synthetic) == 0:
        return np.nan
    with warnings.catch_warnings():  # the p-value's method; the statistic is exact
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
        return 1.0 - float(ks_2samp(real, synthetic).statistic)


def column_similarity(real, synthetic):
    """Per-column similarity of a synthetic table to a real one, in [0, 1].

    For a numeric column (by the dtype in ``real``; bool, category, object
    and string columns are categorical) the KS complement,
    ``1 - sup_x |F_real(x) - F_synthetic(x)|`` (one minus the two-sample
    Kolmogorov-Smirnov statistic, ``scipy.stats.ks_2samp``; missing values
    dropped); for a categorical column the total-variation complement,
    ``1 - 0.5 * sum_k |p_real(k) - p_synthetic(k)|`` over the categories of
    either frame (missing values a category of their own). 1 means equal
    marginals, 0 disjoint supports.

    Parameters
    ----------
    real, synthetic : DataFrame
        The same columns (in any order), any numbers of rows.

    Returns
    -------
    Series of float, indexed by the columns of ``real`` (in its order)

    Raises
    ------
    ValueError
        Not DataFrames, no rows, columns that differ (named), or a column
        numeric in ``real`` but not in ``synthetic``.

    References
    ----------
    SDMetrics' ``KSComplement`` and ``TVComplement`` (the SDV project), the
    column-shape scores of its quality report. L. Xu, M. Skoularidou,
    A. Cuesta-Infante, K. Veeramachaneni, "Modeling Tabular Data using
    Conditional GAN", NeurIPS 2019 (statistical-similarity evaluation).
    """
    numeric = _check_frames(real, synthetic)
    return pd.Series({c: (_ks_complement if c in numeric else _tv_complement)(
        real[c], synthetic[c]) for c in real.columns}, dtype=np.float64)


def correlation_similarity(real, synthetic, method="pearson"):
    """Mean similarity of the pairwise correlations of the numeric columns.

    For each pair (i, j) of numeric columns (by the dtype in ``real``),
    ``1 - |rho_real(i, j) - rho_synthetic(i, j)| / 2``, averaged over the
    pairs whose correlations are defined in both frames (a constant column
    has none).

    Parameters
    ----------
    real, synthetic : DataFrame
        The same columns.
    method : {"pearson", "spearman"}, default="pearson"
        The correlation coefficient.

    Returns
    -------
    float
        In [0, 1]; 1 for equal correlations. NaN with fewer than two numeric
        columns or no defined pair.

    Raises
    ------
    ValueError
        As :func:`column_similarity`, or an unknown ``method``.

    References
    ----------
    SDMetrics' ``CorrelationSimilarity`` (the SDV project), averaged over
    the column pairs as its quality report's column-pair trends.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman'; got {method!r}.")
    numeric = _check_frames(real, synthetic)
    if len(numeric) < 2:
        return float("nan")
    upper = np.triu_indices(len(numeric), k=1)
    rho_real = real[numeric].astype(np.float64).corr(method=method).to_numpy()[upper]
    rho_synthetic = synthetic[numeric].astype(np.float64).corr(method=method).to_numpy()[upper]
    scores = 1.0 - np.abs(rho_real - rho_synthetic) / 2.0
    scores = scores[np.isfinite(scores)]
    return float(scores.mean()) if len(scores) else float("nan")


def zero_fraction(frame):
    """Share of rows exactly 0 in each numeric column of ``frame``.

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    Series of float, indexed by the numeric columns (empty without any)
    """
    numeric = _numeric_columns(frame)
    return pd.Series({c: float((frame[c] == 0).mean()) for c in numeric}, dtype=np.float64)


def range_limit_fraction(real, synthetic):
    """Share of rows on the real range limits, per numeric column.

    A row is on a limit when its value equals the minimum or the maximum of
    the column in ``real``: the mass that clipping to the training range
    piles up shows as a synthetic share far above the real one.

    Parameters
    ----------
    real, synthetic : DataFrame
        The same columns.

    Returns
    -------
    DataFrame of float
        Indexed by the numeric columns of ``real``; columns ``"real"`` and
        ``"synthetic"``, the share of each frame's rows on a real limit.

    Raises
    ------
    ValueError
        As :func:`column_similarity`.
    """
    numeric = _check_frames(real, synthetic)

    def share(frame):
        return {c: float(frame[c].isin([real[c].min(), real[c].max()]).mean()) for c in numeric}

    return pd.DataFrame({"real": share(real), "synthetic": share(synthetic)},
                        index=pd.Index(numeric), dtype=np.float64)


def evaluate_fidelity(real, synthetic):
    """Column fidelity of a synthetic table: marginals, correlations, zeros, range limits.

    Parameters
    ----------
    real, synthetic : DataFrame
        The same columns.

    Returns
    -------
    dict
        ``"column_similarity"``: Series of :func:`column_similarity`;
        ``"mean_column_similarity"``, ``"min_column_similarity"``: floats over
        the columns; ``"correlation_similarity"``: float of
        :func:`correlation_similarity` (Pearson); ``"zero_fraction"``:
        DataFrame with columns ``"real"`` and ``"synthetic"`` of
        :func:`zero_fraction`; ``"range_limit_fraction"``: DataFrame of
        :func:`range_limit_fraction`.

    Raises
    ------
    ValueError
        As :func:`column_similarity`.
    """
    similarity = column_similarity(real, synthetic)
    numeric = _numeric_columns(real)
    return {
        "column_similarity": similarity,
        "mean_column_similarity": float(similarity.mean()),
        "min_column_similarity": float(similarity.min()),
        "correlation_similarity": correlation_similarity(real, synthetic),
        "zero_fraction": pd.DataFrame({"real": zero_fraction(real[numeric]),
                                       "synthetic": zero_fraction(synthetic[numeric])},
                                      index=pd.Index(numeric), dtype=np.float64),
        "range_limit_fraction": range_limit_fraction(real, synthetic),
    }
