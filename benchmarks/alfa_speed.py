"""ALFA fit time against its λ=0 baseline, and the attack against the previous one.

1. At default settings (MLP 2x128, 50 epochs, α = 0.1, per-batch upsampling,
   L-BFGS fine-tuning) on COMPAS and Adult
   (full training split of seed 0): fit seconds of ``ALFAClassifier(lambda_=0)``
   (the baseline: pretraining and a fine-tuned last layer) and of ALFA, per
   phase, and the attack's throughput in attacked rows per second.
2. The fairness attack alone on the same frozen head and latents: the
   previous implementation (batch by batch, POT's log-domain Sinkhorn from
   scratch at every Adam step; read from git at ``--reference-commit``)
   against the current one (all batches stacked, warm-started scaling
   Sinkhorn), both on the raw cost (``cost_scale=1``, the previous
   behaviour), with the cosine similarity of their δ.

Timings are wall-clock on the machine at hand (shared: compare ratios taken
within one run only). ``torch.set_num_threads(1)``.

Usage (the headline result is the default run)::

    python benchmarks/alfa_speed.py [--datasets compas adult]

Writes ``benchmarks/results/alfa_speed.{md,json}`` (each starts with its command,
date and commit).
"""

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skfairlatent import ALFAClassifier
from skfairlatent.experiments import load_split
from skfairlatent.nn.attacks import balanced_upsampling, fairness_attack
from skfairlatent.nn.losses import covariance_attack_signs, covariance_fairness_loss

from _common import RESULTS, ROOT, records, write_result


def _reference_attack(commit):
    """``fairness_attack`` of ``skfairlatent/nn`` at ``commit``, imported from a temp package.

    The two files are written to a temporary folder and loaded as the package
    ``alfa_reference_nn`` from their paths (``sys.path`` is left alone).
    """
    folder = Path(tempfile.mkdtemp()) / "alfa_reference_nn"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in ("attacks.py", "losses.py"):
        text = subprocess.run(["git", "show", f"{commit}:skfairlatent/nn/{name}"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
        (folder / name).write_text(text)

    def load(name, path, **kwargs):
        spec = importlib.util.spec_from_file_location(name, path, **kwargs)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    load("alfa_reference_nn", folder / "__init__.py", submodule_search_locations=[str(folder)])
    load("alfa_reference_nn.losses", folder / "losses.py")
    return load("alfa_reference_nn.attacks", folder / "attacks.py").fairness_attack


def _loss(signs):
    def loss(logits, a, t):
        return covariance_fairness_loss(logits, a, signs)
    return loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["compas", "adult"])
    parser.add_argument("--reference-commit", default="dc0e606")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fits per model; the median fit time is reported")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    reference_attack = _reference_attack(args.reference_commit)
    rows = []
    for dataset in args.datasets:
        X, y, A = load_split(dataset, 0)["train"]
        ALFAClassifier(max_epochs=1, random_state=0).fit(X[:300], y[:300],
                                                         sensitive_features=A[:300])
        fits = {}                                             # (after a warm-up fit)
        for label, params in (("baseline (λ=0)", dict(lambda_=0.0)), ("ALFA (α=0.1)", {})):
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                clf = ALFAClassifier(random_state=0, **params).fit(X, y, sensitive_features=A)
                seconds.append(time.perf_counter() - start)
            fits[label] = (float(np.median(seconds)), clf)
        base_s, _ = fits["baseline (λ=0)"]
        alfa_s, clf = fits["ALFA (α=0.1)"]
        n_p = len(clf.attack_latents_)
        row = {"dataset": dataset, "n_train": len(X), "N_p": n_p,
               "baseline_fit_s": round(base_s, 2), "alfa_fit_s": round(alfa_s, 2),
               "fit_ratio": round(alfa_s / base_s, 2)}
        for phase, profile in fits["baseline (λ=0)"][1].fit_profile_.items():
            row[f"baseline_{phase}_s"] = round(profile["seconds"], 2)
        for phase, profile in clf.fit_profile_.items():
            row[f"alfa_{phase}_s"] = round(profile["seconds"], 2)
        # rows the attack ran on (every balanced batch; class_prior="data" then keeps N_p of them)
        attacked = int(np.ceil(len(X) / (4 * clf.attack_batch_size))) * 4 * clf.attack_batch_size
        row["attacked_rows"] = attacked
        row["attack_rows_per_s"] = round(attacked / clf.fit_profile_["attack"]["seconds"])

        # the attack alone, previous vs current, on the same frozen head and latents
        module = clf.net_.module_
        with torch.no_grad():
            features = module.encode(torch.as_tensor(X))
        head = torch.nn.Linear(features.shape[1], 1)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(clf.pretrained_coef_))
            head.bias.copy_(torch.as_tensor(clf.pretrained_intercept_))
        head.requires_grad_(False)
        a = torch.as_tensor(np.unique(A, return_inverse=True)[1])
        y_codes = np.unique(y, return_inverse=True)[1]
        t = torch.as_tensor(y_codes)
        cells = (2 * a + t).numpy()
        radius = torch.as_tensor(clf.epsilon_[a.numpy(), y_codes], dtype=torch.float32)
        upsampled = balanced_upsampling(cells, np.random.default_rng(0))
        common = dict(sensitive=a, targets=t.float(), radius=radius, upsampled=upsampled,
                      alpha=0.1, steps=10, lr=0.1, batch_size=128, sinkhorn_reg=0.1,
                      sinkhorn_max_iter=10)
        model = lambda z: head(z).squeeze(-1)  # noqa: E731
        loss = _loss(covariance_attack_signs(a, t))
        timings, deltas = {}, {}
        for label, attack, extra in (("previous", reference_attack, {}),
                                     ("current", fairness_attack, {"cost_scale": 1.0})):
            torch.manual_seed(0)
            start = time.perf_counter()
            _, delta = attack(features, model, loss, **common, **extra)
            timings[label] = time.perf_counter() - start
            deltas[label] = delta
        cosine = torch.nn.functional.cosine_similarity(deltas["previous"], deltas["current"], dim=1)
        row.update({"attack_previous_s": round(timings["previous"], 2),
                    "attack_current_s": round(timings["current"], 2),
                    "attack_speedup": round(timings["previous"] / timings["current"], 2),
                    "delta_cosine_mean": round(float(cosine.mean()), 3)})
        rows.append(row)
        print(row, flush=True)
        table = pd.DataFrame(rows)
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        write_result(
            out / "alfa_speed",
            "ALFA fit time at defaults (MLP 2x128, 50 epochs, α=0.1, per-batch upsampling, "
            "L-BFGS fine-tuning; seed 0, full training split) against the λ=0 baseline "
            f"(median of {args.repeats} fits; phases of the last fit), and the fairness attack "
            f"alone, previous ({args.reference_commit}) vs current implementation on the same "
            "frozen head (raw cost, the paper's upsampling). One torch thread: compare ratios "
            "within a row.\n\n"
            + table.T.to_markdown() + "\n", records(table))
    print(table.T.to_markdown())


if __name__ == "__main__":
    main()
