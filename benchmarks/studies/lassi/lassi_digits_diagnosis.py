"""Why coloured digits certify less than the paper: a per-point decomposition of Alg. 1.

LASSI (Peychev et al., "Latent Space Smoothing for Individually Fair
Representations") certifies a row when center smoothing's bound ``d_cs`` on the
representation's movement over the similarity set is below the randomized
smoothing radius ``d_rs`` of the classifier around the smoothed
representation. This script fits the coloured-digits pipeline of
``benchmarks/lassi_reproduction.py`` on the tuning seed (default 100, never reported; its
own 80/20 fit/validation split) and, for each ``lambda_adv``, reports on
evenly spaced validation rows:

* the representation's scale (mean ``||R||``, between-class share of its
  variance) and the first layer's gain along the attribute vector ``||W a||``;
* the true movement ``max_{|t| <= eps} ||R(z + t a) - R(z)||`` (grid of 41
  values of ``t``) and the movement at ``|t| = 2, 3`` (outside the trained
  interval, where center smoothing's Gaussian noise also samples);
* for each ``sigma_cs`` and ``sigma_rs``: CS abstentions (the Delta check),
  RS abstentions, median ``d_cs`` and ``d_rs``, ``d_cs`` over the true
  movement, and the certified fraction; and the fraction of rows failing
  because ``d_cs >= d_rs``;
* the attribute vector's quality: the real other-colour twin of each row,
  ``E(twin) - E(x)`` projected on ``a`` (the coefficient ``t*`` and the
  share of the latent difference that ``a`` explains), and a PNG of
  ``D(E(x) + t a)`` next to the twin.

Run (from the repository root): ``python -m benchmarks.studies.lassi.lassi_digits_diagnosis``
(writes ``benchmarks/studies/lassi/results/lassi_digits_diagnosis.json`` and a PNG;
``--summarize <json files>`` writes the ``.md`` table and a scatter PNG).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from skfairlatent.datasets import load_colored_mnist
from skfairlatent.lassi import FlowTransformer, LASSIRepresentation
from skfairlatent.smoothing import CertifiedSmoothClassifier, certify_individual_fairness

from benchmarks._common import LASSI_SMALL as SMALL
from benchmarks._common import lassi_digits, recolour, study_results, write_result

RESULTS = study_results("lassi")


def fit_or_load_flow(X_fit, seed, args):
    cache = Path(args.cache) / (f"flow_seed{seed}_s{args.glow_steps}_h{args.glow_hidden}"
                                f"_e{args.flow_epochs}.pkl")
    if cache.exists():
        return pickle.loads(cache.read_bytes()), 0.0
    t0 = time.perf_counter()
    flow = FlowTransformer(image_shape=(3, 28, 28), n_blocks=args.glow_steps,
                           hidden_size=args.glow_hidden, batch_size=64,
                           max_epochs=args.flow_epochs, random_state=seed, device="cpu").fit(X_fit)
    seconds = time.perf_counter() - t0
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(flow))
    return flow, seconds


def movement_profile(rep, Z, ts):
    """||R(z + t a) - R(z)|| for every row and every t: (n_rows, len(ts))."""
    a = rep.attribute_vectors_[0]
    r0 = rep.represent_latent(Z)
    out = np.empty((len(Z), len(ts)))
    for j, t in enumerate(ts):
        out[:, j] = np.linalg.norm(rep.represent_latent(Z + t * a) - r0, axis=1)
    return out


def scale_stats(R, y):
    total = R.var(axis=0).sum()
    means = np.stack([R[y == c].mean(axis=0) for c in np.unique(y)])
    between = means.var(axis=0).sum()
    return dict(mean_norm=float(np.linalg.norm(R, axis=1).mean()), total_var=float(total),
                between_class_share=float(between / total))


def save_png(rep, X_rows, twins, path, ts):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(X_rows)
    fig, axes = plt.subplots(n, len(ts) + 2, figsize=(1.1 * (len(ts) + 2), 1.15 * n))
    for i in range(n):
        images = ([X_rows[i]] + [rep.generate_similar(X_rows[i:i + 1], t)[0] for t in ts]
                  + [twins[i]])
        titles = ["x"] + [f"t={t:g}" for t in ts] + ["real twin"]
        for j, (img, title) in enumerate(zip(images, titles)):
            ax = axes[i, j]
            ax.imshow(np.clip(img.reshape(3, 28, 28).transpose(1, 2, 0), 0, 1))
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summarize(paths, name):
    """One markdown table (and a d_cs-versus-d_rs scatter) from diagnosis JSON files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lines = ["# Coloured digits: why rows fail to certify (tuning seed, validation rows)", "",
             "Each JSON is one run of `lassi_digits_diagnosis.py`. move = max over |t| <= 1 "
             "of ||R(z + t a) - R(z)|| (grid); fail = neither step abstained but d_cs >= d_rs; "
             "between = between-class share of R's variance; ||Wa||, ||Wz|| = first layer's "
             "response to a and rms response to centred latents (for `proj = yes` runs made before "
             "the script used the effective weight W (I - U U^T), ||Wa|| is the raw weight's; the "
             "effective one is ~1e-6). Small sample sizes (CS "
             "n0 = n = 2000, Delta = 0.1; RS n0 = 100, n = 10,000).", "",
             "| run | lambda | lr | schedule | proj | sigma_rs | sigma_cs | val acc % | "
             "certified % | CS abstain % | RS abstain % | fail d_cs>=d_rs % | median move | "
             "median d_cs | median d_rs | d_cs/move | between | ||Wa|| | ||Wz|| |",
             "|" + "---|" * 19]
    scatter, att = [], None
    for path in paths:
        report = json.loads(Path(path).read_text())
        a = report["args"]
        for lam, info in report["models"].items():
            for row in info["cert"]:
                lines.append(
                    f"| {Path(path).stem.replace('lassi_digits_diagnosis', '') or 'base'} | "
                    f"{float(lam):g} | {a['lr']:g} | {a.get('lr_schedule', 'constant')} | "
                    f"{'yes' if a.get('project') else 'no'} | {row['sigma_rs']:g} | "
                    f"{row['sigma_cs']:g} | {100 * row['val_acc']:.1f} | "
                    f"{100 * row['certified']:.0f} | {100 * row['cs_abstain']:.0f} | "
                    f"{100 * row['rs_abstain']:.0f} | {100 * row['fail_dcs_ge_drs']:.0f} | "
                    f"{info['move_eps_median']:.3g} | {row['median_d_cs']:.3g} | "
                    f"{row['median_d_rs']:.3g} | {row['d_cs_over_move']:.3g} | "
                    f"{info['between_class_share']:.2f} | {info['Wa_norm']:.3g} | "
                    f"{info['Wz_rms']:.3g} |")
                if "points" in row and row["sigma_rs"] == 1.0 and row["sigma_cs"] == 1.0:
                    run = Path(path).stem.replace("lassi_digits_diagnosis", "").lstrip("_")
                    label = (f"lambda={float(lam):g}, {a.get('lr_schedule', 'constant')}"
                             + (", projection" if a.get("project") else "")
                             + (f" [{run}]" if run else ""))
                    scatter.append((label, row["points"]))
        if "attribute" in report and att is None:
            att = report["attribute"]
    lines += ["", "Attribute vector (flow of the tuning seed): ||a||_2 = "
              f"{att['a_norm2']:.1f}; the real other-colour twin's latent difference "
              f"E(twin) - E(x) has median |t*| = {att['t_star_median']:.3f} along a "
              f"(IQR {att['t_star_iqr'][0]:.3f}-{att['t_star_iqr'][1]:.3f}) and a explains a "
              f"median {100 * att['explained_share_median']:.0f} % of its squared norm "
              f"(median ||E(twin) - E(x)|| = {att['twin_latent_dist_median']:.1f}). "
              f"Decoded D(E(x) + t a): `{att['png']}`."]
    write_result(RESULTS / name, "\n".join(lines) + "\n", None)
    print("\n".join(lines))
    if scatter:
        fig, ax = plt.subplots(figsize=(5, 4))
        for label, pts in scatter:
            d_cs = np.array([np.nan if v is None else v for v in pts["d_cs"]])
            d_rs = np.array([0.0 if v is None else v for v in pts["d_rs"]])  # RS abstain -> 0
            ax.scatter(np.maximum(d_cs, 1e-6), d_rs, s=12, label=label)
        ax.set_xscale("log")
        lim = ax.get_ylim()
        line = np.logspace(-6, np.log10(lim[1]), 200)
        ax.plot(line, line, "k--", lw=0.8, label="d_cs = d_rs")
        ax.set_ylim(-0.1, lim[1])
        ax.set_xlabel("d_cs (center smoothing bound, log)")
        ax.set_ylabel("d_rs (randomized smoothing radius; 0 = abstain)")
        ax.set_title("certified iff the point lies above the dashed line", fontsize=8)
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(RESULTS / f"{name}_scatter.png", dpi=100)
        plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--lambdas", nargs="+", type=float, default=[0.0, 3.0, 10.0])
    parser.add_argument("--sigma-cs", nargs="+", type=float, default=[0.5, 0.65, 1.0])
    parser.add_argument("--sigma-rs", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--flow-epochs", type=int, default=6)
    parser.add_argument("--glow-steps", type=int, default=2)
    parser.add_argument("--glow-hidden", type=int, default=32)
    parser.add_argument("--adv-epsilon", type=float, default=None,
                        help="training radius of the random attack (default: epsilon)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--adv-margin", type=float, default=0.0)
    parser.add_argument("--lr-schedule", default="constant", choices=["constant", "cosine"])
    parser.add_argument("--project", action="store_true",
                        help="project_attributes=True (attribute directions removed from "
                             "R's input)")
    parser.add_argument("--n-val", type=int, default=50)
    parser.add_argument("--cache", default="/tmp/lassi_cache")
    parser.add_argument("--name", default="lassi_digits_diagnosis")
    parser.add_argument("--summarize", nargs="+", default=None,
                        help="write <name>.md and a d_cs-vs-d_rs PNG from these JSON files")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize, args.name)
        return
    torch.set_num_threads(1)
    start = time.perf_counter()
    seed = args.seed
    X, y, A, *_ = lassi_digits(seed)
    bunch = load_colored_mnist(bias_aligned_fraction=0.5, flatten=True, random_state=seed)
    X_fit, X_val, y_fit, y_val, A_fit, A_val = train_test_split(
        X, y, A, test_size=0.2, random_state=seed, stratify=y)
    flow, flow_s = fit_or_load_flow(X_fit, seed, args)
    idx = np.arange(0, len(X_val), max(1, len(X_val) // args.n_val))[:args.n_val]
    X_pts, y_pts = X_val[idx], y_val[idx]
    twins = recolour(X_pts, A_val[idx], bunch.colors)
    report = dict(args=vars(args), flow_fit_s=flow_s, models={})

    for k, lam in enumerate(args.lambdas):
        t0 = time.perf_counter()
        extra = {} if args.adv_epsilon is None else dict(adv_epsilon=args.adv_epsilon)
        if args.project:
            extra["project_attributes"] = True
        if args.lr_schedule != "constant":
            extra["lr_schedule"] = args.lr_schedule
        if args.adv_margin:
            extra["adv_margin"] = args.adv_margin
        rep = LASSIRepresentation(flow=flow, max_epochs=args.epochs, random_state=seed,
                                  device="cpu", hidden_layer_sizes=(512,), n_components=128,
                                  batch_size=128, lambda_adv=lam, lr=args.lr, **extra).fit(
            X_fit, y_fit, sensitive_features=A_fit)
        fit_s = time.perf_counter() - t0
        a = rep.attribute_vectors_[0]
        Z_fit = rep.encode_latent(X_fit)
        R_fit = rep.represent_latent(Z_fit)
        Z_pts = rep.encode_latent(X_pts)
        first = rep.net_.module_.encoder[0].layers[0]
        W = first.weight.detach().numpy().copy()
        if hasattr(first, "basis"):  # project_attributes: the effective weight W (I - U U^T)
            U = first.basis.numpy()
            W = W - (W @ U.T) @ U
        Zc = Z_fit - Z_fit.mean(axis=0)
        info = dict(lambda_adv=lam, fit_s=fit_s, **scale_stats(R_fit, y_fit),
                    a_norm2=float(np.linalg.norm(a)), a_norm1=float(np.abs(a).sum()),
                    Wa_norm=float(np.linalg.norm(W @ a)),
                    Wz_rms=float(np.sqrt(((Zc[:500] @ W.T) ** 2).sum(axis=1).mean())))
        ts = np.linspace(-3, 3, 61)
        prof = movement_profile(rep, Z_pts, ts)
        inside = np.abs(ts) <= rep.epsilon + 1e-9
        true_move = prof[:, inside].max(axis=1)
        info["move_eps_median"] = float(np.median(true_move))
        info["move_eps_p90"] = float(np.quantile(true_move, 0.9))
        for tt in (2.0, 3.0):
            cols = np.isclose(np.abs(ts), tt)
            info[f"move_t{tt:g}_median"] = float(np.median(prof[:, cols].max(axis=1)))
        # attribute vector vs the real twin (k == 0 only: independent of R)
        if k == 0:
            diff = rep.encode_latent(twins) - Z_pts
            t_star = diff @ a / (a @ a)
            resid = np.linalg.norm(diff - t_star[:, None] * a[None], axis=1)
            report["attribute"] = dict(
                a_norm2=info["a_norm2"], t_star_median=float(np.median(np.abs(t_star))),
                t_star_iqr=[float(np.quantile(np.abs(t_star), q)) for q in (0.25, 0.75)],
                explained_share_median=float(np.median(
                    1 - resid ** 2 / np.linalg.norm(diff, axis=1) ** 2)),
                twin_latent_dist_median=float(np.median(np.linalg.norm(diff, axis=1))))
            pick = [int(np.flatnonzero(A_val[idx] == c)[j]) for c in (0, 1) for j in range(3)]
            png = RESULTS / f"{args.name}_attribute.png"
            save_png(rep, X_pts[pick], twins[pick], png, [-2, -1, -0.5, 0.5, 1, 2])
            report["attribute"]["png"] = png.name
        info["twin_R_dist_median"] = float(np.median(np.linalg.norm(
            rep.transform(twins) - rep.represent_latent(Z_pts), axis=1)))
        info["cert"] = []
        for s_rs in args.sigma_rs:
            clf = CertifiedSmoothClassifier(sigma=s_rs, random_state=seed, device="cpu",
                                            max_epochs=20).fit(R_fit, y_fit)
            acc = float((clf.predict(rep.transform(X_val)) == y_val).mean())
            for s_cs in args.sigma_cs:
                small = {**SMALL, "sigma_cs": s_cs}
                cert = certify_individual_fairness(rep, clf, X_pts, random_state=seed, **small)
                d_cs, d_rs = cert["d_cs"].to_numpy(), cert["d_rs"].to_numpy()
                cs_abst = np.isnan(d_cs)
                rs_abst = ~cs_abst & np.isnan(d_rs)
                both = ~cs_abst & ~rs_abst
                ok = cert["certified"].to_numpy()
                correct = cert["prediction"].to_numpy() == y_pts
                row = dict(sigma_rs=s_rs, sigma_cs=s_cs, val_acc=acc,
                           certified=float(ok.mean()), cs_abstain=float(cs_abst.mean()),
                           rs_abstain=float(rs_abst.mean()),
                           fail_dcs_ge_drs=float((both & ~ok).mean()),
                           median_d_cs=float(np.nanmedian(d_cs)),
                           median_d_rs=float(np.nanmedian(d_rs)) if both.any() else float("nan"),
                           d_cs_over_move=float(np.nanmedian(d_cs / np.maximum(true_move, 1e-12))),
                           certified_and_correct=float((ok & correct).mean()),
                           points=dict(d_cs=[None if np.isnan(v) else float(v) for v in d_cs],
                                       d_rs=[None if np.isnan(v) else float(v) for v in d_rs],
                                       move=true_move.tolist(), correct=correct.tolist()))
                info["cert"].append(row)
                print(f"  lam={lam:g} s_rs={s_rs:g} s_cs={s_cs:g}: acc={acc:.3f} "
                      f"cert={row['certified']:.2f} cs_abst={row['cs_abstain']:.2f} "
                      f"rs_abst={row['rs_abstain']:.2f} fail={row['fail_dcs_ge_drs']:.2f} "
                      f"d_cs={row['median_d_cs']:.3g} d_rs={row['median_d_rs']:.3g} "
                      f"d_cs/move={row['d_cs_over_move']:.3g}", flush=True)
        report["models"][str(lam)] = info
        print({kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in info.items()
               if kk != "cert"}, flush=True)
    report["total_s"] = time.perf_counter() - start
    write_result(RESULTS / args.name, None, report, indent=2)
    print(json.dumps(report.get("attribute", {}), indent=1))
    print(f"total {report['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
