"""Seed spread of the fairness tests of ``tests/test_fldgm.py`` (their exact scale).

For each seed: ``N_TRAIN`` Adult rows to fit on and ``N_TEST`` other real rows to
test on (``adult_rows(seed)``), then DP and AUROC (``evaluate_synthetic``: a
random forest trained on as many samples as training rows, tested on the real
rows) of

* ``default``: ``FairLatentSynthesizer()`` (fairness="demographic_parity");
* ``none``: ``fairness="none"``, the same pipeline with the VAE's penalties off;
* ``alpha_only``: the default VAE with the label penalty off (``alpha=1``,
  ``alpha_target=0``): the ``alpha_target``-only control;
* ``real``: the forest trained on the real training rows.

The test bars are set from this spread. Usage (from the repository root)::

    python -m benchmarks.studies.fldgm.fldgm_test_spread --seeds 0 1 2 3 4 5 6 7 8 9

Writes ``benchmarks/studies/fldgm/results/fldgm_test_spread{tag}.{md,json}``; run one
process per seed pair (``--seeds 0 5 --tag _s0_5``, ...) and combine them with
``--merge _s0_5 _s1_6 _s2_7``.
"""

import argparse
import json
import time
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from skfairlatent import FairLatentSynthesizer
from skfairlatent.datasets import load_adult
from skfairlatent.metrics import evaluate_synthetic

from benchmarks._common import mean_std, study_results, write_result

RESULTS = study_results("fldgm")
N_TRAIN, N_TEST = 8000, 4000
FIT = dict(generator_max_epochs=50, timesteps=50, device="cpu")


def adult_rows(seed):
    """``(real_train, real_test, A_train)`` frames with the label column ``income``."""
    X, y, A = load_adult(return_X_y_A=True)
    X_tr, X_te, y_tr, y_te, A_tr, _ = train_test_split(
        X, y, A, train_size=N_TRAIN, test_size=N_TEST, stratify=y, random_state=seed)
    return X_tr.assign(income=y_tr), X_te.assign(income=y_te), A_tr


def make(name, seed):
    if name == "alpha_only":
        vae = FairLatentSynthesizer()._default_vae().set_params(alpha_target=0.0)
        return FairLatentSynthesizer(vae=vae, random_state=seed, **FIT)
    fairness = "demographic_parity" if name == "default" else name
    return FairLatentSynthesizer(fairness=fairness, random_state=seed, **FIT)


def score(real_tr, real_te, S, seed):
    if S["income"].nunique() < 2:  # a collapsed label: no classifier can be trained
        return {"dp": float("nan"), "auroc": float("nan")}
    s = evaluate_synthetic(real_tr, real_te, S, target="income", sensitive="sex",
                           random_state=seed, max_rows=500)
    return {"dp": float(s["dp"]), "auroc": float(s["auroc"])}


def markdown(runs, names):
    names = ["real", *names]
    lines = [f"# Seed spread of the FLDGM fairness tests ({N_TRAIN} training rows, "
             f"{N_TEST} real test rows, {FIT})\n", "| seed | " + " | ".join(
                 f"{n} DP | {n} AUROC" for n in names) + " |",
             "|---" * (1 + 2 * len(names)) + "|"]
    for r in runs:
        lines.append(f"| {r['seed']} | " + " | ".join(
            f"{r[n]['dp']:.3f} | {r[n]['auroc']:.3f}" for n in names) + " |")
    lines.append("| mean ± std | " + " | ".join(
        f"{mean_std([r[n]['dp'] for r in runs])} | {mean_std([r[n]['auroc'] for r in runs])}"
        for n in names) + " |")
    lines.append("\nFit + sample + score seconds (mean): " + ", ".join(
        f"{n} {np.mean([r[n]['seconds'] for r in runs]):.1f}" for n in names[1:]))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--names", nargs="+", default=["default", "none", "alpha_only"])
    parser.add_argument("--tag", default="")
    parser.add_argument("--merge", nargs="+", default=None, metavar="TAG",
                        help="combine the runs of earlier calls (one per tag) into --tag")
    args = parser.parse_args()
    if args.merge:
        runs = sorted((run for tag in args.merge for run in json.loads(
            (RESULTS / f"fldgm_test_spread{tag}.json").read_text())["runs"]),
            key=lambda run: run["seed"])
        write_result(RESULTS / f"fldgm_test_spread{args.tag}", markdown(runs, args.names),
                     {"runs": runs, "n_train": N_TRAIN, "n_test": N_TEST, "fit": FIT})
        return
    torch.set_num_threads(1)
    runs = []
    for seed in args.seeds:
        real_tr, real_te, A_tr = adult_rows(seed)
        row = {"seed": seed, "real": score(real_tr, real_te, real_tr, seed)}
        for name in args.names:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # alpha_only: no label penalty
                synth = make(name, seed).fit(real_tr.drop(columns="income"), real_tr["income"],
                                             sensitive_features=A_tr)
            row[name] = score(real_tr, real_te, synth.sample(N_TRAIN, random_state=seed), seed)
            row[name]["seconds"] = time.perf_counter() - start
        print(row, flush=True)
        runs.append(row)
        write_result(RESULTS / f"fldgm_test_spread{args.tag}", markdown(runs, args.names),
                     {"runs": runs, "n_train": N_TRAIN, "n_test": N_TEST, "fit": FIT})


if __name__ == "__main__":
    main()
