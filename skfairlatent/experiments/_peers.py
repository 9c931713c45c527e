"""The practitioner's comparison: the project's methods beside the peers a user would pick.

One *method* fits on a training split (and, where it post-processes, the
validation split) and returns one or more fitted points (one per knob of its
grid), each with a ``predict`` that takes ``X`` only -- or ``(X, A)`` for the
methods flagged ``needs_A`` (:data:`PEERS`), the only ones the harness gives
the sensitive attribute at predict time. :func:`run_cell` fits one method on
one (dataset, seed, setting, form) and scores every point on the validation
and test splits; :func:`compare` runs a grid of cells with ``joblib``;
:func:`chosen_points`, :func:`method_fronts`, :func:`dominated_fronts` and
:func:`paired_differences` turn the runs into the benchmark's tables.

Settings: ``"A in X"`` (the split of :func:`load_split`, the sensitive column
one of the features) and ``"group-blind"`` (the columns encoding the
sensitive attribute dropped from ``X``; ``A`` is given at fit only, except to
the methods that need it at predict). Forms: ``"LR"`` (logistic regression or
a linear network) and ``"MLP"`` (two hidden layers of 128).

Peers: fairlearn's ``ExponentiatedGradient`` (Agarwal et al., ICML 2018),
``ThresholdOptimizer`` (Hardt et al., NeurIPS 2016) and
``AdversarialFairnessClassifier`` (Zhang et al., AIES 2018); OxonFair
(Delaney et al., NeurIPS 2024) with true and with inferred groups; fairret
(Buyl et al., ICLR 2024; ``NormLoss`` on TPR and FPR); error-parity (Cruz &
Hardt, ICLR 2024; relaxed equalized odds), which pins ``numpy<2`` and runs in
a separate Python given by ``error_parity_python`` (a small server process,
:data:`ERROR_PARITY_SERVER`).
"""

from __future__ import annotations

import copy
import io
import os
import struct
import subprocess
import time
import warnings
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd

from ._scoring import METRICS, scores
from ._splits import TABULAR, load_split

#: The two settings: the sensitive column is a feature, or it is dropped from X.
SETTINGS = ("A in X", "group-blind")
#: The two forms of every method: hidden layer sizes (``()``: linear).
FORMS = {"LR": (), "MLP": (128, 128)}
#: Training epochs of every torch network of the comparison (ALFA, AEDA, fairret,
#: the flow, fairlearn's adversarial classifier).
NETWORK_EPOCHS = 10
#: ALFA's knob grid: one ALFAClassifier per dict, all sharing one pretraining;
#: ``{"lambda_": 0}`` is the same network without ALFA (the selection baseline).
ALFA_GRID = ({"lambda_": 0.0}, {"alpha": 0.0}, {"alpha": 0.1}, {"alpha": 1.0}, {"alpha": 10.0})
#: ExponentiatedGradient's ``difference_bound`` grid (EqualizedOdds).
EG_BOUNDS = (0.01, 0.03, 0.1)
#: OxonFair's bound on the equalized-odds violation (max accuracy subject to it).
OXONFAIR_BOUNDS = (0.02, 0.05, 0.1)
#: fairret's weight of the NormLoss(TPR) + NormLoss(FPR) term.
FAIRRET_STRENGTHS = (0.1, 0.5)
#: error-parity's ``tolerance`` grid (relaxed equalized odds).
ERROR_PARITY_TOLERANCES = (0.02, 0.05, 0.1)
#: Accuracy tolerance of the validation rule that picks one point per method and seed.
SELECTION_TOLERANCE = 0.01


class Point(NamedTuple):
    """One fitted point of a method: its knob, predictor and fit seconds."""

    knob: str
    predict: Callable
    seconds: float


@dataclass(frozen=True)
class Method:
    """A method of the comparison.

    ``fit(train, valid, form, seed, epochs)`` returns a list of :class:`Point`;
    ``needs_A``: its points predict from ``(X, A)``; ``forms``: the forms it runs in.
    """

    name: str
    fit: Callable
    needs_A: bool = False
    forms: tuple = tuple(FORMS)
    ours: bool = False


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _sklearn(form, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if form == "LR":
        return LogisticRegression(max_iter=1000)
    return MLPClassifier(FORMS[form], early_stopping=True, random_state=seed)


def _positive_scores(model, X):
    return model.predict_proba(np.asarray(X, dtype=np.float64))[:, 1]


# --------------------------------------------------------------------------- #
# the project's methods
# --------------------------------------------------------------------------- #
def fit_plain(train, valid, form, seed, epochs):
    """scikit-learn's ``LogisticRegression`` / ``MLPClassifier`` (early stopping)."""
    X, y, _ = train
    model, seconds = _timed(_sklearn(form, seed).fit, X.astype(np.float64), y)
    return [Point("", lambda X: model.predict(X.astype(np.float64)), seconds)]


def _shared_pretrain_class():
    """An ALFAClassifier whose pretraining (step 1) is fitted once and reused.

    Every instance restores the network and torch's generator state after the
    first pretraining, so each is what a fresh ``fit`` with the same
    ``random_state`` returns; ``pretrain_seconds_`` is the shared cost.
    """
    import torch

    from ..alfa import ALFAClassifier

    store = {}

    class SharedPretrainALFA(ALFAClassifier):
        def _pretrain(self, X, targets, device):
            if not store:
                net, seconds = _timed(super()._pretrain, X, targets, device)
                store.update(net=copy.deepcopy(net), rng=torch.get_rng_state(),
                             n_outputs=self.n_outputs_, seconds=seconds)
                self.pretrain_seconds_ = seconds
                return net
            torch.set_rng_state(store["rng"])
            self.n_outputs_ = store["n_outputs"]
            self.pretrain_seconds_ = store["seconds"]
            return copy.deepcopy(store["net"])

    return SharedPretrainALFA


def _knob_label(params):
    return ", ".join(f"{'λ' if k == 'lambda_' else k}={v:g}" for k, v in params.items())


def fit_alfa(train, valid, form, seed, epochs, grid=ALFA_GRID):
    """ALFA (Jung et al., ICLR 2025), one point per dict of ``grid`` (:data:`ALFA_GRID`).

    A point's seconds are the shared pretraining plus its own attack and fine-tuning.
    """
    X, y, A = train
    cls = _shared_pretrain_class()
    points = []
    for params in grid:
        clf, seconds = _timed(cls(hidden_layer_sizes=FORMS[form], max_epochs=epochs,
                                  random_state=seed, keep_attack_data=False, **params).fit,
                              X, y, sensitive_features=A)
        shared = clf.pretrain_seconds_ if points else 0.0
        points.append(Point(_knob_label(params), clf.predict, seconds + shared))
    return points


def fit_aeda(train, valid, form, seed, epochs):
    """AEDA (Zhang & Sang, 2020) in its default mode (``"robust"``), tabular MLP."""
    from ..aeda import AEDAClassifier

    X, y, A = train
    clf, seconds = _timed(AEDAClassifier(max_epochs=epochs, random_state=seed).fit,
                          X, y, sensitive_features=A)
    return [Point(clf.mode, clf.predict, seconds)]


def fit_fairflow(train, valid, form, seed, epochs):
    """A logistic regression on FairLatentFlow's fair part Z_Y (``transform``)."""
    from sklearn.pipeline import make_pipeline

    from ..fair_flow import FairLatentFlow

    X, y, A = train
    model = make_pipeline(FairLatentFlow(max_epochs=epochs, random_state=seed),
                          _sklearn("LR", seed))
    _, seconds = _timed(model.fit, X, y, fairlatentflow__sensitive_features=A)
    return [Point("", model.predict, seconds)]


# --------------------------------------------------------------------------- #
# peers that need no A at predict
# --------------------------------------------------------------------------- #
def fit_expgrad(train, valid, form, seed, epochs, bounds=EG_BOUNDS):
    """fairlearn ``ExponentiatedGradient(LogisticRegression, EqualizedOdds(bound))``."""
    from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

    X, y, A = train
    points = []
    for bound in bounds:
        model = ExponentiatedGradient(_sklearn("LR", seed),
                                      EqualizedOdds(difference_bound=bound))
        _, seconds = _timed(model.fit, X.astype(np.float64), y, sensitive_features=A)
        points.append(Point(f"bound={bound:g}",
                            lambda X, m=model: m.predict(X.astype(np.float64), random_state=seed),
                            seconds))
    return points


def _oxonfair(train, valid, form, seed, groups_model, bounds):
    from oxonfair import DataDict, FairPredictor
    from oxonfair.utils import group_metrics as gm

    X, y, A = train
    Xv, yv, Av = valid
    start = time.perf_counter()
    model = _sklearn(form, seed).fit(X.astype(np.float64), y)
    inferred = groups_model is not None and groups_model.fit(X.astype(np.float64), A)
    fair = FairPredictor(model, DataDict(yv, Xv.astype(np.float64), Av),
                         inferred_groups=inferred)
    shared = time.perf_counter() - start
    points = []
    for i, bound in enumerate(bounds):
        # threshold=0: OxonFair 0.3's inferred-group path fails when no validation
        # row falls in its "uncertain group" (always so when A is a column of X)
        _, seconds = _timed(fair.fit, gm.accuracy, gm.equalized_odds, bound,
                            threshold=0 if inferred else None, recompute=i == 0)
        thresholds = copy.deepcopy(fair)
        if inferred:
            def predict(X, f=thresholds):
                return np.asarray(f.predict(X.astype(np.float64)))
        else:
            def predict(X, A, f=thresholds):
                return np.asarray(f.predict(DataDict(np.zeros(len(X)), X.astype(np.float64), A)))
        points.append(Point(f"EOd≤{bound:g}", predict, shared + seconds))
    return points


def fit_oxonfair_inferred(train, valid, form, seed, epochs, bounds=OXONFAIR_BOUNDS):
    """OxonFair with groups inferred by a logistic regression fitted on (X_train, A_train)."""
    from sklearn.linear_model import LogisticRegression

    return _oxonfair(train, valid, form, seed, LogisticRegression(max_iter=1000), bounds)


class _FairretNet:
    """A torch LR/MLP trained with BCE + strength · (NormLoss(TPR) + NormLoss(FPR))."""

    def __init__(self, form, strength, epochs, seed):
        self.form, self.strength, self.epochs, self.seed = form, strength, epochs, seed

    def fit(self, X, y, A):
        import torch
        from fairret.loss import NormLoss
        from fairret.statistic import FalsePositiveRate, TruePositiveRate

        torch.manual_seed(self.seed)
        layers, width = [], X.shape[1]
        for hidden in FORMS[self.form]:
            layers += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
            width = hidden
        self.net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
        Xt = torch.as_tensor(X, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1)
        St = torch.as_tensor(pd.get_dummies(A).to_numpy(), dtype=torch.float32)
        losses = [NormLoss(TruePositiveRate()), NormLoss(FalsePositiveRate())]
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        bce = torch.nn.BCEWithLogitsLoss()
        for _ in range(self.epochs):
            for idx in torch.randperm(len(Xt)).split(128):
                logit = self.net(Xt[idx])
                loss = bce(logit, yt[idx])
                # TPR and FPR are undefined on a batch without both labels (fairret raises)
                if 0 < yt[idx].sum() < len(idx):
                    loss = loss + self.strength * sum(
                        fair(logit, St[idx], yt[idx]) for fair in losses)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    def predict(self, X):
        import torch

        with torch.no_grad():
            return (self.net(torch.as_tensor(X, dtype=torch.float32)) > 0).numpy().ravel().astype(
                int)


def fit_fairret(train, valid, form, seed, epochs, strengths=FAIRRET_STRENGTHS):
    """fairret's ``NormLoss`` on TPR and FPR (equalized odds) added to BCE, torch LR/MLP."""
    X, y, A = train
    points = []
    for strength in strengths:
        model, seconds = _timed(_FairretNet(form, strength, epochs, seed).fit, X, y, A)
        points.append(Point(f"λ={strength:g}", model.predict, seconds))
    return points


def fit_adversarial(train, valid, form, seed, epochs):
    """fairlearn's ``AdversarialFairnessClassifier`` (equalized odds, torch backend).

    LR form: no hidden layer, learning rate 0.01 (at 0.001 it stays below the
    majority rate in 10 epochs). MLP form: ONE hidden layer of 128 (leaky ReLU),
    learning rate 0.001: with two, fairlearn's predictor returns NaN within 10
    epochs on COMPAS, even with ``alpha=0``.
    """
    from fairlearn.adversarial import AdversarialFairnessClassifier

    X, y, A = train
    predictor = [] if form == "LR" else [FORMS[form][0], "leaky_relu"]
    model = AdversarialFairnessClassifier(
        backend="torch", predictor_model=predictor, adversary_model=[3, "leaky_relu"],
        constraints="equalized_odds", learning_rate=1e-2 if form == "LR" else 1e-3,
        epochs=epochs, batch_size=128, shuffle=True, random_state=seed)
    _, seconds = _timed(model.fit, X.astype(np.float64), y, sensitive_features=A)
    return [Point("", lambda X: np.asarray(model.predict(X.astype(np.float64))), seconds)]


# --------------------------------------------------------------------------- #
# peers that need A at predict
# --------------------------------------------------------------------------- #
def fit_threshold_optimizer(train, valid, form, seed, epochs):
    """fairlearn ``ThresholdOptimizer(equalized_odds)`` on the plain model, fitted on validation."""
    from fairlearn.postprocessing import ThresholdOptimizer

    X, y, _ = train
    Xv, yv, Av = valid
    start = time.perf_counter()
    model = _sklearn(form, seed).fit(X.astype(np.float64), y)
    post = ThresholdOptimizer(estimator=model, constraints="equalized_odds", prefit=True,
                              predict_method="predict_proba")
    post.fit(Xv.astype(np.float64), yv, sensitive_features=Av)
    seconds = time.perf_counter() - start
    return [Point("", lambda X, A: post.predict(X.astype(np.float64), sensitive_features=A,
                                                random_state=seed), seconds)]


def fit_oxonfair_groups(train, valid, form, seed, epochs, bounds=OXONFAIR_BOUNDS):
    """OxonFair with the true groups (at fit on validation, and at predict)."""
    return _oxonfair(train, valid, form, seed, None, bounds)


#: Source of the error-parity server, run as ``python -c`` in the Python that has
#: error-parity: requests and replies are length-prefixed ``.npz`` blobs on
#: stdin/stdout. ``fit`` (tolerance, scores, y, group) -> id; ``predict`` (id,
#: scores, group, seed) -> predictions.
ERROR_PARITY_SERVER = r'''
import io, struct, sys
import numpy as np
from error_parity import RelaxedThresholdOptimizer
models = {}
read, write = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = read.read(8)
    if len(head) < 8:
        break
    req = np.load(io.BytesIO(read.read(struct.unpack("<q", head)[0])), allow_pickle=False)
    if str(req["op"]) == "fit":
        model = RelaxedThresholdOptimizer(predictor=lambda s: s, constraint="equalized_odds",
                                          tolerance=float(req["tolerance"]),
                                          seed=int(req["seed"]))
        model.fit(req["scores"], req["y"], group=req["group"])
        models[len(models)] = model
        out = {"id": np.array(len(models) - 1)}
    else:
        out = {"pred": np.asarray(models[int(req["id"])].predict(req["scores"],
                                                                 group=req["group"]))}
    buf = io.BytesIO()
    np.savez(buf, **out)
    write.write(struct.pack("<q", len(buf.getvalue())) + buf.getvalue())
    write.flush()
'''


class ErrorParityServer:
    """error-parity's ``RelaxedThresholdOptimizer`` in a separate Python (``python``)."""

    _running = {}

    def __init__(self, python):
        self.proc = subprocess.Popen([python, "-c", ERROR_PARITY_SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    @classmethod
    def get(cls, python):
        """One server per Python path and process, started on first use."""
        if python not in cls._running or cls._running[python].proc.poll() is not None:
            cls._running[python] = cls(python)
        return cls._running[python]

    def call(self, **arrays):
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        self.proc.stdin.write(struct.pack("<q", len(buf.getvalue())) + buf.getvalue())
        self.proc.stdin.flush()
        head = self.proc.stdout.read(8)
        if len(head) < 8:
            raise RuntimeError("the error-parity server stopped (is error-parity installed in "
                               f"{self.proc.args[0]}?)")
        reply = np.load(io.BytesIO(self.proc.stdout.read(struct.unpack("<q", head)[0])))
        return {k: reply[k] for k in reply.files}


def _group_codes(A):
    return pd.Categorical(np.asarray(A).astype(str), categories=sorted(set(map(str, A)))).codes


def fit_error_parity(train, valid, form, seed, epochs, tolerances=ERROR_PARITY_TOLERANCES,
                     python=None):
    """error-parity's relaxed equalized odds on the plain model's scores, fitted on validation.

    ``python``: the interpreter with error-parity installed (default: the
    ``SKFAIRLATENT_ERROR_PARITY_PYTHON`` environment variable).
    """
    python = python or os.environ.get("SKFAIRLATENT_ERROR_PARITY_PYTHON")
    if not python:
        raise RuntimeError("error-parity needs SKFAIRLATENT_ERROR_PARITY_PYTHON (a Python with "
                           "error-parity installed; it pins numpy<2)")
    server = ErrorParityServer.get(python)
    X, y, _ = train
    Xv, yv, Av = valid
    model, base_seconds = _timed(_sklearn(form, seed).fit, X.astype(np.float64), y)
    points = []
    for tol in tolerances:
        reply, seconds = _timed(server.call, op="fit", tolerance=tol, seed=seed,
                                scores=_positive_scores(model, Xv), y=yv, group=_group_codes(Av))

        def predict(X, A, model_id=int(reply["id"])):
            return server.call(op="predict", id=model_id, scores=_positive_scores(model, X),
                               group=_group_codes(A))["pred"].astype(int)
        points.append(Point(f"tolerance={tol:g}", predict, base_seconds + seconds))
    return points


#: Every method of the comparison, by name (the table's order).
PEERS = {m.name: m for m in (
    Method("plain", fit_plain),
    Method("ALFA", fit_alfa, ours=True),
    Method("AEDA", fit_aeda, forms=("MLP",), ours=True),
    Method("FairLatentFlow Z_Y + LR", fit_fairflow, forms=("LR",), ours=True),
    Method("ExponentiatedGradient", fit_expgrad, forms=("LR",)),
    Method("OxonFair (inferred groups)", fit_oxonfair_inferred),
    Method("fairret", fit_fairret),
    Method("AdversarialFairness", fit_adversarial),
    Method("ThresholdOptimizer", fit_threshold_optimizer, needs_A=True),
    Method("OxonFair (true groups)", fit_oxonfair_groups, needs_A=True),
    Method("error-parity", fit_error_parity, needs_A=True),
)}


# --------------------------------------------------------------------------- #
# the harness
# --------------------------------------------------------------------------- #
def sensitive_columns(dataset):
    """Indices of the preprocessed columns that encode the sensitive attribute.

    The columns of :func:`load_split`'s ``X`` whose source column is the
    sensitive one (its name, case-insensitive).
    """
    from .. import datasets

    X, _, A = TABULAR[dataset](return_X_y_A=True)
    names = datasets.make_preprocessor().fit(X).get_feature_names_out()
    source = [name.split("__", 1)[-1] for name in names]
    target = str(A.name).lower()
    return [i for i, name in enumerate(source)
            if name.lower() == target or name.lower().startswith(target + "_")]


def load_cell(dataset, seed, setting, *, max_train_rows=None):
    """:func:`load_split` for ``setting``; the training rows subsampled (stratified).

    ``"group-blind"`` drops :func:`sensitive_columns` from every part.
    """
    from ._splits import subsample

    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose from {SETTINGS}")
    split = load_split(dataset, seed)
    X, y, A = split["train"]
    if max_train_rows is not None and max_train_rows < len(X):
        X, y, A = (np.asarray(v) for v in subsample(
            pd.DataFrame(X), pd.Series(y), pd.Series(A), max_train_rows, seed))
        split["train"] = (X.astype(np.float32), y, A)
    if setting == "group-blind":
        drop = sensitive_columns(dataset)
        split = {k: (np.delete(X, drop, axis=1), y, A) for k, (X, y, A) in split.items()}
    return split


def _predict(method, point, X, A):
    """The point's predictions; A is passed only to a method flagged ``needs_A``."""
    pred = point.predict(X, A) if method.needs_A else point.predict(X)
    return np.asarray(pred).astype(int).ravel()


def run_cell(dataset, seed, setting, form, method, *, epochs=NETWORK_EPOCHS,
             max_train_rows=None, peers=None):
    """Fit one method on one (dataset, seed, setting, form); score every point.

    Parameters
    ----------
    dataset : {"adult", "compas", "german", "drug"}
    seed : int
        Seed of the split (:func:`load_cell`) and of the method.
    setting : {"A in X", "group-blind"}
    form : {"LR", "MLP"}
    method : str or Method
        A name of :data:`PEERS` (or of ``peers``) or a :class:`Method`.
    epochs : int, default=NETWORK_EPOCHS
        Training epochs of the torch networks.
    max_train_rows : int or None, default=None
        Stratified subsample of the training rows.
    peers : dict or None, default=None
        The methods by name (default :data:`PEERS`).

    Returns
    -------
    list of dict
        One per point: ``dataset``, ``setting``, ``form``, ``method``,
        ``knob``, ``seed``, ``needs_A``, ``fit_seconds`` and
        ``valid_<metric>`` / ``test_<metric>`` for every metric of
        :func:`scores`. The sensitive attribute of the scored rows is passed
        to a point's ``predict`` only when ``method.needs_A``.
    """
    import torch

    torch.set_num_threads(1)
    method = (peers or PEERS)[method] if isinstance(method, str) else method
    split = load_cell(dataset, seed, setting, max_train_rows=max_train_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = method.fit(split["train"], split["valid"], form, seed, epochs)
        rows = []
        for point in points:
            row = {"dataset": dataset, "setting": setting, "form": form, "method": method.name,
                   "knob": point.knob, "seed": seed, "needs_A": method.needs_A,
                   "fit_seconds": point.seconds}
            for part in ("valid", "test"):
                X, y, A = split[part]
                pred = _predict(method, point, X, A)
                row.update({f"{part}_{k}": v for k, v in scores(y, pred, A).items()})
            rows.append(row)
    return rows


def cells(datasets, seeds, settings=SETTINGS, forms=tuple(FORMS), methods=tuple(PEERS),
          peers=None):
    """Every (dataset, seed, setting, form, method) to run, skipping forms a method lacks."""
    peers = peers or PEERS
    return [(d, s, st, f, m) for d in datasets for s in seeds for st in settings for f in forms
            for m in methods if f in peers[m].forms]


def compare(datasets, seeds, *, settings=SETTINGS, forms=tuple(FORMS), methods=tuple(PEERS),
            epochs=NETWORK_EPOCHS, max_train_rows=None, n_jobs=1, done=(), on_rows=None):
    """Run :func:`run_cell` on every cell of :func:`cells` not in ``done``.

    Parameters
    ----------
    datasets, seeds : sequence
    settings, forms, methods : sequence, default: all
    epochs : int, default=NETWORK_EPOCHS
    max_train_rows : dict or None, default=None
        ``{dataset: rows}``: stratified subsample of the training rows.
    n_jobs : int, default=1
        ``joblib.Parallel`` workers (one cell per task).
    done : collection of tuple, default=()
        Cells ``(dataset, seed, setting, form, method)`` to skip (a resumed run).
    on_rows : callable or None, default=None
        Called with the rows of each cell as it finishes (partial results).

    Returns
    -------
    pandas.DataFrame
        The rows of the cells run here (see :func:`run_cell`).
    """
    from joblib import Parallel, delayed

    max_train_rows = max_train_rows or {}
    todo = [c for c in cells(datasets, seeds, settings, forms, methods) if c not in set(done)]
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(run_cell)(*cell, epochs=epochs, max_train_rows=max_train_rows.get(cell[0]))
        for cell in todo)
    rows = []
    for cell_rows in results:
        rows += cell_rows
        if on_rows is not None:
            on_rows(cell_rows)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# analysis: chosen points, fronts, dominance, paired differences
# --------------------------------------------------------------------------- #
KEYS = ["dataset", "setting", "form", "method"]


def chosen_points(runs, tolerance=SELECTION_TOLERANCE):
    """One point per (dataset, setting, form, method, seed), chosen on validation.

    The lowest validation ΔEOd among the points whose validation accuracy is at
    most ``tolerance`` below the plain model's of the same form (all points
    when none is): the rule of :func:`select_alpha`, for every method.
    """
    plain = runs[runs.method == "plain"].set_index(["dataset", "setting", "form", "seed"])
    out = []
    for key, group in runs.groupby(KEYS + ["seed"], sort=False):
        ref = plain.valid_accuracy.get(tuple(key[i] for i in (0, 1, 2, 4)), -np.inf)
        eligible = group[group.valid_accuracy >= ref - tolerance]
        pool = eligible if len(eligible) else group
        out.append(pool.loc[pool.valid_delta_eod.idxmin()])
    return pd.DataFrame(out).reset_index(drop=True)


def mean_table(runs, by=(*KEYS, "knob")):
    """Mean and std over seeds of the test scores and fit seconds."""
    columns = [f"test_{m}" for m in METRICS] + ["fit_seconds"]
    agg = runs.groupby(list(by), sort=False).agg(
        {**{c: ["mean", "std"] for c in columns}, "seed": "nunique", "needs_A": "first"})
    agg.columns = [f"{c}_{s}" if s not in ("nunique", "first") else c for c, s in agg.columns]
    return agg.reset_index().rename(columns={"seed": "n_seeds"})


def method_fronts(table):
    """Adds ``on_front``: the point is on its method's accuracy/ΔEOd front (means)."""
    from ..model_selection import pareto_mask

    table = table.copy()
    table["on_front"] = False
    for _, group in table.groupby(KEYS, sort=False):
        mask = pareto_mask(group.test_accuracy_mean, group.test_delta_eod_mean)
        table.loc[group.index, "on_front"] = np.asarray(mask)
    return table


def _paired(runs, a, b):
    """Per-seed (acc_a − acc_b, ΔEOd_b − ΔEOd_a) of two points (positive: a better)."""
    left = runs.merge(a, on=[*KEYS, "knob"]).set_index("seed")
    right = runs.merge(b, on=[*KEYS, "knob"]).set_index("seed")
    seeds = left.index.intersection(right.index)
    return (left.test_accuracy[seeds] - right.test_accuracy[seeds],
            right.test_delta_eod[seeds] - left.test_delta_eod[seeds])


def _beyond_spread(diff):
    """(mean − 2·SE > 0, mean + 2·SE >= 0) of per-seed paired differences."""
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
    return diff.mean() - 2 * se > 0, diff.mean() + 2 * se >= 0


def dominates(runs, a, b):
    """Point ``a`` dominates ``b`` beyond the seed spread (paired per seed).

    Neither accuracy nor ΔEOd is worse by more than two standard errors of the
    per-seed paired difference, and at least one is better by more than two.
    """
    acc, eod = _paired(runs, a, b)
    acc_better, acc_ok = _beyond_spread(acc)
    eod_better, eod_ok = _beyond_spread(eod)
    return acc_ok and eod_ok and (acc_better or eod_better)


def dominated_fronts(runs, table):
    """For each method's front, the methods one of whose points dominates every point of it.

    Returns a DataFrame: the method keys and ``dominated_by`` (list of
    ``"method (form)"``). Points are compared within a (dataset, setting).
    """
    def ident(row):
        return pd.DataFrame([{k: row[k] for k in (*KEYS, "knob")}])

    out = []
    front = table[table.on_front]
    for (dataset, setting), group in table.groupby(["dataset", "setting"], sort=False):
        mine = front[(front.dataset == dataset) & (front.setting == setting)]
        for key, points in mine.groupby(KEYS, sort=False):
            winners = []
            for other_key, others in group.groupby(KEYS, sort=False):
                if other_key == key:
                    continue
                if all(any(dominates(runs, ident(o), ident(p)) for _, o in others.iterrows())
                       for _, p in points.iterrows()):
                    dagger = " †" if PEERS.get(other_key[3], Method("", None)).needs_A else ""
                    winners.append(f"{other_key[3]} ({other_key[2]}){dagger}")
            out.append(dict(zip(KEYS, key), dominated_by=winners))
    return pd.DataFrame(out)


def paired_differences(chosen, ours="ALFA", *, match=SELECTION_TOLERANCE):
    """Per seed, ALFA's validation-chosen point minus the best blind peer's.

    Within each (dataset, setting, form of ours): the blind peers (no A at
    predict, not the project's, not ``plain``) at their validation-chosen
    points; the best is the lowest mean test ΔEOd among those whose mean test
    accuracy is at most ``match`` below ours (the most accurate when none
    is). Returns one row per (dataset, setting, form, seed).
    """
    own = {m.name for m in PEERS.values() if m.ours or m.needs_A} | {"plain"}
    rows = []
    for (dataset, setting, form), mine in chosen[chosen.method == ours].groupby(
            ["dataset", "setting", "form"], sort=False):
        pool = chosen[(chosen.dataset == dataset) & (chosen.setting == setting)
                      & ~chosen.method.isin(own)]
        if pool.empty:
            continue
        means = pool.groupby(["method", "form"]).agg(acc=("test_accuracy", "mean"),
                                                     eod=("test_delta_eod", "mean"))
        matched = means[means.acc >= mine.test_accuracy.mean() - match]
        best = matched.eod.idxmin() if len(matched) else means.acc.idxmax()
        peer = pool[(pool.method == best[0]) & (pool.form == best[1])].set_index("seed")
        for _, row in mine.iterrows():
            if row.seed not in peer.index:
                continue
            rows.append({"dataset": dataset, "setting": setting, "form": form,
                         "peer": f"{best[0]} ({best[1]})", "seed": row.seed,
                         "d_accuracy": row.test_accuracy - peer.test_accuracy[row.seed],
                         "d_delta_eod": row.test_delta_eod - peer.test_delta_eod[row.seed]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# the report: markdown tables and the front figure
# --------------------------------------------------------------------------- #
def _records(frame):
    import json

    return json.loads(frame.to_json(orient="records"))


def _cell(mean, std, digits=3):
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _points_table(table):
    out = table.assign(
        acc=[_cell(m, s) for m, s in zip(table.test_accuracy_mean, table.test_accuracy_std)],
        ΔDP=[_cell(m, s) for m, s in zip(table.test_delta_dp_mean, table.test_delta_dp_std)],
        ΔEOd=[_cell(m, s) for m, s in zip(table.test_delta_eod_mean, table.test_delta_eod_std)],
        WGA=[_cell(m, s) for m, s in zip(table.test_worst_group_accuracy_mean,
                                         table.test_worst_group_accuracy_std)],
        fit_s=table.fit_seconds_mean.round(1),
        A_at_predict=np.where(table.needs_A, "yes", "no"),
        front=np.where(table.on_front, "✓", ""))
    return out[["form", "method", "knob", "acc", "ΔDP", "ΔEOd", "WGA", "fit_s", "A_at_predict",
                "front", "n_seeds"]]


def _chosen_table(chosen):
    table = mean_table(chosen, by=("dataset", "setting", "form", "method"))
    return table.assign(knob="(validation-chosen)")


def _paired_table(diffs):
    if diffs.empty:
        return diffs
    agg = diffs.groupby(["dataset", "setting", "form", "peer"], sort=False).agg(
        d_acc_mean=("d_accuracy", "mean"), d_acc_std=("d_accuracy", "std"),
        d_eod_mean=("d_delta_eod", "mean"), d_eod_std=("d_delta_eod", "std"),
        alfa_fairer=("d_delta_eod", lambda d: f"{int((d < 0).sum())}/{len(d)}"),
        n=("seed", "nunique")).reset_index()
    agg["Δacc (ALFA − peer)"] = [_cell(m, s) for m, s in zip(agg.d_acc_mean, agg.d_acc_std)]
    agg["ΔEOd (ALFA − peer)"] = [_cell(m, s) for m, s in zip(agg.d_eod_mean, agg.d_eod_std)]
    agg["seeds ALFA fairer"] = agg.alfa_fairer
    return agg[["dataset", "setting", "form", "peer", "Δacc (ALFA − peer)", "ΔEOd (ALFA − peer)",
                "seeds ALFA fairer", "n"]]


def _zoom(ax, points, accuracy_drop=0.15):
    """Limit a panel to the points within ``accuracy_drop`` of the plain models' accuracy.

    A collapsed predictor (one class per group: ΔEOd near 2) would otherwise squeeze
    every other point into a corner; the title says how many points are off the panel.
    """
    floor = points[points.method == "plain"].test_accuracy_mean.max() - accuracy_drop
    shown = points[points.test_accuracy_mean >= floor]
    hidden = len(points) - len(shown)
    if not hidden:
        return ""
    pad_x = 0.05 * (shown.test_delta_eod_mean.max() - shown.test_delta_eod_mean.min()) + 1e-3
    pad_y = 0.05 * (shown.test_accuracy_mean.max() - shown.test_accuracy_mean.min()) + 1e-3
    ax.set_xlim(shown.test_delta_eod_mean.min() - pad_x, shown.test_delta_eod_mean.max() + pad_x)
    ax.set_ylim(shown.test_accuracy_mean.min() - pad_y, shown.test_accuracy_mean.max() + pad_y)
    return f" ({hidden} point(s) below plain accuracy − {accuracy_drop:g} not shown)"


def plot_fronts(table, setting, path, title):
    """One panel per dataset: every method's mean points, its front joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = table[table.setting == setting]
    datasets = list(dict.fromkeys(part.dataset))
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(5.2 * len(datasets), 11), 5.4),
                             squeeze=False)
    palette = [*plt.get_cmap("tab10").colors, "black", "olive"]
    style = {name: palette[i % len(palette)] for i, name in enumerate(PEERS)}
    for ax, dataset in zip(axes[0], datasets):
        for (method, form), points in part[part.dataset == dataset].groupby(
                ["method", "form"], sort=False):
            colour = style.get(method, "grey")
            hollow = bool(points.needs_A.iloc[0])
            marker = "o" if form == "MLP" else "s"
            ax.scatter(points.test_delta_eod_mean, points.test_accuracy_mean, marker=marker,
                       s=42 if PEERS[method].ours else 26, linewidths=1.2,
                       facecolors="none" if hollow else colour, edgecolors=colour,
                       label=f"{method} ({form})" + (" †" if hollow else ""))
            front = points[points.on_front].sort_values("test_delta_eod_mean")
            ax.plot(front.test_delta_eod_mean, front.test_accuracy_mean, color=colour, lw=1.4,
                    ls="--" if hollow else "-")
        ax.set_title(dataset + _zoom(ax, part[part.dataset == dataset]))
        ax.set_xlabel("ΔEOd (test, mean over seeds)")
        ax.set_ylabel("accuracy (test, mean over seeds)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(runs, header=""):
    """The markdown page, JSON payload and point table of the runs.

    The page: per (dataset, setting) every point (mean ± std over seeds, on
    its method's front or not), the validation-chosen point of every method,
    the fronts dominated beyond the seed spread; then ALFA − best blind peer
    per seed (:func:`paired_differences`). ``header`` opens the page.
    """
    order = {name: i for i, name in enumerate(PEERS)}
    runs = runs.sort_values(["dataset", "setting", "form", "method", "seed"],
                            key=lambda c: c.map(order) if c.name == "method" else c)
    runs = runs.reset_index(drop=True)
    table = method_fronts(mean_table(runs))
    chosen = chosen_points(runs)
    chosen_table = _chosen_table(chosen)
    dominated = dominated_fronts(runs, table)
    diffs = paired_differences(chosen)
    md = [header + " A at predict = yes (†): the method is given the sensitive attribute "
          "at predict time. front ✓: the point is on its method's accuracy/ΔEOd front "
          "(means over seeds).\n"]
    for (dataset, setting), part in table.groupby(["dataset", "setting"], sort=False):
        md.append(f"\n## {dataset}, {setting}\n\n" + _points_table(part).to_markdown(index=False)
                  + "\n")
        pick = chosen_table[(chosen_table.dataset == dataset) & (chosen_table.setting == setting)]
        md.append("\nValidation-chosen point per method and seed (lowest validation ΔEOd among "
                  "the points within 0.01 of the plain model's validation accuracy):\n\n"
                  + _points_table(pick.assign(on_front=False)).drop(columns=["knob", "front"])
                  .to_markdown(index=False) + "\n")
        dom = dominated[(dominated.dataset == dataset) & (dominated.setting == setting)]
        lines = [f"- {r.method} ({r.form}): dominated by {', '.join(r.dominated_by)}"
                 for r in dom.itertuples() if r.dominated_by]
        md.append("\nFronts dominated beyond the seed spread (every point of the front beaten "
                  "by one point of the other method: both paired per-seed differences no worse "
                  "than −2 SE, one better than +2 SE):\n\n"
                  + ("\n".join(lines) if lines else "- none") + "\n")
    md.append("\n## ALFA − best blind peer, per seed (validation-chosen points)\n\n"
              "Best blind peer: among the peers that need no A at predict (not the project's "
              "methods, not plain), at their validation-chosen points, the lowest mean test "
              "ΔEOd among those within 0.01 of ALFA's mean test accuracy (the most accurate "
              "when none is). Negative ΔEOd: ALFA fairer.\n\n"
              + _paired_table(diffs).to_markdown(index=False) + "\n")
    payload = {"runs": _records(runs), "points": _records(table),
               "chosen": _records(chosen_table),
               "dominated": _records(dominated), "paired_differences": _records(diffs)}
    return "".join(md), payload, table



