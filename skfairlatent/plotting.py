"""Plots of the accuracy-fairness trade-off and of ALFA's unfair region (matplotlib).

* :func:`plot_tradeoff` -- accuracy against a fairness gap, one point per
  candidate or estimator, with the Pareto front highlighted and the x-axis
  inverted so that the upper right is best (ALFA Figures 4-6).
* :func:`plot_tradeoff_summary` -- the same plane for a table of methods
  with mean ± std over seeds: error bars on both axes, the Pareto front of
  the means drawn in order of the gap (a front, not the input order).
* :func:`plot_unfair_region` -- original and adversarially perturbed latent
  features with the pretrained and fine-tuned decision boundaries (ALFA
  Figures 1 and 8).
* :func:`plot_marginals` -- histograms of columns of a real table and of
  synthetic ones side by side (log counts for zero-inflated columns).

These draw on ``ax`` (a new figure when ``ax=None``) and return the Axes.
matplotlib is imported here only; pick a backend (e.g. ``"Agg"``) as usual.

The figures of :mod:`skfairlatent.experiments` (the ``skfairlatent``
command) are saved to a PNG file with the Agg backend:

* :func:`plot_summary` -- :func:`plot_tradeoff_summary` of a grid's summary.
* :func:`plot_lassi_radii` -- histograms of LASSI's certified radii.
* :func:`plot_fldgm` -- marginals and label rates by group, real versus
  synthetic.
"""

from __future__ import annotations

import numbers
import warnings

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from . import metrics as _metrics
from .model_selection import _get_cv_results, _pareto_mask, _score_and_gap

__all__ = ["plot_tradeoff", "plot_tradeoff_summary", "plot_unfair_region", "plot_marginals",
           "plot_summary", "plot_lassi_radii", "plot_fldgm"]

_PRETTY = {
    "delta_eod": "ΔEOd",
    "delta_dp": "ΔDP",
    "delta_dp_multiclass": "ΔDP_multi",
    "differential_fairness": "DF",
    "model_bias": "model bias",
    "balanced_group_accuracy": "bACC",
    "worst_group_accuracy": "worst-group accuracy",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
}


def _get_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _name(obj):
    if isinstance(obj, str):
        return obj
    return getattr(obj, "__name__", type(obj).__name__)


def _format_value(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:g}"
    if hasattr(value, "get_params"):
        return type(value).__name__
    return str(value)


def _varied_param_labels(params):
    """Labels such as ``"alpha=0.1"`` built from the parameters that vary."""
    keys = []
    for p in params:
        for k in p:
            if k not in keys:
                keys.append(k)
    varied = []
    for k in keys:
        seen = {repr(p.get(k)) for p in params}
        if len(seen) > 1:
            varied.append(k)
    labels = []
    for p in params:
        parts = [f"{k.split('__')[-1]}={_format_value(p.get(k))}" for k in varied]
        labels.append(", ".join(parts))
    return labels


def _resolve_fairness_metric(fairness):
    if callable(fairness):
        return fairness
    metric = getattr(_metrics, fairness, None) if isinstance(fairness, str) else None
    if metric is None or fairness not in _metrics.__all__ or fairness == "make_fairness_scorer":
        raise ValueError(
            f"fairness={fairness!r} is not a metric of skfairlatent.metrics "
            f"({[m for m in _metrics.__all__ if m != 'make_fairness_scorer']!r}) "
            "nor a callable metric(y_true, y_pred, *, sensitive_features)."
        )
    return metric


def _evaluate_estimators(results, score, fairness, X, y, sensitive_features):
    from sklearn.metrics import get_scorer

    if X is None or y is None or sensitive_features is None:
        raise ValueError(
            "plot_tradeoff on fitted estimators needs X, y and sensitive_features "
            "to evaluate them on."
        )
    if isinstance(results, dict):
        names, estimators = list(map(str, results.keys())), list(results.values())
    else:
        estimators = list(results)
        names = [type(e).__name__ for e in estimators]
    if not estimators:
        raise ValueError("plot_tradeoff got no estimators.")
    for name, est in zip(names, estimators):
        if not hasattr(est, "predict"):
            raise ValueError(f"{name!r} is not an estimator with predict: {est!r}.")
    scorer = score if callable(score) else get_scorer(score)
    metric = _resolve_fairness_metric(fairness)
    scores, gaps = [], []
    for est in estimators:
        scores.append(float(scorer(est, X, y)))
        gaps.append(float(metric(y, est.predict(X), sensitive_features=sensitive_features)))
    return np.array(scores), np.array(gaps), names


def plot_tradeoff(results, *, score="accuracy", fairness="delta_eod", X=None, y=None,
                  sensitive_features=None, ax=None, label=None, annotate=True):
    """Plot score against fairness gap, ALFA style (Figures 4-6).

    Each candidate (or estimator) is a point at ``(gap, score)``; the Pareto
    front (higher score, lower gap; see
    :func:`skfairlatent.model_selection.pareto_front`) is drawn as a line
    through filled markers, dominated points are hollow. As in ALFA's
    figures the **x-axis is inverted**: smaller gaps are to the right, so the
    upper-right corner is best. Calling it again on the same ``ax`` (e.g. once
    per method, with ``label``) adds a series in the next colour and keeps the
    axis inverted.

    Parameters
    ----------
    results : dict, fitted search, dict of estimators or list of estimators
        Either (a) a ``cv_results_`` dict or a fitted ``GridSearchCV`` scored
        with ``score`` and ``fairness`` (the fairness column negated, from
        :func:`~skfairlatent.metrics.make_fairness_scorer`), one point per
        candidate, annotated with the parameters that vary; or (b) a dict
        ``{name: fitted estimator}`` or a list of fitted estimators, each
        evaluated on ``(X, y, sensitive_features)`` and annotated with its name
        (class name for a list).
    score : str or callable, default="accuracy"
        (a) the scorer name in ``cv_results``; (b) a scikit-learn scorer name
        (``get_scorer``) or a scorer callable ``scorer(est, X, y)``.
    fairness : str or callable, default="delta_eod"
        (a) the scorer name in ``cv_results``; (b) the name of a metric of
        :mod:`skfairlatent.metrics` or a callable
        ``metric(y_true, y_pred, *, sensitive_features)``.
    X, y, sensitive_features : array-like, optional
        Evaluation data, required for (b) and ignored for (a).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    label : str, optional
        Legend label of the series (shown when given).
    annotate : bool, default=True
        Write each point's parameters or name next to it.

    Returns
    -------
    ax : matplotlib Axes
        With ``ax.collections[-1]`` the scatter of all points and
        ``ax.lines[-1]`` the Pareto front line.

    Raises
    ------
    ValueError
        For cv_results without the two scorers or a non-negated fairness
        column, or estimators without evaluation data.

    References
    ----------
    ALFA, section 4.3.1 and Figures 4-6 ("smaller values (to the right)
    indicate better fairness. Thus, the upper-right region reflects better
    performance").
    """
    is_search_results = hasattr(results, "cv_results_") or (
        isinstance(results, dict) and any(str(k).startswith("mean_test_") for k in results)
    )
    if is_search_results:
        if not isinstance(score, str) or not isinstance(fairness, str):
            raise ValueError("With cv_results, score and fairness must be scorer names (str).")
        cv_results = _get_cv_results(results)
        scores, gaps = _score_and_gap(cv_results, score, fairness)
        params = list(cv_results.get("params", [{}] * len(scores)))
        names = _varied_param_labels(params)
    else:
        scores, gaps, names = _evaluate_estimators(
            results, score, fairness, X, y, sensitive_features
        )
    valid = ~(np.isnan(scores) | np.isnan(gaps))
    if not valid.any():
        raise ValueError("No point to plot: every score or gap is NaN.")
    if not valid.all():
        warnings.warn(
            f"{int((~valid).sum())} candidates with NaN score or gap are not plotted.",
            UserWarning,
            stacklevel=2,
        )
    front = _pareto_mask(scores, gaps)

    ax = _get_ax(ax)
    order = np.flatnonzero(front)
    order = order[np.lexsort((-scores[order], gaps[order]))]
    (line,) = ax.plot(gaps[order], scores[order], "-", linewidth=2, label=label, zorder=2)
    color = line.get_color()
    xs, ys = gaps[valid], scores[valid]
    rgba = np.array(mcolors.to_rgba(color))
    hollow = np.array([1.0, 1.0, 1.0, 0.0])
    facecolors = np.array([rgba if f else hollow for f in front[valid]])
    ax.scatter(xs, ys, s=40, facecolors=facecolors, edgecolors=[rgba], linewidths=1.5,
               zorder=3)
    if annotate:
        for name, x_, y_ in zip(np.asarray(names, dtype=object)[valid], xs, ys):
            if name:
                ax.annotate(str(name), (x_, y_), textcoords="offset points",
                            xytext=(4, 4), fontsize=8, color=color)

    fair_name = _PRETTY.get(_name(fairness), _name(fairness))
    score_name = _PRETTY.get(_name(score), _name(score))
    ax.set_xlabel(f"{fair_name} (smaller to the right)")
    ax.set_ylabel(score_name)
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    if label is not None:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return ax


def plot_tradeoff_summary(summary, *, score="accuracy", fairness="delta_eod", ax=None,
                          group=None, annotate=True, front=True, markers=None):
    """Plot mean score against mean fairness gap with error bars, one point per row.

    For method comparisons over several seeds (e.g. the ``skfairlatent``
    command's table): each row of ``summary`` is one method or setting, drawn
    at ``(mean gap, mean score)`` with horizontal and vertical error bars of
    one standard deviation. The Pareto front of the **means** (higher score,
    lower gap; :func:`skfairlatent.model_selection.pareto_mask`) is joined by a
    line through its points sorted by increasing gap, so it is a monotone
    staircase-like front whatever the order of the rows (a grid of α values
    is not joined in grid order). As in ALFA's figures the x-axis is
    inverted: the upper right is best.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per setting, indexed by its label, with the columns
        ``<score>_mean``, ``<fairness>_mean`` and optionally ``<score>_std``
        and ``<fairness>_std`` (missing or NaN std: no error bar).
    score, fairness : str, default="accuracy", "delta_eod"
        Column stems of the y and x axes.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    group : str, optional
        Column of ``summary`` naming each row's family (e.g. ``"ALFA"``,
        ``"fairlearn"``): one colour and one legend entry per family. Default:
        every row its own colour and legend entry.
    annotate : bool, default=True
        Write each row's label next to its point (rows of a family with more
        than one row only; single-row families are named by the legend).
    front : bool, default=True
        Draw the Pareto front of the means as a dashed black line.
    markers : dict, optional
        ``{family (or label): matplotlib marker}``; default ``"o"``.

    Returns
    -------
    ax : matplotlib Axes
        ``ax.containers`` holds the error-bar containers (one per family);
        ``ax.lines[-1]`` is the front line when ``front=True``.

    Raises
    ------
    ValueError
        If ``summary`` is not a non-empty DataFrame with the mean columns, or
        every mean is NaN.
    """
    if not isinstance(summary, pd.DataFrame) or summary.empty:
        raise ValueError("summary must be a non-empty pandas DataFrame, one row per setting.")
    needed = [f"{score}_mean", f"{fairness}_mean"]
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks the columns {missing}; it has {list(summary.columns)}.")
    if group is not None and group not in summary.columns:
        raise ValueError(f"group={group!r} is not a column of summary.")
    s = summary[f"{score}_mean"].to_numpy(dtype=float)
    g = summary[f"{fairness}_mean"].to_numpy(dtype=float)
    s_err = (summary[f"{score}_std"].to_numpy(dtype=float) if f"{score}_std" in summary
             else np.zeros(len(s)))
    g_err = (summary[f"{fairness}_std"].to_numpy(dtype=float) if f"{fairness}_std" in summary
             else np.zeros(len(s)))
    s_err, g_err = np.nan_to_num(s_err), np.nan_to_num(g_err)
    valid = ~(np.isnan(s) | np.isnan(g))
    if not valid.any():
        raise ValueError("No point to plot: every mean score or gap is NaN.")
    labels = [str(i) for i in summary.index]
    families = (summary[group].astype(str).tolist() if group is not None else labels)
    ax = _get_ax(ax)
    counts = pd.Series(families).value_counts()
    for family in dict.fromkeys(families):
        rows = np.array([f == family for f in families]) & valid
        if not rows.any():
            continue
        marker = (markers or {}).get(family, "o")
        ax.errorbar(g[rows], s[rows], xerr=g_err[rows], yerr=s_err[rows], fmt=marker,
                    capsize=3, markersize=9 if marker == "*" else 6, label=family, zorder=3)
        if annotate and counts[family] > 1:
            color = ax.containers[-1].lines[0].get_color()
            for i in np.flatnonzero(rows):
                ax.annotate(labels[i], (g[i], s[i]), textcoords="offset points",
                            xytext=(5, 4), fontsize=7, color=color)
    if front:
        on_front = np.flatnonzero(_pareto_mask(s, g))
        on_front = on_front[np.lexsort((-s[on_front], g[on_front]))]
        ax.plot(g[on_front], s[on_front], "--", color="black", linewidth=1, zorder=2,
                label="Pareto front (means)")
    fair_name = _PRETTY.get(fairness, fairness)
    score_name = _PRETTY.get(score, score)
    ax.set_xlabel(f"{fair_name} (smaller to the right), mean ± std")
    ax.set_ylabel(f"{score_name}, mean ± std")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    return ax


# --------------------------------------------------------------------------- #
# Unfair region
# --------------------------------------------------------------------------- #
def _as_coef(coef, d, name):
    if coef is None:
        return None
    coef = np.asarray(coef, dtype=float)
    if coef.ndim == 2 and coef.shape[0] == 1:
        coef = coef[0]
    if coef.shape != (d,):
        raise ValueError(
            f"{name} must have shape ({d},) or (1, {d}) to match the latents; "
            f"got {coef.shape}."
        )
    return coef


def _as_intercept(intercept, name):
    if intercept is None:
        return 0.0
    value = np.asarray(intercept, dtype=float).ravel()
    if value.size != 1:
        raise ValueError(f"{name} must be a scalar or of shape (1,); got shape {value.shape}.")
    return float(value[0])


def _projection(latents, coef_before, coef_after):
    """Orthonormal (d, 2) basis of the plotting plane (see plot_unfair_region)."""
    centered = latents - latents.mean(axis=0)
    normal = coef_before if coef_before is not None else coef_after
    if normal is None or not np.any(normal):
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        basis = vt[:2].T
        if basis.shape[1] < 2:
            raise ValueError("The latents do not span two directions; nothing to plot.")
        return basis, ("PC 1", "PC 2")
    e1 = normal / np.linalg.norm(normal)
    residual = centered - np.outer(centered @ e1, e1)
    _, sv, vt = np.linalg.svd(residual, full_matrices=False)
    e2 = vt[0]
    e2 = e2 - (e2 @ e1) * e1
    if sv[0] <= 1e-12 or np.linalg.norm(e2) < 1e-12:
        # latents have no spread orthogonal to the normal: any orthogonal direction
        e2 = np.eye(len(e1))[np.argmin(np.abs(e1))]
        e2 = e2 - (e2 @ e1) * e1
    e2 = e2 / np.linalg.norm(e2)
    label = "pretrained" if coef_before is not None else "fine-tuned"
    return np.column_stack([e1, e2]), (
        f"along the {label} boundary normal",
        "top principal direction orthogonal to it",
    )


def _draw_boundary(ax, a, b, c, xlim, ylim, **kwargs):
    """Draw the line a*u + b*v + c = 0 over the current limits; None if degenerate."""
    if abs(a) < 1e-12 and abs(b) < 1e-12:
        return None
    if abs(b) >= abs(a):
        u = np.array(xlim)
        v = -(a * u + c) / b
    else:
        v = np.array(ylim)
        u = -(b * v + c) / a
    (line,) = ax.plot(u, v, **kwargs)
    return line


def _codes(values, n, name):
    if values is None:
        return None, None
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy(dtype=object)
    values = np.asarray(values, dtype=object).ravel()
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but there are {n} latent rows.")
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False)
    return codes, list(uniques)


def plot_unfair_region(estimator=None, *, latents=None, perturbed_latents=None, sensitive=None,
                       y=None, coef_before=None, intercept_before=None, coef_after=None,
                       intercept_after=None, ax=None, max_points=2000, random_state=0):
    """Original and perturbed latent features with the old and new decision boundaries.

    The view of ALFA's Figures 1 and 8: points coloured by their (sensitive
    group ``a``, label ``y``) cell, clean latents as circles and perturbed
    latents (``z + δ``) as crosses of the same colour; the pretrained
    boundary in black, the fine-tuned boundary in red.

    The plane shown:

    * ``d == 2``: the latent coordinates themselves; a boundary is
      ``w · z + b = 0``.
    * ``d > 2``: the plane through the mean ``μ`` of the clean latents spanned
      by ``e1 = w_before / ‖w_before‖`` (the pretrained boundary normal, or the
      fine-tuned one when only that is given) and ``e2``, the top principal
      direction of the centred latents after removing their ``e1`` component.
      A point is drawn at ``(u, v) = ((z − μ)·e1, (z − μ)·e2)`` and each
      boundary as its intersection with the plane,
      ``(w·e1) u + (w·e2) v + (w·μ + b) = 0``; the pretrained boundary is
      therefore a vertical line. A boundary parallel to the plane is skipped
      with a warning. Without any coefficient the two top principal
      directions are used.

    Parameters
    ----------
    estimator : fitted estimator, optional
        Read for the arrays not given explicitly: ``attack_latents_`` (N_p, d),
        ``perturbed_latents_`` (N_p, d), ``attack_sensitive_`` (N_p,),
        ``attack_targets_`` (N_p,), ``pretrained_coef_`` (d,),
        ``pretrained_intercept_``, ``coef_`` (d,) or (1, d), ``intercept_``
        (``ALFAClassifier`` exposes them). Explicit arguments win.
    latents : array-like of shape (n, d), d >= 2
        Clean latent features (required when no estimator is given).
    perturbed_latents : array-like of shape (n, d), optional
        Perturbed latents, row-aligned with ``latents``.
    sensitive, y : array-like of shape (n,), optional
        Group and label of each row (any labels; colours per (a, y) cell).
    coef_before, intercept_before : array-like (d,) or (1, d), float, optional
        Pretrained linear head ``w, b``.
    coef_after, intercept_after : array-like (d,) or (1, d), float, optional
        Fine-tuned linear head.
    ax : matplotlib Axes, optional
    max_points : int, default=2000
        At most this many rows are drawn (a random subset, the same rows for
        clean and perturbed latents).
    random_state : int, RandomState or None, default=0
        Seeds the subsampling (the global numpy state is not touched).

    Returns
    -------
    ax : matplotlib Axes
        One scatter collection per (cell, clean/perturbed) and one line per
        boundary drawn.

    Raises
    ------
    ValueError
        Missing latents, shape mismatches, ``d < 2`` or a bad ``max_points``.

    References
    ----------
    ALFA, Figure 1 (unfair regions), Figure 8 (t-SNE of COMPAS latents, black:
    pretrained boundary, red: boundary after fine-tuning), section 4.3.3.
    """
    if estimator is not None:
        if latents is None and not hasattr(estimator, "attack_latents_"):
            raise ValueError(
                f"{type(estimator).__name__} has no attack_latents_: fit it first, or "
                "pass latents=... explicitly."
            )
        latents = estimator.attack_latents_ if latents is None else latents
        perturbed_latents = (
            getattr(estimator, "perturbed_latents_", None)
            if perturbed_latents is None else perturbed_latents
        )
        if sensitive is None:
            sensitive = getattr(estimator, "attack_sensitive_", None)
        y = getattr(estimator, "attack_targets_", None) if y is None else y
        if coef_before is None:
            coef_before = getattr(estimator, "pretrained_coef_", None)
            if intercept_before is None:
                intercept_before = getattr(estimator, "pretrained_intercept_", None)
        if coef_after is None:
            coef_after = getattr(estimator, "coef_", None)
            if intercept_after is None:
                intercept_after = getattr(estimator, "intercept_", None)
    if latents is None:
        raise ValueError("plot_unfair_region needs latents (or a fitted estimator).")
    Z = np.asarray(latents, dtype=float)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"latents must have shape (n, d) with d >= 2; got {Z.shape}.")
    n, d = Z.shape
    if n == 0:
        raise ValueError("latents has no rows.")
    P = None
    if perturbed_latents is not None:
        P = np.asarray(perturbed_latents, dtype=float)
        if P.shape != Z.shape:
            raise ValueError(
                f"perturbed_latents has shape {P.shape} but latents has {Z.shape}; "
                "they must be row-aligned."
            )
    a_codes, a_labels = _codes(sensitive, n, "sensitive")
    y_codes, y_labels = _codes(y, n, "y")
    w0 = _as_coef(coef_before, d, "coef_before")
    w1 = _as_coef(coef_after, d, "coef_after")
    b0 = _as_intercept(intercept_before, "intercept_before")
    b1 = _as_intercept(intercept_after, "intercept_after")
    if (
        not isinstance(max_points, numbers.Integral)
        or isinstance(max_points, bool)
        or max_points < 1
    ):
        raise ValueError(f"max_points must be a positive integer; got {max_points!r}.")

    # projection
    if d == 2:
        mu = np.zeros(2)
        basis = np.eye(2)
        axis_labels = ("latent dimension 1", "latent dimension 2")
    else:
        mu = Z.mean(axis=0)
        basis, axis_labels = _projection(Z, w0, w1)

    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(check_random_state(random_state).choice(n, max_points, replace=False))
    Zp = (Z[rows] - mu) @ basis
    Pp = (P[rows] - mu) @ basis if P is not None else None

    # cells
    if a_codes is None and y_codes is None:
        cell = np.zeros(len(rows), dtype=int)
        cell_names = ["all"]
    else:
        ac = a_codes[rows] if a_codes is not None else np.zeros(len(rows), dtype=int)
        yc = y_codes[rows] if y_codes is not None else np.zeros(len(rows), dtype=int)
        n_y = len(y_labels) if y_labels is not None else 1
        n_a = len(a_labels) if a_labels is not None else 1
        cell = ac * n_y + yc
        cell_names = []
        for i in range(n_a):
            for j in range(n_y):
                parts = []
                if a_labels is not None:
                    parts.append(f"a={a_labels[i]}")
                if y_labels is not None:
                    parts.append(f"y={y_labels[j]}")
                cell_names.append(", ".join(parts))

    import matplotlib.pyplot as plt

    ax = _get_ax(ax)
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(cell_names):
        sel = cell == k
        if not sel.any():
            continue
        color = cmap(k % 10)
        ax.scatter(Zp[sel, 0], Zp[sel, 1], s=12, marker="o", color=color, alpha=0.6,
                   label=f"{name}")
        if Pp is not None:
            ax.scatter(Pp[sel, 0], Pp[sel, 1], s=14, marker="x", color=color, alpha=0.6,
                       label=f"{name} (perturbed)")

    everything = Zp if Pp is None else np.vstack([Zp, Pp])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    pad = 0.05 * np.where(hi - lo > 0, hi - lo, 1.0)
    xlim, ylim = (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    for w, b, style, name in (
        (w0, b0, dict(color="black", linestyle="-"), "pretrained boundary"),
        (w1, b1, dict(color="red", linestyle="-"), "fine-tuned boundary"),
    ):
        if w is None:
            continue
        a_, b_ = w @ basis
        c_ = float(w @ mu + b)
        line = _draw_boundary(ax, a_, b_, c_, xlim, ylim, linewidth=2, label=name, **style)
        if line is None:
            warnings.warn(
                f"The {name} is parallel to the plotted plane and is not drawn.",
                UserWarning,
                stacklevel=2,
            )
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.legend(fontsize=7, loc="best")
    return ax


# --------------------------------------------------------------------------- #
# Figures of the experiments (skfairlatent.experiments, the skfairlatent command)
# --------------------------------------------------------------------------- #
def _marginal_axes(ax, n):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    axes = np.ravel(np.asarray(ax, dtype=object))
    if len(axes) != n:
        raise ValueError(f"ax has {len(axes)} Axes for {n} columns.")
    return axes


def _plot_numeric_marginal(ax, col, frames, bins, log):
    values = {name: pd.to_numeric(f[col], errors="coerce").dropna().to_numpy(np.float64)
              for name, f in frames.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    for k, (name, v) in enumerate(values.items()):
        ax.hist(v, bins=edges, weights=np.full(len(v), 1 / max(len(v), 1)), label=name,
                histtype="stepfilled" if k == 0 else "step", alpha=0.35 if k == 0 else 1.0,
                linewidth=1.5)
    real = values[next(iter(values))]
    if log == "auto":
        log = len(real) > 0 and pd.Series(real).value_counts(normalize=True).iloc[0] >= 0.5
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("share of rows")


def _plot_categorical_marginal(ax, col, frames):
    names = list(frames)
    cats = list(frames[names[0]][col].astype(str).value_counts().index)
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        freq = frames[name][col].astype(str).value_counts(normalize=True)
        ax.bar(np.arange(len(cats)) + k * width, [freq.get(c, 0.0) for c in cats], width=width,
               label=name)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2)
    ax.set_xticklabels([c[:14] for c in cats], rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")


def plot_marginals(real, synthetic, columns, *, bins=30, log="auto", ax=None):
    """Histograms of columns of a real table beside synthetic tables.

    One panel per column: a numeric column as the share of rows in each of
    ``bins`` common bins (real filled, each synthetic table a line); a
    categorical one (category, object, string, bool) as grouped bars of
    category shares, in the order of the real frequencies.

    Parameters
    ----------
    real : DataFrame
    synthetic : dict of str to DataFrame
        Name -> synthetic table (the legend's labels), each with ``columns``.
    columns : list of str
        The columns to draw, in order.
    bins : int or str, default=30
        As ``numpy.histogram_bin_edges``, over the values of every frame.
    log : bool or "auto", default="auto"
        Log share axis for numeric panels; ``"auto"`` where one value holds
        at least half of the real rows (a zero-inflated column), so that
        the rest of the distribution stays visible.
    ax : Axes or sequence of Axes, default=None
        One Axes per column; None makes a figure of ``len(columns)`` panels.

    Returns
    -------
    axes : ndarray of Axes of shape (len(columns),)

    Raises
    ------
    ValueError
        A column missing from a frame, or ``ax`` with another number of Axes.
    """
    from .datasets._schema import is_categorical

    frames = {"real": real, **synthetic}
    missing = {name: [c for c in columns if c not in f.columns] for name, f in frames.items()}
    missing = {name: cols for name, cols in missing.items() if cols}
    if missing:
        raise ValueError(f"Columns missing from the frames: {missing}.")
    axes = _marginal_axes(ax, len(columns))
    for axis, col in zip(axes, columns):
        if is_categorical(real[col].dtype):
            _plot_categorical_marginal(axis, col, frames)
        else:
            _plot_numeric_marginal(axis, col, frames, bins, log)
        axis.set_title(col, fontsize=9)
    axes[0].legend(fontsize=8)
    return axes


def plot_summary(summary, path, title):
    """Accuracy against ΔEOd for every setting, error bars and the Pareto front.

    ``summary`` is :func:`skfairlatent.experiments.summarize`'s table; the
    figure is saved to ``path`` (PNG, 120 dpi) and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    shown = summary.rename(index=lambda s: s.replace("ALFA ", "").replace(" (baseline)", ""))
    plot_tradeoff_summary(shown, group="family", ax=ax,
                          markers={"ALFA, α chosen on validation": "*"})
    ax.set_title(title, fontsize=10)
    if summary.uses_sensitive_at_predict.any():
        fig.text(0.01, 0.01, "† uses the sensitive attribute at predict time", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_lassi_radii(radii, path, title):
    """Histograms of d_cs (representation radius) and d_rs (classifier radius) per method.

    ``radii`` is the second table of :func:`skfairlatent.experiments.run_lassi`;
    the figure is saved to ``path`` (PNG, 120 dpi) and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(radii.method))
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 3.8), squeeze=False)
    values = np.concatenate([radii.d_cs.dropna(), radii.d_rs.dropna()])
    positive = values[values > 0]
    lo, hi = (positive.min(), positive.max()) if len(positive) else (1e-3, 1.0)
    bins = np.geomspace(max(lo, 1e-4) / 1.1, hi * 1.1, 40)
    for ax, method in zip(axes[0], methods):
        part = radii[radii.method == method]
        ax.hist(part.d_cs.dropna().clip(lower=bins[0]), bins=bins, alpha=0.6,
                label="d_cs (center smoothing of R)")
        ax.hist(part.d_rs.dropna().clip(lower=bins[0]), bins=bins, alpha=0.6,
                label="d_rs (certified radius of C)")
        ax.set_xscale("log")
        ax.set_xlabel("radius (representation units, log scale)")
        ax.set_ylabel("test rows")
        ax.set_title(f"{method}: certified {100 * part.certified.mean():.0f}% "
                     f"(d_cs < d_rs), abstain {100 * part.abstain.mean():.0f}%", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_fldgm(samples, meta, path, title, n_columns=3):
    """Marginals of a few columns and P(label | group), real versus synthetic.

    ``samples`` and ``meta`` are the second and third outputs of
    :func:`skfairlatent.experiments.run_fldgm`; ``n_columns`` feature columns
    are shown (categorical first). The figure is saved to ``path`` (PNG,
    120 dpi) and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = samples["real"]
    target, sensitive = meta["target"], meta["sensitive"]
    features = [c for c in real.columns if c not in (target, sensitive)]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(real[c])]
    numeric = sorted((c for c in features if c not in categorical),
                     key=lambda c: -real[c].nunique())   # the most informative first
    shown = (categorical[:n_columns - 1] + numeric[:1])
    shown = (shown + [c for c in features if c not in shown])[:n_columns]
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(4.2 * (len(shown) + 1), 3.8))
    names = list(samples)
    width = 0.8 / len(names)
    for ax, col in zip(axes, shown):
        if col in categorical:
            cats = list(pd.Series(real[col]).astype(str).value_counts().index[:8])
            for k, name in enumerate(names):
                freq = samples[name][col].astype(str).value_counts(normalize=True)
                ax.bar(np.arange(len(cats)) + k * width, [freq.get(c, 0.0) for c in cats],
                       width=width, label=name)
            ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2)
            ax.set_xticklabels([c[:14] for c in cats], rotation=35, ha="right", fontsize=7)
            ax.set_ylabel("frequency")
        else:
            values = pd.to_numeric(real[col], errors="coerce").dropna()
            bins = np.histogram_bin_edges(values, bins=20)
            for name in names:
                ax.hist(pd.to_numeric(samples[name][col], errors="coerce").dropna(), bins=bins,
                        density=True, histtype="step", linewidth=1.5, label=name)
            ax.set_ylabel("density")
        ax.set_title(col, fontsize=9)
    ax = axes[-1]
    groups = sorted(pd.unique(real[sensitive].astype(str)))
    pos = sorted(pd.unique(real[target]))[-1]
    for k, name in enumerate(names):
        frame = samples[name]
        rates = [float((frame.loc[frame[sensitive].astype(str) == g, target] == pos).mean())
                 for g in groups]
        ax.bar(np.arange(len(groups)) + k * width, rates, width=width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_title(f"P({target} = {pos} | {sensitive})", fontsize=9)
    handles, legend_labels = ax.get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=len(names), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)

