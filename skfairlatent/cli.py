"""The ``skfairlatent`` command: a method against its baseline on real data.

With no arguments it runs ALFA against the same MLP without ALFA on COMPAS
(sex as the sensitive attribute) over the paper's α grid, on a 60/20/20
split for each seed, prints a table (accuracy, ΔDP, ΔEOd as mean ± std over
seeds) and a fairlearn ``MetricFrame`` by group, and writes the table
(markdown + JSON) and the trade-off plot (PNG) to the output folder.

Examples
--------
$ skfairlatent
$ skfairlatent --dataset german --model logistic --seeds 0 1 2 --alphas 0 0.1 1
$ python -m skfairlatent --method aeda --dataset colored_mnist --max-epochs 4
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from . import datasets
from .metrics import delta_dp, delta_eod, worst_group_accuracy

TABULAR = {
    "adult": datasets.load_adult,
    "compas": datasets.load_compas,
    "german": datasets.load_german,
    "drug": datasets.load_drug,
}
DATASETS = (*TABULAR, "colored_mnist")
METHODS = ("alfa", "aeda", "fairflow")
PAPER_ALPHAS = (0.0, 0.001, 0.01, 0.1, 1.0, 10.0)
MODELS = {"mlp": (128, 128), "logistic": ()}


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def load_split(dataset, seed, *, validation=0.2, test=0.2):
    """A stratified train/validation/test split of a tabular dataset, preprocessed.

    The preprocessor is fitted on the training rows only.

    Returns
    -------
    dict with keys ``train``, ``valid``, ``test``, each ``(X, y, A)``.
    """
    if dataset not in TABULAR:
        raise ValueError(f"Unknown tabular dataset {dataset!r}; choose from {sorted(TABULAR)}.")
    X, y, A = TABULAR[dataset](return_X_y_A=True)
    strata = y.astype(str) + "|" + A.astype(str)
    X_rest, X_te, y_rest, y_te, A_rest, A_te = train_test_split(
        X, y, A, test_size=test, random_state=seed, stratify=strata)
    X_tr, X_va, y_tr, y_va, A_tr, A_va = train_test_split(
        X_rest, y_rest, A_rest, test_size=validation / (1 - test), random_state=seed,
        stratify=strata.loc[y_rest.index])
    pre = datasets.make_preprocessor().fit(X_tr)
    return {name: (pre.transform(Xs).astype(np.float32), np.asarray(ys), np.asarray(As))
            for name, (Xs, ys, As) in
            {"train": (X_tr, y_tr, A_tr), "valid": (X_va, y_va, A_va), "test": (X_te, y_te, A_te)}.items()}


def scores(y, pred, A):
    """Accuracy, ΔDP, ΔEOd and worst-group accuracy of one prediction."""
    return {
        "accuracy": accuracy_score(y, pred),
        "delta_dp": delta_dp(y, pred, sensitive_features=A),
        "delta_eod": delta_eod(y, pred, sensitive_features=A),
        "worst_group_accuracy": worst_group_accuracy(y, pred, sensitive_features=A),
    }


def metric_frame(y, pred, A):
    """Per-group accuracy, selection rate, TPR and FPR (fairlearn ``MetricFrame``)."""
    return MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate,
                 "TPR": true_positive_rate, "FPR": false_positive_rate},
        y_true=y, y_pred=pred, sensitive_features=pd.Series(A, name="group"))


# --------------------------------------------------------------------------- #
# ALFA
# --------------------------------------------------------------------------- #
def run_alfa(dataset="compas", *, model="mlp", seeds=(0,), alphas=PAPER_ALPHAS,
             max_epochs=20, device="auto", verbose=0, log=print):
    """ALFA over an α grid against the same network without ALFA.

    For each seed: fit the baseline (``lambda_=0``: the same pretraining and a
    re-initialised last layer fine-tuned on the original latents only) and
    ALFA for every α; α is then chosen on the validation split as the lowest
    ΔEOd among the candidates whose validation accuracy is at most one point
    below the baseline's (ALFA App. F/H choose α per dataset).

    Returns
    -------
    runs : pandas.DataFrame
        One row per (seed, method, α) with validation and test scores, the
        fit time in seconds and the time and peak memory of each phase
        (``ALFAClassifier.fit_profile_``).
    predictions : dict
        ``{(seed, label): (y_test, y_pred, A_test)}`` for the baseline and the
        selected ALFA model, for MetricFrame reports.
    """
    from .alfa import ALFAClassifier

    rows, predictions = [], {}
    for seed in seeds:
        split = load_split(dataset, seed)
        X_tr, y_tr, A_tr = split["train"]
        candidates = [("baseline", None)] + [("ALFA", alpha) for alpha in alphas]
        for label, alpha in candidates:
            params = dict(hidden_layer_sizes=MODELS[model], max_epochs=max_epochs,
                          device=device, random_state=seed, verbose=verbose,
                          keep_attack_data=False)
            clf = (ALFAClassifier(lambda_=0.0, **params) if alpha is None
                   else ALFAClassifier(alpha=alpha, **params))
            start = time.perf_counter()
            clf.fit(X_tr, y_tr, sensitive_features=A_tr)
            row = {"seed": seed, "method": label, "alpha": alpha,
                   "fit_seconds": time.perf_counter() - start}
            for phase, profile in clf.fit_profile_.items():
                row[f"{phase}_seconds"] = profile["seconds"]
                row[f"{phase}_peak_rss_mb"] = profile["peak_rss_mb"]
            for part in ("valid", "test"):
                X, y, A = split[part]
                pred = clf.predict(X)
                row.update({f"{part}_{k}": v for k, v in scores(y, pred, A).items()})
                if part == "test":
                    predictions[(seed, label, alpha)] = (y, pred, A)
            rows.append(row)
            log(f"  seed {seed} {label:8s} α={alpha!s:6s} test acc={row['test_accuracy']:.3f} "
                f"ΔDP={row['test_delta_dp']:.3f} ΔEOd={row['test_delta_eod']:.3f} "
                f"({row['fit_seconds']:.1f} s)")
    runs = pd.DataFrame(rows)
    runs["selected"] = False
    for seed, group in runs.groupby("seed"):
        base_acc = group.loc[group.method == "baseline", "valid_accuracy"].iloc[0]
        alfa = group[group.method == "ALFA"]
        eligible = alfa[alfa.valid_accuracy >= base_acc - 0.01]
        pool = eligible if len(eligible) else alfa
        runs.loc[pool.valid_delta_eod.idxmin(), "selected"] = True
    return runs, predictions


def summarize(runs, metrics=("accuracy", "delta_dp", "delta_eod", "worst_group_accuracy")):
    """Mean ± std over seeds of the test scores: one row per α and one for the selected α."""
    per_alpha = runs.assign(setting=np.where(runs.method == "baseline", "baseline",
                                             "ALFA α=" + runs.alpha.astype(str)))
    selected = runs[runs.selected].assign(setting="ALFA (α chosen on validation)")
    table = pd.concat([per_alpha, selected])
    columns = [f"test_{m}" for m in metrics]
    order = list(dict.fromkeys(table.setting))
    agg = table.groupby("setting", sort=False)[columns].agg(["mean", "std"]).loc[order]
    out = pd.DataFrame(index=agg.index)
    for m, col in zip(metrics, columns):
        out[m] = [f"{mean:.4f} ± {0 if np.isnan(std) else std:.4f}"
                  for mean, std in agg[col].itertuples(index=False)]
    out["fit_seconds"] = table.groupby("setting", sort=False).fit_seconds.mean().loc[order].round(1)
    return out


def plot_alfa_tradeoff(runs, path, title):
    """Accuracy against ΔEOd per α (mean over seeds), as ALFA Fig. 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = runs.groupby(["method", "alpha"], dropna=False)[["test_accuracy", "test_delta_eod"]].mean()
    fig, ax = plt.subplots(figsize=(5, 4))
    alfa = means.loc["ALFA"]
    ax.plot(alfa.test_delta_eod, alfa.test_accuracy, "o-", color="tab:red", label="ALFA")
    for alpha, point in alfa.iterrows():
        ax.annotate(f"α={alpha:g}", (point.test_delta_eod, point.test_accuracy),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    base = means.loc["baseline"].iloc[0]
    ax.plot(base.test_delta_eod, base.test_accuracy, "s", color="black", label="baseline")
    ax.set_xlabel("ΔEOd (lower is fairer)")
    ax.set_ylabel("accuracy")
    ax.invert_xaxis()   # upper right is best, as in the paper
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- #
# Other methods
# --------------------------------------------------------------------------- #
def run_aeda(dataset, *, seeds, max_epochs, device, verbose, log=print):
    """AEDA modes against ``mode="none"`` (see :func:`skfairlatent.aeda.compare_aeda_modes`)."""
    from .aeda import compare_aeda_modes

    frames = []
    for seed in seeds:
        if dataset == "colored_mnist":
            (X_tr, y_tr, A_tr), (X_te, y_te, A_te) = datasets.load_colored_mnist(
                random_state=seed, return_X_y_A=True)
            params = {}
        else:
            split = load_split(dataset, seed)
            (X_tr, y_tr, A_tr), (X_te, y_te, A_te) = split["train"], split["test"]
            params = {"hidden_layer_sizes": (128, 128)}
        frame = compare_aeda_modes(X_tr, y_tr, A_tr, X_te, y_te, A_te, random_state=seed,
                                   max_epochs=max_epochs, device=device, verbose=verbose, **params)
        frames.append(frame.reset_index().assign(seed=seed))
        log(frame.to_string())
    return pd.concat(frames, ignore_index=True)


def run_fairflow(dataset, *, seeds, max_epochs, device, verbose, log=print):
    """Logistic regression on standardised features versus on FairLatentFlow's Z_Y."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .fair_flow import FairLatentFlow

    rows, predictions = [], {}
    for seed in seeds:
        split = load_split(dataset, seed)
        X_tr, y_tr, A_tr = split["train"]
        X_te, y_te, A_te = split["test"]
        models = {
            "baseline": LogisticRegression(max_iter=1000),
            "FairLatentFlow": make_pipeline(
                FairLatentFlow(max_epochs=max_epochs, device=device, random_state=seed,
                               verbose=verbose),
                LogisticRegression(max_iter=1000)),
        }
        for label, model in models.items():
            start = time.perf_counter()
            if label == "baseline":
                model.fit(X_tr, y_tr)
            else:
                model.fit(X_tr, y_tr, fairlatentflow__sensitive_features=A_tr)
            pred = model.predict(X_te)
            predictions[(seed, label, None)] = (y_te, pred, A_te)
            rows.append({"seed": seed, "method": label,
                         "fit_seconds": time.perf_counter() - start,
                         **{f"test_{k}": v for k, v in scores(y_te, pred, A_te).items()}})
            log(f"  seed {seed} {label}: " + ", ".join(
                f"{k}={v:.3f}" for k, v in rows[-1].items() if k.startswith("test_")))
    return pd.DataFrame(rows), predictions


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def build_parser():
    parser = argparse.ArgumentParser(
        prog="skfairlatent",
        description="Run a latent-space fairness method against its baseline on real data "
                    "(offline), print a table and a MetricFrame by group, and save the "
                    "table (markdown, JSON) and a trade-off plot (PNG).")
    parser.add_argument("--method", default="alfa", help=f"one of {', '.join(METHODS)} (default: alfa)")
    parser.add_argument("--dataset", default="compas",
                        help=f"one of {', '.join(DATASETS)} (default: compas)")
    parser.add_argument("--model", default="mlp", help="mlp or logistic (ALFA; default: mlp)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--alphas", type=float, nargs="+", default=list(PAPER_ALPHAS),
                        help="ALFA's α grid (default: the paper's 0 0.001 0.01 0.1 1 10)")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--output", default="skfairlatent_output", help="output folder")
    parser.add_argument("--verbose", type=int, default=0)
    return parser


def _check_args(parser, args):
    if args.method not in METHODS:
        parser.error(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    if args.dataset not in DATASETS:
        parser.error(f"unknown dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    if args.model not in MODELS:
        parser.error(f"unknown model {args.model!r}; choose from {', '.join(MODELS)}")
    if args.dataset == "colored_mnist" and args.method != "aeda":
        parser.error("--dataset colored_mnist is available with --method aeda only")
    if args.max_epochs < 1:
        parser.error("--max-epochs must be at least 1")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    stem = f"{args.method}_{args.dataset}" + (f"_{args.model}" if args.method == "alfa" else "")
    print(f"skfairlatent: {args.method} on {args.dataset}, seeds {args.seeds}, "
          f"{args.max_epochs} epochs, device {args.device}")
    warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
    common = dict(seeds=args.seeds, max_epochs=args.max_epochs, device=args.device,
                  verbose=args.verbose)

    if args.method == "alfa":
        runs, predictions = run_alfa(args.dataset, model=args.model, alphas=args.alphas, **common)
        table = summarize(runs)
        plot_alfa_tradeoff(runs, output / f"{stem}_tradeoff.png",
                           f"ALFA on {args.dataset} ({args.model})")
        chosen = runs[runs.selected].iloc[0]
        frames = {"baseline": predictions[(chosen.seed, "baseline", None)],
                  f"ALFA α={chosen.alpha:g}": predictions[(chosen.seed, "ALFA", chosen.alpha)]}
    elif args.method == "fairflow":
        runs, predictions = run_fairflow(args.dataset, **common)
        table = runs.groupby("method")[[c for c in runs if c.startswith("test_")]].agg(["mean", "std"])
        seed = args.seeds[0]
        frames = {label: predictions[(seed, label, None)] for label in ("baseline", "FairLatentFlow")}
    else:
        runs = run_aeda(args.dataset, **common)
        table = runs.groupby("mode", sort=False).agg(["mean", "std"]).drop(columns="seed", level=0)
        frames = {}

    print("\nTest scores (mean ± std over seeds):")
    print(table.to_string())
    for label, (y, pred, A) in frames.items():
        print(f"\nMetricFrame by group: {label} (seed {args.seeds[0]}, test split)")
        print(metric_frame(y, pred, A).by_group.round(4).to_string())

    (output / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
    runs.to_json(output / f"{stem}_runs.json", orient="records", indent=2)
    (output / f"{stem}_config.json").write_text(json.dumps(vars(args), indent=2))
    print(f"\nWrote {output}/{stem}_table.md, {stem}_runs.json"
          + (f", {stem}_tradeoff.png" if args.method == "alfa" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
