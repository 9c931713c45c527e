"""FLDGM on Adult and COMPAS against its control, and the colour check of Fig. 2.

Paper: Ramachandranpillai, Sikder, Heintz, "Fair Latent Deep Generative
Models (FLDGMs) for Syntax-Agnostic and Fair Synthetic Data Generation", Table 1 (utility and
fairness of a random forest trained on synthetic data, tested on real data)
and Table 3 (density, coverage). Rows per dataset: the real training data;
FLD-DM with ``alpha=0`` (the control: the same pipeline without the
fairness penalty); FLD-DM with the default penalty (dCor^2 on the posterior
means, ``alpha=1`` per element, chosen on the tuning subsample of the study
``benchmarks/studies/fldgm/fldgm_tune_alpha.py``), a weaker ``alpha=0.3`` and a
stronger ``alpha=3``; and on Adult an ablation
whose label is decoded by p(y | z, s) (``condition_target=True``) at the
default alpha. Also: ``encoder="blind"`` rows (``--blind``), conditional rows
with the blind rows' VAE batch (``--batch512-alphas``), the DP setting chosen
on tuning seeds 100-102 by the study ``fldgm_tune_label_penalty.py`` (blind,
``alpha_target``, ``label_from="features"``; ``--label-alphas``), the same
with the label set to the fair head's most likely class
(``label_decode="mode"``; ``--mode-label-alphas``) or with the label penalty
on the groups' mean soft decisions (``target_penalty="dp"``;
``--dp-label-alphas``) or any other such setting (``--label-settings``), and
fairlearn's ExponentiatedGradient with DemographicParity trained on the real
rows (what a user would pick for a fair classifier; ``--no-expgrad`` drops
it). Every row gets ``dp_threshold_control``: the DP of the real-data forest
moved to label the same share of real test rows positive, the control for a
DP that only comes from labelling almost every row alike. GAN generators
are left out to fit a CPU budget.

Protocol (CPU-sized): Adult subsampled to ``--n-rows`` (stratified on the
label; say so when comparing with the paper's full data), COMPAS all 7,214
rows; 70/30 split; sex as the sensitive attribute; the Adult positive
class is income <=50K as in the authors' code (``Y = salary == '<=50K'``),
which is why the paper's precision and recall are about 0.9; COMPAS's is
``two_year_recid == 1``. Mean and standard deviation over ``--seeds``
(split, models and samples all seeded by the seed). Timings are wall-clock
on a shared 2-core machine.

The headline results (``benchmarks/results/``; each file starts with its
command, date and commit)::

    python benchmarks/fldgm_reproduction.py --datasets adult --n-train 33000 \\
        --variants independent:sample --blind --batch512-alphas --label-alphas \\
        --mode-label-alphas 2 --tag _label_mode_n33000
    python benchmarks/fldgm_reproduction.py --datasets compas --extra-alphas 3 40 \\
        --blind --batch512-alphas
    python benchmarks/fldgm_reproduction.py --figure

``--quick`` for a smoke run. Writes ``<output>/fldgm_table1_<dataset><tag>.{md,json}``
and, with ``--figure``, ``<output>/fldgm_fig2_colored_digits.png`` and
``fldgm_fig2.json`` (``--output`` defaults to ``benchmarks/results``; tuning runs
go to ``benchmarks/studies/fldgm/results``).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from skfairlatent import FairLatentSynthesizer, FairLatentVAE
from skfairlatent.datasets import load_colored_mnist
from skfairlatent.fair_vae import ALPHA_DEFAULT
from skfairlatent.fldgm import evaluate_synthetic

from _common import (
    RESULTS,
    dp_at_positive_rate,
    expgrad_dp,
    latent_scores,
    mean_std,
    provenance,
    real_forest_scores,
    write_result,
)
from _common import fldgm_frames as frames

METRICS = ["precision", "recall", "auroc", "ftu", "dp", "positive_rate", "dp_threshold_control",
           "density", "coverage",
           "alpha_precision", "beta_recall", "authenticity"]
# Adult: Table 1 (precision, recall, AUROC, FTU, DP) and Table 3 (density, coverage) of the
# paper; its alpha=0 reference is WGAN-GP without fairness. The paper has no COMPAS table.
PAPER = {
    "Real data": dict(precision=0.920, recall=0.936, auroc=0.807, ftu=0.116, dp=0.180),
    "WGAN-GP (no fairness)": dict(precision=0.683, recall=0.914, auroc=0.798, ftu=0.120, dp=0.189,
                                  density=0.709, coverage=0.636),
    "FL-DM-FTU": dict(precision=0.791, recall=0.912, auroc=0.795, ftu=0.000, dp=0.001),
    "FL-DM-DP": dict(precision=0.786, recall=0.905, auroc=0.787, ftu=0.000, dp=0.000,
                     density=1.264, coverage=0.891),
}
PAPER_ROWS = {"Real data": ["Real data"], "FLD-DM alpha=0 (control)": ["WGAN-GP (no fairness)"],
              f"FLD-DM alpha={ALPHA_DEFAULT:g} (default)": ["FL-DM-FTU", "FL-DM-DP"]}


def parse_setting(setting):
    """``"alpha_target=1,label_decode=mode"`` -> ``{"alpha_target": 1.0,
    "label_decode": "mode"}``."""
    params = {}
    for item in setting.split(","):
        key, value = item.split("=")
        try:
            params[key] = float(value)
        except ValueError:
            params[key] = value
    return params


def variant_name(name, variant, args):
    """Row label: the model's name, plus the sampling variant when it is not the default."""
    return name if variant == args.variants[0] else f"{name} [{variant}]"


def fairness_of(vae):
    """The fairness goal a row's VAE agrees with (every pipeline knob is set explicitly)."""
    if vae.alpha == 0 and vae.alpha_target == 0:
        return "none"
    return "paper" if vae.alpha_target == 0 else "demographic_parity"


def run(dataset, args):
    """Fit the control and the penalised synthesizers on each seed; evaluate each variant.

    A variant ``"<decoder_sensitive>:<decode>"`` only changes ``sample``
    (e.g. ``"shared:sample"``: the decoder gets the recorded s'), so all
    variants of a model share one fit. The control gets the first variant.
    """
    plan = [("FLD-DM alpha=0 (control)", dict(alpha=0.0), args.variants[:1]),
            (f"FLD-DM alpha={ALPHA_DEFAULT:g} (default)", dict(alpha=ALPHA_DEFAULT), args.variants)]
    plan += [(f"FLD-DM alpha={a:g}", dict(alpha=a), args.variants[:1]) for a in args.extra_alphas]
    # encoder="blind": q(z | x without s); the VAE batch of 512 is the one of the tuning split
    plan += [(f"FLD-DM blind alpha={a:g}" + (" batch 512" if b == 512 else ""),
              dict(alpha=a, condition_encoder=False, batch_size=b), args.variants[:1])
             for a, b in args.blind]
    plan += [(f"FLD-DM alpha={a:g} batch 512", dict(alpha=a, batch_size=512), args.variants[:1])
             for a in args.batch512_alphas]
    def blind_label_row(name, **params):
        """A row with the blind encoder and the label read back from the decoded features."""
        return (f"FLD-DM blind alpha={ALPHA_DEFAULT:g} {name}",
                dict(alpha=ALPHA_DEFAULT, condition_encoder=False, label_from="features",
                     **params), args.variants[:1])

    # the setting chosen on tuning seeds 100-102 (fldgm_tune_label_penalty.py): blind encoder,
    # label penalty alpha_target=1, label read back from the decoded features
    plan += [blind_label_row(f"alpha_target={a:g} label_from=features", alpha_target=a)
             for a in args.label_alphas]
    # the same with the label set to the fair head's most likely class (label_decode="mode")
    plan += [blind_label_row(f"alpha_target={a:g} label_from=features label_decode=mode",
                             alpha_target=a, label_decode="mode")
             for a in args.mode_label_alphas]
    # the same with the label penalty on the groups' mean soft decisions (target_penalty="dp")
    plan += [blind_label_row(f"alpha_target={a:g} target_penalty=dp label_from=features",
                             alpha_target=a, target_penalty="dp")
             for a in args.dp_label_alphas]
    # any other such setting, e.g. "alpha_target=1,label_decode=mode"
    plan += [blind_label_row(f"label_from=features {setting}", **parse_setting(setting))
             for setting in args.label_settings]
    if dataset == "adult" and args.ablation:
        plan.append((f"ablation: label from p(y|z,s), alpha={ALPHA_DEFAULT:g}",
                     dict(alpha=ALPHA_DEFAULT, condition_target=True), args.variants[:1]))
    rows = {"Real data": []}
    if args.expgrad:
        rows["ExpGrad DP on real rows"] = []
    for name, _, variants in plan:
        rows.update({variant_name(name, v, args): [] for v in variants})
    timings = {}
    for seed in args.seeds:
        X_tr, X_te, y_tr, y_te, A_tr, A_te, pos = frames(dataset, args, seed)
        target = y_tr.name
        real_tr, real_te = X_tr.assign(**{target: y_tr}), X_te.assign(**{target: y_te})

        prevalence = float(np.mean(y_te == pos))
        real_scores = real_forest_scores(real_tr, real_te, target, pos, seed)

        def evaluate(S):
            scores = evaluate_synthetic(real_tr, real_te, S, target=target, sensitive="sex",
                                        pos_label=pos, random_state=seed)
            # share of real test rows the forest labels positive: recall · P(y=pos) / precision
            scores["positive_rate"] = (scores["recall"] * prevalence
                                       / max(scores["precision"], 1e-12))
            scores["dp_threshold_control"] = dp_at_positive_rate(
                real_scores, X_te["sex"].to_numpy(), scores["positive_rate"])
            return scores

        rows["Real data"].append(evaluate(real_tr))
        if args.expgrad:
            rows["ExpGrad DP on real rows"].append(expgrad_dp(real_tr, real_te, target, pos))
        for name, vae_params, variants in plan:
            vae_params = dict(dict(batch_size=256), **vae_params)
            label_from = vae_params.pop("label_from", "latent")
            label_decode = vae_params.pop("label_decode", None)
            vae = FairLatentVAE(kl_weight=args.kl_weight, max_epochs=args.vae_epochs,
                                random_state=seed, **vae_params)
            encoder = "conditional" if vae_params.get("condition_encoder", True) else "blind"
            syn = FairLatentSynthesizer(fairness=fairness_of(vae), vae=vae,
                                        generator_max_epochs=args.dm_epochs, batch_size=256,
                                        encoder=encoder, label_from=label_from,
                                        random_state=seed)
            t = time.perf_counter()
            syn.fit(X_tr, y_tr, sensitive_features=A_tr)
            timings.setdefault(f"{name} fit (s)", []).append(time.perf_counter() - t)
            for variant in variants:
                rule, decode = variant.split(":")
                label = variant_name(name, variant, args)
                S = syn.set_params(decoder_sensitive=rule, decode=decode,
                                   label_decode=label_decode or decode).sample(
                    round(args.synthetic_ratio * len(X_tr)), random_state=seed)
                rows[label].append(evaluate(S))
                print(dataset, seed, label, {k: round(v, 3) for k, v in rows[label][-1].items()},
                      flush=True)
    return rows, timings


def fig2(args):
    """Digits decoded under each background colour from the same latent codes (seed 0).

    Three VAEs on the same 4,000 training images (colour independent of the
    digit): alpha=0 (the control), the default alpha with the default
    penalty (bias-corrected dCor^2), and the default alpha with the biased
    V-statistic dCor^2 (``penalty="dcor-biased"``, the previous default,
    whose codes collapsed). On the 1,000 test images: dCor^2(z, colour) (the
    V-statistic, as a measurement), a logistic probe of the colour (chance
    0.5) and of the digit (10 classes), per-pixel squared error.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = load_colored_mnist(bias_aligned_fraction=0.5, colors=("red", "green"), random_state=0)
    X, A = data.X_train, data.A_train
    settings = [("alpha=0", dict(alpha=0.0)),
                (f"alpha={ALPHA_DEFAULT:g}", dict(alpha=ALPHA_DEFAULT)),
                (f"alpha={ALPHA_DEFAULT:g}, biased dCor", dict(alpha=ALPHA_DEFAULT,
                                                               penalty="dcor-biased"))]
    out = {}
    vaes = {}
    for name, params in settings:
        t = time.perf_counter()
        vaes[name] = FairLatentVAE(max_epochs=args.image_epochs, batch_size=128, random_state=0,
                                   **params).fit(X, sensitive_features=A)
        Z = vaes[name].transform(data.X_test, sensitive_features=data.A_test)
        scores = latent_scores(vaes[name], Z, data)
        out[name] = dict(seconds=time.perf_counter() - t, dcor2=scores["dcor2"],
                         probe=scores["colour_probe"], digit_probe=scores["digit_probe"],
                         mse=scores["mse"])
        print("fig2", name, out[name], flush=True)
    n_rows = 1 + 2 * len(settings)
    fig, axes = plt.subplots(n_rows, 10, figsize=(10, 1.12 * n_rows))
    X0, A0 = data.X_test[:10], data.A_test[:10]
    rows = [("input", X0)]
    for name, _ in settings:
        Z = vaes[name].transform(X0, sensitive_features=A0)
        rows += [(f"{name}, decoded as {data.color_names[g]}",
                  vaes[name].inverse_transform(Z, g)) for g in (0, 1)]
    for r, (label, images) in enumerate(rows):
        for c in range(10):
            axes[r, c].imshow(np.transpose(images[c], (1, 2, 0)))
            axes[r, c].axis("off")
        axes[r, 0].set_title(label, fontsize=8, loc="left")
    fig.suptitle("FairLatentVAE on coloured digits: the same z decoded under each colour")
    fig.tight_layout()
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "fldgm_fig2_colored_digits.png"
    info = provenance()
    fig.savefig(path, dpi=110, metadata={
        "Comment": f"Made by {info['command']} on {info['date']} at commit {info['commit']}"})
    write_result(out_dir / "fldgm_fig2", None, {"args": vars(args), **out})
    return path


def markdown(dataset, rows, timings, args):
    if dataset == "adult":
        n = (f"{args.n_train:,} training rows (stratified subsample of 45,222), tested on "
             f"{args.n_test:,} other real rows")
    else:
        n = "all 7,214 rows, 70/30 split"
    lines = [f"# FLDGM on {dataset} (ours vs paper)\n",
             f"{n}; seeds {args.seeds}; VAE {args.vae_epochs} epochs (kl_weight={args.kl_weight}),"
             f" DDPM {args.dm_epochs} epochs (200 steps); synthetic sets of "
             f"{args.synthetic_ratio:g}x the training rows; random forest trained on the rows of "
             "each line, tested on the real test rows; mean ± std over seeds. Sampling variant "
             f"of each row: decoder_sensitive:decode, default {args.variants[0]}. "
             "Machine shared with other jobs.\n",
             "| method | " + " | ".join(METRICS) + " |",
             "|---" * (len(METRICS) + 1) + "|"]
    for name, results in rows.items():
        lines.append(f"| {name} (ours) | " + " | ".join(
            mean_std([r[m] for r in results]) if m in results[0] else "" for m in METRICS) + " |")
        if dataset == "adult":
            for ref_name in PAPER_ROWS.get(name, []):
                ref = PAPER[ref_name]
                lines.append(f"| {ref_name} (paper) | " + " | ".join(
                    f"{ref[m]:.3f}" if m in ref else "" for m in METRICS) + " |")
    lines += ["", "| timing | mean |", "|---|---|"]
    lines += [f"| {k} | {np.mean(v):.1f} |" for k, v in timings.items()]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["adult", "compas"])
    parser.add_argument("--n-train", type=int, default=4200,
                        help="Adult training rows (stratified subsample)")
    parser.add_argument("--n-test", type=int, default=12000,
                        help="Adult held-out real test rows")
    parser.add_argument("--variants", nargs="+", default=["independent:sample", "shared:sample"],
                        help="decoder_sensitive:decode combinations; the first is the default")
    parser.add_argument("--extra-alphas", type=float, nargs="*", default=[])
    parser.add_argument("--blind", type=lambda v: tuple(float(x) if "." in x else int(x)
                                                      for x in v.split(":")),
                        nargs="*", default=[(1, 256), (3, 512)],
                        help="encoder='blind' rows as alpha:vae_batch_size")
    parser.add_argument("--batch512-alphas", type=float, nargs="*", default=[3.0],
                        help="conditional-encoder rows with the blind rows' VAE batch of 512")
    parser.add_argument("--label-alphas", type=float, nargs="*", default=[1.0],
                        help="alpha_target of the blind, label_from='features' rows")
    parser.add_argument("--mode-label-alphas", type=float, nargs="*", default=[],
                        help="alpha_target of blind, label_from='features' rows whose label is "
                             "the head's most likely class (label_decode='mode')")
    parser.add_argument("--label-settings", nargs="*", default=[],
                        help="blind, label_from='features' rows with these FairLatentVAE / "
                             "sampling parameters, e.g. 'alpha_target=1,label_decode=mode'")
    parser.add_argument("--dp-label-alphas", type=float, nargs="*", default=[],
                        help="alpha_target of blind rows with target_penalty='dp'")
    parser.add_argument("--no-expgrad", dest="expgrad", action="store_false",
                        help="leave out the ExponentiatedGradient reference row")
    parser.add_argument("--kl-weight", type=float, default=0.1)
    parser.add_argument("--synthetic-ratio", type=float, default=1.0,
                        help="synthetic rows per training row (the paper's protocol: 1)")
    parser.add_argument("--ablation", action="store_true",
                        help="Adult: also the label decoded by p(y | z, s)")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--output", default=str(RESULTS),
                        help="folder of the result files (studies: "
                             "benchmarks/studies/fldgm/results)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--vae-epochs", type=int, default=40)
    parser.add_argument("--dm-epochs", type=int, default=100)
    parser.add_argument("--image-epochs", type=int, default=15)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--figure", action="store_true", help="only the Fig. 2 check")
    args = parser.parse_args()
    if args.quick:
        args.n_train, args.n_test, args.seeds = 1000, 1000, [0]
        args.vae_epochs, args.dm_epochs = 5, 5
        args.image_epochs = 1
    torch.set_num_threads(1)
    if args.figure:
        print("figure:", fig2(args))
        return
    for dataset in args.datasets:
        rows, timings = run(dataset, args)
        text = markdown(dataset, rows, timings, args)
        write_result(Path(args.output) / f"fldgm_table1_{dataset}{args.tag}", text,
                     {"args": vars(args), "rows": rows, "timings": timings})
        print(text)


if __name__ == "__main__":
    main()
