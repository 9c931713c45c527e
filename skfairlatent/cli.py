"""The ``skfairlatent`` command: a method on real data, beside its baseline and fairlearn.

With no arguments it runs ALFA on COMPAS (sex as the sensitive attribute)
over a short α grid, on a stratified 60/20/20 split for each of two seeds,
beside the same network without ALFA, the plain scikit-learn model and
fairlearn's ``ExponentiatedGradient(EqualizedOdds())`` and
``ThresholdOptimizer(constraints="equalized_odds")`` on the same splits. It
prints a table (accuracy, ΔDP, ΔEOd, worst-group accuracy, fit seconds; mean
± std over seeds) and a fairlearn ``MetricFrame`` by group, and writes the
table (markdown + JSON), every run (JSON) and the trade-off plot (PNG, error
bars, Pareto front) to the output folder.

Methods (``--method``):

* ``alfa`` (default) -- ALFA over ``--alphas``; α chosen per seed on the
  validation split and also reported for every α.
* ``aeda`` -- AEDA's modes (none = baseline, pre, online, robust); on
  ``colored_mnist`` the image benchmark of AEDA section 4.2.
* ``fairflow`` -- the model on FairLatentFlow's fair part Z_Y versus on the
  standardised features.
* ``lassi`` -- flow, LASSI representation and smoothed classifier, the
  Naive control (λ_adv = 0) beside LASSI (``LASSIRepresentation``'s default
  λ_adv), certification (LASSI Alg. 1) of the test split: accuracy,
  certified %, abstain %, mean d_cs and d_rs, seconds per point, and a
  histogram of the radii.
* ``fldgm`` -- FLDGM stages 1-3 (fair VAE, latent DDPM, decoding) and the
  unfair control (α = 0): a synthetic CSV with the training schema, the
  ``evaluate_synthetic`` table (real vs synthetic) and a PNG of marginals and
  per-group label rates.

The comparison with fairlearn (``--compare``) is on by default for the
classifiers on tabular data (alfa, aeda, fairflow); ``--no-compare`` turns it
off. Every fit of the grid (seeds × settings) is one task of
``joblib.Parallel``: ``--n-jobs`` runs them in local processes and
``--dask-scheduler ADDRESS`` on a Dask cluster
(``joblib.parallel_backend("dask")`` under ``distributed.Client(ADDRESS)``;
``pip install "skfairlatent[dask]"``).

Outputs are written to a temporary folder inside ``--output`` and moved into
place only when the run succeeds: a failed run leaves no partial file.

``skfairlatent compare`` is the practitioner's comparison instead: every
method of :data:`skfairlatent.experiments.PEERS` (the project's methods and
the peers -- ExponentiatedGradient, ThresholdOptimizer, OxonFair with true and
inferred groups, fairret, fairlearn's AdversarialFairnessClassifier,
error-parity) on the chosen datasets, seeds, settings (``A in X``,
``group-blind``) and forms (LR, MLP); it writes ``compare.md`` (tables,
fronts, dominated fronts, ALFA − best blind peer per seed), ``compare.json``
and one front PNG per setting. ``skfairlatent compare --help`` lists its
options.

This module holds the parser and the staged output only; the experiments
themselves (splits, the grid and its runner, α selection, tables, one runner
per method) are :mod:`skfairlatent.experiments`, the figures
:mod:`skfairlatent.plotting`.

Examples
--------
$ skfairlatent
$ skfairlatent --dataset german --model logistic --seeds 0 1 2 --alphas 0 0.1 1
$ skfairlatent --method lassi --dataset compas --certify-rows 200
$ skfairlatent --method fldgm --dataset compas --max-epochs 10
$ skfairlatent --n-jobs 2
$ skfairlatent --dask-scheduler tcp://10.0.0.5:8786
$ python -m skfairlatent --method aeda --dataset colored_mnist --max-epochs 4
$ skfairlatent compare --datasets compas --seeds 0 1 --settings group-blind
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .experiments import (
    COMPARABLE,
    DATASETS,
    DEFAULT_ALPHAS,
    METHODS,
    MODELS,
    RUNNERS,
    TABULAR,
    CommandLineError,
    parallel_context,
)

_DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers between 0 and 2**32 - 1; got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"seeds must be integers between 0 and 2**32 - 1; got {text!r}")
    return value


def _alpha(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"α must be a number >= 0; got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"α must be a finite number >= 0; got {text!r}")
    return value


def _positive_int(name, minimum=1):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer >= {minimum}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer >= {minimum}; got {text!r}")
        return value
    return parse


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--n-jobs must be a non-zero integer (-1: all cores); got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            "--n-jobs must be a non-zero integer (-1: all cores); got 0")
    return value




def _device(text):
    if text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"unknown device {text!r}; use {_DEVICE_HELP}")


def build_parser():
    """The ``skfairlatent`` command's ``argparse.ArgumentParser``."""
    parser = argparse.ArgumentParser(
        prog="skfairlatent",
        description="Run a latent-space fairness method on real data (offline) beside its "
                    "baseline and fairlearn, print a table and a MetricFrame by group, and save "
                    "the table (markdown, JSON) and plots (PNG).")
    parser.add_argument("--method", default="alfa", choices=METHODS,
                        help="the method to run (default: alfa)")
    parser.add_argument("--dataset", default="compas", choices=DATASETS,
                        help="the data (colored_mnist: aeda only; default: compas)")
    parser.add_argument("--model", default="mlp", choices=list(MODELS),
                        help="mlp or logistic: ALFA's network and the sklearn model of the "
                             "comparison (AEDA always uses the MLP; default: mlp)")
    parser.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1],
                        help="one split and one fit per seed (default: 0 1)")
    parser.add_argument("--alphas", type=_alpha, nargs="+", default=list(DEFAULT_ALPHAS),
                        help="ALFA's α grid (default: 0 0.1 1 10; the paper's is "
                             "0 0.001 0.01 0.1 1 10)")
    parser.add_argument("--max-epochs", type=_positive_int("--max-epochs"), default=None,
                        help="training epochs of each network (default: 10; lassi and fldgm 20)")
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                        help="add the plain sklearn model, fairlearn's ExponentiatedGradient"
                             "(EqualizedOdds()) and ThresholdOptimizer(equalized_odds) on the "
                             "same splits (default: on for alfa, aeda and fairflow on tabular "
                             "data; `skfairlatent compare` runs the full practitioner's "
                             "comparison)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=None,
                        help="parallel fits of the grid of seeds and settings (joblib; -1: all "
                             "cores; default 1, or all Dask workers with --dask-scheduler)")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS", default=None,
                        help="run the fits on a Dask cluster (e.g. tcp://host:8786); needs "
                             "pip install \"skfairlatent[dask]\"")
    parser.add_argument("--certify-rows", type=_positive_int("--certify-rows", 0), default=200,
                        help="lassi: evenly spaced test rows to certify (0: all; default 200)")
    parser.add_argument("--device", type=_device, default="auto",
                        help=f"{_DEVICE_HELP} (default: auto)")
    parser.add_argument("--output", default="skfairlatent_output", help="output folder")
    parser.add_argument("--verbose", type=_positive_int("--verbose", 0), default=0)
    parser.add_argument("--max-rows", type=_positive_int("--max-rows", 50), default=None,
                        help=argparse.SUPPRESS)   # stratified subsample (tests, smoke runs)
    return parser


def _check_args(parser, args):
    """The usage checks that tie options together; fills the method-dependent defaults."""
    if args.dataset == "colored_mnist" and args.method != "aeda":
        parser.error("--dataset colored_mnist is available with --method aeda only")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct; got {' '.join(map(str, args.seeds))}")
    if len(set(args.alphas)) != len(args.alphas):
        parser.error(f"--alphas must be distinct; got {' '.join(f'{a:g}' for a in args.alphas)}")
    comparable = args.method in COMPARABLE and args.dataset != "colored_mnist"
    if args.compare and not comparable:
        parser.error("--compare is available for alfa, aeda and fairflow on tabular data "
                     f"(not --method {args.method} --dataset {args.dataset})")
    args.compare = comparable if args.compare is None else args.compare
    if args.max_epochs is None:
        args.max_epochs = 20 if args.method in ("lassi", "fldgm") else 10
    if args.device.startswith("cuda") and args.dask_scheduler is None:   # workers may have GPUs
        import torch

        if not torch.cuda.is_available():
            parser.error(f"--device {args.device}: CUDA is not available on this machine; "
                         "use --device auto or cpu")
    if args.dask_scheduler is not None and args.method not in COMPARABLE:
        parser.error("--dask-scheduler runs the grid of alfa, aeda and fairflow; "
                     f"--method {args.method} runs in this process")
    if args.dask_scheduler is not None and args.dataset == "colored_mnist":
        parser.error("--dask-scheduler is not available for --dataset colored_mnist")


@contextlib.contextmanager
def staged_output(output):
    """A temporary folder inside ``output``, moved into place only on success.

    Yields the temporary folder; on a clean exit its files replace those of
    the same name in ``output``; on an exception it is removed (and so is
    ``output`` if this call created it and it is empty), so a failed run
    leaves no partial file.

    Raises
    ------
    CommandLineError
        If ``output`` cannot be created or written to.
    """
    output = Path(output)
    created = not output.exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".skfairlatent-partial-", dir=output))
    except OSError as exc:
        raise CommandLineError(
            f"cannot write to the output folder {str(output)!r}: "
            f"{exc.strerror or exc}") from exc
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    for path in sorted(stage.iterdir()):
        os.replace(path, output / path.name)
    stage.rmdir()



def build_compare_parser():
    """The ``skfairlatent compare`` subcommand's ``argparse.ArgumentParser``."""
    from .experiments import NETWORK_EPOCHS, PEERS, SETTINGS

    parser = argparse.ArgumentParser(
        prog="skfairlatent compare",
        description="The practitioner's comparison: the project's methods beside the peers "
                    "(fairlearn, OxonFair, fairret, error-parity), with the sensitive column "
                    "in X or dropped from it (group-blind), LR and MLP forms; tables, fronts "
                    "and a front PNG per setting.")
    parser.add_argument("--datasets", nargs="+", default=["compas"], choices=list(TABULAR))
    parser.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1],
                        help="one split per seed (default: 0 1)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--forms", nargs="+", default=["LR", "MLP"], choices=["LR", "MLP"])
    parser.add_argument("--methods", nargs="+", default=None, choices=list(PEERS),
                        help="default: all (error-parity only with --error-parity-python)")
    parser.add_argument("--max-epochs", type=_positive_int("--max-epochs"),
                        default=NETWORK_EPOCHS,
                        help=f"epochs of every torch network (default: {NETWORK_EPOCHS})")
    parser.add_argument("--max-train-rows", type=_positive_int("--max-train-rows", 50),
                        default=None, help="stratified subsample of the training rows")
    parser.add_argument("--error-parity-python", metavar="PYTHON", default=None,
                        help="a Python with error-parity installed (it pins numpy<2, so it "
                             "runs beside the project)")
    parser.add_argument("--n-jobs", type=_n_jobs, default=1,
                        help="parallel fits of the cells (joblib; default 1)")
    parser.add_argument("--output", default="skfairlatent_output", help="output folder")
    return parser


def compare_main(argv):
    """``skfairlatent compare``: the practitioner's comparison; returns the exit status."""
    from .experiments import PEERS, compare, plot_fronts, report

    parser = build_compare_parser()
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct; got {' '.join(map(str, args.seeds))}")
    methods = args.methods or [m for m in PEERS
                               if m != "error-parity" or args.error_parity_python]
    if "error-parity" in methods and not args.error_parity_python:
        parser.error("error-parity needs --error-parity-python (a Python with error-parity "
                     "installed: it pins numpy<2)")
    if args.error_parity_python:
        os.environ["SKFAIRLATENT_ERROR_PARITY_PYTHON"] = args.error_parity_python
    start = time.perf_counter()
    warnings.filterwarnings("ignore")
    with staged_output(args.output) as stage:
        runs = compare(args.datasets, args.seeds, settings=args.settings, forms=args.forms,
                       methods=methods, epochs=args.max_epochs, n_jobs=args.n_jobs,
                       max_train_rows={d: args.max_train_rows for d in args.datasets})
        seconds = time.perf_counter() - start
        markdown, payload, table = report(
            runs, f"skfairlatent compare: seeds {' '.join(map(str, args.seeds))}, "
                  f"{args.max_epochs} epochs, {seconds:.0f} s.")
        (stage / "compare.md").write_text(markdown)
        (stage / "compare.json").write_text(json.dumps({"settings": vars(args), **payload}))
        written = ["compare.md", "compare.json"]
        for setting in args.settings:
            name = f"compare_front_{setting.replace(' ', '_')}.png"
            plot_fronts(table, setting, stage / name, f"{setting}, {len(args.seeds)} seed(s)")
            written.append(name)
    print(markdown)
    print(f"\nWrote {', '.join(written)} to {args.output}/ ({seconds:.0f} s)")
    return 0


def main(argv=None):
    """Entry point of the ``skfairlatent`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    stem = f"{args.method}_{args.dataset}" + (
        f"_{args.model}" if args.method in ("alfa", "aeda") and args.dataset != "colored_mnist"
        else "")
    start = time.perf_counter()
    try:
        with staged_output(args.output) as stage, \
                parallel_context(args.n_jobs, args.dask_scheduler) as n_jobs:
            where = (f"Dask scheduler {args.dask_scheduler}" if args.dask_scheduler
                     else f"n_jobs={n_jobs}")
            print(f"skfairlatent: {args.method} on {args.dataset}, seeds "
                  f"{' '.join(map(str, args.seeds))}, {args.max_epochs} epochs, device "
                  f"{args.device}, {where}" + (", with the fairlearn comparison"
                                               if args.compare else ""))
            warnings.filterwarnings("ignore", category=UserWarning, module="skorch")
            written = RUNNERS[args.method](args, stage, stem, n_jobs)
            config = {**vars(args), "seconds": round(time.perf_counter() - start, 1)}
            (stage / f"{stem}_config.json").write_text(json.dumps(config, indent=2))
            written.append(f"{stem}_config.json")
    except CommandLineError as exc:
        parser.error(str(exc))
    print(f"\nWrote {', '.join(written)} to {args.output}/ "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
