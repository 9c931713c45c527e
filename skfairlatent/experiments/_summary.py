"""Tables of the runs: mean and standard deviation over seeds, one row per setting."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._scoring import METRICS
from ._selection import CHOSEN


def summarize(runs, metrics=METRICS):
    """Mean and std over seeds of the test scores and fit seconds, one row per setting.

    Returns
    -------
    pandas.DataFrame
        Indexed by setting (in run order) with ``family``, ``n_seeds``,
        ``<metric>_mean``, ``<metric>_std`` for every metric and
        ``fit_seconds``, ``uses_sensitive_at_predict``, ``alphas`` (the α of
        each seed, for the chosen-α row) and ``pareto`` (the mean is on the
        accuracy/ΔEOd front).
    """
    from ..model_selection import pareto_mask

    order = list(dict.fromkeys(runs.setting))
    grouped = runs.groupby("setting", sort=False)
    out = pd.DataFrame(index=pd.Index(order, name="setting"))
    out["family"] = grouped.family.first().loc[order]
    out["n_seeds"] = grouped.seed.nunique().loc[order]
    for m in (*metrics, "fit_seconds"):
        col = m if m == "fit_seconds" else f"test_{m}"
        if col not in runs:
            continue
        out[f"{m}_mean"] = grouped[col].mean().loc[order]
        out[f"{m}_std"] = grouped[col].std(ddof=1).loc[order].fillna(0.0)
    out["uses_sensitive_at_predict"] = grouped.uses_sensitive_at_predict.any().loc[order]
    out["alphas"] = [", ".join(f"{a:g}" for a in runs.loc[runs.setting == s, "alpha"].dropna())
                     if s == CHOSEN else "" for s in order]
    out["pareto"] = pareto_mask(out["accuracy_mean"], out["delta_eod_mean"])
    return out


def format_table(summary, metrics=METRICS):
    """The summary as strings ``mean ± std`` (markdown/printing)."""
    table = pd.DataFrame(index=summary.index)
    for m in (*metrics, "fit_seconds"):
        if f"{m}_mean" not in summary:
            continue
        digits = 1 if m == "fit_seconds" else 4
        table[m] = [f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"
                    for mean, std, n in zip(summary[f"{m}_mean"], summary[f"{m}_std"],
                                            summary["n_seeds"])]
    table["Pareto"] = np.where(summary.pareto, "✓", "")
    if (summary.alphas != "").any():
        table["α per seed"] = summary.alphas
    return table


def mean_std_table(runs, by, columns):
    """``mean ± std`` strings (3 decimals) of ``columns`` over the rows of each ``by`` group.

    Groups keep their order of appearance; a group of one row shows the mean only.
    """
    agg = runs.groupby(by, sort=False)[columns].agg(["mean", "std"])
    table = pd.DataFrame(index=agg.index)
    for col in columns:
        table[col] = [f"{m:.3f}" if np.isnan(s) else f"{m:.3f} ± {s:.3f}"
                      for m, s in agg[col].itertuples(index=False)]
    return table

