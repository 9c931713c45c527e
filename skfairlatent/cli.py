"""The ``skfairlatent`` command: a method on real data, beside its baseline and fairlearn.

With no arguments it runs ALFA on COMPAS (sex as the sensitive attribute)
over a short α grid, on a stratified 60/20/20 split for each of two seeds,
beside the same network without ALFA, the plain scikit-learn model and
fairlearn's ``ExponentiatedGradient(EqualizedOdds())`` and
``ThresholdOptimizer(constraints="equalized_odds")`` on the same splits. It
prints a table (accuracy, ΔDP, ΔEOd, worst-group accuracy, fit seconds; mean
± std over seeds) and a fairlearn ``MetricFrame`` by group, and writes the
table (markdown + JSON), every run (JSON) and the trade-off plot (PNG, error
bars, Pareto front) to the output folder.

Methods (``--method``):

* ``alfa`` (default) -- ALFA over ``--alphas``; α chosen per seed on the
  validation split and also reported for every α.
* ``aeda`` -- AEDA's modes (none = baseline, pre, online, robust); on
  ``colored_mnist`` the image benchmark of AEDA section 4.2.
* ``fairflow`` -- the model on FairLatentFlow's fair part Z_Y versus on the
  standardised features.
* ``lassi`` -- flow, LASSI representation and smoothed classifier, the
  Naive control (λ_adv = 0) beside LASSI (λ_adv = 0.3), certification (LASSI Alg. 1) of the
  test split: accuracy, certified %, abstain %, mean d_cs and d_rs, seconds
  per point, and a histogram of the radii.
* ``fldgm`` -- FLDGM stages 1-3 (fair VAE, latent DDPM, decoding) and the
  unfair control (α = 0): a synthetic CSV with the training schema, the
  ``evaluate_synthetic`` table (real vs synthetic) and a PNG of marginals and
  per-group label rates.

The comparison with fairlearn (``--compare``) is on by default for the
classifiers on tabular data (alfa, aeda, fairflow); ``--no-compare`` turns it
off. Every fit of the grid (seeds × settings) is one task of
``joblib.Parallel``: ``--n-jobs`` runs them in local processes and
``--dask-scheduler ADDRESS`` on a Dask cluster
(``joblib.parallel_backend("dask")`` under ``distributed.Client(ADDRESS)``;
``pip install "skfairlatent[dask]"``).

Outputs are written to a temporary folder inside ``--output`` and moved into
place only when the run succeeds: a failed run leaves no partial file.

Examples
--------
$ skfairlatent
$ skfairlatent --dataset german --model logistic --seeds 0 1 2 --alphas 0 0.1 1
$ skfairlatent --method lassi --dataset compas --certify-rows 200
$ skfairlatent --method fldgm --dataset compas --max-epochs 10
$ skfairlatent --n-jobs 2
$ skfairlatent --dask-scheduler tcp://10.0.0.5:8786
$ python -m skfairlatent --method aeda --dataset colored_mnist --max-epochs 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from . import datasets
from .metrics import (balanced_group_accuracy, delta_dp, delta_eod, model_bias,
                      worst_group_accuracy)

TABULAR = {
    "adult": datasets.load_adult,
    "compas": datasets.load_compas,
    "german": datasets.load_german,
    "drug": datasets.load_drug,
}
DATASETS = (*TABULAR, "colored_mnist")
METHODS = ("alfa", "aeda", "fairflow", "lassi", "fldgm")
COMPARABLE = ("alfa", "aeda", "fairflow")
PAPER_ALPHAS = (0.0, 0.001, 0.01, 0.1, 1.0, 10.0)
DEFAULT_ALPHAS = (0.0, 0.1, 1.0, 10.0)
MODELS = {"mlp": (128, 128), "logistic": ()}
AEDA_MODES = ("none", "pre", "online", "robust")
METRICS = ("accuracy", "delta_dp", "delta_eod", "worst_group_accuracy")
USES_A = " †"   # marks settings that use the sensitive attribute at predict time
TO_LABEL = "ThresholdOptimizer(equalized_odds)" + USES_A
EG_LABEL = "ExponentiatedGradient(EqualizedOdds)"
CHOSEN = "ALFA (α chosen on validation)"
# LASSI certification: reduced sample sizes (benchmarks/lassi_reproduction.py, "small").
LASSI_CERTIFY = dict(sigma_cs=1.0, n0_cs=2_000, n_cs=2_000, delta=0.1, n0_rs=100, n_rs=10_000,
                     alpha_cs=0.01, alpha_rs=0.001)
LASSI_SIGMA_RS = 1.0
# chosen on COMPAS and Adult on tuning seed 100 (validation split, accuracy cost <= 3 points)
# in benchmarks/results/lassi_reproduction_tabular.md
LASSI_LAMBDA_ADV = 0.3


# torch's random generator and thread count are process-wide: two fits running in
# threads of one process (a Dask worker with several threads) would draw from the
# same generator and give results that depend on timing. One fit at a time per
# process keeps every fit reproducible; run Dask workers with one thread each and
# as many worker processes as cores.
_FIT_LOCK = threading.Lock()


class CommandLineError(ValueError):
    """A value given on the command line cannot be used (reported as a usage error)."""


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
def _subsample(X, y, A, max_rows, seed):
    """A stratified (label × group) subsample of at most ``max_rows`` rows."""
    if max_rows is None or max_rows >= len(X):
        return X, y, A
    strata = y.astype(str) + "|" + A.astype(str)
    X, _, y, _, A, _ = train_test_split(X, y, A, train_size=max_rows, random_state=seed,
                                        stratify=strata)
    return X, y, A


def load_split(dataset, seed, *, validation=0.2, test=0.2, max_rows=None):
    """A stratified train/validation/test split of a tabular dataset, preprocessed.

    The split is stratified on (label, group) cells and seeded by ``seed``;
    the preprocessor (:func:`skfairlatent.datasets.make_preprocessor`) is
    fitted on the training rows only.

    Parameters
    ----------
    dataset : {"adult", "compas", "german", "drug"}
    seed : int
    validation, test : float, default=0.2
        Fractions of all rows.
    max_rows : int or None, default=None
        Stratified subsample of the dataset before splitting (quick runs).

    Returns
    -------
    dict
        Keys ``train``, ``valid``, ``test``, each ``(X, y, A)`` with ``X``
        float32 of shape (n, n_features) and ``y``, ``A`` 1-d arrays.

    Raises
    ------
    ValueError
        For an unknown dataset.
    """
    if dataset not in TABULAR:
        raise ValueError(f"Unknown tabular dataset {dataset!r}; choose from {sorted(TABULAR)}.")
    X, y, A = TABULAR[dataset](return_X_y_A=True)
    X, y, A = _subsample(X, y, A, max_rows, seed)
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


def scores(y, pred, A, *, extra=False):
    """Accuracy, ΔDP, ΔEOd and worst-group accuracy of one prediction.

    With ``extra=True`` also AEDA's ``balanced_group_accuracy`` and ``model_bias``.
    """
    out = {
        "accuracy": accuracy_score(y, pred),
        "delta_dp": delta_dp(y, pred, sensitive_features=A),
        "delta_eod": delta_eod(y, pred, sensitive_features=A),
        "worst_group_accuracy": worst_group_accuracy(y, pred, sensitive_features=A),
    }
    if extra:
        out["balanced_group_accuracy"] = balanced_group_accuracy(y, pred, sensitive_features=A)
        out["model_bias"] = model_bias(y, pred, sensitive_features=A)
    return out


def metric_frame(y, pred, A):
    """Per-group accuracy, selection rate, TPR and FPR (fairlearn ``MetricFrame``)."""
    return MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate,
                 "TPR": true_positive_rate, "FPR": false_positive_rate},
        y_true=y, y_pred=pred, sensitive_features=pd.Series(A, name="group"))


# --------------------------------------------------------------------------- #
# One fit: the unit of work of the grid (seeds × settings)
# --------------------------------------------------------------------------- #
def sklearn_model(model, seed):
    """The plain scikit-learn model matching ``--model``.

    ``"mlp"``: ``MLPClassifier`` with ALFA's two hidden layers of 128 and early
    stopping; ``"logistic"``: ``LogisticRegression``. Both accept
    ``sample_weight`` (needed by ``ExponentiatedGradient``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if model == "logistic":
        return LogisticRegression(max_iter=1000)
    return MLPClassifier(hidden_layer_sizes=MODELS[model], early_stopping=True,
                         random_state=seed)


def candidates(method, *, model="mlp", alphas=DEFAULT_ALPHAS, compare=True):
    """The settings fitted on each seed: ``[(label, family, spec), ...]``."""
    sk_name = "LogisticRegression" if model == "logistic" else "MLPClassifier"
    out = []
    if method == "alfa":
        out.append(("baseline", "baseline (same network, no ALFA)", {"kind": "alfa", "alpha": None}))
        out += [(f"ALFA α={alpha:g}", "ALFA", {"kind": "alfa", "alpha": float(alpha)})
                for alpha in alphas]
    elif method == "aeda":
        out += [(f"AEDA mode={mode}" + (" (baseline)" if mode == "none" else ""),
                 "baseline (same network, no AEDA)" if mode == "none" else "AEDA",
                 {"kind": "aeda", "mode": mode}) for mode in AEDA_MODES]
    elif method == "fairflow":
        out.append((f"{sk_name} on FairLatentFlow Z_Y", "FairLatentFlow", {"kind": "fairflow"}))
    else:
        raise ValueError(f"method {method!r} has no grid of classifiers")
    if compare or method == "fairflow":   # fairflow's baseline is the plain model
        out.append((f"{sk_name} (sklearn)", "plain sklearn model", {"kind": "sklearn"}))
    if compare:
        out.append((EG_LABEL, "fairlearn ExponentiatedGradient", {"kind": "expgrad"}))
        out.append((TO_LABEL, "fairlearn ThresholdOptimizer" + USES_A, {"kind": "thresholdopt"}))
    return out


def _make_estimator(spec, settings, seed):
    kind = spec["kind"]
    common = dict(max_epochs=settings["max_epochs"], device=settings["device"],
                  random_state=seed, verbose=settings["verbose"])
    if kind == "alfa":
        from .alfa import ALFAClassifier

        params = dict(hidden_layer_sizes=MODELS[settings["model"]], keep_attack_data=False,
                      **common)
        if spec["alpha"] is None:
            return ALFAClassifier(lambda_=0.0, **params)
        return ALFAClassifier(alpha=spec["alpha"], **params)
    if kind == "aeda":
        from .aeda import AEDAClassifier

        return AEDAClassifier(spec["mode"], hidden_layer_sizes=MODELS["mlp"], **common)
    if kind == "fairflow":
        from sklearn.pipeline import make_pipeline

        from .fair_flow import FairLatentFlow

        return make_pipeline(FairLatentFlow(**common), sklearn_model(settings["model"], seed))
    base = sklearn_model(settings["model"], seed)
    if kind == "sklearn":
        return base
    if kind == "expgrad":
        from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

        return ExponentiatedGradient(base, EqualizedOdds())
    if kind == "thresholdopt":
        from fairlearn.postprocessing import ThresholdOptimizer

        return ThresholdOptimizer(estimator=base, constraints="equalized_odds",
                                  predict_method="predict_proba")
    raise ValueError(f"unknown kind {kind!r}")


def fit_one(settings, seed, label, family, spec):
    """Fit one setting on one seed's split; score the validation and test splits.

    This is the task that ``joblib.Parallel`` runs (locally or on Dask
    workers): it loads the split itself, so only small arguments travel.
    Fits in threads of one process run one at a time (torch's generator is
    process-wide), so the result of a fit does not depend on where it ran.

    Returns
    -------
    row : dict
        ``seed``, ``setting``, ``family``, ``alpha``, ``fit_seconds``,
        ``uses_sensitive_at_predict``, ``valid_<metric>``, ``test_<metric>``
        (and ALFA's per-phase seconds).
    test : tuple
        ``(y_test, y_pred, A_test)``.
    """
    from joblib import parallel_config

    # nested joblib calls (scikit-learn's LogisticRegression, fairlearn) run
    # in this task: under the Dask backend they would otherwise be sent back
    # to the cluster and wait for workers that are all busy with fits.
    with _FIT_LOCK, parallel_config(backend="sequential"):
        return _fit_one(settings, seed, label, family, spec)


def _fit_one(settings, seed, label, family, spec):
    """:func:`fit_one` without the lock."""
    import torch

    if settings.get("torch_threads"):
        torch.set_num_threads(settings["torch_threads"])
    warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    split = load_split(settings["dataset"], seed, max_rows=settings["max_rows"])
    X_tr, y_tr, A_tr = split["train"]
    kind = spec["kind"]
    est = _make_estimator(spec, settings, seed)
    uses_A = kind == "thresholdopt"
    if kind in ("expgrad", "thresholdopt"):   # fairlearn wants float64 inputs
        split = {k: (X.astype(np.float64), y, A) for k, (X, y, A) in split.items()}
        X_tr = split["train"][0]
    start = time.perf_counter()
    if kind in ("alfa", "aeda", "expgrad", "thresholdopt"):
        est.fit(X_tr, y_tr, sensitive_features=A_tr)
    elif kind == "fairflow":
        est.fit(X_tr, y_tr, fairlatentflow__sensitive_features=A_tr)
    else:
        est.fit(X_tr, y_tr)
    row = {"seed": seed, "setting": label, "family": family, "alpha": spec.get("alpha"),
           "fit_seconds": time.perf_counter() - start, "uses_sensitive_at_predict": uses_A}
    for phase, profile in getattr(est, "fit_profile_", {}).items():
        row[f"{phase}_seconds"] = profile["seconds"]
    test = None
    for part in ("valid", "test"):
        X, y, A = split[part]
        if kind == "thresholdopt":
            pred = est.predict(X, sensitive_features=A, random_state=seed)
        elif kind == "expgrad":
            pred = est.predict(X, random_state=seed)
        else:
            pred = est.predict(X)
        pred = np.asarray(pred)
        row.update({f"{part}_{k}": v
                    for k, v in scores(y, pred, A, extra=settings["method"] == "aeda").items()})
        if part == "test":
            test = (y, pred, A)
    return row, test


@contextlib.contextmanager
def parallel_context(n_jobs=None, dask_scheduler=None):
    """Where the fits run: local processes (joblib) or a Dask cluster.

    Parameters
    ----------
    n_jobs : int or None
        joblib's ``n_jobs`` (None: 1 locally, -1, all workers, on Dask).
    dask_scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``): the grid
        runs under ``joblib.parallel_backend("dask")`` with a
        ``distributed.Client(dask_scheduler)``.

    Yields
    ------
    n_jobs : int
        The value to give ``joblib.Parallel``.

    Raises
    ------
    CommandLineError
        If ``distributed`` is not installed or the scheduler cannot be reached.
    """
    if dask_scheduler is None:
        yield 1 if n_jobs is None else n_jobs
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise CommandLineError(
            "--dask-scheduler needs dask.distributed, which is not installed: "
            "pip install \"skfairlatent[dask]\"") from exc
    from joblib import parallel_backend

    try:
        client = Client(dask_scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise CommandLineError(
            f"cannot connect to the Dask scheduler at {dask_scheduler!r}: {exc}") from exc
    try:
        with parallel_backend("dask"):
            yield -1 if n_jobs is None else n_jobs
    finally:
        client.close()


def run_grid(settings, cands, *, n_jobs=1, log=print):
    """Fit every (seed, setting) with ``joblib.Parallel``, with a tqdm progress bar.

    Returns
    -------
    runs : pandas.DataFrame
        One row per (seed, setting), see :func:`fit_one`.
    predictions : dict
        ``{(seed, label): (y_test, y_pred, A_test)}``.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    tasks = [(seed, label, family, spec) for seed in settings["seeds"]
             for label, family, spec in cands]
    if n_jobs != 1:
        settings = {**settings, "torch_threads": 1}
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(fit_one)(settings, *task) for task in tasks)
    rows, predictions = [], {}
    with tqdm(total=len(tasks), desc=f"{settings['method']} fits", unit="fit",
              file=sys.stderr, dynamic_ncols=True) as bar:
        for row, test in results:
            rows.append(row)
            predictions[(row["seed"], row["setting"])] = test
            bar.update()
            tqdm.write(f"  seed {row['seed']} {row['setting']:45s} acc={row['test_accuracy']:.3f} "
                       f"ΔDP={row['test_delta_dp']:.3f} ΔEOd={row['test_delta_eod']:.3f} "
                       f"({row['fit_seconds']:.1f} s)", file=sys.stdout)
    return pd.DataFrame(rows), predictions


def select_alpha(runs, *, tolerance=0.01):
    """ALFA's α per seed on the validation split.

    The lowest validation ΔEOd among the α whose validation accuracy is at most
    ``tolerance`` below the baseline's (all α when none is); ALFA App. F/H
    choose α per dataset. Adds a boolean ``selected`` column and returns the
    runs with one extra row per seed labelled ``"ALFA (α chosen on validation)"``.
    """
    runs = runs.copy()
    runs["selected"] = False
    alfa_rows = runs.family == "ALFA"
    if not alfa_rows.any():
        return runs
    for seed, group in runs.groupby("seed"):
        base_acc = group.loc[group.setting == "baseline", "valid_accuracy"].iloc[0]
        alfa = group[group.family == "ALFA"]
        eligible = alfa[alfa.valid_accuracy >= base_acc - tolerance]
        pool = eligible if len(eligible) else alfa
        runs.loc[pool.valid_delta_eod.idxmin(), "selected"] = True
    chosen = runs[runs.selected].assign(setting=CHOSEN, family="ALFA, α chosen on validation",
                                        selected=False)
    return pd.concat([runs, chosen], ignore_index=True)


def summarize(runs, metrics=METRICS):
    """Mean and std over seeds of the test scores and fit seconds, one row per setting.

    Returns
    -------
    pandas.DataFrame
        Indexed by setting (in run order) with ``family``, ``n_seeds``,
        ``<metric>_mean``, ``<metric>_std`` for every metric and
        ``fit_seconds``, ``uses_sensitive_at_predict``, ``alphas`` (the α of
        each seed, for the chosen-α row) and ``pareto`` (the mean is on the
        accuracy/ΔEOd front).
    """
    from .model_selection import pareto_mask

    order = list(dict.fromkeys(runs.setting))
    grouped = runs.groupby("setting", sort=False)
    out = pd.DataFrame(index=pd.Index(order, name="setting"))
    out["family"] = grouped.family.first().loc[order]
    out["n_seeds"] = grouped.seed.nunique().loc[order]
    for m in (*metrics, "fit_seconds"):
        col = m if m == "fit_seconds" else f"test_{m}"
        if col not in runs:
            continue
        out[f"{m}_mean"] = grouped[col].mean().loc[order]
        out[f"{m}_std"] = grouped[col].std(ddof=1).loc[order].fillna(0.0)
    out["uses_sensitive_at_predict"] = grouped.uses_sensitive_at_predict.any().loc[order]
    out["alphas"] = [", ".join(f"{a:g}" for a in runs.loc[runs.setting == s, "alpha"].dropna())
                     if s == CHOSEN else "" for s in order]
    out["pareto"] = pareto_mask(out["accuracy_mean"], out["delta_eod_mean"])
    return out


def format_table(summary, metrics=METRICS):
    """The summary as strings ``mean ± std`` (markdown/printing)."""
    table = pd.DataFrame(index=summary.index)
    for m in (*metrics, "fit_seconds"):
        if f"{m}_mean" not in summary:
            continue
        digits = 1 if m == "fit_seconds" else 4
        table[m] = [f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"
                    for mean, std, n in zip(summary[f"{m}_mean"], summary[f"{m}_std"],
                                            summary["n_seeds"])]
    table["Pareto"] = np.where(summary.pareto, "✓", "")
    if (summary.alphas != "").any():
        table["α per seed"] = summary.alphas
    return table


def plot_summary(summary, path, title):
    """Accuracy against ΔEOd for every setting, error bars and the Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_tradeoff_summary

    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    shown = summary.rename(index=lambda s: s.replace("ALFA ", "").replace(" (baseline)", ""))
    plot_tradeoff_summary(shown, group="family", ax=ax,
                          markers={"ALFA, α chosen on validation": "*"})
    ax.set_title(title, fontsize=10)
    if summary.uses_sensitive_at_predict.any():
        fig.text(0.01, 0.01, "† uses the sensitive attribute at predict time", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- #
# AEDA on coloured digits (images: no fairlearn comparison)
# --------------------------------------------------------------------------- #
def run_aeda_images(*, seeds, max_epochs, device, verbose, log=print):
    """AEDA modes against ``mode="none"`` on coloured MNIST (:func:`~skfairlatent.aeda.compare_aeda_modes`)."""
    from tqdm.auto import tqdm

    from .aeda import compare_aeda_modes

    frames = []
    for seed in tqdm(seeds, desc="aeda seeds", file=sys.stderr):
        (X_tr, y_tr, A_tr), (X_te, y_te, A_te) = datasets.load_colored_mnist(
            random_state=seed, return_X_y_A=True)
        frame = compare_aeda_modes(X_tr, y_tr, A_tr, X_te, y_te, A_te, random_state=seed,
                                   max_epochs=max_epochs, device=device, verbose=verbose)
        frames.append(frame.reset_index().assign(seed=seed))
        log(frame.to_string())
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- #
# LASSI
# --------------------------------------------------------------------------- #
def run_lassi(dataset, *, seeds, max_epochs, device, verbose, max_rows=None, certify_rows=200,
              log=print):
    """Naive (λ_adv = 0) and LASSI representations, smoothed classifiers and certificates.

    Per seed: one flow (:class:`~skfairlatent.lassi.FlowTransformer`) shared by
    both representations; a linear :class:`~skfairlatent.CertifiedSmoothClassifier`
    (σ_rs = 1) on each representation; accuracy of the smoothed classifier on the
    whole test split; :func:`~skfairlatent.smoothing.certify_individual_fairness`
    (LASSI Alg. 1, reduced sample sizes ``LASSI_CERTIFY``) on ``certify_rows``
    evenly spaced test rows (0: all), in chunks under a progress bar.

    Returns
    -------
    runs : pandas.DataFrame
        One row per (seed, method): accuracy, certified, abstain, mean d_cs,
        mean d_rs, seconds per certified point, fit seconds.
    radii : pandas.DataFrame
        Per certified row: seed, method, d_cs, d_rs, certified, abstain.
    """
    from tqdm.auto import tqdm

    from .lassi import FlowTransformer, LASSIRepresentation
    from .smoothing import CertifiedSmoothClassifier, certify_individual_fairness

    rows, radii = [], []
    for seed in seeds:
        split = load_split(dataset, seed, max_rows=max_rows)
        (X_tr, y_tr, A_tr), (X_te, y_te, A_te) = split["train"], split["test"]
        n_cert = len(X_te) if not certify_rows else min(certify_rows, len(X_te))
        idx = np.linspace(0, len(X_te) - 1, n_cert).round().astype(int)
        start = time.perf_counter()
        log(f"  seed {seed}: fitting the flow ({max_epochs} epochs)")
        flow = FlowTransformer(max_epochs=max_epochs, device=device, random_state=seed,
                               verbose=verbose).fit(X_tr)
        flow_seconds = time.perf_counter() - start
        for label, lambda_adv in (("Naive (λ_adv=0)", 0.0), (f"LASSI (λ_adv={LASSI_LAMBDA_ADV:g})",
                                                             LASSI_LAMBDA_ADV)):
            start = time.perf_counter()
            rep = LASSIRepresentation(flow=flow, lambda_adv=lambda_adv, max_epochs=max_epochs,
                                      device=device, random_state=seed, verbose=verbose)
            rep.fit(X_tr, y_tr, sensitive_features=A_tr)
            clf = CertifiedSmoothClassifier(sigma=LASSI_SIGMA_RS, max_epochs=max_epochs,
                                            device=device, random_state=seed, verbose=verbose)
            clf.fit(rep.transform(X_tr), y_tr)
            fit_seconds = time.perf_counter() - start
            pred = clf.predict(rep.transform(X_te))
            start = time.perf_counter()
            chunks = np.array_split(idx, max(1, math.ceil(len(idx) / 25)))
            parts = [certify_individual_fairness(rep, clf, X_te[chunk], random_state=seed,
                                                 **LASSI_CERTIFY)
                     for chunk in tqdm(chunks, desc=f"certify {label} seed {seed}",
                                       unit="chunk", file=sys.stderr)]
            cert = pd.concat(parts, ignore_index=True)
            cert_seconds = time.perf_counter() - start
            row = {"seed": seed, "method": label, "lambda_adv": lambda_adv,
                   "accuracy": accuracy_score(y_te, pred),
                   "certified_percent": 100 * float(cert.certified.mean()),
                   "abstain_percent": 100 * float(cert.abstain.mean()),
                   "mean_d_cs": float(np.nanmean(cert.d_cs)) if cert.d_cs.notna().any() else np.nan,
                   "mean_d_rs": float(np.nanmean(cert.d_rs)) if cert.d_rs.notna().any() else np.nan,
                   "seconds_per_point": cert_seconds / len(idx), "n_certified_rows": len(idx),
                   "fit_seconds": fit_seconds, "flow_fit_seconds": flow_seconds,
                   **{f"test_{k}": v for k, v in scores(y_te, pred, A_te).items()
                      if k != "accuracy"}}
            rows.append(row)
            radii.append(cert[["d_cs", "d_rs", "certified", "abstain"]].assign(seed=seed,
                                                                               method=label))
            log(f"  seed {seed} {label}: accuracy={row['accuracy']:.3f} "
                f"certified={row['certified_percent']:.1f}% abstain={row['abstain_percent']:.1f}% "
                f"mean d_cs={row['mean_d_cs']:.3g} mean d_rs={row['mean_d_rs']:.3g} "
                f"({row['seconds_per_point']:.3f} s/point)")
    return pd.DataFrame(rows), pd.concat(radii, ignore_index=True)


def plot_lassi_radii(radii, path, title):
    """Histograms of d_cs (representation radius) and d_rs (classifier radius) per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(radii.method))
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 3.8), squeeze=False)
    values = np.concatenate([radii.d_cs.dropna(), radii.d_rs.dropna()])
    positive = values[values > 0]
    lo, hi = (positive.min(), positive.max()) if len(positive) else (1e-3, 1.0)
    bins = np.geomspace(max(lo, 1e-4) / 1.1, hi * 1.1, 40)
    for ax, method in zip(axes[0], methods):
        part = radii[radii.method == method]
        ax.hist(part.d_cs.dropna().clip(lower=bins[0]), bins=bins, alpha=0.6,
                label="d_cs (center smoothing of R)")
        ax.hist(part.d_rs.dropna().clip(lower=bins[0]), bins=bins, alpha=0.6,
                label="d_rs (certified radius of C)")
        ax.set_xscale("log")
        ax.set_xlabel("radius (representation units, log scale)")
        ax.set_ylabel("test rows")
        ax.set_title(f"{method}: certified {100 * part.certified.mean():.0f}% "
                     f"(d_cs < d_rs), abstain {100 * part.abstain.mean():.0f}%", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- #
# FLDGM
# --------------------------------------------------------------------------- #
def fldgm_frames(dataset, seed, *, max_rows=None, test=0.3):
    """Raw (unencoded) train/test frames with the label and sensitive columns.

    Returns ``(X_tr, y_tr, A_tr, X_te, y_te, A_te, target, sensitive)``; the
    split is 70/30, stratified on (label, group).
    """
    X, y, A = TABULAR[dataset](return_X_y_A=True)
    X, y, A = _subsample(X, y, A, max_rows, seed)
    target = y.name or "target"
    sensitive = A.name or "sensitive"
    strata = y.astype(str) + "|" + A.astype(str)
    X_tr, X_te, y_tr, y_te, A_tr, A_te = train_test_split(
        X, y, A, test_size=test, random_state=seed, stratify=strata)
    return (X_tr.rename(columns=str), y_tr.rename(target), A_tr.rename(sensitive),
            X_te.rename(columns=str), y_te.rename(target), A_te.rename(sensitive), target, sensitive)


def _with_columns(X, y, A, target, sensitive):
    frame = X.copy()
    if sensitive not in frame.columns:
        frame[sensitive] = A.to_numpy()
    frame[target] = y.to_numpy()
    return frame


def run_fldgm(dataset, *, seeds, max_epochs, device, verbose, max_rows=None, log=print):
    """FLDGM (fair VAE with the default α = 1, dCor² penalty, latent DDPM) and the α = 0 control.

    Per seed: both synthesizers are fitted on the training frame (stage 1 with
    ``max_epochs`` epochs, the DDPM with ``4 × max_epochs``), each samples as
    many rows as the training split, and :func:`~skfairlatent.fldgm.evaluate_synthetic`
    scores the real training rows and both samples against the real test rows.

    Returns
    -------
    runs : pandas.DataFrame
        One row per (seed, data): the ``evaluate_synthetic`` keys and fit seconds.
    samples : dict
        ``{"real": train frame, label: synthetic frame}`` of the first seed.
    meta : dict
        ``target`` and ``sensitive`` column names.
    """
    from tqdm.auto import tqdm

    from .fldgm import FairLatentSynthesizer, evaluate_synthetic

    plan = [("FLDGM (fair, α=1)", 1.0), ("no fairness (α=0)", 0.0)]
    rows, samples = [], {}
    with tqdm(total=len(seeds) * (1 + 2 * len(plan)), desc="fldgm", unit="step",
              file=sys.stderr) as bar:
        for seed in seeds:
            X_tr, y_tr, A_tr, X_te, y_te, A_te, target, sensitive = fldgm_frames(
                dataset, seed, max_rows=max_rows)
            real_tr = _with_columns(X_tr, y_tr, A_tr, target, sensitive)
            real_te = _with_columns(X_te, y_te, A_te, target, sensitive)
            pos_label = sorted(pd.unique(y_tr))[-1]

            def evaluate(frame):
                return evaluate_synthetic(real_tr, real_te, frame[real_tr.columns], target=target,
                                          sensitive=sensitive, pos_label=pos_label,
                                          random_state=seed)

            bar.set_description(f"fldgm seed {seed}: evaluate real data")
            rows.append({"seed": seed, "data": "real data", "fit_seconds": 0.0,
                         **evaluate(real_tr)})
            bar.update()
            if seed == seeds[0]:
                samples["real"] = real_tr
            for label, alpha in plan:
                bar.set_description(f"fldgm seed {seed}: fit {label}")
                start = time.perf_counter()
                syn = FairLatentSynthesizer(alpha=alpha, vae_max_epochs=max_epochs,
                                            generator_max_epochs=4 * max_epochs, batch_size=256,
                                            device=device, random_state=seed, verbose=verbose)
                syn.fit(X_tr, y_tr, sensitive_features=A_tr)
                fit_seconds = time.perf_counter() - start
                bar.update()
                bar.set_description(f"fldgm seed {seed}: sample and evaluate {label}")
                fake = syn.sample(len(X_tr), random_state=seed)
                fake = _with_columns(fake.drop(columns=[target]), fake[target],
                                     fake[sensitive] if sensitive in fake else A_tr,
                                     target, sensitive)[real_tr.columns]
                rows.append({"seed": seed, "data": label, "fit_seconds": fit_seconds,
                             **evaluate(fake)})
                bar.update()
                if seed == seeds[0]:
                    samples[label] = fake
                log(f"  seed {seed} {label}: " + ", ".join(
                    f"{k}={v:.3f}" for k, v in rows[-1].items() if k not in ("seed", "data")))
    return pd.DataFrame(rows), samples, {"target": target, "sensitive": sensitive}


def plot_fldgm(samples, meta, path, title, n_columns=3):
    """Marginals of a few columns and P(label | group), real versus synthetic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = samples["real"]
    target, sensitive = meta["target"], meta["sensitive"]
    features = [c for c in real.columns if c not in (target, sensitive)]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(real[c])]
    numeric = sorted((c for c in features if c not in categorical),
                     key=lambda c: -real[c].nunique())   # the most informative first
    shown = (categorical[:n_columns - 1] + numeric[:1])
    shown = (shown + [c for c in features if c not in shown])[:n_columns]
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(4.2 * (len(shown) + 1), 3.8))
    names = list(samples)
    width = 0.8 / len(names)
    for ax, col in zip(axes, shown):
        if col in categorical:
            cats = list(pd.Series(real[col]).astype(str).value_counts().index[:8])
            for k, name in enumerate(names):
                freq = samples[name][col].astype(str).value_counts(normalize=True)
                ax.bar(np.arange(len(cats)) + k * width, [freq.get(c, 0.0) for c in cats],
                       width=width, label=name)
            ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2)
            ax.set_xticklabels([c[:14] for c in cats], rotation=35, ha="right", fontsize=7)
            ax.set_ylabel("frequency")
        else:
            values = pd.to_numeric(real[col], errors="coerce").dropna()
            bins = np.histogram_bin_edges(values, bins=20)
            for name in names:
                ax.hist(pd.to_numeric(samples[name][col], errors="coerce").dropna(), bins=bins,
                        density=True, histtype="step", linewidth=1.5, label=name)
            ax.set_ylabel("density")
        ax.set_title(col, fontsize=9)
    ax = axes[-1]
    groups = sorted(pd.unique(real[sensitive].astype(str)))
    pos = sorted(pd.unique(real[target]))[-1]
    for k, name in enumerate(names):
        frame = samples[name]
        rates = [float((frame.loc[frame[sensitive].astype(str) == g, target] == pos).mean())
                 for g in groups]
        ax.bar(np.arange(len(groups)) + k * width, rates, width=width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_title(f"P({target} = {pos} | {sensitive})", fontsize=9)
    handles, legend_labels = ax.get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=len(names), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean_std_table(runs, by, columns):
    agg = runs.groupby(by, sort=False)[columns].agg(["mean", "std"])
    table = pd.DataFrame(index=agg.index)
    for col in columns:
        table[col] = [f"{m:.3f}" if np.isnan(s) else f"{m:.3f} ± {s:.3f}"
                      for m, s in agg[col].itertuples(index=False)]
    return table


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #
def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers between 0 and 2**32 - 1; got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers between 0 and 2**32 - 1; got {text!r}")
    return value


def _alpha(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"α must be a number >= 0; got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"α must be a finite number >= 0; got {text!r}")
    return value


def _positive_int(name, minimum=1):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer >= {minimum}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}; got {text!r}")
        return value
    return parse


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--n-jobs must be a non-zero integer (-1: all cores); got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("--n-jobs must be a non-zero integer (-1: all cores); got 0")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skfairlatent",
        description="Run a latent-space fairness method on real data (offline) beside its "
                    "baseline and fairlearn, print a table and a MetricFrame by group, and save "
                    "the table (markdown, JSON) and plots (PNG).")
    parser.add_argument("--method", default="alfa", help=f"one of {', '.join(METHODS)} (default: alfa)")
    parser.add_argument("--dataset", default="compas",
                        help=f"one of {', '.join(DATASETS)} (default: compas)")
    parser.add_argument("--model", default="mlp",
                        help="mlp or logistic: ALFA's network and the sklearn model of the "
                             "comparison (AEDA always uses the MLP; default: mlp)")
    parser.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1],
                        help="one split and one fit per seed (default: 0 1)")
    parser.add_argument("--alphas", type=_alpha, nargs="+", default=list(DEFAULT_ALPHAS),
                        help="ALFA's α grid (default: 0 0.1 1 10; the paper's is "
                             "0 0.001 0.01 0.1 1 10)")
    parser.add_argument("--max-epochs", type=_positive_int("--max-epochs"), default=None,
                        help="training epochs of each network (default: 10; lassi and fldgm 20)")
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                        help="add the plain sklearn model, fairlearn's ExponentiatedGradient"
                             "(EqualizedOdds()) and ThresholdOptimizer(equalized_odds) on the "
                             "same splits (default: on for alfa, aeda and fairflow on tabular data)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None,
                        help="parallel fits of the grid of seeds and settings (joblib; -1: all "
                             "cores; default 1, or all Dask workers with --dask-scheduler)")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS", default=None,
                        help="run the fits on a Dask cluster (e.g. tcp://host:8786); needs "
                             "pip install \"skfairlatent[dask]\"")
    parser.add_argument("--certify-rows", type=_positive_int("--certify-rows", 0), default=200,
                        help="lassi: evenly spaced test rows to certify (0: all; default 200)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--output", default="skfairlatent_output", help="output folder")
    parser.add_argument("--verbose", type=_positive_int("--verbose", 0), default=0)
    parser.add_argument("--max-rows", type=_positive_int("--max-rows", 50), default=None,
                        help=argparse.SUPPRESS)   # stratified subsample (tests, smoke runs)
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
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct; got {' '.join(map(str, args.seeds))}")
    if len(set(args.alphas)) != len(args.alphas):
        parser.error(f"--alphas must be distinct; got {' '.join(f'{a:g}' for a in args.alphas)}")
    comparable = args.method in COMPARABLE and args.dataset != "colored_mnist"
    if args.compare and not comparable:
        parser.error("--compare is available for alfa, aeda and fairflow on tabular data "
                     f"(not --method {args.method} --dataset {args.dataset})")
    args.compare = comparable if args.compare is None else args.compare
    if args.max_epochs is None:
        args.max_epochs = 20 if args.method in ("lassi", "fldgm") else 10
    device = str(args.device)
    if not (device in ("auto", "cpu") or device == "cuda" or
            (device.startswith("cuda:") and device[5:].isdigit())):
        parser.error(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    if device.startswith("cuda") and args.dask_scheduler is None:   # workers may have GPUs
        import torch

        if not torch.cuda.is_available():
            parser.error(f"--device {device}: CUDA is not available on this machine; "
                         "use --device auto or cpu")
    if args.dask_scheduler is not None and args.method not in COMPARABLE:
        parser.error("--dask-scheduler runs the grid of alfa, aeda and fairflow; "
                     f"--method {args.method} runs in this process")
    if args.dask_scheduler is not None and args.dataset == "colored_mnist":
        parser.error("--dask-scheduler is not available for --dataset colored_mnist")


@contextlib.contextmanager
def staged_output(output):
    """A temporary folder inside ``output``, moved into place only on success.

    Yields the temporary folder; on a clean exit its files replace those of
    the same name in ``output``; on an exception it is removed (and so is
    ``output`` if this call created it and it is empty), so a failed run
    leaves no partial file.

    Raises
    ------
    CommandLineError
        If ``output`` cannot be created or written to.
    """
    output = Path(output)
    created = not output.exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".skfairlatent-partial-", dir=output))
    except OSError as exc:
        raise CommandLineError(
            f"cannot write to the output folder {str(output)!r}: "
            f"{exc.strerror or exc}") from exc
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    for path in sorted(stage.iterdir()):
        os.replace(path, output / path.name)
    stage.rmdir()


def _print_frames(frames, seed):
    for label, (y, pred, A) in frames.items():
        print(f"\nMetricFrame by group: {label} (seed {seed}, test split)")
        print(metric_frame(y, pred, A).by_group.round(4).to_string())


def _run_grid_method(args, stage, stem, n_jobs):
    settings = dict(method=args.method, dataset=args.dataset, model=args.model,
                    seeds=list(args.seeds), max_epochs=args.max_epochs, device=args.device,
                    verbose=args.verbose, max_rows=args.max_rows)
    cands = candidates(args.method, model=args.model, alphas=args.alphas, compare=args.compare)
    runs, predictions = run_grid(settings, cands, n_jobs=n_jobs)
    runs = select_alpha(runs)
    metrics = METRICS + (("balanced_group_accuracy", "model_bias") if args.method == "aeda" else ())
    summary = summarize(runs, metrics)
    table = format_table(summary, metrics)
    print("\nTest scores (mean ± std over seeds "
          f"{' '.join(map(str, args.seeds))}; ✓ = on the accuracy/ΔEOd Pareto front of the means):")
    print(table.to_string())
    if summary.uses_sensitive_at_predict.any():
        print("† uses the sensitive attribute at predict time (not available to the other methods)")
    seed = args.seeds[0]
    if args.method == "alfa":
        chosen = runs[(runs.setting == CHOSEN) & (runs.seed == seed)].iloc[0]
        frames = {"baseline": predictions[(seed, "baseline")],
                  f"ALFA α={chosen.alpha:g} (chosen on validation)":
                      predictions[(seed, f"ALFA α={chosen.alpha:g}")]}
    else:
        frames = {label: predictions[(seed, label)] for label, family, _ in cands
                  if family.startswith(("baseline", "plain", "AEDA", "FairLatentFlow"))}
    _print_frames(frames, seed)
    md = table.to_markdown() + "\n"
    if summary.uses_sensitive_at_predict.any():
        md += "\n† uses the sensitive attribute at predict time.\n"
    (stage / f"{stem}_table.md").write_text(md)
    summary.reset_index().to_json(stage / f"{stem}_table.json", orient="records", indent=2)
    runs.to_json(stage / f"{stem}_runs.json", orient="records", indent=2)
    plot_summary(summary, stage / f"{stem}_tradeoff.png",
                 f"{args.method} on {args.dataset} ({args.model}), {len(args.seeds)} seeds, "
                 f"{args.max_epochs} epochs")
    return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_runs.json", f"{stem}_tradeoff.png"]


def main(argv=None):
    """Entry point of the ``skfairlatent`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    stem = f"{args.method}_{args.dataset}" + (
        f"_{args.model}" if args.method in ("alfa", "aeda") and args.dataset != "colored_mnist"
        else "")
    start = time.perf_counter()
    try:
        with staged_output(args.output) as stage, \
                parallel_context(args.n_jobs, args.dask_scheduler) as n_jobs:
            where = (f"Dask scheduler {args.dask_scheduler}" if args.dask_scheduler
                     else f"n_jobs={n_jobs}")
            print(f"skfairlatent: {args.method} on {args.dataset}, seeds "
                  f"{' '.join(map(str, args.seeds))}, {args.max_epochs} epochs, device "
                  f"{args.device}, {where}" + (", with the fairlearn comparison"
                                               if args.compare else ""))
            warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
            written = _run(args, stage, stem, n_jobs)
            config = {**vars(args), "seconds": round(time.perf_counter() - start, 1)}
            (stage / f"{stem}_config.json").write_text(json.dumps(config, indent=2))
            written.append(f"{stem}_config.json")
    except CommandLineError as exc:
        parser.error(str(exc))
    print(f"\nWrote {', '.join(written)} to {args.output}/ "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


def _run(args, stage, stem, n_jobs):
    common = dict(seeds=list(args.seeds), max_epochs=args.max_epochs, device=args.device,
                  verbose=args.verbose)
    if args.method in COMPARABLE and args.dataset != "colored_mnist":
        return _run_grid_method(args, stage, stem, n_jobs)
    if args.method == "aeda":
        runs = run_aeda_images(**common)
        table = runs.groupby("mode", sort=False).agg(["mean", "std"]).drop(columns="seed", level=0)
        print("\nTest scores (mean, std over seeds):")
        print(table.to_string())
        (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
        runs.to_json(stage / f"{stem}_runs.json", orient="records", indent=2)
        return [f"{stem}_table.md", f"{stem}_runs.json"]
    if args.method == "lassi":
        runs, radii = run_lassi(args.dataset, max_rows=args.max_rows,
                                certify_rows=args.certify_rows, **common)
        columns = ["accuracy", "certified_percent", "abstain_percent", "mean_d_cs", "mean_d_rs",
                   "seconds_per_point", "fit_seconds", "test_delta_dp", "test_delta_eod"]
        table = _mean_std_table(runs, "method", columns)
        print(f"\nLASSI on {args.dataset} (mean ± std over seeds; certification of "
              f"{int(runs.n_certified_rows.iloc[0])} test rows, LASSI Alg. 1 with CS "
              f"n0=n={LASSI_CERTIFY['n_cs']}, RS n0={LASSI_CERTIFY['n0_rs']}, "
              f"n={LASSI_CERTIFY['n_rs']}, σ_rs={LASSI_SIGMA_RS:g}):")
        print(table.to_string())
        (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
        runs.to_json(stage / f"{stem}_table.json", orient="records", indent=2)
        radii.to_csv(stage / f"{stem}_radii.csv", index=False)
        plot_lassi_radii(radii, stage / f"{stem}_radii.png",
                         f"LASSI on {args.dataset}: certified iff d_cs < d_rs "
                         f"({len(args.seeds)} seed{'s' if len(args.seeds) > 1 else ''})")
        return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_radii.csv",
                f"{stem}_radii.png"]
    runs, samples, meta = run_fldgm(args.dataset, max_rows=args.max_rows, **common)
    metric_columns = [c for c in runs.columns if c not in ("seed", "data")]
    table = _mean_std_table(runs, "data", metric_columns)
    print(f"\nFLDGM on {args.dataset}: a random forest trained on each data, tested on real "
          "test rows; fidelity against the real training rows (mean ± std over seeds):")
    print(table.to_string())
    (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
    runs.to_json(stage / f"{stem}_table.json", orient="records", indent=2)
    fair_label = next(k for k in samples if k.startswith("FLDGM"))
    samples[fair_label].to_csv(stage / f"{stem}_synthetic.csv", index=False)
    plot_fldgm(samples, meta, stage / f"{stem}_marginals.png",
               f"FLDGM on {args.dataset} (seed {args.seeds[0]}): real vs synthetic")
    return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_synthetic.csv",
            f"{stem}_marginals.png"]


if __name__ == "__main__":
    sys.exit(main())
