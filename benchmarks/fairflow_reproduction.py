"""FairLatentFlow (arXiv 2412.17523): a classifier on E versus on Z_Y, CPU-sized.

For each dataset and seed:

1. split the rows 50/50 (stratified by label; coloured digits: the loader's
   biased training split and balanced test split);
2. train an MLP encoder (sklearn ``MLPClassifier``, tanh hidden layers) on
   the preprocessed training rows; E = its last hidden layer (16 units);
3. rows of the table:
   * ``MLP (plain)``   -- the encoder's own predictions (the plain baseline);
   * ``LR on E``       -- logistic regression on the latent E;
   * ``LR on Z_Y``     -- logistic regression on ``FairLatentFlow().transform(E)``;
   * ``ALFA``          -- ``ALFAClassifier`` (alpha=0.1) on the preprocessed rows
     (tabular datasets only, when ``skfairlatent.alfa`` is importable);
4. metrics on the test split: accuracy, ΔEOd, ΔDP and worst-group accuracy
   over (label, group) cells; mean ± std over seeds; fit times.

The paper reports on CelebA (512-d DiffAE latent) 86.8 % lower EOd, 52.0 %
lower DP and 39.9 % higher worst-group accuracy than its baselines; the
"relative change" lines compare ``LR on Z_Y`` with ``LR on E``.

Usage: ``python benchmarks/fairflow_reproduction.py [--seeds 0 1 2] [--quick]``.
Writes ``benchmarks/results/fairflow_reproduction.{md,json}``.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skfairlatent import FairLatentFlow
from skfairlatent.datasets import load_adult, load_colored_mnist, load_compas, make_preprocessor
from skfairlatent.metrics import delta_dp, delta_eod, worst_group_accuracy

RESULTS = Path(__file__).parent / "results"
PAPER = {"EOd": -86.8, "DP": -52.0, "WGA": +39.9}


def mlp_latent(mlp, P):
    """Last hidden layer of a fitted sklearn MLP (tanh)."""
    h = P
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        h = np.tanh(h @ W + b)
    return h.astype(np.float32)


def load(name, seed, quick):
    if name == "cmnist":
        (Xtr, ytr, Atr), (Xte, yte, Ate) = load_colored_mnist(
            bias_aligned_fraction=0.9, flatten=True, random_state=seed, return_X_y_A=True)
        # binary task: digit >= 5; the colour follows it in 90 % of training rows
        return Xtr, (ytr >= 5).astype(int), Atr, Xte, (yte >= 5).astype(int), Ate, None
    X, y, A = (load_adult if name == "adult" else load_compas)(return_X_y_A=True)
    y, A = np.asarray(y), np.asarray(A, dtype=object)
    if quick and name == "adult":
        X, y, A = X.iloc[:10000], y[:10000], A[:10000]
    Xtr, Xte, ytr, yte, Atr, Ate = train_test_split(X, y, A, test_size=0.5,
                                                    random_state=seed, stratify=y)
    pre = make_preprocessor().fit(Xtr)
    return pre.transform(Xtr), ytr, Atr, pre.transform(Xte), yte, Ate, pre


def scores(y, pred, A):
    return {
        "accuracy": float(np.mean(pred == y)),
        "EOd": delta_eod(y, pred, sensitive_features=A),
        "DP": delta_dp(y, pred, sensitive_features=A),
        "WGA": worst_group_accuracy(y, pred, sensitive_features=A, by="group_and_label"),
    }


def run_one(name, seed, quick, with_alfa):
    Ptr, ytr, Atr, Pte, yte, Ate, _ = load(name, seed, quick)
    out, times = {}, {}
    t = time.perf_counter()
    mlp = MLPClassifier((64, 16), activation="tanh", max_iter=100 if name != "cmnist" else 50,
                        random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Ptr, ytr)
    times["encoder"] = time.perf_counter() - t
    out["MLP (plain)"] = scores(yte, mlp.predict(Pte), Ate)
    Etr, Ete = mlp_latent(mlp, Ptr), mlp_latent(mlp, Pte)
    out["LR on E"] = scores(yte, LogisticRegression(max_iter=1000).fit(Etr, ytr).predict(Ete), Ate)

    t = time.perf_counter()
    flow = FairLatentFlow(max_epochs=30, random_state=seed).fit(Etr, ytr, sensitive_features=Atr)
    times["FairLatentFlow"] = time.perf_counter() - t
    Ztr, Zte = flow.transform(Etr), flow.transform(Ete)
    out["LR on Z_Y (FairLatentFlow)"] = scores(
        yte, LogisticRegression(max_iter=1000).fit(Ztr, ytr).predict(Zte), Ate)

    if with_alfa and name != "cmnist":
        from skfairlatent.alfa import ALFAClassifier
        t = time.perf_counter()
        alfa = ALFAClassifier(alpha=0.1, max_epochs=20 if quick else 50, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alfa.fit(Ptr.astype(np.float32), ytr, sensitive_features=Atr)
        times["ALFA"] = time.perf_counter() - t
        out["ALFA (alpha=0.1)"] = scores(yte, alfa.predict(Pte.astype(np.float32)), Ate)
    return out, times


def summarise(runs):
    table = {}
    for method in runs[0][0]:
        table[method] = {
            metric: (float(np.mean([r[0][method][metric] for r in runs])),
                     float(np.std([r[0][method][metric] for r in runs])))
            for metric in runs[0][0][method]
        }
    timing = {k: float(np.mean([r[1][k] for r in runs if k in r[1]])) for k in runs[0][1]}
    return table, timing


def relative(table):
    e, z = table["LR on E"], table["LR on Z_Y (FairLatentFlow)"]
    return {m: 100.0 * (z[m][0] - e[m][0]) / e[m][0] if e[m][0] else float("nan")
            for m in ("EOd", "DP", "WGA", "accuracy")}


def markdown(results, seeds):
    lines = [f"# FairLatentFlow reproduction (seeds {seeds}, mean ± std)", ""]
    for name, res in results.items():
        lines += [f"## {name}", "", "| method | accuracy | ΔEOd | ΔDP | worst-group acc. |",
                  "|---|---|---|---|---|"]
        for method, m in res["table"].items():
            cells = " | ".join(f"{m[k][0]:.3f} ± {m[k][1]:.3f}"
                               for k in ("accuracy", "EOd", "DP", "WGA"))
            lines.append(f"| {method} | {cells} |")
        rel = res["relative_change_percent"]
        lines += ["", "Relative change, LR on Z_Y vs LR on E (paper, CelebA: EOd "
                  f"{PAPER['EOd']:+.1f} %, DP {PAPER['DP']:+.1f} %, WGA {PAPER['WGA']:+.1f} %): "
                  + ", ".join(f"{k} {v:+.1f} %" for k, v in rel.items()),
                  "", "Mean fit time (s): " + ", ".join(f"{k} {v:.1f}"
                                                        for k, v in res["time_s"].items()), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["compas", "adult", "cmnist"])
    parser.add_argument("--quick", action="store_true", help="Adult on its first 10,000 rows")
    parser.add_argument("--no-alfa", action="store_true")
    parser.add_argument("--alfa-datasets", nargs="+", default=["compas", "adult"],
                        help="datasets that get the ALFA row (it is the slow one)")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        import skfairlatent.alfa  # noqa: F401
        with_alfa = not args.no_alfa
    except ImportError:
        with_alfa = False
    results = {}
    for name in args.datasets:
        runs = []
        for seed in args.seeds:
            t = time.perf_counter()
            runs.append(run_one(name, seed, args.quick,
                                with_alfa and name in args.alfa_datasets))
            print(f"{name} seed {seed}: {time.perf_counter() - t:.1f} s", flush=True)
        table, timing = summarise(runs)
        results[name] = {"table": table, "time_s": timing,
                         "relative_change_percent": relative(table)}
    RESULTS.mkdir(exist_ok=True)
    stem = "fairflow_reproduction" + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(
        {"seeds": args.seeds, "quick": args.quick, "paper_celeba_percent": PAPER,
         "results": results}, indent=2))
    text = markdown(results, args.seeds)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
