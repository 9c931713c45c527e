"""Accuracy-fairness trade-off helpers for ``GridSearchCV`` multi-metric results.

A search scored with an accuracy-like scorer and a fairness scorer from
:func:`skfairlatent.metrics.make_fairness_scorer` stores, per candidate,
``mean_test_<score>`` (higher is better) and ``mean_test_<fairness>``, the
**negated** gap (``−ΔEOd``, values <= 0). The helpers here read both, turn the
second back into the gap (``gap = −mean_test_<fairness>``) and:

* :func:`pareto_front` lists the non-dominated candidates;
* :func:`best_score_within_fairness` and :func:`closest_to_upper_right` build
  refit rules for ``GridSearchCV(refit=...)``: picklable callables that take
  ``cv_results_`` and return the index of the candidate to refit.

Example
-------
::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    search = GridSearchCV(
        est, {"alpha": [0, 0.01, 0.1, 1, 10]},
        scoring={"accuracy": "accuracy", "delta_eod": make_fairness_scorer(delta_eod)},
        refit=closest_to_upper_right(score="accuracy", fairness="delta_eod"),
    ).fit(X, y, sensitive_features=A)
    pareto_front(search.cv_results_)

With a callable ``refit`` scikit-learn sets ``best_index_`` and
``best_params_`` and refits, but leaves ``best_score_`` undefined.

Contract shared by every helper: candidates whose score or gap is NaN (a
failed fit or scoring) are never selected and never on the front; a
``cv_results_`` without the named ``mean_test_*`` columns, or whose fairness
column holds positive values (not a negated gap), raises ``ValueError``. The
helpers only read ``cv_results_``; they never refit or modify it.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

__all__ = [
    "pareto_front",
    "pareto_mask",
    "best_score_within_fairness",
    "closest_to_upper_right",
    "BestScoreWithinFairness",
    "ClosestToUpperRight",
]


def _get_cv_results(cv_results):
    """Accept a ``cv_results_`` mapping or a fitted search holding one."""
    if hasattr(cv_results, "cv_results_"):
        cv_results = cv_results.cv_results_
    elif hasattr(cv_results, "param_grid") or hasattr(cv_results, "param_distributions"):
        raise ValueError("The search is not fitted yet: it has no cv_results_.")
    if not hasattr(cv_results, "keys"):
        raise ValueError(
            "cv_results must be a GridSearchCV.cv_results_ dict (or a fitted search); "
            f"got {type(cv_results).__name__}."
        )
    return cv_results


def _score_and_gap(cv_results, score, fairness):
    """Return (score, gap) float arrays; gap is the un-negated fairness gap.

    Raises
    ------
    ValueError
        If a key is missing or the fairness column has positive values (i.e.
        it was not produced by a lower-is-better scorer).
    """
    cv_results = _get_cv_results(cv_results)
    columns = {}
    for name in (score, fairness):
        key = f"mean_test_{name}"
        if key not in cv_results:
            available = sorted(
                k[len("mean_test_"):] for k in cv_results if k.startswith("mean_test_")
            )
            raise ValueError(
                f"cv_results has no {key!r}; scorer names available: {available!r}. "
                "Use GridSearchCV(scoring={name: scorer, ...}) with these names."
            )
        columns[name] = np.asarray(cv_results[key], dtype=float)
    values = columns[fairness]
    if np.any(values[~np.isnan(values)] > 0):
        raise ValueError(
            f"mean_test_{fairness} has positive values; it must hold the negated gap "
            "(<= 0) that a lower-is-better scorer such as "
            "skfairlatent.metrics.make_fairness_scorer(...) stores in cv_results_."
        )
    return columns[score], -values


def _valid_mask(score, gap):
    valid = ~(np.isnan(score) | np.isnan(gap))
    if not valid.any():
        raise ValueError(
            "Every candidate has a NaN score or fairness gap (did all fits or "
            "scorings fail? Is metadata routing on?)."
        )
    return valid


def _pareto_mask(score, gap):
    """Boolean mask of non-dominated points (higher score, lower gap); NaNs excluded.

    Point i is dominated when some j has ``score_j >= score_i`` and
    ``gap_j <= gap_i`` with at least one strict inequality; identical points
    are all kept.
    """
    score = np.asarray(score, dtype=float)
    gap = np.asarray(gap, dtype=float)
    valid = ~(np.isnan(score) | np.isnan(gap))
    mask = np.zeros(len(score), dtype=bool)
    for i in np.flatnonzero(valid):
        others = valid.copy()
        others[i] = False
        no_worse = (score[others] >= score[i]) & (gap[others] <= gap[i])
        better = (score[others] > score[i]) | (gap[others] < gap[i])
        mask[i] = not np.any(no_worse & better)
    return mask


def pareto_mask(score, gap):
    """Boolean mask of the non-dominated points of paired (score, gap) values.

    Point ``i`` is dominated when some ``j`` has ``score_j >= score_i`` and
    ``gap_j <= gap_i`` with at least one strict inequality; identical points
    are all kept; points with a NaN are never on the front.

    Parameters
    ----------
    score : array-like of shape (n_points,)
        Higher is better (e.g. accuracy).
    gap : array-like of shape (n_points,)
        Lower is better (e.g. ΔEOd, not negated).

    Returns
    -------
    ndarray of bool, shape (n_points,)

    Raises
    ------
    ValueError
        If ``score`` and ``gap`` are not 1-d of the same length.
    """
    score = np.asarray(score, dtype=float)
    gap = np.asarray(gap, dtype=float)
    if score.ndim != 1 or score.shape != gap.shape:
        raise ValueError(
            f"score and gap must be 1-d arrays of the same length; got shapes "
            f"{score.shape} and {gap.shape}.")
    return _pareto_mask(score, gap)


def pareto_front(cv_results, *, score="accuracy", fairness="delta_eod"):
    """Non-dominated candidates of a multi-metric search (higher score, lower gap).

    Candidate ``i`` is on the front unless another candidate ``j`` has
    ``score_j >= score_i`` and ``gap_j <= gap_i`` with one of them strict.
    Candidates with a NaN score or gap (failed fits) are left out.

    Parameters
    ----------
    cv_results : dict or fitted GridSearchCV / RandomizedSearchCV
        ``search.cv_results_`` (or the search itself) of a search with
        multi-metric ``scoring`` containing ``score`` and ``fairness``.
    score : str, default="accuracy"
        Scorer name whose ``mean_test_<score>`` is higher-is-better.
    fairness : str, default="delta_eod"
        Scorer name whose ``mean_test_<fairness>`` holds the **negated** gap,
        as :func:`~skfairlatent.metrics.make_fairness_scorer` produces.

    Returns
    -------
    front : pandas.DataFrame
        One row per non-dominated candidate, indexed by the candidate's
        position in ``cv_results`` (index name ``"candidate"``), sorted by
        increasing gap (then decreasing score). Columns: ``score`` (its
        mean test value), ``fairness`` (the gap, >= 0), ``params`` (dict) and
        the ``param_*`` columns.

    Raises
    ------
    ValueError
        An unfitted search, missing keys, a fairness column with positive
        values, or no candidate with finite values.
    """
    results = _get_cv_results(cv_results)
    s, g = _score_and_gap(results, score, fairness)
    _valid_mask(s, g)
    idx = np.flatnonzero(_pareto_mask(s, g))
    n = len(s)
    data = {score: s[idx], fairness: g[idx]}
    if "params" in results:
        data["params"] = [results["params"][i] for i in idx]
    for key in results:
        if key.startswith("param_"):
            column = results[key]
            if len(column) == n:
                data[key] = [column[i] for i in idx]
    front = pd.DataFrame(data, index=pd.Index(idx, name="candidate"))
    order = np.lexsort((-front[score].to_numpy(), front[fairness].to_numpy()))
    return front.iloc[order]


def _check_name(value, name):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a scorer name (str); got {value!r}.")


class BestScoreWithinFairness:
    """Refit rule: best score among candidates whose gap is at most ``bound``.

    Build it with :func:`best_score_within_fairness`; see there.
    """

    def __init__(self, bound, *, score="accuracy", fairness="delta_eod"):
        if (
            not isinstance(bound, numbers.Real)
            or isinstance(bound, bool)
            or not np.isfinite(bound)
            or bound < 0
        ):
            raise ValueError(f"bound must be a finite number >= 0; got {bound!r}.")
        _check_name(score, "score")
        _check_name(fairness, "fairness")
        self.bound = bound
        self.score = score
        self.fairness = fairness

    def __call__(self, cv_results):
        s, g = _score_and_gap(cv_results, self.score, self.fairness)
        valid = _valid_mask(s, g)
        ok = valid & (g <= self.bound)
        if not ok.any():
            best = np.flatnonzero(valid)
            best = best[np.lexsort((-s[best], g[best]))][0]
            warnings.warn(
                f"No candidate has {self.fairness} <= {self.bound} (smallest gap: "
                f"{g[best]:.4g}); refitting the candidate with the smallest gap, "
                f"index {best}.",
                UserWarning,
                stacklevel=2,
            )
            return int(best)
        candidates = np.flatnonzero(ok)
        # best score; ties broken by smaller gap, then lower index
        order = np.lexsort((candidates, g[candidates], -s[candidates]))
        return int(candidates[order[0]])

    def __repr__(self):
        return (
            f"best_score_within_fairness({self.bound!r}, score={self.score!r}, "
            f"fairness={self.fairness!r})"
        )


def best_score_within_fairness(bound, *, score="accuracy", fairness="delta_eod"):
    """Refit rule: the best-scoring candidate whose fairness gap is <= ``bound``.

    .. math::

        i^* = \\arg\\max_{i : gap_i \\le bound} score_i,
        \\qquad gap_i = -\\text{mean\\_test\\_<fairness>}_i

    Ties go to the smaller gap, then to the lower index. When no candidate
    meets the bound, a ``UserWarning`` is emitted and the candidate with the
    smallest gap (ties: higher score) is returned. Candidates with NaN
    values are ignored.

    Parameters
    ----------
    bound : float
        Largest acceptable gap (e.g. 0.1 for ΔEOd <= 0.1), >= 0.
    score : str, default="accuracy"
        Scorer name of the higher-is-better metric.
    fairness : str, default="delta_eod"
        Scorer name of the (negated) fairness gap.

    Returns
    -------
    BestScoreWithinFairness
        A picklable callable ``rule(cv_results) -> int`` for
        ``GridSearchCV(refit=rule)``.

    Raises
    ------
    ValueError
        For a negative or non-finite ``bound``; when called, as
        :func:`pareto_front`.
    """
    return BestScoreWithinFairness(bound, score=score, fairness=fairness)


class ClosestToUpperRight:
    """Refit rule: candidate closest to the ideal (max score, min gap) corner.

    Build it with :func:`closest_to_upper_right`; see there.
    """

    def __init__(self, *, score="accuracy", fairness="delta_eod", normalize=True):
        _check_name(score, "score")
        _check_name(fairness, "fairness")
        self.score = score
        self.fairness = fairness
        self.normalize = bool(normalize)

    def distances(self, cv_results):
        """Distance of every candidate to the ideal point (NaN for invalid ones)."""
        s, g = _score_and_gap(cv_results, self.score, self.fairness)
        valid = _valid_mask(s, g)
        sv, gv = s[valid], g[valid]
        if self.normalize:
            s_range = sv.max() - sv.min()
            g_range = gv.max() - gv.min()
            s_scaled = (sv - sv.min()) / s_range if s_range > 0 else np.ones_like(sv)
            g_scaled = (gv - gv.min()) / g_range if g_range > 0 else np.zeros_like(gv)
            d = np.hypot(1.0 - s_scaled, g_scaled)
        else:
            d = np.hypot(sv.max() - sv, gv - gv.min())
        out = np.full(len(s), np.nan)
        out[valid] = d
        return out

    def __call__(self, cv_results):
        s, g = _score_and_gap(cv_results, self.score, self.fairness)
        d = self.distances(cv_results)
        candidates = np.flatnonzero(~np.isnan(d))
        order = np.lexsort(
            (candidates, g[candidates], -s[candidates], d[candidates])
        )
        return int(candidates[order[0]])

    def __repr__(self):
        return (
            f"closest_to_upper_right(score={self.score!r}, fairness={self.fairness!r}, "
            f"normalize={self.normalize!r})"
        )


def closest_to_upper_right(*, score="accuracy", fairness="delta_eod", normalize=True):
    """Refit rule: the candidate closest to the upper-right corner of the trade-off plot.

    ALFA [1]_ (App. H) reports, for each method, "the point closest to the
    upper right" of its accuracy-vs-ΔEOd plot (Figures 4-6, whose x-axis is
    inverted so that a small gap is on the right). The paper does not say how
    the axes are scaled; here each axis is min-max scaled over the valid
    candidates (those without NaN):

    .. math::

        s'_i = \\frac{s_i - \\min_j s_j}{\\max_j s_j - \\min_j s_j}, \\qquad
        g'_i = \\frac{g_i - \\min_j g_j}{\\max_j g_j - \\min_j g_j}, \\qquad
        i^* = \\arg\\min_i \\sqrt{(1 - s'_i)^2 + g'^2_i}

    i.e. the Euclidean distance to the ideal point (best score, smallest
    gap) = (1, 0) in scaled units. An axis with no spread is scaled to its
    ideal value (``s' = 1`` or ``g' = 0``), so the rule then picks on the
    other axis alone. With ``normalize=False`` the raw distance
    ``sqrt((max s − s_i)^2 + (g_i − min g)^2)`` is used, treating one unit of
    accuracy as one unit of gap. Ties go to the higher score, then the
    smaller gap, then the lower index.

    Parameters
    ----------
    score : str, default="accuracy"
        Scorer name of the higher-is-better metric.
    fairness : str, default="delta_eod"
        Scorer name of the (negated) fairness gap.
    normalize : bool, default=True
        Min-max scale both axes first.

    Returns
    -------
    ClosestToUpperRight
        A picklable callable ``rule(cv_results) -> int`` for
        ``GridSearchCV(refit=rule)``; ``rule.distances(cv_results)`` gives
        every candidate's distance.

    Raises
    ------
    ValueError
        When called, as :func:`pareto_front`.

    References
    ----------
    .. [1] H. Jung, J. Chai, X. Wang, "Adversarial Latent Feature Augmentation
       for Fairness", ICLR 2025.
    """
    return ClosestToUpperRight(score=score, fairness=fairness, normalize=normalize)
