"""DP and AUROC of each ``FairLatentSynthesizer(fairness=...)`` goal at its defaults (Adult).

Every goal is fitted with all other parameters at their defaults
(``FairLatentSynthesizer(fairness=goal, random_state=seed)``, the VAE that
``vae=None`` builds), on ``--n-train`` Adult rows (stratified) per seed, and
scored by :func:`~skfairlatent.metrics.evaluate_synthetic`: a random forest
trained on as many synthetic rows as training rows, tested on ``--n-test``
other real rows (DP: gap in positive rates between the sexes on the real test
rows). "Real data" trains the forest on the real training rows. No parameter
is chosen here: the goals' settings come from the Defaults table of
``doc/fldgm.md`` (tuned on seeds 100-102); the record seeds 10-12 were never
used for tuning.

Usage (from the repository root)::

    python -m benchmarks.studies.fldgm.fldgm_fairness_goals --n-train 12000 --seeds 10 11 12

Writes ``benchmarks/studies/fldgm/results/fldgm_fairness_goals{tag}.{md,json}``. The
record was run one seed and goal per process (``--seeds 10 --goals none --tag
_n12000_none_seed10``, ...) and combined with ``--merge <tags> --tag _n12000``.
"""

import argparse
import json
import time

import numpy as np
import torch

from skfairlatent import FairLatentSynthesizer
from skfairlatent.fldgm import FAIRNESS_GOALS
from skfairlatent.metrics import evaluate_synthetic

from benchmarks._common import fldgm_frames, mean_std, study_results, write_result

RESULTS = study_results("fldgm")
KEYS = ("auroc", "dp", "ftu", "precision", "recall")


def score_seed(seed, args, save):
    """``{row name: scores}`` of the real rows and of each goal for one seed; ``save(rows)``
    is called after each row."""
    X_tr, X_te, y_tr, y_te, A_tr, _, pos = fldgm_frames("adult", args, seed)
    real_tr, real_te = X_tr.assign(income=y_tr), X_te.assign(income=y_te)

    def evaluate(S):
        scores = evaluate_synthetic(real_tr, real_te, S, target="income", sensitive="sex",
                                    pos_label=pos, random_state=seed)
        return {k: float(scores[k]) for k in KEYS}

    rows = {"real data": evaluate(real_tr)}
    save(rows)
    for goal in args.goals:
        start = time.perf_counter()
        synth = FairLatentSynthesizer(fairness=goal, device="cpu", random_state=seed)
        synth.fit(X_tr, y_tr, sensitive_features=A_tr)
        rows[goal] = evaluate(synth.sample(len(X_tr), random_state=seed))
        rows[goal]["fit_s"] = time.perf_counter() - start
        print(seed, goal, {k: round(v, 3) for k, v in rows[goal].items()}, flush=True)
        save(rows)
    return rows


def markdown(runs, args):
    names = [name for name in runs[-1]["rows"] if all(name in r["rows"] for r in runs)]
    lines = ["# FairLatentSynthesizer fairness goals at their defaults (Adult)\n",
             f"{args.n_train:,} training rows, {args.n_test:,} other real test rows; seeds "
             f"{args.seeds}; a random forest trained on {args.n_train:,} synthetic rows, tested "
             "on the real test rows (`evaluate_synthetic`); mean ± std over seeds.\n",
             "| rows | AUROC | DP | FTU | DP / real DP | fit (s) |", "|---|---|---|---|---|---|"]
    real_dp = np.mean([r["rows"]["real data"]["dp"] for r in runs])
    for name in names:
        values = {k: [r["rows"][name][k] for r in runs] for k in ("auroc", "dp", "ftu")}
        fit = [r["rows"][name].get("fit_s", np.nan) for r in runs]
        lines.append(f"| {name} | {mean_std(values['auroc'])} | {mean_std(values['dp'])} | "
                     f"{mean_std(values['ftu'])} | {np.mean(values['dp']) / real_dp:.2f} | "
                     f"{np.nanmean(fit):.0f} |")
    lines.append("\nPer seed DP: " + "; ".join(
        f"{name} " + ", ".join(f"{r['rows'][name]['dp']:.3f}" for r in runs) for name in names))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--n-train", type=int, default=12000)
    parser.add_argument("--n-test", type=int, default=12000)
    parser.add_argument("--goals", nargs="+", default=list(FAIRNESS_GOALS),
                        choices=list(FAIRNESS_GOALS))
    parser.add_argument("--tag", default="")
    parser.add_argument("--merge", nargs="+", default=None, metavar="TAG",
                        help="combine the runs of earlier calls (one per tag, e.g. one seed "
                             "each, run in parallel) into the result of --tag; fits nothing")
    args = parser.parse_args()
    if args.merge:
        by_seed = {}
        for tag in args.merge:
            for run in json.loads((RESULTS / f"fldgm_fairness_goals{tag}.json").read_text())[
                    "runs"]:
                by_seed.setdefault(run["seed"], {}).update(run["rows"])
        runs = [{"seed": seed, "rows": rows} for seed, rows in sorted(by_seed.items())]
        args.seeds = [run["seed"] for run in runs]
        write_result(RESULTS / f"fldgm_fairness_goals{args.tag}", markdown(runs, args),
                     {"args": vars(args), "runs": runs})
        return
    torch.set_num_threads(1)
    runs = []
    def save(rows):
        done = [*runs, {"seed": seed, "rows": rows}]
        write_result(RESULTS / f"fldgm_fairness_goals{args.tag}", markdown(done, args),
                     {"args": vars(args), "runs": done})

    for seed in args.seeds:
        runs.append({"seed": seed, "rows": score_seed(seed, args, save)})


if __name__ == "__main__":
    main()
