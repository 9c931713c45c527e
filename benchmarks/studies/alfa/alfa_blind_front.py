"""Why ALFA does not reach the fair end group-blind, and what its knobs trace there.

Group-blind: the sensitive column is dropped from X (COMPAS ``sex``, Drug ``Gender``)
and A is given to ``fit`` only. For each seed (60/20/20 split of
:func:`skfairlatent.experiments.load_split`), ALFA (MLP 2x128, estimator defaults,
one cached pretraining per seed) is fitted over the knobs it has:

* ``plain``: ``lambda_=0`` (the same network, no attack);
* ``alpha`` in {0, 0.1 (default), 1} at ``lambda_=0.5`` (the attack's Sinkhorn
  constraint, Eq. 4);
* ``lambda_=1`` (only the perturbed rows in Eq. 5, App. N), alpha 0 and 0.1;
* the attack budget ε ("auto", Alg. 1) multiplied by 4 and 16, ``lambda_=1``
  (through the documented ``_distance_to_boundary`` override).

Diagnosis columns:

* ``head_bound``: ``ExponentiatedGradient(LogisticRegression(), EqualizedOdds())`` on the
  standardised frozen latents f(x) of the pretrained encoder, *with* A at fit: the
  fairest (randomised) linear head on that latent. ALFA changes only the head, so it
  cannot be expected to beat this;
* ``expgrad_X``: the same reduction on the group-blind inputs (the peer);
* ``probe_auc_X``, ``probe_auc_Z``: test AUROC of a logistic probe of A from X
  (group-blind) and from f(x): how much of A the inputs and the latent still carry;
* ``train_eod``: ΔEOd on the training rows, where the attack and the head solve see it.

Usage (from the repository root)::

    python -m benchmarks.studies.alfa.alfa_blind_front --dataset compas --seeds 0 1 2 3 4

Writes ``benchmarks/studies/alfa/results/alfa_blind_front_<dataset>_<seeds>.{md,json}``.
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch
from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from skfairlatent.datasets import make_preprocessor
from skfairlatent.experiments import TABULAR, load_split
from skfairlatent.nn.attacks import distance_to_boundary

from benchmarks._common import PretrainCache, mean_std, records, study_results, write_result

#: The column of X that holds A, before one-hot encoding.
SENSITIVE_COLUMN = {"compas": "sex", "drug": "Gender"}

#: name -> (ALFA parameters, factor on the "auto" ε)
SETTINGS = {
    "plain": ({"lambda_": 0.0}, 1),
    "alpha=0": ({"alpha": 0.0}, 1),
    "alpha=0.1 (default)": ({}, 1),
    "alpha=1": ({"alpha": 1.0}, 1),
    "lambda=1, alpha=0": ({"lambda_": 1.0, "alpha": 0.0}, 1),
    "lambda=1, alpha=0.1": ({"lambda_": 1.0}, 1),
    "lambda=1, eps x4": ({"lambda_": 1.0}, 4),
    "lambda=1, eps x16": ({"lambda_": 1.0}, 16),
}


def blind_columns(dataset):
    """Indices of the encoded columns of X that hold A."""
    X, _, _ = TABULAR[dataset](return_X_y_A=True)
    names = make_preprocessor().fit(X.head(200)).get_feature_names_out()
    column = SENSITIVE_COLUMN[dataset]
    return [i for i, name in enumerate(names)
            if name.split("__", 1)[1] == column or name.split("__", 1)[1].startswith(column + "_")]


def blind_split(dataset, seed):
    """load_split with A's columns dropped from X; A as 0/1 codes."""
    drop = blind_columns(dataset)
    split = load_split(dataset, seed)
    groups = np.unique(split["train"][2])
    return {part: (np.delete(X, drop, axis=1), y, (A == groups[1]).astype(int))
            for part, (X, y, A) in split.items()}


def scores(y, pred, a):
    """accuracy and ΔEOd (|ΔTPR| + |ΔFPR|) for binary y and a."""
    eod = sum(abs(pred[(a == 1) & (y == t)].mean() - pred[(a == 0) & (y == t)].mean())
              for t in (0, 1))
    return float((pred == y).mean()), float(eod)


def scaled_budget(factor):
    """An ALFA step 3 whose distances (and so ε="auto") are multiplied by ``factor``."""
    def distance(model, features):
        return factor * distance_to_boundary(model, features)
    return staticmethod(distance)


def expgrad(F_train, y, a, F_test, seed):
    scaler = StandardScaler().fit(F_train)
    model = ExponentiatedGradient(LogisticRegression(max_iter=2000), EqualizedOdds())
    model.fit(scaler.transform(F_train), y, sensitive_features=a)
    return model.predict(scaler.transform(F_test), random_state=seed)


def probe_auc(F_train, a_train, F_test, a_test):
    scaler = StandardScaler().fit(F_train)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(F_train), a_train)
    return float(roc_auc_score(a_test, probe.predict_proba(scaler.transform(F_test))[:, 1]))


def run_seed(dataset, seed, cache):
    split = blind_split(dataset, seed)
    (X, y, a), (Xt, yt, at) = split["train"], split["test"]
    cache.key = (dataset, seed)
    rows, plain = [], None
    for name, (params, factor) in SETTINGS.items():
        cls = cache.estimator_class
        if factor != 1:
            cls = type("ScaledBudgetALFA", (cls,), {"_distance_to_boundary": scaled_budget(factor)})
        start = time.perf_counter()
        clf = cls(random_state=seed, **params).fit(X, y, sensitive_features=a)
        seconds = time.perf_counter() - start
        if plain is None:
            plain = clf
        rows.append({"dataset": dataset, "seed": seed, "method": name, "fit_s": seconds,
                     **_scored(clf.predict, split)})
    encode = plain.net_.module_.encode
    with torch.no_grad():
        Z, Zt = (encode(torch.as_tensor(F)).numpy() for F in (X, Xt))
    rows.append({"dataset": dataset, "seed": seed, "method": "head_bound",
                 **_test_only(expgrad(Z, y, a, Zt, seed), yt, at)})
    rows.append({"dataset": dataset, "seed": seed, "method": "expgrad_X",
                 **_test_only(expgrad(X, y, a, Xt, seed), yt, at)})
    for row in rows:
        row["probe_auc_X"] = probe_auc(X, a, Xt, at)
        row["probe_auc_Z"] = probe_auc(Z, a, Zt, at)
    return rows


def _scored(predict, split):
    out = {}
    for part in ("train", "valid", "test"):
        X, y, a = split[part]
        out[f"{part}_acc"], out[f"{part}_eod"] = scores(y, predict(X), a)
    return out


def _test_only(pred, y, a):
    acc, eod = scores(y, pred, a)
    return {"test_acc": acc, "test_eod": eod}


def table(frame):
    lines = ["| method | test accuracy | test ΔEOd | valid ΔEOd | train ΔEOd |",
             "|---|---|---|---|---|"]
    for method, rows in frame.groupby("method", sort=False):
        cells = [mean_std(rows[c]) if c in rows and rows[c].notna().all() else "–"
                 for c in ("test_acc", "test_eod", "valid_eod", "train_eod")]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    probes = frame.drop_duplicates("seed")
    lines.append("")
    lines.append(f"Probe AUROC of A (test rows): from group-blind X "
                 f"{mean_std(probes['probe_auc_X'])}, from the latent f(x) "
                 f"{mean_std(probes['probe_auc_Z'])}.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(SENSITIVE_COLUMN), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    cache = PretrainCache()
    runs = []
    for seed in args.seeds:
        runs += run_seed(args.dataset, seed, cache)
        print(f"{args.dataset} seed {seed} done", flush=True)
    frame = pd.DataFrame(runs)
    seeds = "-".join(map(str, (args.seeds[0], args.seeds[-1])))
    title = (f"# ALFA group-blind front, {args.dataset}, seeds {seeds}\n\n"
             "Mean ± std over seeds; A dropped from X, given at fit only.\n\n")
    stem = study_results("alfa") / f"alfa_blind_front_{args.dataset}_{seeds}"
    write_result(stem, title + table(frame), records(frame), argv)
    print(title + table(frame))


if __name__ == "__main__":
    main()
