"""ALFA's α chosen per seed on the validation split."""

from __future__ import annotations

import pandas as pd

#: Label of the rows of ALFA with α chosen per seed on the validation split.
CHOSEN = "ALFA (α chosen on validation)"


def select_alpha(runs, *, tolerance=0.01):
    """ALFA's α per seed on the validation split.

    The lowest validation ΔEOd among the α whose validation accuracy is at most
    ``tolerance`` below the baseline's (all α when none is); ALFA App. F/H
    choose α per dataset. Adds a boolean ``selected`` column and returns the
    runs with one extra row per seed labelled ``"ALFA (α chosen on validation)"``.
    """
    runs = runs.copy()
    runs["selected"] = False
    alfa_rows = runs.family == "ALFA"
    if not alfa_rows.any():
        return runs
    for _seed, group in runs.groupby("seed"):
        base_acc = group.loc[group.setting == "baseline", "valid_accuracy"].iloc[0]
        alfa = group[group.family == "ALFA"]
        eligible = alfa[alfa.valid_accuracy >= base_acc - tolerance]
        pool = eligible if len(eligible) else alfa
        runs.loc[pool.valid_delta_eod.idxmin(), "selected"] = True
    chosen = runs[runs.selected].assign(setting=CHOSEN, family="ALFA, α chosen on validation",
                                        selected=False)
    return pd.concat([runs, chosen], ignore_index=True)

