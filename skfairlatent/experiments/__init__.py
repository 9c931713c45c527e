"""The experiment library behind the ``skfairlatent`` command and the benchmarks.

* Data -- :func:`load_split` (a stratified, preprocessed train/validation/test
  split of a tabular dataset, seeded), :func:`subsample`,
  :func:`fldgm_frames` (raw frames for the synthesizer).
* Scores -- :func:`scores` (accuracy, ΔDP, ΔEOd, worst-group accuracy) and
  :func:`metric_frame` (fairlearn ``MetricFrame`` by group).
* The grid -- :func:`candidates` lists the settings fitted on each seed,
  :func:`fit_one` fits and scores one (seed, setting), :func:`run_grid`
  runs them all with ``joblib.Parallel`` inside :func:`parallel_context`
  (local processes or a Dask cluster).
* Selection and tables -- :func:`select_alpha` (ALFA's α per seed on the
  validation split), :func:`summarize`, :func:`format_table` and
  :func:`mean_std_table` (mean ± std over seeds).
* The practitioner's comparison -- :data:`PEERS` (the project's methods and
  the peers, each flagged by whether it needs A at predict), :func:`run_cell`
  and :func:`compare` over (dataset, seed, setting, form, method) with
  :data:`SETTINGS` "A in X" and "group-blind"; :func:`chosen_points`,
  :func:`method_fronts`, :func:`dominated_fronts`, :func:`paired_differences`.
* Runners -- :data:`RUNNERS` maps each method to a runner that fits, prints
  and writes its outputs; :func:`run_aeda_images`, :func:`run_lassi` and
  :func:`run_fldgm` return the runs of the methods that are not a grid.

The figures are in :mod:`skfairlatent.plotting` (:func:`plot_summary`,
:func:`plot_lassi_radii`, :func:`plot_fldgm`).

Examples
--------
>>> from skfairlatent.experiments import load_split, scores
>>> split = load_split("german", seed=0)
>>> X_train, y_train, A_train = split["train"]
>>> X_train.shape[0], split["test"][0].shape[0]
(600, 200)
"""

from ..plotting import plot_fldgm, plot_lassi_radii, plot_summary
from ._grid import (
    AEDA_MODES,
    DEFAULT_ALPHAS,
    EG_LABEL,
    MODELS,
    PAPER_ALPHAS,
    TO_LABEL,
    USES_A,
    CommandLineError,
    candidates,
    fit_one,
    parallel_context,
    run_grid,
    sklearn_model,
)
from ._peers import (
    ALFA_GRID,
    EG_BOUNDS,
    ERROR_PARITY_TOLERANCES,
    FAIRRET_STRENGTHS,
    FORMS,
    NETWORK_EPOCHS,
    OXONFAIR_BOUNDS,
    PEERS,
    SETTINGS,
    Method,
    Point,
    chosen_points,
    compare,
    dominated_fronts,
    dominates,
    load_cell,
    mean_table,
    method_fronts,
    paired_differences,
    plot_fronts,
    report,
    run_cell,
    sensitive_columns,
)
from ._scoring import METRICS, metric_frame, scores
from ._selection import CHOSEN, select_alpha
from ._splits import DATASETS, TABULAR, fldgm_frames, load_split, subsample
from ._summary import format_table, mean_std_table, summarize
from .runners import (
    COMPARABLE,
    LASSI_CERTIFY,
    LASSI_SIGMA_RS,
    METHODS,
    RUNNERS,
    run_aeda_images,
    run_fldgm,
    run_lassi,
)

__all__ = [
    # data and scores
    "TABULAR", "DATASETS", "load_split", "subsample", "fldgm_frames",
    "METRICS", "scores", "metric_frame",
    # the grid of (seed, setting) fits
    "MODELS", "AEDA_MODES", "PAPER_ALPHAS", "DEFAULT_ALPHAS", "USES_A", "EG_LABEL", "TO_LABEL",
    "CommandLineError", "sklearn_model", "candidates", "fit_one", "parallel_context", "run_grid",
    # α selection and tables
    "CHOSEN", "select_alpha", "summarize", "format_table", "mean_std_table",
    # one runner per method
    "METHODS", "COMPARABLE", "RUNNERS", "LASSI_CERTIFY", "LASSI_SIGMA_RS",
    "run_aeda_images", "run_lassi", "run_fldgm",
    # the practitioner's comparison (peers, settings, fronts)
    "SETTINGS", "FORMS", "NETWORK_EPOCHS", "ALFA_GRID", "EG_BOUNDS", "OXONFAIR_BOUNDS",
    "FAIRRET_STRENGTHS", "ERROR_PARITY_TOLERANCES", "PEERS", "Method", "Point",
    "sensitive_columns", "load_cell", "run_cell", "compare", "chosen_points", "mean_table",
    "method_fronts", "dominates", "dominated_fronts", "paired_differences", "report",
    "plot_fronts",
    # figures (defined in skfairlatent.plotting)
    "plot_summary", "plot_lassi_radii", "plot_fldgm",
]
