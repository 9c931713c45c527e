"""The practitioner's benchmark: the project's methods beside the peers a user would pick.

On COMPAS, Drug, German and Adult, seeds 0-9 (stratified 60/20/20 splits,
``skfairlatent.experiments.load_split``), two settings -- ``A in X`` (the
sensitive column is a feature) and ``group-blind`` (its columns dropped from X;
A given at fit only, except to the methods that need it at predict) -- and two
forms (LR, MLP 2x128), every method of
``skfairlatent.experiments.PEERS``: plain LR/MLP, ALFA (its knob grid
``ALFA_GRID``), AEDA (robust, MLP), LR on FairLatentFlow's Z_Y,
ExponentiatedGradient(LR, EqualizedOdds) over ``EG_BOUNDS``, OxonFair with
inferred groups, fairret, fairlearn's AdversarialFairnessClassifier (its MLP
form has one hidden layer: two diverge), and the methods that need A at predict:
ThresholdOptimizer, OxonFair with true groups, error-parity.

The post-processors (ThresholdOptimizer, OxonFair, error-parity) fit their
thresholds on the validation split; every torch network trains
``NETWORK_EPOCHS`` epochs. Adult's training rows are subsampled (stratified
by label and group) to ``--adult-train-rows``; validation and test are full.

Outputs (``benchmarks/results/``): ``<name>.md`` (tables, fronts, dominance,
paired differences), ``<name>.json`` (every run and the tables),
``<name>_front_<setting>.png``. Runs are appended to ``<name>_runs.partial.json``
as each cell finishes; a rerun skips the cells found there (``--restart``
discards them).

error-parity pins numpy<2, so it runs in its own Python::

    python -m venv /work/venv-ep && /work/venv-ep/bin/pip install error-parity

and ``--error-parity-python /work/venv-ep/bin/python`` (without it, error-parity
is skipped).

The headline command (about an hour on 2 cores)::

    python benchmarks/practitioner.py --n-jobs 2 --error-parity-python /work/venv-ep/bin/python

``--quick`` is a smoke run (German, seed 0, 3 epochs).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from skfairlatent.experiments import (
    NETWORK_EPOCHS,
    PEERS,
    SETTINGS,
    compare,
    plot_fronts,
    report,
)

from _common import RESULTS, write_result

CELL = ["dataset", "seed", "setting", "form", "method"]


def _cell_key(row):
    return tuple(row[k] for k in CELL)


def header(args, seconds):
    return (f"Practitioner's benchmark: seeds {args.seeds[0]}-{args.seeds[-1]}, stratified "
            f"60/20/20 splits, {args.epochs} epochs for every torch network, Adult training "
            f"rows subsampled to {args.adult_train_rows} (validation and test full). Test "
            "scores mean ± std over seeds; fit seconds on a shared 2-core CPU (ratios only; "
            f"this invocation took {seconds / 60:.0f} min with n_jobs={args.n_jobs}; a resumed "
            "run counts only the cells it fitted itself).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["german", "drug", "compas", "adult"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--forms", nargs="+", default=["LR", "MLP"], choices=["LR", "MLP"])
    parser.add_argument("--methods", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--epochs", type=int, default=NETWORK_EPOCHS)
    parser.add_argument("--adult-train-rows", type=int, default=5000)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--error-parity-python", default=None,
                        help="a Python with error-parity installed (it pins numpy<2)")
    parser.add_argument("--quick", action="store_true", help="German, seed 0, 3 epochs")
    parser.add_argument("--restart", action="store_true", help="discard the partial runs")
    parser.add_argument("--render", action="store_true",
                        help="write the report from the partial runs without fitting")
    parser.add_argument("--refit", nargs="+", default=[], choices=list(PEERS),
                        help="discard the partial runs of these methods (e.g. after a change "
                             "of ALFA_GRID)")
    parser.add_argument("--name", default="practitioner")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.epochs = ["german"], [0], 3
        args.name = args.name if args.name != "practitioner" else "practitioner_quick"
    if args.error_parity_python:
        import os

        os.environ["SKFAIRLATENT_ERROR_PARITY_PYTHON"] = args.error_parity_python
    elif "error-parity" in args.methods:
        args.methods = [m for m in args.methods if m != "error-parity"]
        print("error-parity skipped (no --error-parity-python)", file=sys.stderr)
    warnings.filterwarnings("ignore")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"{args.name}_runs.partial.json"
    rows = [] if args.restart or not partial.exists() else json.loads(partial.read_text())
    rows = [r for r in rows if r["dataset"] in args.datasets and r["seed"] in args.seeds
            and r["setting"] in args.settings and r["form"] in args.forms
            and r["method"] in args.methods and r["method"] not in args.refit]
    done = {_cell_key(r) for r in rows}
    start = time.perf_counter()

    def keep(cell_rows):
        rows.extend(cell_rows)
        partial.write_text(json.dumps(rows))
        r = cell_rows[0]
        print(f"{r['dataset']} seed {r['seed']} {r['setting']:11s} {r['form']:3s} "
              f"{r['method']:28s} {len(cell_rows)} point(s) acc={r['test_accuracy']:.3f} "
              f"ΔEOd={r['test_delta_eod']:.3f} ({max(x['fit_seconds'] for x in cell_rows):.1f} s)",
              flush=True)

    # cells run dataset by dataset (in --datasets order); each is saved as it ends
    if not args.render:
        compare(args.datasets, args.seeds, settings=args.settings, forms=args.forms,
                methods=args.methods, epochs=args.epochs,
                max_train_rows={"adult": args.adult_train_rows}, n_jobs=args.n_jobs, done=done,
                on_rows=keep)
    seconds = time.perf_counter() - start
    markdown, payload, table = report(pd.DataFrame(rows), header(args, seconds))
    payload["settings"] = vars(args)
    write_result(out / args.name, markdown, payload)
    for setting in args.settings:
        plot_fronts(table, setting, out / f"{args.name}_front_{setting.replace(' ', '_')}.png",
                    f"{setting}: accuracy vs ΔEOd, {len(args.seeds)} seeds "
                    "(filled: no A at predict; hollow/dashed †: needs A; ○ MLP, □ LR)")
    print(markdown)


if __name__ == "__main__":
    main()
