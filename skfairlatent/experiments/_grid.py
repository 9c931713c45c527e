"""The grid of (seed, setting) fits and where it runs: local processes or a Dask cluster.

One task of the grid fits one setting (an estimator built by
:func:`candidates` + the private factory) on one seed's split and scores it;
:func:`run_grid` runs the tasks with ``joblib.Parallel`` inside
:func:`parallel_context`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd

from ._scoring import scores
from ._splits import load_split

#: ALFA's α grid in the paper (Jung et al., ICLR 2025).
PAPER_ALPHAS = (0.0, 0.001, 0.01, 0.1, 1.0, 10.0)
#: The command's default α grid (a short run).
DEFAULT_ALPHAS = (0.0, 0.1, 1.0, 10.0)
#: Hidden layer sizes of the ``--model`` choices (``()``: logistic regression).
MODELS = {"mlp": (128, 128), "logistic": ()}
#: AEDA's modes fitted by the grid (``"none"`` is the baseline).
AEDA_MODES = ("none", "pre", "online", "robust")
#: Marks the settings that use the sensitive attribute at predict time.
USES_A = " †"
#: Label of fairlearn's ``ThresholdOptimizer(constraints="equalized_odds")``.
TO_LABEL = "ThresholdOptimizer(equalized_odds)" + USES_A
#: Label of fairlearn's ``ExponentiatedGradient(model, EqualizedOdds())``.
EG_LABEL = "ExponentiatedGradient(EqualizedOdds)"


# torch's random generator and thread count are process-wide: two fits running in
# threads of one process (a Dask worker with several threads) would draw from the
# same generator and give results that depend on timing. One fit at a time per
# process keeps every fit reproducible; run Dask workers with one thread each and
# as many worker processes as cores.
_FIT_LOCK = threading.Lock()


class CommandLineError(ValueError):
    """A value given on the command line cannot be used (reported as a usage error)."""


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
        out.append(("baseline", "baseline (same network, no ALFA)",
                    {"kind": "alfa", "alpha": None}))
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
        from ..alfa import ALFAClassifier

        params = dict(hidden_layer_sizes=MODELS[settings["model"]], keep_attack_data=False,
                      **common)
        if spec["alpha"] is None:
            return ALFAClassifier(lambda_=0.0, **params)
        return ALFAClassifier(alpha=spec["alpha"], **params)
    if kind == "aeda":
        from ..aeda import AEDAClassifier

        return AEDAClassifier(spec["mode"], hidden_layer_sizes=MODELS["mlp"], **common)
    if kind == "fairflow":
        from sklearn.pipeline import make_pipeline

        from ..fair_flow import FairLatentFlow

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

