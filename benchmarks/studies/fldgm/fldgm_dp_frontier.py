"""How fair can a classifier trained on the *real* Adult rows be, at what AUROC?

The reference for FLDGM's target (DP <= 0.02 at AUROC >= 0.75 on real test
rows, issue 10): fairlearn's ExponentiatedGradient with DemographicParity and
logistic regression, trained on the same 4,200 real training rows as
``benchmarks/fldgm_reproduction.py`` and tested on its 12,000 real test rows (same
``fldgm_frames``, seeds 0-2), for several ``difference_bound`` values, with and
without the sex column among the features (``blind``: FTU 0). Plain logistic
regression is the unconstrained end of the curve (``difference_bound=1``).

Two AUROCs: ``auroc``, of the randomized classifier's P(y = <=50K), which
mixes its predictors' hard labels (what ``fldgm_reproduction.py``'s ExpGrad
row reports: close to a balanced accuracy), and ``auroc_scores``, of the
same mixture of the predictors' predicted probabilities (comparable with the
forest rows, which rank by ``predict_proba``). DP and positive rate are those
of its seeded predictions.

Usage (from the repository root)::

    python -m benchmarks.studies.fldgm.fldgm_dp_frontier

Writes ``benchmarks/studies/fldgm/results/fldgm_dp_frontier.{md,json}``.
"""

import argparse

from benchmarks._common import expgrad_dp, fldgm_frames, mean_std, study_results, write_result

RESULTS = study_results("fldgm")

BOUNDS = [0.005, 0.01, 0.02, 0.05, 0.1, 1.0]  # 1.0: no constraint in effect


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=4200)
    parser.add_argument("--n-test", type=int, default=12000)
    args = parser.parse_args()
    rows = {}
    for seed in args.seeds:
        X_tr, X_te, y_tr, y_te, _, _, pos = fldgm_frames("adult", args, seed)
        real_tr, real_te = X_tr.assign(income=y_tr), X_te.assign(income=y_te)
        for blind in (False, True):
            for bound in BOUNDS:
                key = f"{'blind' if blind else 'with sex'}, difference_bound={bound:g}"
                rows.setdefault(key, []).append(
                    expgrad_dp(real_tr, real_te, "income", pos, bound, blind))
                print(seed, key, {k: round(v, 3) for k, v in rows[key][-1].items()}, flush=True)
    metrics = ["auroc", "auroc_scores", "dp", "positive_rate", "precision", "recall"]
    lines = ["# ExponentiatedGradient (DemographicParity, LR) on the real Adult rows\n",
             f"{args.n_train:,} training rows, {args.n_test:,} real test rows (the splits of "
             f"fldgm_reproduction.py), seeds {args.seeds}, mean ± std.\n",
             "| features, constraint | " + " | ".join(metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    for key, results in rows.items():
        lines.append(f"| {key} | " + " | ".join(
            mean_std([r[m] for r in results]) for m in metrics) + " |")
    text = "\n".join(lines) + "\n"
    write_result(RESULTS / "fldgm_dp_frontier", text, {"args": vars(args), "rows": rows})
    print(text)


if __name__ == "__main__":
    main()
