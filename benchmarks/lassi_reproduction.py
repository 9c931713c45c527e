"""Reproduce the shape of LASSI's Table 1 (Peychev et al., "Latent Space Smoothing for Individually Fair Representations") on CPU.

Tasks (sensitive attribute -> latent direction defining similarity):

* ``compas``: COMPAS two-year recidivism, attribute sex;
* ``adult``: UCI Adult income (a stratified subsample), attribute sex;
* ``digits``: coloured MNIST (digit, 10 classes), attribute background colour
  (the training split is colour-balanced); the real other-colour twin of each
  test digit is a ground-truth similar individual (as the paper's App. F uses
  3D Shapes), so the script also reports how often the smoothed end-to-end
  prediction is unchanged on that twin.

Methods: Naive (``lambda_adv = 0``), DataAug (cross-entropy on ``s = 10``
random points of S(x), ``lambda_adv = 0``) and LASSI (``lambda_adv`` = 1 on
tabular data, 3 on digits, chosen on seed 0 among {1, 3, 10}),
each followed by a linear CertifiedSmoothClassifier trained under noise
``sigma_rs``. Accuracy is the smoothed classifier's on the whole test split;
"Fair" is the certified fraction of Alg. 1 on evenly spaced test rows with
reduced sample sizes (center smoothing n0 = n = 2,000 with Delta = 0.1;
randomized smoothing n0 = 100, n = 10,000). A second table times Alg. 1 per
point with the paper's sample sizes (center smoothing n0 = n = 10,000,
Delta = 0.05; randomized smoothing n0 = 2,000, n = 100,000) on a few LASSI
rows.

Run: ``OMP_NUM_THREADS=1 python benchmarks/lassi_reproduction.py`` (about 10
minutes on 2 CPU cores); ``--quick`` for a smoke run. Writes
``benchmarks/results/lassi_reproduction.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from skfairlatent.datasets import load_adult, load_colored_mnist, load_compas, make_preprocessor
from skfairlatent.lassi import FlowTransformer, LASSIRepresentation
from skfairlatent.smoothing import CertifiedSmoothClassifier, certify_individual_fairness

RESULTS = Path(__file__).resolve().parent / "results"
SMALL = dict(sigma_cs=1.0, n0_cs=2_000, n_cs=2_000, delta=0.1, n0_rs=100, n_rs=10_000,
             alpha_cs=0.01, alpha_rs=0.001)
PAPER = dict(sigma_cs=1.0, n0_cs=10_000, n_cs=10_000, delta=0.05, n0_rs=2_000, n_rs=100_000,
             alpha_cs=0.01, alpha_rs=0.001)
# Paper, Table 1 (CelebA, Smiling task, mean of 5 runs): accuracy / certified fairness %.
PAPER_TABLE1 = {
    "Smiling / Pale_Skin": {"Naive": (86.3, 0.6), "DataAug": (85.7, 12.2), "LASSI": (85.9, 98.0)},
    "Smiling / Young": {"Naive": (86.3, 38.2), "DataAug": (85.9, 43.0), "LASSI": (86.3, 98.8)},
    "Smiling / Blond_Hair": {"Naive": (86.3, 3.4), "DataAug": (86.6, 9.4), "LASSI": (86.4, 94.7)},
    "Smiling / Heavy_Makeup": {"Naive": (86.3, 0.4), "DataAug": (85.3, 13.7), "LASSI": (85.6, 91.3)},
}


def tabular(name, seed, n_train=None):
    loader = load_compas if name == "compas" else load_adult
    X, y, A = loader(return_X_y_A=True)
    X_tr, X_te, y_tr, y_te, A_tr, A_te = train_test_split(
        X, y, A, test_size=0.3, random_state=seed, stratify=y)
    if n_train is not None and n_train < len(X_tr):
        X_tr, _, y_tr, _, A_tr, _ = train_test_split(
            X_tr, y_tr, A_tr, train_size=n_train, random_state=seed, stratify=y_tr)
        X_te, y_te, A_te = X_te[: n_train // 2], y_te[: n_train // 2], A_te[: n_train // 2]
    pre = make_preprocessor().fit(X_tr)
    return (pre.transform(X_tr).astype(np.float32), np.asarray(y_tr), np.asarray(A_tr),
            pre.transform(X_te).astype(np.float32), np.asarray(y_te), np.asarray(A_te), None)


def recolour(images, colour, colours):
    """The same digit on the other background: x = g + (1 - g) bg, so g = (x - bg) / (1 - bg)."""
    x = images.reshape(-1, 3, 28, 28)
    bg = colours[colour][:, :, None, None]
    usable = np.broadcast_to((colours[colour] < 0.99)[:, :, None, None], x.shape)
    grey = np.where(usable, (x - bg) / np.maximum(1 - bg, 1e-3), np.nan)
    grey = np.clip(np.nanmean(grey, axis=1, keepdims=True), 0.0, 1.0)
    other = colours[1 - colour][:, :, None, None]
    return (grey + (1 - grey) * other).reshape(len(images), -1).astype(np.float32)


def digits(seed, n_train=None):
    b = load_colored_mnist(bias_aligned_fraction=0.5, flatten=True, random_state=seed)
    X_tr, y_tr, A_tr = b.X_train, b.y_train, b.A_train
    if n_train is not None:
        X_tr, y_tr, A_tr = X_tr[:n_train], y_tr[:n_train], A_tr[:n_train]
    twins = recolour(b.X_test, b.A_test, b.colors)
    return X_tr, y_tr, A_tr, b.X_test, b.y_test, b.A_test, twins


def run_task(task, seed, args, lambda_adv):
    X_tr, y_tr, A_tr, X_te, y_te, A_te, twins = (
        digits(seed, args.n_train_digits) if task == "digits"
        else tabular(task, seed, args.n_train_adult if task == "adult" else None))
    image = task == "digits"
    timings = {}
    t0 = time.perf_counter()
    flow = FlowTransformer(
        image_shape=(3, 28, 28) if image else None, n_blocks=2 if image else 4,
        hidden_size=32 if image else 64, batch_size=64 if image else 256,
        max_epochs=args.flow_epochs_digits if image else args.flow_epochs,
        random_state=seed, device="cpu").fit(X_tr)
    timings["flow_fit_s"] = time.perf_counter() - t0
    rep_params = dict(flow=flow, max_epochs=args.epochs, random_state=seed, device="cpu",
                      hidden_layer_sizes=(512,) if image else (128,),
                      n_components=128 if image else 32, batch_size=128 if image else 256)
    methods = {"Naive": dict(lambda_adv=0.0), "DataAug": dict(lambda_adv=0.0, data_augmentation=True),
               "LASSI": dict(lambda_adv=lambda_adv)}
    rows, fitted = [], {}
    n_cert = args.n_cert_digits if image else args.n_cert
    cert_idx = np.arange(0, len(X_te), max(1, len(X_te) // n_cert))[:n_cert]
    for method, extra in methods.items():
        t0 = time.perf_counter()
        rep = LASSIRepresentation(**rep_params, **extra).fit(X_tr, y_tr, sensitive_features=A_tr)
        clf = CertifiedSmoothClassifier(sigma=args.sigma_rs, random_state=seed, device="cpu",
                                        max_epochs=20).fit(rep.transform(X_tr), y_tr)
        fit_s = time.perf_counter() - t0
        pred = clf.predict(rep.transform(X_te))
        t0 = time.perf_counter()
        cert = certify_individual_fairness(rep, clf, X_te[cert_idx], random_state=seed, **SMALL)
        cert_s = (time.perf_counter() - t0) / len(cert_idx)
        row = dict(task=task, seed=seed, method=method, accuracy=float((pred == y_te).mean()),
                   certified=cert.attrs["certified_fraction"], abstain=cert.attrs["abstain_rate"],
                   median_d_cs=float(np.nanmedian(cert["d_cs"])),
                   median_d_rs=float(np.nanmedian(cert["d_rs"])) if cert["d_rs"].notna().any()
                   else float("nan"),
                   fit_s=fit_s, cert_s_per_point_small=cert_s, **timings)
        if twins is not None:  # ground truth: the same digit in the other colour
            twin_pred = clf.predict(rep.transform(twins))
            row["twin_consistency"] = float((twin_pred == pred).mean())
            ok = cert["certified"].to_numpy()
            row["twin_consistency_certified"] = (
                float((twin_pred[cert_idx][ok] == pred[cert_idx][ok]).mean()) if ok.any()
                else float("nan"))
        rows.append(row)
        fitted[method] = (rep, clf)
        print(f"  {task} seed={seed} {method:8s} acc={row['accuracy']:.3f} "
              f"fair={row['certified']:.2f} abstain={row['abstain']:.2f} "
              f"d_cs={row['median_d_cs']:.3g} d_rs={row['median_d_rs']:.3g} fit={fit_s:.0f}s "
              f"cert={cert_s:.2f}s/pt", flush=True)
    return rows, fitted, X_te[cert_idx]


def time_paper_sizes(task, fitted, X_points, seed):
    out = []
    for method in ("Naive", "LASSI"):
        rep, clf = fitted[method]
        t0 = time.perf_counter()
        cert = certify_individual_fairness(rep, clf, X_points, random_state=seed, **PAPER)
        seconds = (time.perf_counter() - t0) / len(X_points)
        out.append(dict(task=task, method=method, n_points=len(X_points), s_per_point=seconds,
                        certified=cert.attrs["certified_fraction"],
                        abstain=cert.attrs["abstain_rate"]))
        print(f"  paper sizes {task} {method}: {seconds:.2f} s/point, "
              f"certified {cert.attrs['certified_fraction']:.2f}", flush=True)
    return out


def markdown(rows, timing, args, total_s):
    lines = ["# LASSI reproduction (CPU-sized)", "",
             f"Seeds {args.seeds}; accuracy on the whole test split, certified fairness "
             f"('Fair', % of {args.n_cert} ({args.n_cert_digits} for digits) evenly spaced "
             "test rows certified by Alg. 1 with "
             "CS n0=n=2000, Delta=0.1, sigma_cs=1, epsilon=1; RS n0=100, n=10,000, "
             f"sigma_rs={args.sigma_rs}; alpha_cs=0.01, alpha_rs=0.001). Mean over seeds "
             "(min-max in brackets). `torch.get_num_threads()` = "
             f"{torch.get_num_threads()}. Total run time {total_s / 60:.1f} min.", "",
             "| task | method | Acc % | Fair % | abstain % | median d_cs | median d_rs | "
             "twin consistency % (all / certified) |",
             "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["task"], r["method"]) for r in rows},
                  key=lambda k: (k[0], ["Naive", "DataAug", "LASSI"].index(k[1])))
    for task, method in keys:
        sel = [r for r in rows if r["task"] == task and r["method"] == method]

        def stat(key, scale=100.0, fmt="{:.1f}"):
            values = np.array([r.get(key, np.nan) for r in sel], dtype=float) * scale
            if np.all(np.isnan(values)):
                return "–"
            text = fmt.format(np.nanmean(values))
            if len(values) > 1:
                text += f" [{fmt.format(np.nanmin(values))}-{fmt.format(np.nanmax(values))}]"
            return text
        twin = (f"{stat('twin_consistency')} / {stat('twin_consistency_certified')}"
                if "twin_consistency" in sel[0] else "–")
        lines.append(f"| {task} | {method} | {stat('accuracy')} | {stat('certified')} | "
                     f"{stat('abstain')} | {stat('median_d_cs', 1.0, '{:.3g}')} | "
                     f"{stat('median_d_rs', 1.0, '{:.3g}')} | {twin} |")
    lines += ["", "Paper, Table 1 (CelebA 64x64, Glow 4x32, R 2048-1024-512, 5 runs):", "",
              "| task / attribute | Naive Acc / Fair | DataAug Acc / Fair | LASSI Acc / Fair |",
              "|---|---|---|---|"]
    for task, values in PAPER_TABLE1.items():
        lines.append(f"| {task} | " + " | ".join(f"{values[m][0]} / {values[m][1]}"
                                                 for m in ("Naive", "DataAug", "LASSI")) + " |")
    lines += ["", "Certification time per point with the paper's sample sizes (CS n0=n=10,000, "
              "Delta=0.05; RS n0=2,000, n=100,000), this CPU (paper: up to 6 s per point on a "
              "GeForce RTX 2080 Ti for 64x64 CelebA):", "",
              "| task | method | points | s / point | certified % | abstain % |",
              "|---|---|---|---|---|---|"]
    for t in timing:
        lines.append(f"| {t['task']} | {t['method']} | {t['n_points']} | {t['s_per_point']:.2f} | "
                     f"{100 * t['certified']:.0f} | {100 * t['abstain']:.0f} |")
    lines += ["", "Fit and small-size certification times (s, mean over seeds):", "",
              "| task | method | flow fit | R + C fit | certify s/point (small sizes) |",
              "|---|---|---|---|---|"]
    for task, method in keys:
        sel = [r for r in rows if r["task"] == task and r["method"] == method]
        lines.append(f"| {task} | {method} | {np.mean([r['flow_fit_s'] for r in sel]):.1f} | "
                     f"{np.mean([r['fit_s'] for r in sel]):.1f} | "
                     f"{np.mean([r['cert_s_per_point_small'] for r in sel]):.3f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["compas", "adult", "digits"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--n-cert", type=int, default=100)
    parser.add_argument("--n-paper", type=int, default=3, help="points timed at paper sizes")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--flow-epochs", type=int, default=10)
    parser.add_argument("--flow-epochs-digits", type=int, default=6)
    parser.add_argument("--n-train-adult", type=int, default=10_000)
    parser.add_argument("--n-train-digits", type=int, default=None)
    parser.add_argument("--lambda-adv", type=float, default=1.0)
    parser.add_argument("--lambda-adv-digits", type=float, default=3.0,
                        help="lambda_adv for the digits task")
    parser.add_argument("--n-cert-digits", type=int, default=50)
    parser.add_argument("--sigma-rs", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.n_cert, args.n_paper, args.epochs = [0], 20, 1, 3
        args.flow_epochs, args.flow_epochs_digits, args.n_train_adult = 3, 1, 3000
        args.n_train_digits, args.n_cert_digits = 1000, 20
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    rows, timing = [], []
    for task in args.tasks:
        for k, seed in enumerate(args.seeds):
            lambda_adv = args.lambda_adv_digits if task == "digits" else args.lambda_adv
            task_rows, fitted, points = run_task(task, seed, args, lambda_adv)
            rows += task_rows
            if k == 0 and args.n_paper:
                timing += time_paper_sizes(task, fitted, points[: args.n_paper], seed)
    total = time.perf_counter() - start
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "lassi_reproduction_quick" if args.quick else "lassi_reproduction"
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"rows": rows, "paper_size_timing": timing, "paper_table1": PAPER_TABLE1,
         "args": vars(args), "total_s": total}, indent=2))
    text = markdown(rows, timing, args, total)
    (RESULTS / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
