"""Choose FairLatentVAE's default ``alpha`` on tuning splits (not reported elsewhere).

The penalty weight is meant to mean the same on tables and images
(reconstruction per element, see :class:`skfairlatent.nn.autoencoders.VAELoss`).
For each alpha this fits the VAE on

* an Adult subsample drawn with seed 100 (3,000 rows, sex as s, income as y),
* coloured digits built with ``random_state=100`` (4,000 images, background
  colour as s, ``bias_aligned_fraction=0.5``: colour independent of digit),

and prints dCor^2(z, s) of the posterior means (given s, and the mixture
mean without s), the balanced accuracy of a logistic probe reading s from z
(5-fold CV; chance 0.5) and a utility figure (Adult: AUROC of the label head
p(y | z); digits: per-pixel squared error of the reconstruction). The
seeds and splits used by the tests and by ``benchmarks/fldgm_reproduction.py``
are different (0, 1, 2).

Usage (from the repository root; about 3 min on one thread):
``python -m benchmarks.studies.fldgm.fldgm_tune_alpha``.
Writes ``benchmarks/studies/fldgm/results/fldgm_tune_alpha.{md,json}``.
"""

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score

from skfairlatent import FairLatentVAE
from skfairlatent.datasets import load_adult, load_colored_mnist
from skfairlatent.nn.losses import distance_correlation_sq

from benchmarks._common import study_results, write_result

RESULTS = study_results("fldgm")


def dcor2(Z, s, max_rows=3000):
    Z, s = Z[:max_rows], s[:max_rows]
    return float(distance_correlation_sq(torch.tensor(Z, dtype=torch.float64),
                                         torch.tensor(s, dtype=torch.float64)))


def probe(Z, s):
    return float(cross_val_score(LogisticRegression(max_iter=2000), Z, s, cv=5,
                                 scoring="balanced_accuracy").mean())


def adult_row(alpha, penalty, epochs):
    X, y, A = load_adult(return_X_y_A=True)
    idx = np.random.RandomState(100).choice(len(X), 3000, replace=False)
    X, y, A = (X.iloc[idx].reset_index(drop=True), y.iloc[idx].to_numpy(),
               A.iloc[idx].reset_index(drop=True))
    s = (A == "Male").to_numpy().astype(int)
    t = time.perf_counter()
    vae = FairLatentVAE(alpha=alpha, penalty=penalty, max_epochs=epochs, random_state=100,
                        device="cpu").fit(X, y, sensitive_features=A)
    seconds = time.perf_counter() - t
    Z, Zmix = vae.transform(X, sensitive_features=A), vae.transform(X)
    _, y_hat = vae.inverse_transform(Z, sensitive_features=A, return_y=True)
    module = vae.net_.module_
    with torch.no_grad():
        logits = module.target_head(torch.as_tensor(Z))
    auroc = roc_auc_score(y, torch.softmax(logits, 1)[:, 1].numpy())
    return dict(data="adult", penalty=penalty, alpha=alpha, dcor2=dcor2(Z, s),
                dcor2_no_s=dcor2(Zmix, s), probe=probe(Z, s), utility=float(auroc),
                seconds=seconds)


def digits_row(alpha, penalty, epochs):
    data = load_colored_mnist(bias_aligned_fraction=0.5, random_state=100)
    X, A = data.X_train, data.A_train
    t = time.perf_counter()
    vae = FairLatentVAE(alpha=alpha, penalty=penalty, max_epochs=epochs, batch_size=128,
                        random_state=100, device="cpu").fit(X, sensitive_features=A)
    seconds = time.perf_counter() - t
    Z, Zmix = vae.transform(X, sensitive_features=A), vae.transform(X)
    mse = float(((vae.inverse_transform(Z, sensitive_features=A) - X) ** 2).mean())
    return dict(data="digits", penalty=penalty, alpha=alpha, dcor2=dcor2(Z, A),
                dcor2_no_s=dcor2(Zmix, A), probe=probe(Z, A), utility=mse, seconds=seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0, 1, 3, 10, 30])
    parser.add_argument("--penalty", default="dcor")
    parser.add_argument("--adult-epochs", type=int, default=30)
    parser.add_argument("--digit-epochs", type=int, default=8)
    parser.add_argument("--only", choices=["adult", "digits"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for alpha in args.alphas:
        if args.only != "digits":
            rows.append(adult_row(alpha, args.penalty, args.adult_epochs))
            print(rows[-1], flush=True)
        if args.only != "adult":
            rows.append(digits_row(alpha, args.penalty, args.digit_epochs))
            print(rows[-1], flush=True)
    lines = ["# FairLatentVAE: choosing alpha on tuning splits (seed 100)\n",
             f"penalty={args.penalty}; Adult 3,000 rows, {args.adult_epochs} epochs; "
             "coloured digits "
             f"4,000 images (colour independent of digit), {args.digit_epochs} epochs. Probe: "
             "balanced accuracy of a logistic regression reading s from z (5-fold CV, chance 0.5). "
             "Utility: Adult AUROC of the label head p(y|z); digits per-pixel squared error.\n",
             "| data | alpha | dCor²(z, s) | dCor² without s | probe | utility | fit s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['data']} | {r['alpha']:g} | {r['dcor2']:.4f} | {r['dcor2_no_s']:.4f} | "
              f"{r['probe']:.3f} | {r['utility']:.4f} | {r['seconds']:.0f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    suffix = "" if args.penalty == "dcor" else f"_{args.penalty}"
    write_result(RESULTS / f"fldgm_tune_alpha{suffix}", text, {"args": vars(args), "rows": rows})
    print(text)


if __name__ == "__main__":
    main()
