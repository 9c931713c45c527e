"""Per-seed spread of every fairness claim the tests assert, and of its control.

Each claim is computed by the very function its test calls (imported from
``tests/``), once per seed, so the JSON holds what the test would see on any
seed set. For each claim and variant the JSON gives the per-seed scores, the
mean, the standard deviation and the paired claim − control differences;
the tests' bars (``BARS`` in ``tests/test_alfa.py`` and the constants of
``tests/test_aeda.py`` / ``tests/test_fair_flow.py``) are set from the
spread on the measuring seeds and asserted on the mean of the CI seeds
(0-2) and of a second set (5-7).

Claims (``--claims``):

* ``alfa_compas``, ``alfa_drug``: ALFA (defaults) vs λ = 0 and the
  upsampling-only control, ΔEOd and accuracy on held-out rows;
* ``alfa_multigroup``, ``alfa_multiclass``, ``alfa_input_space``,
  ``alfa_convex``: App. J.2, J.3, K, L against the same two controls;
* ``alfa_attack``: the attack raises the frozen model's ΔEOd and ΔDP,
  against the attack with no budget;
* ``aeda_digits``: AEDA_robust vs the untreated CNN and AEDA with ε = 0
  (balanced group accuracy, model bias);
* ``flow_compas``: FairLatentFlow vs its control with the fairness losses
  off (ΔEOd ratio of a classifier on Z_Y over one on E, probe AUROC of sex,
  counterfactual drift).

Usage (from the repository root)::

    python -m benchmarks.studies.seed_spread.seed_spread --seeds 0 1 2 3 4 5 6 7
    python -m benchmarks.studies.seed_spread.seed_spread --claims aeda_digits --seeds 0 1 2

Results are merged into ``benchmarks/studies/seed_spread/results/<claim>.json``
(one entry per seed; a rerun replaces the seeds it runs).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "tests"))


def _test_function(module, name, *args):
    """``function(seed)`` calling ``module.name(*args, seed)`` (imported when first called)."""
    def function(seed, **params):
        import importlib

        return getattr(importlib.import_module(module), name)(*args, seed, **params)
    return function


#: ``{claim: function(seed) -> {variant: scores}}``: the functions the tests call.
CLAIMS = {
    **{f"alfa_{name}": _test_function("test_alfa", "real_data_seed", name)
       for name in ("compas", "drug")},
    **{f"alfa_{name}": _test_function("test_alfa", "extension_seed", name)
       for name in ("multigroup", "multiclass", "input_space", "convex")},
    "alfa_attack": _test_function("test_alfa", "attack_seed"),
    "aeda_digits": _test_function("test_aeda", "control_seed"),
    "flow_compas": _test_function("test_fair_flow", "flow_seed"),
}


def _summary(runs):
    """Mean, standard deviation and paired differences against every other variant."""
    seeds = sorted(runs, key=int)
    variants = list(runs[seeds[0]])
    scores = {v: np.array([runs[s][v] for s in seeds], dtype=float) for v in variants}
    out = {"seeds": [int(s) for s in seeds]}
    for v, values in scores.items():
        out[v] = {"mean": values.mean(axis=0).round(4).tolist(),
                  "std": values.std(axis=0, ddof=1).round(4).tolist() if len(seeds) > 1 else None}
    first = variants[-1]
    for v in variants[:-1]:
        diff = scores[first] - scores[v]
        out[f"{first} - {v}"] = {"per_seed": diff.round(4).tolist(),
                                 "mean": diff.mean(axis=0).round(4).tolist()}
    return out


def _show(path):
    """Print a claim's per-seed scores, its measuring-seed summary and the CI seed means."""
    entry = json.loads(path.read_text())
    runs = entry["runs"]
    print(f"## {path.stem}")
    for seed in sorted(runs, key=int):
        print(seed, {v: s for v, s in runs[seed].items()})
    for label, seeds in (("0-2", ("0", "1", "2")), ("5-7", ("5", "6", "7"))):
        if all(s in runs for s in seeds):
            means = {v: np.round(np.mean([runs[s][v] for s in seeds], axis=0), 3).tolist()
                     for v in runs[seeds[0]]}
            print(f"mean over seeds {label}:", means)
    if "flow" in runs[next(iter(runs))]:  # seeds 10-14 ran in a second file
        merged = {s: r for other in sorted(path.parent.glob("flow_compas*.json"))
                  for s, r in json.loads(other.read_text())["runs"].items()}
        print("bars:", json.dumps(_flow_bars(merged), default=lambda v: round(float(v), 3)))
    bars = _bars(entry) if "baseline" in runs[next(iter(runs))] else None
    if bars:
        print("bars:", json.dumps(bars, default=lambda v: round(float(v), 3)))
        proposed = _proposed(entry)
        print("proposed:", proposed)
        for seeds in (("0", "1", "2"), ("5", "6", "7")):
            if all(s in runs for s in seeds):
                print("  outcome", "-".join(seeds[::2]), _outcome(entry, proposed, seeds))


#: Seeds the bars are set on (never asserted); the tests assert on 0-2 and on 5-7.
BAR_SEEDS = ("3", "4", "10", "11", "12", "13", "14")


def _equal_z_bar(claim, control, n):
    """The bar putting the n-seed means of ``claim`` (below it) and ``control`` (above it)
    the same number z of standard errors away, and that z."""
    mean, std = (claim.mean(), control.mean()), (claim.std(ddof=1), control.std(ddof=1))
    bar = mean[0] + (mean[1] - mean[0]) * std[0] / (std[0] + std[1])
    return {"claim": [mean[0], std[0]], "control": [mean[1], std[1]], "bar": bar,
            "z": (bar - mean[0]) / std[0] * np.sqrt(n)}


def _bars(entry, claim="alfa", control="control", reference="baseline", n=3):
    """Bars on ``BAR_SEEDS`` for a claim whose column-0 score is lower when fairer.

    ``level``: the score itself; ``reduction``: the score minus the same seed's
    ``reference`` (λ = 0); each with the equal-z bar between the claim and its
    control (``_equal_z_bar``); ``paired``: claim − control, mean and standard
    deviation per seed.
    """
    runs = {s: r for s, r in entry["runs"].items() if s in BAR_SEEDS}
    if len(runs) < 5:
        return None
    score = {v: np.array([r[v][0] for r in runs.values()]) for v in (claim, control, reference)}
    paired = score[claim] - score[control]
    return {"seeds": " ".join(sorted(runs, key=int)),
            "level": _equal_z_bar(score[claim], score[control], n),
            "reduction": _equal_z_bar(score[claim] - score[reference],
                                      score[control] - score[reference], n),
            "paired": [paired.mean(), paired.std(ddof=1)]}


def _proposed(entry, n=3):
    """The test's bars by one fixed rule from ``_bars`` (on ``BAR_SEEDS`` only).

    The form (``level`` or ``reduction``) with the larger z; its equal-z bar
    (3 decimals); half the mean paired claim − control gap (2 decimals, toward 0);
    the mean accuracy drop against λ = 0 plus two standard errors of n seeds,
    rounded up to 0.01, and at least 0.02 (the rule alone gave Drug 0.01, and
    Drug's seed 0 loses 0.029 to λ = 0).
    """
    bars = _bars(entry)
    if bars is None:
        return None
    form = max(("level", "reduction"), key=lambda f: bars[f]["z"])
    runs = [r for s, r in entry["runs"].items() if s in BAR_SEEDS]
    drop = np.array([r["baseline"][1] - r["alfa"][1] for r in runs])
    limit = drop.mean() + 2 * drop.std(ddof=1) / np.sqrt(n)
    return {"form": form, "bar": round(float(bars[form]["bar"]), 3),
            "paired_gap": max(0.0, float(np.floor(-50 * bars["paired"][0]) / 100)),
            "accuracy_drop": max(0.02, float(np.ceil(100 * limit) / 100))}


def _outcome(entry, bars, seeds):
    """"pass" or the failing assertion of ``tests/test_alfa.py`` on ``seeds``."""
    from test_alfa import _assert_attack_beats_both_controls

    res = {v: np.array([entry["runs"][s][v] for s in seeds]) for v in entry["runs"][seeds[0]]}
    try:
        _assert_attack_beats_both_controls(res, **bars)
    except AssertionError as error:
        return f"FAIL {error}"
    return "pass"


def _flow_bars(runs, n=3):
    """Equal-z bars (``_equal_z_bar``) of the flow tests on ``BAR_SEEDS``: ΔEOd and ΔDP
    ratios and the probe's distance from chance (the flow below the control), and the
    label edit's sparing |naive drift| − |edit drift| (the flow above the control)."""
    rows = {v: np.array([r[v] for s, r in runs.items() if s in BAR_SEEDS])
            for v in ("flow", "control")}
    if len(rows["flow"]) < 5:
        return None
    out = {name: _equal_z_bar(rows["flow"][:, i], rows["control"][:, i], n)
           for i, name in ((0, "eod_ratio"), (1, "dp_ratio"), (3, "probe"))}
    sparing = {v: np.abs(rows[v][:, 6]) - np.abs(rows[v][:, 5]) for v in rows}
    out["sparing"] = _equal_z_bar(-sparing["flow"], -sparing["control"], n)  # negated
    return out


def _commit():
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=ROOT).stdout.strip()


def main(argv=None):
    claims = CLAIMS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", nargs="+", default=list(claims), choices=list(claims))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(8)))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--params", type=json.loads, default={},
                        help="JSON estimator settings passed to the claim (tuning runs: "
                             "ALFA extensions only); the file name gets --tag")
    parser.add_argument("--tag", default="")
    parser.add_argument("--show", action="store_true", help="print the saved results only")
    args = parser.parse_args(argv)
    if args.show:
        for path in sorted(args.output.glob("*.json")):
            _show(path)
        return
    torch.set_num_threads(1)
    for claim in args.claims:
        path = args.output / f"{claim}{'__' + args.tag if args.tag else ''}.json"
        entry = json.loads(path.read_text()) if path.exists() else {"runs": {}}
        for seed in args.seeds:
            start = time.perf_counter()
            scores = claims[claim](seed, **args.params)
            entry["runs"][str(seed)] = {v: np.round(np.asarray(s, float), 4).tolist()
                                        for v, s in scores.items()}
            entry.setdefault("seconds", {})[str(seed)] = round(time.perf_counter() - start, 1)
            print(claim, seed, entry["runs"][str(seed)], flush=True)
            entry["summary"] = _summary(entry["runs"])
            entry["command"] = "python -m benchmarks.studies.seed_spread.seed_spread " + " ".join(
                argv if argv is not None else sys.argv[1:])
            entry["commit"] = _commit()
            args.output.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(entry, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
