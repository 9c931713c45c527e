"""One runner per method: fit, score, print the tables and write the output files.

:data:`RUNNERS` maps a method name (``--method`` of the ``skfairlatent``
command) to a function ``runner(options, folder, stem, n_jobs)`` that runs
the method on ``options.dataset`` for every seed in ``options.seeds``,
prints its tables, writes its files into ``folder`` (names starting with
``stem``) and returns the list of the names written. ``options`` is an
object with the attributes of the command's arguments (an
``argparse.Namespace``): ``method``, ``dataset``, ``model``, ``seeds``,
``alphas``, ``max_epochs``, ``compare``, ``device``, ``verbose``,
``max_rows`` and ``certify_rows``.

* ``alfa``, ``fairflow`` and ``aeda`` on tabular data -- the grid of
  (seed, setting) fits (:func:`~skfairlatent.experiments.run_grid`) beside
  the fairlearn comparison; ``aeda`` on ``colored_mnist`` --
  :func:`run_aeda_images`.
* ``lassi`` -- :func:`run_lassi` (certification settings :data:`LASSI_CERTIFY`).
* ``fldgm`` -- :func:`run_fldgm`.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score

from .. import datasets
from ._grid import candidates, run_grid
from ._scoring import METRICS, metric_frame, scores
from ._selection import CHOSEN, select_alpha
from ._splits import fldgm_frames, load_split
from ._summary import format_table, mean_std_table, summarize

__all__ = ["RUNNERS", "METHODS", "COMPARABLE", "LASSI_CERTIFY", "LASSI_SIGMA_RS",
           "run_aeda_images", "run_lassi", "run_fldgm"]

#: Keyword arguments of :func:`~skfairlatent.smoothing.certify_individual_fairness`:
#: reduced sample sizes (``benchmarks/lassi_reproduction.py``, ``"small"``).
LASSI_CERTIFY = dict(sigma_cs=1.0, n0_cs=2_000, n_cs=2_000, delta=0.1, n0_rs=100, n_rs=10_000,
                     alpha_cs=0.01, alpha_rs=0.001)
#: Noise σ of the randomized-smoothing classifier.
LASSI_SIGMA_RS = 1.0


# --------------------------------------------------------------------------- #
# alfa, aeda, fairflow on tabular data: the grid of (seed, setting) fits
# --------------------------------------------------------------------------- #
def _print_frames(frames, seed):
    for label, (y, pred, A) in frames.items():
        print(f"\nMetricFrame by group: {label} (seed {seed}, test split)")
        print(metric_frame(y, pred, A).by_group.round(4).to_string())


def _grid_runner(options, stage, stem, n_jobs):
    from .. import plotting

    settings = dict(method=options.method, dataset=options.dataset, model=options.model,
                    seeds=list(options.seeds), max_epochs=options.max_epochs,
                    device=options.device, verbose=options.verbose, max_rows=options.max_rows)
    cands = candidates(options.method, model=options.model, alphas=options.alphas,
                       compare=options.compare)
    runs, predictions = run_grid(settings, cands, n_jobs=n_jobs)
    runs = select_alpha(runs)
    metrics = METRICS + (("balanced_group_accuracy", "model_bias")
                         if options.method == "aeda" else ())
    summary = summarize(runs, metrics)
    table = format_table(summary, metrics)
    print("\nTest scores (mean ± std over seeds "
          f"{' '.join(map(str, options.seeds))}; "
          "✓ = on the accuracy/ΔEOd Pareto front of the means):")
    print(table.to_string())
    if summary.uses_sensitive_at_predict.any():
        print("† uses the sensitive attribute at predict time (not available to the other methods)")
    seed = options.seeds[0]
    if options.method == "alfa":
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
    plotting.plot_summary(summary, stage / f"{stem}_tradeoff.png",
                          f"{options.method} on {options.dataset} ({options.model}), "
                          f"{len(options.seeds)} seeds, {options.max_epochs} epochs")
    return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_runs.json", f"{stem}_tradeoff.png"]


def _common(options):
    return dict(seeds=list(options.seeds), max_epochs=options.max_epochs, device=options.device,
                verbose=options.verbose)


# --------------------------------------------------------------------------- #
# AEDA on coloured digits (images: no fairlearn comparison)
# --------------------------------------------------------------------------- #
def run_aeda_images(*, seeds, max_epochs, device, verbose, log=print):
    """AEDA modes against ``mode="none"`` on coloured MNIST.

    Per seed, :func:`~skfairlatent.datasets.load_colored_mnist` and
    :func:`~skfairlatent.aeda.compare_aeda_modes`; returns one row per
    (seed, mode).
    """
    from tqdm.auto import tqdm

    from ..aeda import compare_aeda_modes

    frames = []
    for seed in tqdm(seeds, desc="aeda seeds", file=sys.stderr):
        (X_tr, y_tr, A_tr), (X_te, y_te, A_te) = datasets.load_colored_mnist(
            random_state=seed, return_X_y_A=True)
        frame = compare_aeda_modes(X_tr, y_tr, A_tr, X_te, y_te, A_te, random_state=seed,
                                   max_epochs=max_epochs, device=device, verbose=verbose)
        frames.append(frame.reset_index().assign(seed=seed))
        log(frame.to_string())
    return pd.concat(frames, ignore_index=True)


def _aeda_runner(options, stage, stem, n_jobs):
    if options.dataset != "colored_mnist":
        return _grid_runner(options, stage, stem, n_jobs)
    runs = run_aeda_images(**_common(options))
    table = runs.groupby("mode", sort=False).agg(["mean", "std"]).drop(columns="seed", level=0)
    print("\nTest scores (mean, std over seeds):")
    print(table.to_string())
    (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
    runs.to_json(stage / f"{stem}_runs.json", orient="records", indent=2)
    return [f"{stem}_table.md", f"{stem}_runs.json"]


# --------------------------------------------------------------------------- #
# LASSI
# --------------------------------------------------------------------------- #
def run_lassi(dataset, *, seeds, max_epochs, device, verbose, max_rows=None, certify_rows=200,
              log=print):
    """Naive (λ_adv = 0) and LASSI representations, smoothed classifiers and certificates.

    LASSI is :class:`~skfairlatent.lassi.LASSIRepresentation` with its default
    ``lambda_adv``; the Naive control sets ``lambda_adv=0``.

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

    from ..lassi import FlowTransformer, LASSIRepresentation
    from ..smoothing import CertifiedSmoothClassifier, certify_individual_fairness

    default_lambda_adv = LASSIRepresentation().lambda_adv
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
        for label, adv in (("Naive (λ_adv=0)", {"lambda_adv": 0.0}),
                           (f"LASSI (λ_adv={default_lambda_adv:g})", {})):
            start = time.perf_counter()
            rep = LASSIRepresentation(flow=flow, max_epochs=max_epochs, device=device,
                                      random_state=seed, verbose=verbose, **adv)
            lambda_adv = rep.lambda_adv
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



def _lassi_runner(options, stage, stem, n_jobs):
    from .. import plotting

    runs, radii = run_lassi(options.dataset, max_rows=options.max_rows,
                            certify_rows=options.certify_rows, **_common(options))
    columns = ["accuracy", "certified_percent", "abstain_percent", "mean_d_cs", "mean_d_rs",
               "seconds_per_point", "fit_seconds", "test_delta_dp", "test_delta_eod"]
    table = mean_std_table(runs, "method", columns)
    print(f"\nLASSI on {options.dataset} (mean ± std over seeds; certification of "
          f"{int(runs.n_certified_rows.iloc[0])} test rows, LASSI Alg. 1 with CS "
          f"n0=n={LASSI_CERTIFY['n_cs']}, RS n0={LASSI_CERTIFY['n0_rs']}, "
          f"n={LASSI_CERTIFY['n_rs']}, σ_rs={LASSI_SIGMA_RS:g}):")
    print(table.to_string())
    (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
    runs.to_json(stage / f"{stem}_table.json", orient="records", indent=2)
    radii.to_csv(stage / f"{stem}_radii.csv", index=False)
    n_seeds = len(options.seeds)
    plotting.plot_lassi_radii(radii, stage / f"{stem}_radii.png",
                              f"LASSI on {options.dataset}: certified iff d_cs < d_rs "
                              f"({n_seeds} seed{'s' if n_seeds > 1 else ''})")
    return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_radii.csv", f"{stem}_radii.png"]


# --------------------------------------------------------------------------- #
# FLDGM
# --------------------------------------------------------------------------- #
def _with_columns(X, y, A, target, sensitive):
    frame = X.copy()
    if sensitive not in frame.columns:
        frame[sensitive] = A.to_numpy()
    frame[target] = y.to_numpy()
    return frame


def _paper_goal(alpha):
    """The paper's pipeline (``fairness="paper"``); at ``alpha=0`` the same pipeline spelt
    out under ``fairness="none"`` (the control)."""
    if alpha > 0:
        return dict(fairness="paper")
    return dict(fairness="none", encoder="conditional", label_from="latent",
                label_decode="sample")


def run_fldgm(dataset, *, seeds, max_epochs, device, verbose, max_rows=None, log=print):
    """FLDGM as in the paper (``fairness="paper"``: conditional fair VAE with α = 1, dCor²
    penalty, latent DDPM, label from the latent) and the α = 0 control (the same pipeline).

    Per seed: both synthesizers are fitted on the training frame (stage 1: a
    :class:`~skfairlatent.fair_vae.FairLatentVAE` with ``kl_weight=0.1``,
    ``alpha`` set and ``max_epochs`` epochs; the DDPM with ``4 × max_epochs``),
    each samples as many rows as the training split, and
    :func:`~skfairlatent.metrics.evaluate_synthetic` scores the real training
    rows and both samples against the real test rows.

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

    from ..fair_vae import FairLatentVAE
    from ..fldgm import DEFAULT_VAE_KL_WEIGHT, FairLatentSynthesizer
    from ..metrics import evaluate_synthetic

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
                vae = FairLatentVAE(alpha=alpha, kl_weight=DEFAULT_VAE_KL_WEIGHT,
                                    max_epochs=max_epochs, batch_size=256, device=device,
                                    verbose=verbose)
                syn = FairLatentSynthesizer(vae=vae, **_paper_goal(alpha),
                                            generator_max_epochs=4 * max_epochs,
                                            batch_size=256, device=device, random_state=seed,
                                            verbose=verbose)
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



def _fldgm_runner(options, stage, stem, n_jobs):
    from .. import plotting

    runs, samples, meta = run_fldgm(options.dataset, max_rows=options.max_rows,
                                    **_common(options))
    metric_columns = [c for c in runs.columns if c not in ("seed", "data")]
    table = mean_std_table(runs, "data", metric_columns)
    print(f"\nFLDGM on {options.dataset}: a random forest trained on each data, tested on real "
          "test rows; fidelity against the real training rows (mean ± std over seeds):")
    print(table.to_string())
    (stage / f"{stem}_table.md").write_text(table.to_markdown() + "\n")
    runs.to_json(stage / f"{stem}_table.json", orient="records", indent=2)
    fair_label = next(k for k in samples if k.startswith("FLDGM"))
    samples[fair_label].to_csv(stage / f"{stem}_synthetic.csv", index=False)
    plotting.plot_fldgm(samples, meta, stage / f"{stem}_marginals.png",
                        f"FLDGM on {options.dataset} (seed {options.seeds[0]}): real vs synthetic")
    return [f"{stem}_table.md", f"{stem}_table.json", f"{stem}_synthetic.csv",
            f"{stem}_marginals.png"]


#: ``method -> runner(options, folder, stem, n_jobs)``; see the module docstring.
RUNNERS = {
    "alfa": _grid_runner,
    "aeda": _aeda_runner,
    "fairflow": _grid_runner,
    "lassi": _lassi_runner,
    "fldgm": _fldgm_runner,
}
#: The methods of the ``skfairlatent`` command.
METHODS = tuple(RUNNERS)
#: The methods run as a grid beside the fairlearn comparison (on tabular data).
COMPARABLE = ("alfa", "aeda", "fairflow")
