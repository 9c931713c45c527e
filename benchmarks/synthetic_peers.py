"""Fair synthetic tables beside their peers: CTGAN, TVAE and FLDGM on Adult and COMPAS.

Issue 25, items 3 and 5. Every method is fitted on the same training rows of each
seed and scored the same way:

* fidelity (:func:`skfairlatent.metrics.evaluate_fidelity`, synthetic rows against
  the real training rows, label and sensitive column included): per-column
  similarity (KS complement for numeric columns, total-variation complement for
  categorical ones), its mean and minimum, pairwise correlation similarity, the
  share of zeros of each numeric column and the share of rows at each numeric
  column's range limits;
* utility and fairness (:func:`skfairlatent.metrics.evaluate_synthetic`): a random
  forest trained on the synthetic rows and tested on held-out real rows (AUROC,
  precision, recall, DP and FTU on the real test rows), and density, coverage,
  alpha-precision, beta-recall, authenticity;
* the seconds of ``fit`` and of ``sample``.

Methods (``--methods``): ``real`` (the real training rows, the reference),
``ctgan`` and ``tvae`` (the ``ctgan`` package, no fairness: the fidelity
reference), ``fldgm-none`` (``FairLatentSynthesizer(fairness="none")``, the
control: the default pipeline without its penalties), ``fldgm-default``
(``FairLatentSynthesizer()``), ``fldgm-paper`` (``fairness="paper"``, the paper's
pipeline) and ``fldgm-wgan-gp``, ``fldgm-lsgan`` (the default with
``generator="wgan-gp"`` / ``"lsgan"``; issue 25 item 5). All FLDGM rows keep the
package defaults except the epochs, cut to fit a CPU budget: VAE 25 (default 50),
generator 80 (default 200); CTGAN 50 and TVAE 100 epochs (ctgan's default: 300).
``sample`` draws as many rows as the training split.

Data (:func:`skfairlatent.experiments.fldgm_frames`, stratified on label and
sex, seeded by the seed): Adult ``--adult-rows`` rows split in half (12,040 training
rows, 12,040 real test rows by default), COMPAS all 7,214 rows, 70/30. Sex is the
sensitive attribute.

The headline run (both datasets in one process; or one process per dataset, in
parallel, each with its own ``--datasets``: the combined files are rebuilt from the
per-dataset files after every run)::

    OMP_NUM_THREADS=1 python benchmarks/synthetic_peers.py

Writes ``<output>/synthetic_peers_<dataset>.json`` (every run, rewritten after each
one), ``<output>/synthetic_peers.{md,json}`` (the table of all datasets present),
``<output>/synthetic_peers_marginals_<dataset>.csv.gz`` (the plotted columns of the
first seed's samples) and ``<output>/synthetic_peers_marginals.png`` (real, TVAE,
FLDGM control and FLDGM default: capital-gain and capital-loss of Adult,
priors_count of COMPAS). ``--render`` rebuilds the table and figure from those
files without fitting. ``--quick`` is a smoke run (tiny epochs, 2,000 Adult rows,
one seed); give it another ``--output``. Needs the ``ctgan`` package (and pandas<3,
which it pins) for the CTGAN/TVAE rows; ``sdmetrics``, where installed, adds its
KS/TV complements as a cross-check of the column similarity.
"""

import argparse
import contextlib
import fcntl
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from skfairlatent import FairLatentSynthesizer
from skfairlatent.experiments import fldgm_frames
from skfairlatent.metrics import evaluate_fidelity, evaluate_synthetic
from skfairlatent.plotting import plot_marginals

from _common import RESULTS, mean_std, provenance, provenance_line

#: Method key -> (row label, FairLatentSynthesizer parameters or the ctgan class name).
METHODS = {
    "real": ("real data", None),
    "ctgan": ("CTGAN", "CTGAN"),
    "tvae": ("TVAE", "TVAE"),
    "fldgm-none": ("FLDGM fairness=none (control)", dict(fairness="none")),
    "fldgm-default": ("FLDGM default (demographic_parity)", {}),
    "fldgm-paper": ("FLDGM fairness=paper", dict(fairness="paper")),
    "fldgm-wgan-gp": ("FLDGM default, generator=wgan-gp", dict(generator="wgan-gp")),
    "fldgm-lsgan": ("FLDGM default, generator=lsgan", dict(generator="lsgan")),
}
#: Zero-inflated columns of each dataset (zero fractions in the table, marginals in the PNG).
ZERO_COLUMNS = {"adult": ["capital-gain", "capital-loss"], "compas": ["priors_count"]}
#: The methods of the marginals figure.
PLOTTED = ["real", "tvae", "fldgm-none", "fldgm-default"]
UTILITY = ["auroc", "precision", "recall", "dp", "ftu", "density", "coverage",
           "alpha_precision", "beta_recall", "authenticity"]


# --------------------------------------------------------------------------------------
# data and fitting
# --------------------------------------------------------------------------------------

def split(dataset, seed, args):
    """``(real_train, real_test, X_tr, y_tr, A_tr, target, sensitive)`` of one seed."""
    if dataset == "adult":
        parts = fldgm_frames("adult", seed, max_rows=args.adult_rows, test=0.5)
    else:
        parts = fldgm_frames(dataset, seed)
    X_tr, y_tr, A_tr, X_te, y_te, _, target, sensitive = parts
    return (X_tr.assign(**{target: y_tr}), X_te.assign(**{target: y_te}), X_tr, y_tr, A_tr,
            target, sensitive)


def like_real(frame, real):
    """``frame`` with the columns, order and dtypes of ``real`` (categories included)."""
    frame = frame[list(real.columns)].copy()
    for column in real.columns:
        dtype = real[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            frame[column] = pd.Categorical(frame[column].astype(str), dtype=dtype)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def fit_ctgan_family(name, real_train, seed, args):
    """Fit CTGAN or TVAE (no fairness) on the real rows; returns ``(fit_s, sample_s, rows)``."""
    import ctgan

    epochs = args.ctgan_epochs if name == "CTGAN" else args.tvae_epochs
    model = getattr(ctgan, name)(epochs=epochs, cuda=False)
    model.set_random_state(seed)
    discrete = [c for c in real_train.columns
                if isinstance(real_train[c].dtype, pd.CategoricalDtype)
                or real_train[c].nunique() <= 2]
    data = real_train.astype({c: str for c in discrete})
    start = time.perf_counter()
    model.fit(data, discrete_columns=discrete)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = model.sample(len(real_train))
    return fit_s, time.perf_counter() - start, like_real(rows, real_train)


def fit_fldgm(params, X_tr, y_tr, A_tr, real_train, seed, args):
    """Fit one FairLatentSynthesizer at the package defaults but ``params`` and the epochs."""
    params = dict(params, device="cpu", random_state=seed)
    if args.generator_epochs is not None:
        params["generator_max_epochs"] = args.generator_epochs
    if args.vae_epochs is not None:
        params["vae"] = goal_vae(params.get("fairness", "demographic_parity"), args.vae_epochs)
    synth = FairLatentSynthesizer(**params)
    start = time.perf_counter()
    synth.fit(X_tr, y_tr, sensitive_features=A_tr)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = synth.sample(len(X_tr), random_state=seed)
    return fit_s, time.perf_counter() - start, like_real(rows, real_train)


def goal_vae(goal, epochs):
    """The VAE that ``FairLatentSynthesizer(fairness=goal)`` builds, with ``epochs`` epochs."""
    from skfairlatent import FairLatentVAE
    from skfairlatent.fldgm import DEFAULT_VAE_KL_WEIGHT, FAIRNESS_GOALS

    spec = FAIRNESS_GOALS[goal]
    return FairLatentVAE(kl_weight=DEFAULT_VAE_KL_WEIGHT, batch_size=512, max_epochs=epochs,
                         condition_encoder=spec["encoder"] == "conditional", **spec["vae"])


def fit_method(key, split_parts, seed, args):
    real_train, _, X_tr, y_tr, A_tr, _, _ = split_parts
    spec = METHODS[key][1]
    if spec is None:
        return 0.0, 0.0, real_train
    if isinstance(spec, str):
        return fit_ctgan_family(spec, real_train, seed, args)
    return fit_fldgm(spec, X_tr, y_tr, A_tr, real_train, seed, args)


# --------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------

def fidelity(real, synthetic):
    """:func:`skfairlatent.metrics.evaluate_fidelity`, JSON-ready (Series/frames as dicts)."""
    out = {}
    for key, value in evaluate_fidelity(real, synthetic).items():
        if isinstance(value, pd.DataFrame):
            out[key] = json.loads(value.to_json(orient="index"))
        elif isinstance(value, pd.Series):
            out[key] = {str(k): float(v) for k, v in value.items()}
        else:
            out[key] = float(value)
    return out


def sdmetrics_similarity(real, synthetic):
    """sdmetrics' KSComplement / TVComplement of each column (None without sdmetrics)."""
    try:
        from sdmetrics.single_column import KSComplement, TVComplement
    except ImportError:
        return None
    out = {}
    for column in real.columns:
        numeric = pd.api.types.is_numeric_dtype(real[column]) and real[column].nunique() > 2
        metric = KSComplement if numeric else TVComplement
        cast = float if numeric else str
        out[column] = float(metric.compute(real[column].astype(cast),
                                           synthetic[column].astype(cast)))
    return out


def score(real_train, real_test, synthetic, target, sensitive, seed):
    pos_label = sorted(pd.unique(real_train[target]))[-1]
    try:
        utility = evaluate_synthetic(real_train, real_test, synthetic, target=target,
                                     sensitive=sensitive, pos_label=pos_label, random_state=seed)
    except ValueError as error:  # e.g. a synthetic label with a single class
        print("evaluate_synthetic:", error, flush=True)
        utility = dict.fromkeys(UTILITY, float("nan"))
    return {"utility": {k: float(v) for k, v in utility.items()},
            "fidelity": fidelity(real_train, synthetic),
            "sdmetrics_column_similarity": sdmetrics_similarity(real_train, synthetic)}


# --------------------------------------------------------------------------------------
# result files
# --------------------------------------------------------------------------------------

def dataset_file(output, dataset):
    return Path(output) / f"synthetic_peers_{dataset}.json"


def load_dataset_runs(output, dataset):
    path = dataset_file(output, dataset)
    return json.loads(path.read_text())["runs"] if path.exists() else []


@contextlib.contextmanager
def locked(output):
    """One writer at a time in ``output`` (processes running other datasets or methods)."""
    with open(Path(output) / ".synthetic_peers.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_run(output, run):
    """Merge one run into its dataset's file, replacing an earlier run of the same cell."""
    cell_of = ("dataset", "seed", "method")
    with locked(output):
        runs = [r for r in load_dataset_runs(output, run["dataset"])
                if any(r[k] != run[k] for k in cell_of)]
        runs.append(run)
        runs.sort(key=lambda r: (r["seed"], list(METHODS).index(r["method"])))
        payload = {"provenance": provenance(), "runs": runs}
        dataset_file(output, run["dataset"]).write_text(json.dumps(payload, indent=1))


def save_marginals(output, dataset, samples):
    """The plotted columns of the first seed's samples (long format, gzip CSV), merged."""
    columns = ZERO_COLUMNS[dataset]
    path = Path(output) / f"synthetic_peers_marginals_{dataset}.csv.gz"
    with locked(output):
        old = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=[*columns, "method"])
        new = pd.concat([frame[columns].assign(method=key) for key, frame in samples.items()])
        kept = old[~old["method"].isin(list(samples))]
        pd.concat([kept, new]).to_csv(path, index=False)


def run_dataset(dataset, args):
    """Fit and score every method on every seed; each run is saved as soon as it ends."""
    for seed in args.seeds:
        parts = split(dataset, seed, args)
        real_train, real_test, *_, target, sensitive = parts
        samples = {}
        for key in args.methods:
            fit_s, sample_s, synthetic = fit_method(key, parts, seed, args)
            scores = score(real_train, real_test, synthetic, target, sensitive, seed)
            run = {"dataset": dataset, "seed": seed, "method": key,
                   "n_train": len(real_train), "n_test": len(real_test),
                   "fit_seconds": fit_s, "sample_seconds": sample_s,
                   "settings": settings(args), **scores}
            save_run(args.output, run)
            if args.samples_dir:
                Path(args.samples_dir).mkdir(parents=True, exist_ok=True)
                synthetic.to_pickle(Path(args.samples_dir) / f"{dataset}_{seed}_{key}.pkl")
            if key in PLOTTED and seed == args.seeds[0]:
                samples[key] = synthetic
            print(dataset, seed, key, f"fit {fit_s:.0f}s", headline(run), flush=True)
        if samples:
            save_marginals(args.output, dataset, samples)
        render(args)


def settings(args):
    """The settings a run was made with, and by which command."""
    keys = ("adult_rows", "ctgan_epochs", "tvae_epochs", "vae_epochs", "generator_epochs")
    return {**{k: getattr(args, k) for k in keys}, **provenance()}


def rescore(args):
    """Recompute the fidelity of every saved run whose table was pickled in ``--samples-dir``."""
    for dataset in args.datasets:
        runs = load_dataset_runs(args.output, dataset)
        first_seed = min((r["seed"] for r in runs), default=None)
        samples = {}
        for run in runs:
            path = Path(args.samples_dir) / f"{dataset}_{run['seed']}_{run['method']}.pkl"
            if not path.exists():
                continue
            args.adult_rows = run["settings"]["adult_rows"]
            real_train = split(dataset, run["seed"], args)[0]
            synthetic = pd.read_pickle(path)
            run["fidelity"] = fidelity(real_train, synthetic)
            run["sdmetrics_column_similarity"] = sdmetrics_similarity(real_train, synthetic)
            save_run(args.output, run)
            if run["seed"] == first_seed and run["method"] in PLOTTED:
                samples[run["method"]] = synthetic
            print("rescored", dataset, run["seed"], run["method"], headline(run), flush=True)
        if samples:
            save_marginals(args.output, dataset, samples)


def headline(run):
    fid, utl = run["fidelity"], run["utility"]
    return (f"colsim {fid['mean_column_similarity']:.3f} (min {fid['min_column_similarity']:.3f})"
            f" corr {fid['correlation_similarity']:.3f} auroc {utl['auroc']:.3f}"
            f" dp {utl['dp']:.3f}")


# --------------------------------------------------------------------------------------
# the table, the acceptance check and the figure
# --------------------------------------------------------------------------------------

def all_runs(output):
    runs = []
    for dataset in ("adult", "compas"):
        runs += load_dataset_runs(output, dataset)
    return runs


def cell(runs, get, digits=3):
    values = [get(r) for r in runs]
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return ""
    missing = "" if len(finite) == len(values) else f" ({len(finite)}/{len(values)} seeds)"
    return mean_std(finite, digits) + missing


def limit_excess(run):
    """Largest share of synthetic rows on a numeric column's real range limits beyond the real
    share (``range_limit_fraction``: rows equal to the real minimum or maximum)."""
    table = run["fidelity"]["range_limit_fraction"]
    return max([0.0] + [shares["synthetic"] - shares["real"] for shares in table.values()])


def zero_gap(run, column):
    """|synthetic - real| share of zeros of ``column``."""
    shares = run["fidelity"]["zero_fraction"][column]
    return abs(shares["synthetic"] - shares["real"])


def zero_cells(group, dataset):
    return [cell(group, lambda r, c=c: r["fidelity"]["zero_fraction"][c]["synthetic"])
            for c in ZERO_COLUMNS[dataset]]


def dataset_table(runs, dataset):
    zero_names = [f"zeros {c}" for c in ZERO_COLUMNS[dataset]]
    head = (["method", "mean col. sim.", "min col. sim.", "corr. sim."] + zero_names
            + ["max range-limit excess", "AUROC", "DP", "FTU", "density", "coverage",
               "fit s", "sample s"])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for key in METHODS:
        group = [r for r in runs if r["dataset"] == dataset and r["method"] == key]
        if not group:
            continue
        fid = [cell(group, lambda r, k=k: r["fidelity"][k])
               for k in ("mean_column_similarity", "min_column_similarity",
                         "correlation_similarity")]
        utl = [cell(group, lambda r, k=k: r["utility"][k])
               for k in ("auroc", "dp", "ftu", "density", "coverage")]
        secs = [cell(group, lambda r, k=k: r[k], 0) for k in ("fit_seconds", "sample_seconds")]
        row = ([f"{METHODS[key][0]} ({len(group)} seeds)"] + fid + zero_cells(group, dataset)
               + [cell(group, limit_excess)] + utl + secs)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def column_table(runs, dataset):
    """Per-column similarity (mean over seeds) of each method."""
    present = [k for k in METHODS if any(r["dataset"] == dataset and r["method"] == k
                                         for r in runs)]
    if not present:
        return []
    columns = list(next(r for r in runs if r["dataset"] == dataset)
                   ["fidelity"]["column_similarity"])
    lines = ["| column | " + " | ".join(present) + " |", "|---" * (len(present) + 1) + "|"]
    for column in columns:
        values = []
        for key in present:
            group = [r for r in runs if r["dataset"] == dataset and r["method"] == key]
            similarity = [r["fidelity"]["column_similarity"][column] for r in group]
            values.append(f"{np.mean(similarity):.3f}")
        lines.append(f"| {column} | " + " | ".join(values) + " |")
    return lines


def mean_of(runs, dataset, key, get):
    values = [get(r) for r in runs if r["dataset"] == dataset and r["method"] == key]
    return float(np.mean(values)) if values else None


def acceptance(runs):
    """Issue 25's acceptance criteria on Adult, each with its measured value."""
    def m(key, get):
        return mean_of(runs, "adult", key, get)

    checks = []
    for key in ("fldgm-none", "fldgm-default", "fldgm-paper", "fldgm-wgan-gp", "fldgm-lsgan"):
        group = [r for r in runs if r["dataset"] == "adult" and r["method"] == key]
        real = [r for r in runs if r["dataset"] == "adult" and r["method"] == "real"]
        if not group or not real:
            continue
        columns = group[0]["fidelity"]["column_similarity"]
        per_column = {c: np.mean([r["fidelity"]["column_similarity"][c] for r in group])
                      for c in columns}
        worst = min(per_column, key=per_column.get)
        checks.append((f"{key}: every column's similarity >= 0.90",
                       f"lowest {worst} {per_column[worst]:.3f}", per_column[worst] >= 0.90))
        for column in ZERO_COLUMNS["adult"]:
            gap = m(key, lambda r, c=column: zero_gap(r, c))
            checks.append((f"{key}: zeros of {column} within 3 points of real",
                           f"{100 * gap:.1f} points", gap <= 0.03))
        excess = m(key, limit_excess)
        checks.append((f"{key}: no column > 1 % of rows at a range limit beyond real",
                       f"largest excess {100 * excess:.1f} %", excess <= 0.01))
    control, tvae = (m(k, lambda r: r["fidelity"]["mean_column_similarity"])
                     for k in ("fldgm-none", "tvae"))
    if control is not None and tvae is not None:
        checks.append(("control's mean column similarity at least TVAE's - 0.05",
                       f"{control:.3f} vs {tvae:.3f}", control >= tvae - 0.05))
    default = [r for r in runs if r["dataset"] == "adult" and r["method"] == "fldgm-default"]
    if default:
        dp, auroc = (np.nanmean([r["utility"][k] for r in default]) for k in ("dp", "auroc"))
        failed = [r["seed"] for r in default if not np.isfinite(r["utility"]["auroc"])]
        note = f" (seeds {failed}: a single-class synthetic label, no classifier)" if failed else ""
        checks.append(("default: DP <= 0.03 at AUROC >= 0.75",
                       f"DP {dp:.3f}, AUROC {auroc:.3f} over the other seeds{note}"
                       if failed else f"DP {dp:.3f}, AUROC {auroc:.3f}",
                       dp <= 0.03 and auroc >= 0.75 and not failed))
    real_dp, control_dp = (m(k, lambda r: r["utility"]["dp"]) for k in ("real", "fldgm-none"))
    if real_dp is not None and control_dp is not None:
        checks.append(("control's DP within 30 % of the real DP",
                       f"{control_dp:.3f} vs {real_dp:.3f}",
                       abs(control_dp - real_dp) <= 0.3 * real_dp))
    return checks


def cross_check(runs):
    """Largest |evaluate_fidelity column similarity - sdmetrics KS/TV complement|."""
    gaps = [abs(r["fidelity"]["column_similarity"][c] - v)
            for r in runs if r.get("sdmetrics_column_similarity")
            for c, v in r["sdmetrics_column_similarity"].items()]
    return (max(gaps), len(gaps)) if gaps else None


def markdown(runs, settings):
    lines = ["# Fair synthetic tables beside CTGAN and TVAE (Adult, COMPAS)\n", settings, ""]
    for dataset in ("adult", "compas"):
        table = dataset_table(runs, dataset)
        if len(table) > 2:
            n = next(r for r in runs if r["dataset"] == dataset)
            lines += [f"## {dataset} ({n['n_train']:,} training rows, {n['n_test']:,} real test "
                      "rows)\n", *table, "", "Per-column similarity (mean over seeds):\n",
                      *column_table(runs, dataset), ""]
    checks = acceptance(runs)
    if checks:
        lines += ["## Acceptance (issue 25, Adult, means over seeds)\n",
                  "| criterion | measured | met |", "|---|---|---|"]
        lines += [f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
        lines.append("")
    check = cross_check(runs)
    if check:
        lines.append(f"Cross-check: the largest difference between `column_similarity` and "
                     f"sdmetrics' KSComplement/TVComplement over {check[1]} (run, column) pairs "
                     f"is {check[0]:.2g}.\n")
    return "\n".join(lines)


def settings_line(runs):
    used = sorted({json.dumps({k: v for k, v in r["settings"].items() if k != "date"})
                   for r in runs})
    used = list({json.loads(u)["command"]: u for u in used}.values())
    made = "; ".join(
        "`{command}` at {commit} (Adult rows {adult_rows}, CTGAN epochs {ctgan_epochs}, TVAE "
        "epochs {tvae_epochs}, FLDGM VAE epochs {vae_epochs}, generator epochs "
        "{generator_epochs}; None: the package default)".format(**json.loads(u)) for u in used)
    return (f"Runs made by: {made}. Adult: the rows drawn (stratified on label and sex) split "
            "in half; COMPAS: 7,214 rows, 70/30. CTGAN/TVAE at the ctgan package's defaults "
            "but the epochs; FLDGM at the package defaults but the epochs. Synthetic rows: as "
            "many as training rows. Fidelity against the real training rows (label and sex "
            "included); utility: a random forest trained on the rows of each line, tested on "
            "the real test rows (DP and FTU there). Zeros: share of rows equal to 0. "
            "Range-limit excess: the largest share of synthetic rows at a numeric column's "
            "training minimum or maximum beyond the real share there. Mean ± std over seeds; "
            "seconds on a 2-core CPU shared with other jobs, one torch thread.")


def plot(output):
    """Marginals of the zero-inflated columns (first seed): histograms
    (:func:`skfairlatent.plotting.plot_marginals`, log shares) above empirical CDFs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for dataset, columns in ZERO_COLUMNS.items():
        path = Path(output) / f"synthetic_peers_marginals_{dataset}.csv.gz"
        if path.exists():
            frame = pd.read_csv(path)
            panels += [(dataset, column, frame) for column in columns]
    if not panels:
        return None
    fig, axes = plt.subplots(2, len(panels), figsize=(5.5 * len(panels), 8), squeeze=False)
    for top, bottom, (dataset, column, frame) in zip(axes[0], axes[1], panels):
        tables = {METHODS[k][0]: frame.loc[frame["method"] == k, [column]] for k in PLOTTED
                  if (frame["method"] == k).any()}
        real = tables.pop(METHODS["real"][0])
        plot_marginals(real, tables, [column], ax=[top])
        top.set_title(f"{dataset}: {column} (share of rows per bin)", fontsize=9)
        plot_cdf(bottom, {"real data": real, **tables}, column)
        bottom.set_title(f"{dataset}: {column} (empirical CDF, symlog x)", fontsize=9)
    fig.suptitle("Marginals of the zero-inflated columns, first seed")
    fig.tight_layout()
    path = Path(output) / "synthetic_peers_marginals.png"
    info = provenance()
    fig.savefig(path, dpi=100, metadata={
        "Comment": f"Made by {info['command']} on {info['date']} at commit {info['commit']}"})
    plt.close(fig)
    return path


def plot_cdf(ax, tables, column):
    """Empirical CDFs of ``column`` of each table; the legend gives each share of zeros."""
    for name, table in tables.items():
        values = np.sort(table[column].to_numpy(float))
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                label=f"{name} (zeros {100 * np.mean(values == 0):.1f} %)")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel(column)
    ax.set_ylabel("share of rows <= x")
    ax.legend(fontsize=7, loc="lower right")


def render(args):
    """Rebuild ``synthetic_peers.{md,json}`` and the PNG from the per-dataset files."""
    with locked(args.output):
        runs = all_runs(args.output)
        if not runs:
            return
        info = provenance()
        stem = Path(args.output) / "synthetic_peers"
        stem.with_suffix(".md").write_text(provenance_line(info)
                                           + markdown(runs, settings_line(runs)))
        checks = [{"criterion": n, "measured": v, "met": bool(ok)}
                  for n, v, ok in acceptance(runs)]
        stem.with_suffix(".json").write_text(json.dumps(
            {"provenance": info, "acceptance": checks, "runs": runs}, indent=1))
        plot(args.output)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["adult", "compas"],
                        choices=list(ZERO_COLUMNS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--adult-rows", type=int, default=24080,
                        help="Adult rows drawn (stratified), half to train, half to test")
    parser.add_argument("--ctgan-epochs", type=int, default=50)
    parser.add_argument("--tvae-epochs", type=int, default=100)
    parser.add_argument("--vae-epochs", type=int, default=25,
                        help="epochs of FLDGM's VAE (the package default: 50)")
    parser.add_argument("--generator-epochs", type=int, default=80,
                        help="epochs of FLDGM's generator (the package default: 200)")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--samples-dir", default=None,
                        help="also pickle every synthetic table here (for --rescore)")
    parser.add_argument("--render", action="store_true",
                        help="only rebuild the table and figure from the result files")
    parser.add_argument("--rescore", action="store_true",
                        help="only recompute the fidelity of the saved runs from --samples-dir")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.adult_rows = args.seeds[:1], 2000
        args.ctgan_epochs = args.tvae_epochs = args.vae_epochs = args.generator_epochs = 3
    torch.set_num_threads(1)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    if args.rescore:
        rescore(args)
    elif not args.render:
        for dataset in args.datasets:
            run_dataset(dataset, args)
    render(args)
    print((Path(args.output) / "synthetic_peers.md").read_text())


if __name__ == "__main__":
    main()
