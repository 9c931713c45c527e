"""Signed group rates on one tuning seed: baseline, control, ALFA α=0 with ε, ε/2, ε/4 and λ=0.8.

For one dataset and tuning seed (MLP 2x128, 20 epochs, one shared pretraining),
prints validation and test accuracy, TPR and FPR per group and ΔEOd of: the
λ=0 baseline, the upsampling-only control (ε = 1e-8), ALFA at α=0 with the
data-driven radius ε scaled by 1, 1/2 and 1/4, and ALFA at α=0 with λ=0.8.

ε is scaled by a local subclass of ``ALFAClassifier`` that overrides the
documented step ``_distance_to_boundary(model, features)`` and multiplies it by
the scale (a diagnosis, not an option).

Usage (from the repository root)::

    python -m benchmarks.studies.alfa.alfa_diagnose_signed adult 100 \\
        "{'upsampling': 'per_batch', 'class_prior': 'data'}"

The output of that run is ``benchmarks/studies/alfa/results/alfa_diagnose_adult_signed.txt``
(``--output`` writes the lines there, after a line with the command, date and commit).
"""

import argparse
import ast
import time
import warnings

import numpy as np
import torch

from skfairlatent.experiments import load_split

from benchmarks._common import PretrainCache, provenance, provenance_line, study_results

SETTINGS = [("baseline", dict(lambda_=0.0), 1), ("control", dict(alpha=0.0, epsilon=1e-8), 1),
            ("alpha0", dict(alpha=0.0), 1), ("alpha0 eps/2", dict(alpha=0.0), 0.5),
            ("alpha0 eps/4", dict(alpha=0.0), 0.25),
            ("alpha0 lam.8", dict(alpha=0.0, lambda_=0.8), 1)]


def scaled_epsilon_class(base):
    """A subclass of ``base`` whose ``epsilon="auto"`` radius is ``epsilon_scale`` times ALFA's."""

    class ScaledEpsilonALFA(base):
        epsilon_scale = 1.0

        def _distance_to_boundary(self, model, features):
            return self.epsilon_scale * super()._distance_to_boundary(model, features)

    return ScaledEpsilonALFA


def signed(clf, split, part):
    Xp, yp, Ap = split[part]
    p = clf.predict(Xp)
    g = np.unique(Ap)

    def rate(t):
        return [p[(Ap == gg) & (yp == t)].mean() for gg in g]

    tpr, fpr = rate(1), rate(0)
    return (f"acc {np.mean(p == yp):.3f} TPR {tpr[0]:.3f}/{tpr[1]:.3f} "
            f"FPR {fpr[0]:.3f}/{fpr[1]:.3f} EOd {abs(tpr[0] - tpr[1]) + abs(fpr[0] - fpr[1]):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("seed", type=int)
    parser.add_argument("params", nargs="?", default="{}",
                        help="a Python dict literal of extra ALFAClassifier parameters")
    parser.add_argument("--output", action="store_true",
                        help="also write results/alfa_diagnose_<dataset>_signed.txt")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    extra = ast.literal_eval(args.params)
    split = load_split(args.dataset, args.seed)
    X, y, A = split["train"]
    cache = PretrainCache()
    cache.key = 1
    estimator = scaled_epsilon_class(cache.estimator_class)
    base = dict(max_epochs=20, random_state=args.seed, **extra)
    lines = []
    for name, params, scale in SETTINGS:
        estimator.epsilon_scale = scale
        t = time.perf_counter()
        clf = estimator(**base, **params).fit(X, y, sensitive_features=A)
        lines.append(f"{name:14s} valid {signed(clf, split, 'valid')} | test "
                     f"{signed(clf, split, 'test')} ({time.perf_counter() - t:.0f}s)")
        print(lines[-1], flush=True)
    if args.output:
        path = study_results("alfa") / f"alfa_diagnose_{args.dataset}_signed.txt"
        path.write_text(provenance_line(provenance()) + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
