"""Code the benchmark scripts share: result writing with provenance, table cells, data
splits and helpers used by a headline script and its studies.

Headline scripts (``benchmarks/*.py``) import this module as ``_common`` (Python puts
the script's folder first on ``sys.path``); studies run as modules from the repository
root (``python -m benchmarks.studies.<method>.<script>``) and import it as
``benchmarks._common``. No script imports another script.

Sections: provenance and result files; ALFA (row subsampling, shared pretraining);
FLDGM (Adult/COMPAS frames, the threshold control, ExponentiatedGradient with
DemographicParity, latent scores of coloured digits); FairLatentFlow (splits, the MLP
encoder, scores, one flow row); LASSI (coloured-digit tasks and certification sizes).
"""

from __future__ import annotations

import datetime
import json
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"


def study_results(method):
    """``benchmarks/studies/<method>/results``: where a study of ``method`` writes."""
    return BENCHMARKS / "studies" / method / "results"


# --------------------------------------------------------------------------------------
# provenance and result files
# --------------------------------------------------------------------------------------

def git_commit():
    """``git rev-parse --short HEAD``, plus ``+dirty`` when the work tree has changes.

    Result folders are left out of the check: a run that writes several result
    files would otherwise call its own earlier outputs a dirty tree.
    """
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                    ":(exclude)benchmarks/results", ":(exclude)benchmarks/studies/*/results")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def command_line(argv=None):
    """The command that runs this process: ``python benchmarks/<script> <args>``, or
    ``python -m <module> <args>`` for a script run as a module."""
    argv = list(sys.argv if argv is None else argv)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name != "__main__" and argv and argv[0].endswith(".py"):
        program = f"-m {spec.name}"
    elif not argv or not argv[0].endswith(".py"):  # python -c, stdin, an interpreter
        program = argv[0] if argv and argv[0] else "-c"
    else:
        script = Path(argv[0]).resolve() if argv else Path("?")
        try:
            program = str(script.relative_to(ROOT))
        except ValueError:
            program = str(script)
    return f"python {program} {shlex.join(argv[1:])}".rstrip()


def provenance(argv=None):
    """``{"command", "date", "commit"}`` of this run (date in UTC)."""
    return {"command": command_line(argv),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit()}


def provenance_line(info):
    """The first line of every result markdown file."""
    return (f"> Made by `{info['command']}` on {info['date']} at commit {info['commit']}.\n\n")


def load_runs(path):
    """The rows of an appending study's JSON file (``[]`` when it does not exist yet).

    Files written by :func:`write_result` hold them under ``"runs"``; older
    files are a bare list. Earlier rows are kept and new ones appended.
    """
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    return rows["runs"] if isinstance(rows, dict) else rows


def write_result(path_stem, markdown, data, argv=None, *, indent=1):
    """Write ``<path_stem>.md`` and ``<path_stem>.json``, each starting with its provenance.

    Parameters
    ----------
    path_stem : str or Path
        The result path without suffix, e.g. ``benchmarks/results/alfa_speed``.
    markdown : str or None
        The table; the provenance line is prepended. ``None`` writes no ``.md``.
    data : dict, list or None
        The JSON payload. A dict gets a first key ``"provenance"``; a list (records) is
        stored as ``{"provenance": ..., "runs": [...]}`` (read it back with
        :func:`read_records`). ``None`` writes no ``.json``.
    argv : list of str, optional
        The command line (default ``sys.argv``).
    indent : int
        JSON indentation.

    Returns
    -------
    dict
        The provenance written.
    """
    info = provenance(argv)
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if markdown is not None:
        stem.with_name(stem.name + ".md").write_text(provenance_line(info) + markdown)
    if data is not None:
        payload = ({"provenance": info, **data} if isinstance(data, dict)
                   else {"provenance": info, "runs": list(data)})
        stem.with_name(stem.name + ".json").write_text(json.dumps(payload, indent=indent))
    return info


def records(frame):
    """A DataFrame as JSON-ready records, formatted as ``DataFrame.to_json`` writes them."""
    return json.loads(frame.to_json(orient="records"))


def read_records(path):
    """The runs of a result JSON: a list of records, or the ``"runs"`` of a dict."""
    data = json.loads(Path(path).read_text())
    return pd.DataFrame(data["runs"] if isinstance(data, dict) else data)


def mean_std(values, digits=3):
    """A table cell: mean ± standard deviation (ddof=0) over seeds."""
    values = np.asarray(values, dtype=float)
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


# --------------------------------------------------------------------------------------
# ALFA
# --------------------------------------------------------------------------------------

def subsample_rows(X, y, A, n_rows, seed):
    """A subsample of about ``n_rows`` rows, stratified by (y, A); all rows when ``None``."""
    if n_rows is None or n_rows >= len(X):
        return X, y, A
    rng = np.random.default_rng(seed)
    cells = pd.Series(y).astype(str).values + "|" + pd.Series(A).astype(str).values
    keep = []
    for cell in np.unique(cells):
        rows = np.flatnonzero(cells == cell)
        keep.append(rng.choice(rows, max(1, round(len(rows) * n_rows / len(X))), replace=False))
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep], A[keep]


class PretrainCache:
    """One ALFA pretraining per key, reused by fits that differ only after pretraining.

    ``cache.estimator_class`` is a local subclass of :class:`~skfairlatent.ALFAClassifier`
    whose pretraining step, for the current ``cache.key``, returns a copy of the cached
    network and restores the torch random state that followed it, so that each fit is
    what a fresh ``fit`` with the same ``random_state`` returns. Each fitted estimator
    gets ``cached_pretrain_seconds`` (the cached pretraining's time on a cache hit, 0
    on the fit that filled it). ``ALFAClassifier`` itself is not changed.

    The subclass overrides ``_pretrain(X, targets, device)``, a step that
    ``ALFAClassifier`` documents as overridable.
    """

    def __init__(self):
        self.store = {}
        self.key = None
        self.estimator_class = self._make_class()

    def clear(self):
        self.store.clear()

    def _make_class(self):
        import copy

        import torch

        from skfairlatent import ALFAClassifier

        cache = self

        class CachedPretrainALFAClassifier(ALFAClassifier):
            def _pretrain(self, *args, **kwargs):
                if cache.key in cache.store:
                    net, rng_state, n_outputs, seconds = cache.store[cache.key]
                    torch.set_rng_state(rng_state)
                    self.n_outputs_ = n_outputs
                    self.cached_pretrain_seconds = seconds
                    return copy.deepcopy(net)
                start = time.perf_counter()
                net = super()._pretrain(*args, **kwargs)
                seconds = time.perf_counter() - start
                cache.store[cache.key] = (copy.deepcopy(net), torch.get_rng_state(),
                                          self.n_outputs_, seconds)
                self.cached_pretrain_seconds = 0.0
                return net

        return CachedPretrainALFAClassifier


# --------------------------------------------------------------------------------------
# FLDGM
# --------------------------------------------------------------------------------------

def fldgm_frames(dataset, args, seed):
    """Training rows and held-out real test rows for one seed (FLDGM benchmarks).

    Adult: ``args.n_train`` rows (stratified on the label) to train on and
    ``args.n_test`` other rows to test on -- a large real test set, because the DP of a
    fair classifier on ~1,800 rows has a sampling error of about 0.02, the size of the
    target. The positive class is income <=50K as in the authors' code. COMPAS: all
    7,214 rows, 70/30; positive class ``two_year_recid == 1``.

    Returns ``[X_tr, X_te, y_tr, y_te, A_tr, A_te, pos_label]``.
    """
    from sklearn.model_selection import train_test_split

    from skfairlatent.datasets import load_adult, load_compas

    if dataset == "adult":
        X, y, A = load_adult(return_X_y_A=True)
        y = pd.Series(np.where(y == 1, ">50K", "<=50K"), name="income")
        pos = "<=50K"
        X_tr, X_rest, y_tr, y_rest, A_tr, A_rest = train_test_split(
            X, y, A, train_size=args.n_train, stratify=y, random_state=seed)
        X_te, _, y_te, _, A_te, _ = train_test_split(
            X_rest, y_rest, A_rest, train_size=args.n_test, stratify=y_rest, random_state=seed)
        return [X_tr, X_te, y_tr, y_te, A_tr, A_te, pos]
    X, y, A = load_compas(return_X_y_A=True)
    y = y.rename("two_year_recid")
    return train_test_split(X, y, A, test_size=0.3, stratify=y, random_state=seed) + [1]


def fldgm_tuning_split(n_rows, seed=100):
    """An Adult tuning split: ``n_rows`` rows drawn with ``seed`` (stratified), 70/30."""
    from sklearn.model_selection import train_test_split

    from skfairlatent.datasets import load_adult

    X, y, A = load_adult(return_X_y_A=True)
    y = pd.Series(np.where(y == 1, ">50K", "<=50K"), name="income")
    X, _, y, _, A, _ = train_test_split(X, y, A, train_size=n_rows, stratify=y, random_state=seed)
    return train_test_split(X, y, A, test_size=0.3, stratify=y, random_state=seed)


def parse_params(setting):
    """``"alpha=1,condition_encoder=False"`` -> ``{"alpha": 1, "condition_encoder": False}``.

    ``True``/``False`` become booleans, numbers with ``.`` or ``e`` floats, other numbers
    ints, anything else stays a string.
    """
    params = {}
    for item in setting.split(","):
        key, value = item.split("=")
        if value in ("True", "False"):
            params[key] = value == "True"
            continue
        try:
            params[key] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            params[key] = value
    return params


def real_forest_scores(real_tr, real_te, target, pos, seed):
    """Scores P(y = pos) on the real test rows of a forest trained on the real rows.

    Built like the forest of ``evaluate_synthetic`` (100 trees, one-hot categoricals,
    sex a feature) but seeded with ``seed``, so it is the same kind of classifier as the
    "Real data" row, not the identical fit.
    """
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    features = [c for c in real_tr.columns if c != target]
    model = make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include="category")),
        remainder="passthrough"), RandomForestClassifier(n_estimators=100, random_state=seed))
    model.fit(real_tr[features], real_tr[target])
    return model.predict_proba(real_te[features])[:, list(model.classes_).index(pos)]


def dp_at_positive_rate(scores, sensitive, rate):
    """DP of the real-data forest thresholded to label a share ``rate`` of rows positive.

    The threshold control: a classifier that labels almost every row alike has a small
    DP whatever its training data, so a synthesizer's DP is compared with the real-data
    forest moved to the same positive rate (no fairness method at all).
    """
    positive = scores >= np.quantile(scores, 1.0 - min(max(rate, 0.0), 1.0))
    rates = [positive[sensitive == g].mean() for g in np.unique(sensitive)]
    return float(max(rates) - min(rates))


def expgrad_positive_proba(model, X):
    """P(prediction = 1) of a fitted fairlearn ``ExponentiatedGradient`` (binary task).

    The randomized classifier predicts with predictor ``t`` with probability
    ``weights_[t]``, so this is ``sum_t weights_[t] * predictors_[t].predict(X)``,
    computed from the public ``predictors_`` and ``weights_`` in the order fairlearn
    uses (fairlearn 0.15 has no public probability method).
    """
    hard = {}
    for t in range(len(model.predictors_)):
        hard[t] = (np.zeros(len(X)) if model.weights_[t] == 0
                   else model.predictors_[t].predict(X))
    hard = pd.DataFrame(hard)
    return hard[model.weights_.index].dot(model.weights_).to_numpy()


def expgrad_dp(real_tr, real_te, target, pos, difference_bound=0.01, blind=False):
    """What a user would pick instead: fairlearn's ExponentiatedGradient with a
    DemographicParity constraint (``difference_bound``, fairlearn's default 0.01),
    logistic regression, trained on the real rows; ``blind`` leaves the sex column
    out of the features (FTU 0 by construction)."""
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    from skfairlatent.datasets import make_preprocessor
    from skfairlatent.metrics import delta_dp

    features = [c for c in real_tr.columns if c != target and not (blind and c == "sex")]
    pre = make_preprocessor().fit(real_tr[features])
    X_tr, X_te = pre.transform(real_tr[features]), pre.transform(real_te[features])
    y_tr, y_te = real_tr[target].to_numpy() == pos, real_te[target].to_numpy() == pos
    model = ExponentiatedGradient(LogisticRegression(max_iter=2000),
                                  DemographicParity(difference_bound=difference_bound))
    model.fit(X_tr, y_tr, sensitive_features=real_tr["sex"].to_numpy())
    # the randomized classifier's P(y = pos) mixes its predictors' *hard* labels, so its
    # AUROC is close to a balanced accuracy; the forest rows rank by predict_proba. The
    # mixture of the predictors' probabilities is the comparable score (auroc_scores).
    proba = expgrad_positive_proba(model, X_te)
    scores = sum(w * m.predict_proba(X_te)[:, 1] for w, m in zip(model.weights_, model.predictors_))
    y_hat = model.predict(X_te, random_state=0).astype(bool)
    return dict(precision=precision_score(y_te, y_hat), recall=recall_score(y_te, y_hat),
                auroc=roc_auc_score(y_te, proba), auroc_scores=roc_auc_score(y_te, scores),
                positive_rate=float(y_hat.mean()),
                dp=delta_dp(y_te, y_hat, sensitive_features=real_te["sex"].to_numpy()))


def latent_scores(vae, Z, data):
    """How much colour and digit the test latents ``Z`` of a coloured-digit VAE carry.

    dCor^2(z, colour) (the V-statistic, as a measurement), a logistic probe of the
    colour (chance 0.5) and of the digit (10 classes), 5-fold, and the per-pixel squared
    error of the reconstruction of the test images.
    """
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from skfairlatent.nn.losses import distance_correlation_sq

    rec = vae.inverse_transform(Z, sensitive_features=data.A_test)

    def probe(target):
        return float(cross_val_score(LogisticRegression(max_iter=2000), Z, target, cv=5).mean())

    return dict(
        dcor2=float(distance_correlation_sq(torch.tensor(Z, dtype=torch.float64),
                                            torch.tensor(data.A_test, dtype=torch.float64))),
        colour_probe=probe(data.A_test), digit_probe=probe(data.y_test),
        mse=float(((rec - data.X_test) ** 2).mean()))


# --------------------------------------------------------------------------------------
# FairLatentFlow
# --------------------------------------------------------------------------------------

#: Flow settings of every row unless a row overrides them.
FLOW_BASE = {"max_epochs": 30}


def flow_load(name, seed):
    """Preprocessed 50/50 split (tabular) or the biased coloured-digit split (``cmnist``)."""
    from sklearn.model_selection import train_test_split

    from skfairlatent.datasets import load_adult, load_colored_mnist, load_compas, make_preprocessor

    if name == "cmnist":
        (Xtr, ytr, Atr), (Xte, yte, Ate) = load_colored_mnist(
            bias_aligned_fraction=0.9, flatten=True, random_state=seed, return_X_y_A=True)
        # binary task: digit >= 5; the colour follows it in 90 % of training rows
        return (Xtr.astype(np.float32), (ytr >= 5).astype(int), Atr,
                Xte.astype(np.float32), (yte >= 5).astype(int), Ate)
    X, y, A = (load_adult if name == "adult" else load_compas)(return_X_y_A=True)
    y, A = np.asarray(y), np.asarray(A, dtype=object)
    Xtr, Xte, ytr, yte, Atr, Ate = train_test_split(X, y, A, test_size=0.5,
                                                    random_state=seed, stratify=y)
    pre = make_preprocessor().fit(Xtr)
    return (pre.transform(Xtr).astype(np.float32), ytr, Atr,
            pre.transform(Xte).astype(np.float32), yte, Ate)


def mlp_latent(mlp, P):
    """Last hidden layer of a fitted sklearn MLP (tanh)."""
    h = P
    for W, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        h = np.tanh(h @ W + b)
    return h.astype(np.float32)


def flow_encode(name, seed, Ptr, ytr, Pte):
    """The MLP encoder (tanh 64, 16) and its latents E of the training and test rows."""
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier((64, 16), activation="tanh", max_iter=100 if name != "cmnist" else 50,
                        random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(Ptr, ytr)
    return mlp, mlp_latent(mlp, Ptr), mlp_latent(mlp, Pte)


def flow_scores(y, pred, A):
    """Accuracy, ΔEOd, ΔDP, worst-group accuracy and the ΔDP at exact equalized odds."""
    from skfairlatent.metrics import delta_dp, delta_eod, worst_group_accuracy

    y, pred, A = np.asarray(y), np.asarray(pred), np.asarray(A)
    positive = np.unique(y)[-1]
    base_rates = [np.mean(y[A == g] == positive) for g in np.unique(A)]
    tpr = np.mean(pred[y == positive] == positive)
    fpr = np.mean(pred[y != positive] == positive)
    return {
        "accuracy": float(np.mean(pred == y)),
        "EOd": delta_eod(y, pred, sensitive_features=A),
        "DP": delta_dp(y, pred, sensitive_features=A),
        "WGA": worst_group_accuracy(y, pred, sensitive_features=A, by="group_and_label"),
        "DP_at_exact_EO": float((max(base_rates) - min(base_rates)) * abs(tpr - fpr)),
    }


def probe_auc(Rtr, Atr, Rte, Ate):
    """Test AUROC of a linear probe of the (binary) sensitive attribute."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    positive = np.unique(Atr)[-1]
    probe = LogisticRegression(max_iter=1000).fit(Rtr, Atr == positive)
    return float(roc_auc_score(Ate == positive, probe.predict_proba(Rte)[:, 1]))


def flow_row(E, seed, params, base=FLOW_BASE):
    """Fit a flow on the training latents; LR on Z_Y; scores, probe and time."""
    from sklearn.linear_model import LogisticRegression

    from skfairlatent import FairLatentFlow

    Etr, ytr, Atr, Ete, yte, Ate = E
    t = time.perf_counter()
    flow = FairLatentFlow(**{**base, **params}, random_state=seed)
    flow.fit(Etr, ytr, sensitive_features=Atr)
    seconds = time.perf_counter() - t
    Ztr, Zte = flow.transform(Etr), flow.transform(Ete)
    row = flow_scores(yte, LogisticRegression(max_iter=1000).fit(Ztr, ytr).predict(Zte), Ate)
    row["probe_AUC"] = probe_auc(Ztr, Atr, Zte, Ate)
    return row, seconds


# --------------------------------------------------------------------------------------
# LASSI
# --------------------------------------------------------------------------------------

#: Alg. 1 with reduced sample sizes (the tables' "Fair" column).
LASSI_SMALL = dict(sigma_cs=1.0, n0_cs=2_000, n_cs=2_000, delta=0.1, n0_rs=100, n_rs=10_000,
                   alpha_cs=0.01, alpha_rs=0.001)


def recolour(images, colour, colours):
    """The same digit on the other background: x = g + (1 - g) bg, so g = (x - bg) / (1 - bg)."""
    x = images.reshape(-1, 3, 28, 28)
    bg = colours[colour][:, :, None, None]
    usable = np.broadcast_to((colours[colour] < 0.99)[:, :, None, None], x.shape)
    grey = np.where(usable, (x - bg) / np.maximum(1 - bg, 1e-3), np.nan)
    grey = np.clip(np.nanmean(grey, axis=1, keepdims=True), 0.0, 1.0)
    other = colours[1 - colour][:, :, None, None]
    return (grey + (1 - grey) * other).reshape(len(images), -1).astype(np.float32)


def lassi_digits(seed, n_train=None):
    """Colour-balanced coloured digits (flattened) and the other-colour twin of each test digit."""
    from skfairlatent.datasets import load_colored_mnist

    b = load_colored_mnist(bias_aligned_fraction=0.5, flatten=True, random_state=seed)
    X_tr, y_tr, A_tr = b.X_train, b.y_train, b.A_train
    if n_train is not None:
        X_tr, y_tr, A_tr = X_tr[:n_train], y_tr[:n_train], A_tr[:n_train]
    twins = recolour(b.X_test, b.A_test, b.colors)
    return X_tr, y_tr, A_tr, b.X_test, b.y_test, b.A_test, twins
