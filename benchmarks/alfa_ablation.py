"""ALFA ablation and peers: is the attack what makes the model fair?

For each dataset, model (logistic regression, MLP 2x128) and seed, on one
stratified 60/20/20 split per seed (``skfairlatent.experiments.load_split``):

* ``baseline``: ALFA with λ = 0 (the same pretraining, the last layer
  re-initialised and fine-tuned on the original latents only);
* ``upsampling only``: the control; the same pipeline with the attack off
  (ε = 1e-8, so δ = 0): the last layer is fine-tuned on the original latents
  plus the cell-balanced duplicated latents, weighted as ALFA's;
* ``ALFA``: the attack on, α chosen per seed on the *validation* split as the
  lowest ΔEOd among the α whose validation accuracy is at most one point
  below the baseline's (the test split is never used to choose);
* peers a user would pick instead, fitted on the same rows: scikit-learn's
  ``LogisticRegression`` / ``MLPClassifier``, fairlearn's
  ``ExponentiatedGradient(LogisticRegression, EqualizedOdds())`` and
  ``ThresholdOptimizer(constraints="equalized_odds")`` on the sklearn model of
  the row (prefit; it needs the sensitive attribute at predict time).

The variants of one seed share one pretraining: the pretrained network and
the torch random state after it are cached and restored, so every variant
is exactly what a fresh ``fit`` with that ``random_state`` returns; its
fit seconds include the cached pretraining time.

Adult: all training rows by default; ``--adult-train-rows`` subsamples them
(stratified by (a, y)); validation and test splits are always full.
``--alfa-params`` passes ALFA settings to every ALFA variant (the results of
record use the estimator's defaults: per-batch upsampling, ``class_prior="data"``
and L-BFGS fine-tuning, fixed on tuning seeds 100-102; the sensitivity run
passes ``{"finetune_solver": "adam"}``), ``--no-peers`` skips the peers
(tuning runs).

The headline results (``benchmarks/results/``; each file starts with its command,
date and commit)::

    python benchmarks/alfa_ablation.py --datasets compas drug german \\
        --name alfa_ablation_compas_drug_german
    python benchmarks/alfa_ablation.py --datasets adult --models mlp --name alfa_ablation_adult

Tuning and sensitivity runs of the studies write elsewhere, e.g.
``--no-peers --seeds 100 101 102 --output benchmarks/studies/alfa/results --name alfa_tune_...``.
Writes ``<output>/<name>.{md,json}`` (default ``benchmarks/results/alfa_ablation``).
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from skfairlatent.experiments import MODELS, load_split, scores

from _common import RESULTS, PretrainCache, read_records, records, subsample_rows, write_result

# Paper Tables 4-15: (accuracy, ΔDP, ΔEOd) of "Baseline" and "Ours (ALFA)".
PAPER = {
    ("adult", "logistic"): {"baseline": (0.8470, 0.1829, 0.1982), "ALFA": (0.8464, 0.1555, 0.0616)},
    ("adult", "mlp"): {"baseline": (0.8525, 0.1824, 0.1768), "ALFA": (0.8244, 0.1012, 0.0660)},
    ("compas", "logistic"): {"baseline": (0.6578, 0.2732, 0.5319),
                             "ALFA": (0.6694, 0.0193, 0.0876)},
    ("compas", "mlp"): {"baseline": (0.6711, 0.2059, 0.3699), "ALFA": (0.6702, 0.0204, 0.0410)},
    ("german", "logistic"): {"baseline": (0.7220, 0.1186, 0.3382),
                             "ALFA": (0.7940, 0.0470, 0.0469)},
    ("german", "mlp"): {"baseline": (0.7800, 0.0454, 0.2096), "ALFA": (0.7570, 0.0053, 0.0813)},
    ("drug", "logistic"): {"baseline": (0.6626, 0.2938, 0.5064), "ALFA": (0.6554, 0.0909, 0.1170)},
    ("drug", "mlp"): {"baseline": (0.6674, 0.2760, 0.4718), "ALFA": (0.6350, 0.0511, 0.0640)},
}
METRICS = ("accuracy", "delta_dp", "delta_eod")
ORDER = ["baseline (λ=0)", "upsampling only", "ALFA (α on valid)", "sklearn", "ExpGrad EO",
         "ThresholdOpt EO (needs A)"]


def _row(dataset, model, seed, method, split, predict, seconds, **extra):
    row = {"dataset": dataset, "model": model, "seed": seed, "method": method,
           "fit_seconds": seconds, **extra}
    for part in ("valid", "test"):
        X, y, A = split[part]
        row.update({f"{part}_{k}": v for k, v in scores(y, predict(X, A), A).items()})
    return row


def run_seed(dataset, model, seed, alphas, max_epochs, adult_rows, cache, log, alfa_params=None,
             peers=True):
    split = load_split(dataset, seed)
    X_tr, y_tr, A_tr = subsample_rows(*split["train"], adult_rows if dataset == "adult" else None,
                                      seed)
    split["train"] = (X_tr, y_tr, A_tr)
    rows = []
    cache.key = (dataset, model, seed)
    base = dict(hidden_layer_sizes=MODELS[model], max_epochs=max_epochs, random_state=seed,
                keep_attack_data=True, **(alfa_params or {}))

    def fit_alfa(method, **params):
        start = time.perf_counter()
        clf = cache.estimator_class(**{**base, **params}).fit(X_tr, y_tr, sensitive_features=A_tr)
        seconds = time.perf_counter() - start + clf.cached_pretrain_seconds
        extra = {"alpha": params.get("alpha", np.nan)}
        for phase, profile in clf.fit_profile_.items():
            extra[f"{phase}_seconds"] = profile["seconds"]
        if clf.perturbed_latents_ is not None:
            radius = clf.attack_radius_
            norms = np.linalg.norm(clf.perturbed_latents_ - clf.attack_latents_, axis=1)
            extra["delta_over_eps"] = float(np.mean(norms / radius))
            extra["attack_rows"] = len(norms)
            extra["attack_eod_clean"] = clf.attack_report_["delta_eod_clean"]
            extra["attack_eod_perturbed"] = clf.attack_report_["delta_eod_perturbed"]
        row = _row(dataset, model, seed, method, split, lambda X, A: clf.predict(X), seconds,
                   **extra)
        rows.append(row)
        log(f"  {dataset}/{model} seed {seed} {method:26s} α={extra['alpha']!s:5s} "
            f"test acc={row['test_accuracy']:.3f} ΔEOd={row['test_delta_eod']:.3f} "
            f"valid ΔEOd={row['valid_delta_eod']:.3f} ({seconds:.1f} s)")
        return row

    fit_alfa("baseline (λ=0)", lambda_=0.0)
    fit_alfa("upsampling only", alpha=0.0, epsilon=1e-8)
    for alpha in alphas:
        fit_alfa("ALFA α candidate", alpha=alpha)
    if not peers:
        return rows

    # peers, float64 inputs (fairlearn's ThresholdOptimizer fails on float32 with pandas 3)
    X64 = X_tr.astype(np.float64)
    if model == "logistic":
        peer = LogisticRegression(max_iter=1000)
    else:
        peer = MLPClassifier(hidden_layer_sizes=MODELS[model], early_stopping=True,
                             max_iter=200, random_state=seed)
    start = time.perf_counter()
    peer.fit(X64, y_tr)
    seconds = time.perf_counter() - start
    rows.append(_row(dataset, model, seed, "sklearn", split,
                     lambda X, A: peer.predict(X.astype(np.float64)), seconds))
    start = time.perf_counter()
    expgrad = ExponentiatedGradient(LogisticRegression(max_iter=1000), EqualizedOdds())
    expgrad.fit(X64, y_tr, sensitive_features=A_tr)
    seconds = time.perf_counter() - start
    rows.append(_row(dataset, model, seed, "ExpGrad EO", split,
                     lambda X, A: expgrad.predict(X.astype(np.float64), random_state=seed),
                     seconds, note="ExpGrad(LogisticRegression) in both model rows"))
    start = time.perf_counter()
    thresh = ThresholdOptimizer(estimator=peer, constraints="equalized_odds", prefit=True,
                                predict_method="predict_proba")
    thresh.fit(X64, y_tr, sensitive_features=A_tr)
    seconds = time.perf_counter() - start + rows[-2]["fit_seconds"]
    rows.append(_row(dataset, model, seed, "ThresholdOpt EO (needs A)", split,
                     lambda X, A: thresh.predict(X.astype(np.float64), sensitive_features=A,
                                                 random_state=seed), seconds))
    for row in rows[-3:]:
        log(f"  {dataset}/{model} seed {seed} {row['method']:26s} "
            f"test acc={row['test_accuracy']:.3f} "
            f"ΔEOd={row['test_delta_eod']:.3f} ({row['fit_seconds']:.1f} s)")
    return rows


def select_alpha(runs):
    """Mark the validation-chosen α per (dataset, model, seed); never looks at test."""
    runs = runs.reset_index(drop=True)
    chosen_rows = []
    for _, group in runs.groupby(["dataset", "model", "seed"], sort=False):
        base_acc = group.loc[group.method == "baseline (λ=0)", "valid_accuracy"].iloc[0]
        alfa = group[group.method == "ALFA α candidate"]
        eligible = alfa[alfa.valid_accuracy >= base_acc - 0.01]
        pool = eligible if len(eligible) else alfa
        chosen = runs.loc[pool.valid_delta_eod.idxmin()].copy()
        chosen["method"] = "ALFA (α on valid)"
        chosen_rows.append(chosen.to_frame().T)
    return pd.concat([runs, *chosen_rows], ignore_index=True)


def summarize(runs):
    table = []
    for (dataset, model), group in runs.groupby(["dataset", "model"], sort=False):
        for method in ORDER:
            part = group[group.method == method]
            if not len(part):
                continue
            row = {"dataset": dataset, "model": model, "method": method, "n_seeds": len(part)}
            for metric in METRICS:
                values = part[f"test_{metric}"].astype(float)
                row[metric] = f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"
            row["fit_s"] = round(part.fit_seconds.astype(float).mean(), 2)
            if method == "ALFA (α on valid)":
                row["alphas"] = " ".join(f"{a:g}" for a in part.alpha)
            paper_key = {"baseline (λ=0)": "baseline", "ALFA (α on valid)": "ALFA"}.get(method)
            if paper_key:
                paper = PAPER[(dataset, model)][paper_key]
                row.update({f"paper_{m}": v for m, v in zip(METRICS, paper)})
            table.append(row)
        per_alpha = group[group.method == "ALFA α candidate"].groupby("alpha")
        for alpha, part in per_alpha:
            row = {"dataset": dataset, "model": model, "method": f"ALFA α={alpha:g} (all seeds)",
                   "n_seeds": len(part)}
            for metric in METRICS:
                values = part[f"test_{metric}"].astype(float)
                row[metric] = f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"
            row["fit_s"] = round(part.fit_seconds.astype(float).mean(), 2)
            row["delta_over_eps"] = round(part.delta_over_eps.astype(float).mean(), 3)
            row["attack_eod"] = (f"{part.attack_eod_clean.astype(float).mean():.2f} → "
                                 f"{part.attack_eod_perturbed.astype(float).mean():.2f}")
            table.append(row)
    return pd.DataFrame(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["compas", "german", "drug", "adult"])
    parser.add_argument("--models", nargs="+", default=["mlp", "logistic"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0, 3.0])
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--adult-train-rows", type=int, default=None,
                        help="subsample Adult's training rows (default: all)")
    parser.add_argument("--no-peers", action="store_true", help="ALFA variants only")
    parser.add_argument("--alfa-params", default="{}",
                        help='JSON of extra ALFAClassifier parameters for every ALFA variant, '
                             'e.g. \'{"finetune_on": "upsampled", "reinit_head": false}\' '
                             "(the authors' fine-tuning)")
    parser.add_argument("--name", default="alfa_ablation")
    parser.add_argument("--output", default=str(RESULTS),
                        help="folder of the result files (studies: "
                             "benchmarks/studies/alfa/results)")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="only summarise the runs of these JSON files (from earlier runs)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.merge:
        runs = pd.concat([read_records(path) for path in args.merge], ignore_index=True)
        runs = runs[runs.method != "ALFA (α on valid)"]
        runs = select_alpha(runs)
        table = summarize(runs)
        write_result(
            Path(args.output) / args.name,
            f"ALFA ablation and peers, merged from {', '.join(Path(p).name for p in args.merge)} "
            "(settings in each file's run command; see the closing note). α chosen per seed on "
            "validation; test scores mean ± std over seeds; fit seconds on a shared 2-core CPU "
            "(ratios only).\n\n" + table.to_markdown(index=False) + "\n", None)
        print(table.to_markdown(index=False))
        return
    torch.set_num_threads(1)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    all_rows = []
    cache = PretrainCache()
    for dataset in args.datasets:
        for model in args.models:
            for seed in args.seeds:
                all_rows += run_seed(dataset, model, seed, args.alphas, args.max_epochs,
                                     args.adult_train_rows, cache,
                                     lambda m: print(m, flush=True),
                                     json.loads(args.alfa_params), not args.no_peers)
                cache.clear()
                runs = select_alpha(pd.DataFrame(all_rows))
                table = summarize(runs)
                header = (f"ALFA ablation and peers: seeds {args.seeds}, {args.max_epochs} "
                          f"epochs, α candidates {args.alphas} (chosen per seed on validation), "
                          f"60/20/20 splits, Adult training rows subsampled to "
                          f"{args.adult_train_rows}; test scores mean ± std over seeds; "
                          "fit seconds on a shared 2-core CPU (ratios only). Extra ALFA "
                          f"parameters: {args.alfa_params}.\n\n")
                write_result(out / args.name, header + table.to_markdown(index=False) + "\n",
                             records(runs))
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
