"""Why does ALFA (not) beat the upsampling-only control?  A one-seed diagnosis.

On a tuning seed (default 100, never reported in the ablation), for each
dataset (MLP 2x128): one pretraining, then ALFA fits with the attack off
(the upsampling-only control, ε = 1e-8) and on (α candidates), under the
paper's upsampling (N_p = 4·max n_ay, ε per cell) and the authors' per-batch
upsampling (N_p ≈ n, ε per cell of each batch). The attacked latents of each
fit are then fine-tuned again, outside the estimator, under three schemes,
with validation and test scores after every epoch:

* ``eq5``: a fresh last layer on every original row + the N_p perturbed rows
  (Eq. 5, the estimator's default);
* ``authors``: the pretrained last layer continued on the N_p clean
  upsampled rows + their perturbed copies (the authors' code);
* ``eq5_prior``: as ``eq5`` with the perturbed rows reweighted so that each
  class keeps its training-set share among them (cell-balanced upsampling
  sets P(y) to 1/2, which moves the threshold on imbalanced data).

Each scheme is reported at its last epoch and at the epoch of best
validation accuracy (what the authors keep).

Usage (from the repository root)::

    python -m benchmarks.studies.alfa.alfa_diagnose --datasets adult --name alfa_diagnose_adult

Writes ``benchmarks/studies/alfa/results/<name>.{md,json}``.
"""

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch

from skfairlatent.experiments import MODELS, load_split

from benchmarks._common import PretrainCache, records, study_results, subsample_rows, write_result


def _gaps(y, pred, a):
    """accuracy, ΔEOd (|ΔTPR| + |ΔFPR|), ΔDP for binary y, a codes."""
    eod = sum(abs(pred[(a == 1) & (y == t)].mean() - pred[(a == 0) & (y == t)].mean())
              for t in (0, 1))
    dp = abs(pred[a == 1].mean() - pred[a == 0].mean())
    return float((pred == y).mean()), float(eod), float(dp)


def finetune(head0, inputs, targets, weights, evals, *, epochs, lr, batch_size, reinit, seed):
    """Adam on the weighted BCE of a copy of ``head0``; scores after every epoch."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(head0.in_features, 1)
    if not reinit:
        head.load_state_dict(head0.state_dict())
    X = torch.as_tensor(inputs)
    Y = torch.as_tensor(targets, dtype=torch.float32)
    W = torch.as_tensor(weights, dtype=torch.float32)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            index = order[start:start + batch_size]
            loss = (W[index] * torch.nn.functional.binary_cross_entropy_with_logits(
                head(X[index]).squeeze(-1), Y[index], reduction="none")).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            row = {"epoch": epoch + 1}
            for part, (Z, y, a) in evals.items():
                pred = (head(Z).squeeze(-1) > 0).numpy().astype(int)
                keys = (f"{part}_acc", f"{part}_eod", f"{part}_dp")
                row.update(dict(zip(keys, _gaps(y, pred, a))))
            history.append(row)
    return pd.DataFrame(history)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["compas", "adult"])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--upsampling", nargs="+", default=["paper", "per_batch"])
    parser.add_argument("--schemes", nargs="+", default=["eq5", "authors", "eq5_prior"])
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--adult-train-rows", type=int, default=None)
    parser.add_argument("--name", default="alfa_diagnose")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    out = study_results("alfa")
    rows = []
    cache = PretrainCache()
    ALFAClassifier = cache.estimator_class  # ALFA with one pretraining per (dataset, seed)
    for dataset in args.datasets:
        split = load_split(dataset, args.seed)
        X_tr, y_tr, A_tr = subsample_rows(*split["train"], args.adult_train_rows
                                          if dataset == "adult" else None, args.seed)
        cache.key = (dataset, args.seed)
        base = dict(hidden_layer_sizes=MODELS["mlp"], max_epochs=args.max_epochs,
                    random_state=args.seed)
        start = time.perf_counter()
        ref = ALFAClassifier(lambda_=0.0, **base).fit(X_tr, y_tr, sensitive_features=A_tr)
        print(f"{dataset}: n_train={len(X_tr)} baseline fit {time.perf_counter() - start:.1f} s",
              flush=True)
        module = ref.net_.module_
        groups = list(ref.sensitive_groups_)

        def codes(part):
            X, y, A = split[part] if part != "train" else (X_tr, y_tr, A_tr)
            with torch.no_grad():
                Z = module.encode(torch.as_tensor(X))
            return Z, np.searchsorted(ref.classes_, y), np.array([groups.index(g) for g in A])

        evals = {part: codes(part) for part in ("valid", "test")}
        Z_tr, yc_tr, ac_tr = codes("train")
        for part in ("valid", "test"):
            pred = (ref.decision_function(split[part][0]) > 0).astype(int)
            acc, eod, dp = _gaps(evals[part][1], pred, evals[part][2])
            rows.append({"dataset": dataset, "fit": "baseline λ=0", "scheme": "estimator",
                         "pick": "last", "part": part, "acc": acc, "eod": eod, "dp": dp})
        prior = np.bincount(yc_tr, minlength=2) / len(yc_tr)
        head0 = torch.nn.Linear(module.head.in_features, 1)
        head0.load_state_dict({"weight": torch.as_tensor(ref.pretrained_coef_),
                               "bias": torch.as_tensor(ref.pretrained_intercept_)})
        fits = [("control", dict(alpha=0.0, epsilon=1e-8))] + [
            (f"ALFA α={a:g}", dict(alpha=a)) for a in args.alphas]
        for upsampling in args.upsampling:
            for name, params in fits:
                start = time.perf_counter()
                clf = ALFAClassifier(upsampling=upsampling, **base, **params).fit(
                    X_tr, y_tr, sensitive_features=A_tr)
                fit_s = time.perf_counter() - start
                clean, perturbed = clf.attack_latents_, clf.perturbed_latents_
                t_p = clf.attack_targets_
                label = f"{name} [{upsampling}]"
                for part in ("valid", "test"):
                    pred = (clf.decision_function(split[part][0]) > 0).astype(int)
                    acc, eod, dp = _gaps(evals[part][1], pred, evals[part][2])
                    rows.append({"dataset": dataset, "fit": label, "scheme": "estimator",
                                 "pick": "last", "part": part, "acc": acc, "eod": eod, "dp": dp,
                                 "n_p": len(t_p), "fit_s": fit_s,
                                 "attack_eod": clf.attack_report_["delta_eod_perturbed"]})
                print(f"  {label}: N_p={len(t_p)} fit {fit_s:.1f} s, frozen-model ΔEOd on attack "
                      f"rows {clf.attack_report_['delta_eod_clean']:.2f} → "
                      f"{clf.attack_report_['delta_eod_perturbed']:.2f}", flush=True)
                for scheme in args.schemes:
                    if scheme == "authors":
                        inputs = np.concatenate([clean, perturbed])
                        targets = np.concatenate([t_p, t_p])
                        weights = np.ones(len(inputs))
                    else:
                        inputs = np.concatenate([Z_tr.numpy(), perturbed])
                        targets = np.concatenate([yc_tr, t_p])
                        w_p = np.ones(len(t_p))
                        if scheme == "eq5_prior":
                            share = np.bincount(t_p, minlength=2) / len(t_p)
                            w_p = (prior / share)[t_p]
                        weights = np.concatenate([np.ones(len(yc_tr)), w_p])
                    history = finetune(head0, inputs.astype(np.float32), targets, weights, evals,
                                       epochs=args.max_epochs, lr=1e-3, batch_size=128,
                                       reinit=scheme != "authors", seed=args.seed)
                    best = history.valid_acc.idxmax()
                    for pick, index in (("last", len(history) - 1), ("best valid acc", best)):
                        h = history.loc[index]
                        for part in ("valid", "test"):
                            rows.append({"dataset": dataset, "fit": label, "scheme": scheme,
                                         "pick": pick, "part": part, "epoch": int(h.epoch),
                                         "acc": h[f"{part}_acc"], "eod": h[f"{part}_eod"],
                                         "dp": h[f"{part}_dp"]})
                    last = history.iloc[-1]
                    print(f"    {scheme:9s} last: valid acc {last.valid_acc:.3f} ΔEOd "
                          f"{last.valid_eod:.3f} | test acc {last.test_acc:.3f} ΔEOd "
                          f"{last.test_eod:.3f};  best-valid-acc epoch {best + 1}: test acc "
                          f"{history.test_acc[best]:.3f} ΔEOd {history.test_eod[best]:.3f}",
                          flush=True)
        frame = pd.DataFrame(rows)
        wide = frame.pivot_table(index=["dataset", "fit", "scheme", "pick"], columns="part",
                                 values=["acc", "eod", "dp"], sort=False).round(3)
        wide.columns = [f"{part} {metric}" for metric, part in wide.columns]
        write_result(out / args.name,
                     f"ALFA diagnosis, tuning seed {args.seed}, MLP, {args.max_epochs} "
                     "epochs\n\n" + wide.reset_index().to_markdown(index=False) + "\n",
                     records(frame))
        cache.clear()


if __name__ == "__main__":
    main()
