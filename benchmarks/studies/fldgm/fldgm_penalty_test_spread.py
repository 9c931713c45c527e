"""Spread of tests/test_fldgm.py::test_penalty_removes_the_unfairness_that_alpha_zero_keeps.

Fits the test's pair at its scale (3,000 Adult rows, 60/40 split, VAE 30 epochs,
DDPM 60 epochs, 100 steps) for each seed: ``fairness="paper"`` and its control,
the same pipeline with ``alpha=0``. The seed draws the rows, the split and the fits.
Prints one JSON line per seed with every quantity the test asserts.

``python -m benchmarks.studies.fldgm.fldgm_penalty_test_spread --seeds 0 1 2 3 4 5 6 7
--numeric-encoding auto``
"""

import argparse
import json
import time

import numpy as np
from sklearn.model_selection import train_test_split

from skfairlatent import FairLatentSynthesizer, FairLatentVAE
from skfairlatent.datasets import load_adult
from skfairlatent.metrics import evaluate_synthetic

SYNTH = dict(generator_max_epochs=60, timesteps=100, batch_size=256, device="cpu")
PAPER_PIPELINE = dict(encoder="conditional", label_from="latent", label_decode="sample")


def split(seed):
    X, y, A = load_adult(return_X_y_A=True)
    idx = np.random.RandomState(seed).choice(len(X), 3000, replace=False)
    X, y, A = (X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True),
               A.iloc[idx].reset_index(drop=True))
    return train_test_split(X, y, A, test_size=0.4, random_state=seed)


def label_gap(frame):
    rates = frame.groupby(frame["sex"].astype(str), observed=True)["income"].mean()
    return float(abs(rates["Male"] - rates["Female"]))


def scores(synth, real_tr, real_te):
    rows = [evaluate_synthetic(real_tr, real_te, synth.sample(len(real_tr), random_state=k),
                               target="income", sensitive="sex", random_state=0)
            for k in (0, 1)]
    out = {key: float(np.mean([r[key] for r in rows]))
           for key in ("dp", "ftu", "auroc", "coverage", "authenticity")}
    out["gap"] = float(np.mean([label_gap(synth.sample(len(real_tr), random_state=k))
                                for k in (0, 1)]))
    out["s_proba_std"] = float(synth.sensitive_proba(synth.sample_latents(2000, 0)).std(0).max())
    return out


def run(seed, encoding):
    X_tr, X_te, y_tr, y_te, A_tr, _ = split(seed)
    real_tr, real_te = X_tr.assign(income=y_tr), X_te.assign(income=y_te)

    def vae(alpha):
        return FairLatentVAE(kl_weight=0.1, max_epochs=30, batch_size=256, device="cpu",
                             alpha=alpha, numeric_encoding=encoding)

    start = time.perf_counter()
    fair = FairLatentSynthesizer(fairness="paper", vae=vae(1.0), random_state=seed, **SYNTH)
    fair.fit(X_tr, y_tr, sensitive_features=A_tr)
    control = FairLatentSynthesizer(fairness="none", vae=vae(0.0), random_state=seed,
                                    **PAPER_PIPELINE, **SYNTH)
    control.fit(X_tr, y_tr, sensitive_features=A_tr)
    seconds = time.perf_counter() - start
    real = evaluate_synthetic(real_tr, real_te, real_tr, target="income", sensitive="sex",
                              random_state=0)
    return dict(seed=seed, encoding=encoding, fit_seconds=round(seconds, 1),
                real=dict(dp=float(real["dp"]), gap=label_gap(real_tr),
                          authenticity=float(real["authenticity"])),
                fair=scores(fair, real_tr, real_te), control=scores(control, real_tr, real_te))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--numeric-encoding", default="auto")
    args = parser.parse_args()
    for seed in args.seeds:
        print(json.dumps(run(seed, args.numeric_encoding)), flush=True)


if __name__ == "__main__":
    main()
