"""Fit time and peak memory of every estimator against the number of rows.

Rows are Adult's preprocessed rows (``make_preprocessor``, float32) drawn with
replacement and jittered (Gaussian noise, std 0.01), from 10⁴ to 10⁶ rows; ``y``
is the income label and the sensitive feature is ``sex``. Every point is
measured in a fresh Python process with one torch thread:

* ``fit seconds``: wall clock of ``fit`` (after a 500-row warm-up fit, so that
  lazy imports and thread pools are not counted);
* ``fit memory``: peak resident memory during ``fit`` (``VmHWM``, reset just
  before the fit through ``/proc/self/clear_refs``) minus the resident memory
  before ``X`` was loaded, i.e. the data itself plus everything ``fit``
  allocates. The bound of the scaling page is ``fit memory ≤ 3 × X.nbytes + C``
  with ``C`` the fit memory at the smallest size (model, one batch, the
  Sinkhorn block);
* with ``--source memmap``, ``X`` is a read-only ``np.memmap`` of a ``.npy``
  file instead of an in-memory array.

``aeda_images`` is AEDA on the coloured digits' training images (3 × 28 × 28,
target ``digit >= 5``, the background colour as sensitive feature), jittered the
same way, up to ``IMAGE_ROWS`` (31,623) rows.

Each estimator runs at small epoch counts (``--epochs``, default 1, for LASSI's
flow too) and default settings otherwise; ALFA runs with
``keep_attack_data=False`` (the default keeps the clean and perturbed latents of
all attacked rows as attributes, whose cost the scaling page gives). The slope
of log(fit seconds) against log(rows) is fitted per estimator. Certification throughput (rows/s of
``CertifiedSmoothClassifier.certify`` and of ``certify_individual_fairness``) is
measured on ``--certify-rows`` rows.

Usage (the headline result is the default run; about 40 min on a 2-core CPU)::

    python benchmarks/scaling.py
    python benchmarks/scaling.py --estimators alfa vae --rows 10000 100000
    python benchmarks/scaling.py --device cuda      # the same on a GPU

Writes ``benchmarks/results/scaling.{md,json}`` and ``scaling.png`` (or
``scaling_<device>`` with ``--device`` other than cpu).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _common import RESULTS, ROOT, provenance_line, write_result

ESTIMATORS = ("alfa_baseline", "alfa", "aeda", "lassi", "smoothing", "vae", "synthesizer",
              "flow", "aeda_images")
DEFAULT_ROWS = (10_000, 31_623, 100_000, 316_228, 1_000_000)
#: AEDA on coloured digits (3 × 28 × 28 float32, 9.4 KB a row): at most this many rows.
IMAGE_ROWS = 31_623
JITTER = 0.01


# ----------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------

def data_files(data_dir, n_rows, kind="adult"):
    stem = Path(data_dir) / f"{kind}_{n_rows}"
    return {part: stem.with_name(f"{stem.name}_{part}.npy") for part in ("X", "y", "A")}


def _base_rows(kind):
    """The rows to draw from: Adult preprocessed, or the coloured digits' training split."""
    from skfairlatent.datasets import load_adult, load_colored_mnist, make_preprocessor

    if kind == "digits":
        (X, y, A), _ = load_colored_mnist(return_X_y_A=True)
        return np.asarray(X, np.float32), (np.asarray(y) >= 5).astype(np.int8), \
            np.asarray(A).astype(np.int8)
    X, y, A = load_adult(return_X_y_A=True)
    base = make_preprocessor().fit_transform(X).astype(np.float32)
    return base, (np.asarray(y) == np.unique(y)[1]).astype(np.int8), \
        (np.asarray(A) == np.unique(A)[1]).astype(np.int8)


def write_data(data_dir, n_rows, seed=0, chunk=10_000, kind="adult"):
    """Write X (float32), y and A (int8) of ``n_rows`` jittered rows of ``kind``, chunk by chunk.

    ``kind`` is ``"adult"`` (preprocessed Adult rows) or ``"digits"`` (coloured
    digits, images of shape (3, 28, 28), target ``digit >= 5``).
    """
    files = data_files(data_dir, n_rows, kind)
    if all(path.exists() for path in files.values()):
        return files
    base, y, A = _base_rows(kind)
    rng = np.random.default_rng(seed)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(files["X"], mode="w+", dtype=np.float32,
                                    shape=(n_rows, *base.shape[1:]))
    labels, groups = np.empty(n_rows, np.int8), np.empty(n_rows, np.int8)
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        index = rng.integers(0, len(base), stop - start)
        out[start:stop] = base[index] + rng.normal(0, JITTER, (stop - start, *base.shape[1:]))
        labels[start:stop], groups[start:stop] = y[index], A[index]
    out.flush()
    del out
    np.save(files["y"], labels)
    np.save(files["A"], groups)
    return files


# ----------------------------------------------------------------------------------
# one point, in its own process
# ----------------------------------------------------------------------------------

def resident_bytes(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def make_estimator(name, epochs, device):
    from skfairlatent import (
        AEDAClassifier,
        ALFAClassifier,
        CertifiedSmoothClassifier,
        FairLatentFlow,
        FairLatentSynthesizer,
        FairLatentVAE,
        LASSIRepresentation,
    )
    from skfairlatent.lassi import FlowTransformer

    common = dict(random_state=0, device=device)
    return {
        "alfa_baseline": lambda: ALFAClassifier(lambda_=0, max_epochs=epochs,
                                                keep_attack_data=False, **common),
        "alfa": lambda: ALFAClassifier(max_epochs=epochs, keep_attack_data=False, **common),
        "aeda": lambda: AEDAClassifier(max_epochs=epochs, **common),
        "lassi": lambda: LASSIRepresentation(flow=FlowTransformer(max_epochs=epochs),
                                             max_epochs=epochs, **common),
        "smoothing": lambda: CertifiedSmoothClassifier(max_epochs=epochs, **common),
        "vae": lambda: FairLatentVAE(max_epochs=epochs, **common),
        "synthesizer": lambda: FairLatentSynthesizer(
            vae=FairLatentVAE(max_epochs=epochs, condition_encoder=False, alpha_target=2.0),
            generator_max_epochs=epochs, **common),
        "flow": lambda: FairLatentFlow(max_epochs=epochs, **common),
        "aeda_images": lambda: AEDAClassifier(max_epochs=epochs, **common),
    }[name]()


def fit_kwargs(name, A):
    return {} if name == "smoothing" else {"sensitive_features": A}


def measure_point(name, files, source, epochs, device):
    """Fit ``name`` on the rows of ``files``; the measurements as a dict."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    y, A = np.load(files["y"]).astype(np.int64), np.load(files["A"]).astype(np.int64)
    head = np.load(files["X"], mmap_mode="r")[:500]
    make_estimator(name, 1, device).fit(np.array(head), y[:500], **fit_kwargs(name, A[:500]))
    before_data = resident_bytes()
    X = np.load(files["X"], mmap_mode="r")
    if source == "ram":
        X = np.array(X)
    estimator = make_estimator(name, epochs, device)
    reset_peak()
    start = time.perf_counter()
    estimator.fit(X, y, **fit_kwargs(name, A))
    seconds = time.perf_counter() - start
    peak = resident_bytes("VmHWM")
    profile = getattr(estimator, "fit_profile_", None)
    return {"estimator": name, "rows": len(X), "n_features": X.shape[1], "source": source,
            "device": device, "epochs": epochs, "fit_seconds": seconds,
            "x_bytes": int(X.nbytes), "fit_memory_bytes": int(peak - before_data),
            "phases": {phase: info["seconds"] for phase, info in (profile or {}).items()}}


def measure_certification(files, n_rows, device):
    """Rows per second of the two certificates on ``n_rows`` rows."""
    import torch

    from skfairlatent import CertifiedSmoothClassifier, LASSIRepresentation
    from skfairlatent.smoothing import certify_individual_fairness

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    X = np.array(np.load(files["X"], mmap_mode="r")[:n_rows])
    y, A = np.load(files["y"])[:n_rows].astype(np.int64), np.load(files["A"])[:n_rows]
    smooth = CertifiedSmoothClassifier(max_epochs=1, random_state=0, device=device).fit(X, y)
    start = time.perf_counter()
    smooth.certify(X)
    smooth_seconds = time.perf_counter() - start
    lassi = LASSIRepresentation(max_epochs=1, random_state=0, device=device).fit(
        X, y, sensitive_features=A.astype(np.int64))
    Z = lassi.transform(X)
    head = CertifiedSmoothClassifier(max_epochs=1, random_state=0, device=device).fit(Z, y)
    start = time.perf_counter()
    certify_individual_fairness(lassi, head, X)
    lassi_seconds = time.perf_counter() - start
    return {"rows": n_rows, "device": device,
            "certify_rows_per_s": n_rows / smooth_seconds,
            "certify_individual_fairness_rows_per_s": n_rows / lassi_seconds}


def run_child(args):
    """``python benchmarks/scaling.py --child ...``: print one JSON line."""
    spec = json.loads(args.child)
    if spec["kind"] == "fit":
        result = measure_point(spec["estimator"], spec["files"], spec["source"],
                               spec["epochs"], spec["device"])
    else:
        result = measure_certification(spec["files"], spec["rows"], spec["device"])
    print("RESULT " + json.dumps(result), flush=True)


def in_fresh_process(spec, timeout):
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=timeout)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{spec} failed:\n{completed.stderr[-3000:]}")


# ----------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------

def log_slope(rows, values):
    rows, values = np.asarray(rows, float), np.asarray(values, float)
    keep = values > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(rows[keep]), np.log(values[keep]), 1)[0])


def summarise(points):
    """Per estimator: slope of time, C, the largest point's memory ratio."""
    summary = []
    for name in dict.fromkeys(point["estimator"] for point in points):
        mine = sorted((p for p in points if p["estimator"] == name), key=lambda p: p["rows"])
        constant = mine[0]["fit_memory_bytes"]
        largest = mine[-1]
        summary.append({
            "estimator": name,
            "largest_rows": largest["rows"],
            "time_slope": log_slope([p["rows"] for p in mine],
                                    [p["fit_seconds"] for p in mine]),
            "seconds_per_1000_rows": 1000 * largest["fit_seconds"] / largest["rows"],
            "constant_mb": constant / 2**20,
            "memory_ratio": (largest["fit_memory_bytes"] - constant) / largest["x_bytes"],
        })
    return summary


def alfa_overhead(points, epochs=50):
    """ALFA's attack per 1,000 rows, and its fit over the λ=0 baseline's at ``epochs``.

    The ratio at ``epochs`` epochs is derived from the measured phases (seconds per
    pretraining epoch, attack, fine-tuning) of the two fits at each size:
    ``(epochs · pretrain + attack + finetune) / (epochs · pretrain_0 + finetune_0)``.
    """
    by = {(p["estimator"], p["rows"]): p for p in points}
    rows = []
    for (name, n_rows), alfa in sorted(by.items(), key=lambda item: item[0][1]):
        baseline = by.get(("alfa_baseline", n_rows))
        if name != "alfa" or baseline is None:
            continue
        a, b = alfa["phases"], baseline["phases"]
        per_epoch_a = a["pretrain"] / alfa["epochs"]
        per_epoch_b = b["pretrain"] / baseline["epochs"]
        rows.append({
            "rows": n_rows,
            "attack_seconds_per_1000_rows": 1000 * a["attack"] / n_rows,
            "ratio_at_epochs": (epochs * per_epoch_a + a["attack"] + a["finetune"])
            / (epochs * per_epoch_b + b["finetune"]),
            "epochs": epochs,
        })
    return rows


def markdown(points, summary, certification, args):
    sizes = sorted({p["rows"] for p in points})
    lines = [f"Adult rows (jittered, {points[0]['n_features']} float32 features), "
             f"source `{args.source}`, device `{args.device}`, {args.epochs} epoch(s), "
             "one torch thread, one fresh process per point.", "",
             "**Fit seconds**", "",
             "| estimator | " + " | ".join(f"{n:,}" for n in sizes) + " | slope |",
             "|---|" + "---|" * (len(sizes) + 1)]
    by = {(p["estimator"], p["rows"]): p for p in points}
    for row in summary:
        cells = [f"{by[(row['estimator'], n)]['fit_seconds']:.1f}"
                 if (row["estimator"], n) in by else "" for n in sizes]
        lines.append(f"| {row['estimator']} | " + " | ".join(cells)
                     + f" | {row['time_slope']:.2f} |")
    lines += ["", "**Fit memory, MB** (peak RSS during fit minus RSS before X was loaded; "
              "X.nbytes in the last row)", "",
              "| estimator | " + " | ".join(f"{n:,}" for n in sizes)
              + " | (mem − C) / X.nbytes at the largest size |",
              "|---|" + "---|" * (len(sizes) + 1)]
    for row in summary:
        cells = [f"{by[(row['estimator'], n)]['fit_memory_bytes'] / 2**20:.0f}"
                 if (row["estimator"], n) in by else "" for n in sizes]
        lines.append(f"| {row['estimator']} | " + " | ".join(cells)
                     + f" | {row['memory_ratio']:.2f} |")
    x_sizes = {p["rows"]: p["x_bytes"] for p in points if p["estimator"] != "aeda_images"}
    lines.append("| X.nbytes (Adult rows) | "
                 + " | ".join(f"{x_sizes[n] / 2**20:.0f}" for n in sizes) + " | |")
    images = {p["rows"]: p["x_bytes"] for p in points if p["estimator"] == "aeda_images"}
    if images:
        lines.append("| X.nbytes (images) | " + " | ".join(
            f"{images[n] / 2**20:.0f}" if n in images else "" for n in sizes) + " | |")
    overhead = alfa_overhead(points)
    if overhead:
        lines += ["", "**ALFA over its λ=0 baseline** (attack seconds per 1,000 rows; fit ratio "
                  "at the default 50 epochs, from the measured phases)", "",
                  "| rows | attack s / 1,000 rows | ALFA / λ=0 at 50 epochs |", "|---|---|---|"]
        lines += [f"| {row['rows']:,} | {row['attack_seconds_per_1000_rows']:.3f} | "
                  f"{row['ratio_at_epochs']:.2f} |" for row in overhead]
    if certification:
        lines += ["", f"**Certification throughput** ({certification['rows']:,} rows)", "",
                  "| certificate | rows/s |", "|---|---|",
                  f"| `CertifiedSmoothClassifier.certify` | "
                  f"{certification['certify_rows_per_s']:.0f} |",
                  f"| `certify_individual_fairness` (LASSI) | "
                  f"{certification['certify_individual_fairness_rows_per_s']:.1f} |"]
    return "\n".join(lines) + "\n"


def plot(points, summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    slopes = {row["estimator"]: row["time_slope"] for row in summary}
    for name in slopes:
        mine = sorted((p for p in points if p["estimator"] == name), key=lambda p: p["rows"])
        rows = [p["rows"] for p in mine]
        ax_time.plot(rows, [p["fit_seconds"] for p in mine], "o-",
                     label=f"{name} (slope {slopes[name]:.2f})")
        ax_memory.plot(rows, [p["fit_memory_bytes"] / 2**20 for p in mine], "o-", label=name)
    tabular = [p for p in points if p["estimator"] != "aeda_images"]
    rows = sorted({p["rows"] for p in tabular})
    x_mb = [next(p["x_bytes"] for p in tabular if p["rows"] == n) / 2**20 for n in rows]
    ax_memory.plot(rows, [3 * x for x in x_mb], "k--", label="3 × X.nbytes (Adult rows)")
    for ax, label in ((ax_time, "fit seconds"), (ax_memory, "fit memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_time.legend(fontsize=7)
    ax_memory.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--rows", nargs="+", type=int, default=list(DEFAULT_ROWS))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--source", choices=("ram", "memmap"), default="ram")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--certify-rows", type=int, default=10_000)
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(),
                                                           "skfairlatent_scaling"))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--render", action="store_true",
                        help="rewrite the .md and .png from the existing .json (no fits)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    stem = RESULTS / f"scaling{suffix}"
    if args.render:
        return render(stem)

    points = []
    for n_rows in args.rows:
        for name in args.estimators:
            kind = "digits" if name == "aeda_images" else "adult"
            if kind == "digits" and n_rows > IMAGE_ROWS:
                continue
            files = {k: str(v) for k, v in write_data(args.data_dir, n_rows, kind=kind).items()}
            spec = dict(kind="fit", estimator=name, files=files, source=args.source,
                        epochs=args.epochs, device=args.device)
            point = in_fresh_process(spec, args.timeout)
            print(f"{name:>14} {n_rows:>9,} rows: {point['fit_seconds']:8.1f} s, "
                  f"{point['fit_memory_bytes'] / 2**20:7.0f} MB "
                  f"(X {point['x_bytes'] / 2**20:.0f} MB)", flush=True)
            points.append(point)
    certification = None
    if args.certify_rows:
        files = {k: str(v) for k, v in write_data(args.data_dir, args.certify_rows).items()}
        certification = in_fresh_process(
            dict(kind="certify", files=files, rows=args.certify_rows, device=args.device),
            args.timeout)
    summary = summarise(points)
    text = markdown(points, summary, certification, args)
    write_result(stem, text, {"points": points, "summary": summary,
                              "alfa_overhead": alfa_overhead(points),
                              "certification": certification, "args": vars(args)})
    plot(points, summary, stem.with_suffix(".png"))
    print(text)


def render(stem):
    """Rewrite ``<stem>.md`` and ``<stem>.png`` from ``<stem>.json``, keeping its provenance."""
    data = json.loads(stem.with_suffix(".json").read_text())
    args = argparse.Namespace(**data["args"])
    text = markdown(data["points"], data["summary"], data["certification"], args)
    stem.with_suffix(".md").write_text(provenance_line(data["provenance"]) + text)
    plot(data["points"], data["summary"], stem.with_suffix(".png"))
    print(text)


if __name__ == "__main__":
    main()
