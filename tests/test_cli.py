"""The main job (``skfairlatent`` command), end to end on small real data.

Every run here uses a stratified subsample (hidden ``--max-rows``) and one or
two epochs, so the file stays well under a minute. The longer end-to-end runs
are marked ``slow`` and the Dask run ``dask`` (the fast tier leaves them out).
"""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from skfairlatent import experiments, plotting
from skfairlatent.cli import main

TINY = ["--dataset", "german", "--max-rows", "300", "--max-epochs", "1"]
FAST = [*TINY, "--model", "logistic"]   # fairlearn reductions refit LR in well under a second


@pytest.mark.slow
def test_alfa_compare_writes_one_table_and_plot_with_every_method(tmp_path, capsys):
    assert main([*FAST, "--seeds", "0", "1", "--alphas", "0.1", "10",
                 "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MetricFrame by group" in out and "Female" in out
    summary = pd.DataFrame(json.loads((tmp_path / "alfa_german_logistic_table.json").read_text()))
    settings = list(summary.setting)
    assert settings == ["baseline", "ALFA α=0.1", "ALFA α=10", "LogisticRegression (sklearn)",
                        experiments.EG_LABEL, experiments.TO_LABEL, experiments.CHOSEN]
    # only the ThresholdOptimizer uses A at predict time, and it is marked
    assert summary.set_index("setting").uses_sensitive_at_predict.to_dict() == {
        s: s == experiments.TO_LABEL for s in settings}
    for m in ("accuracy", "delta_dp", "delta_eod", "worst_group_accuracy", "fit_seconds"):
        assert summary[f"{m}_mean"].notna().all() and (summary[f"{m}_std"] >= 0).all()
    assert (summary.n_seeds == 2).all()
    assert summary.pareto.any()
    runs = pd.DataFrame(json.loads((tmp_path / "alfa_german_logistic_runs.json").read_text()))
    # the same two splits for every method: the per-seed test size is shared
    assert set(runs.seed) == {0, 1} and len(runs) == 2 * len(settings)
    assert runs.selected.sum() == 2          # one α per seed
    md = (tmp_path / "alfa_german_logistic_table.md").read_text()
    assert "± " in md and "† uses the sensitive attribute" in md
    assert (tmp_path / "alfa_german_logistic_tradeoff.png").stat().st_size > 10_000
    config = json.loads((tmp_path / "alfa_german_logistic_config.json").read_text())
    assert config["compare"] is True
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".skfairlatent-partial")]


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
    (["--method", "magic"], "argument --method: invalid choice: 'magic'"),
    (["--model", "svm"], "argument --model: invalid choice: 'svm'"),
    (["--alphas", "-0.1"], "α must be a finite number >= 0; got '-0.1'"),
    (["--alphas", "inf"], "α must be a finite number >= 0"),
    (["--alphas", "big"], "α must be a number >= 0; got 'big'"),
    (["--seeds", "1.5"], "seeds must be integers between 0 and 2**32 - 1; got '1.5'"),
    (["--seeds", "-1"], "seeds must be integers"),
    (["--seeds", "0", "0"], "--seeds must be distinct"),
    (["--max-epochs", "0"], "--max-epochs must be an integer >= 1"),
    (["--n-jobs", "0"], "--n-jobs must be a non-zero integer"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--dataset", "colored_mnist"], "colored_mnist is available with --method aeda"),
    (["--method", "lassi", "--compare"], "--compare is available for alfa, aeda and fairflow"),
])
def test_bad_options_are_usage_errors(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--output", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--output", str(blocker / "out")])
    assert exit_info.value.code == 2
    assert "cannot write to the output folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


@pytest.mark.slow
def test_failed_run_leaves_no_partial_output(tmp_path, monkeypatch, capsys):
    def broken_plot(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(plotting, "plot_summary", broken_plot)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError, match="plotting failed"):
        main([*TINY, "--seeds", "0", "--alphas", "1", "--no-compare", "--output", str(existing)])
    # the tables written before the plot failed were not moved
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        main([*TINY, "--seeds", "0", "--alphas", "1", "--no-compare", "--output", str(fresh)])
    assert not fresh.exists()
    capsys.readouterr()


@pytest.mark.dask
def test_dask_scheduler_runs_the_grid_on_a_cluster_with_the_same_scores(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    # with the comparison: fairlearn and LogisticRegression call joblib inside a task
    base = [*FAST, "--seeds", "0", "--alphas", "1"]
    assert main([*base, "--output", str(tmp_path / "serial")]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        assert main([*base, "--dask-scheduler", cluster.scheduler_address,
                     "--output", str(tmp_path / "dask")]) == 0
    assert "Dask scheduler" in capsys.readouterr().out

    def read(folder):
        return pd.DataFrame(json.loads(
            (tmp_path / folder / "alfa_german_logistic_runs.json").read_text()))

    serial, dask = read("serial"), read("dask")
    assert set(dask.setting) == {"baseline", "ALFA α=1", experiments.CHOSEN, experiments.EG_LABEL,
                                 experiments.TO_LABEL, "LogisticRegression (sklearn)"}
    cols = ["test_accuracy", "test_delta_eod"]
    np.testing.assert_allclose(serial[cols], dask[cols], atol=1e-12)


def test_dask_scheduler_without_distributed_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--dask-scheduler", "tcp://127.0.0.1:8786", "--output", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert 'pip install "skfairlatent[dask]"' in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_lassi_certifies_and_writes_radii(tmp_path, capsys):
    assert main(["--method", "lassi", "--dataset", "german", "--max-rows", "200", "--seeds", "0",
                 "--max-epochs", "1", "--certify-rows", "8", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "certified_percent" in out and "Naive" in out
    rows = json.loads((tmp_path / "lassi_german_table.json").read_text())
    assert [r["method"] for r in rows] == ["Naive (λ_adv=0)", "LASSI (λ_adv=0.3)"]
    for r in rows:
        assert 0 <= r["certified_percent"] <= 100 and 0 <= r["abstain_percent"] <= 100
        assert r["n_certified_rows"] == 8 and r["seconds_per_point"] > 0
    radii = pd.read_csv(tmp_path / "lassi_german_radii.csv")
    assert len(radii) == 16 and {"d_cs", "d_rs", "certified"} <= set(radii.columns)
    assert (tmp_path / "lassi_german_radii.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fldgm_writes_synthetic_csv_with_training_schema(tmp_path, capsys):
    assert main(["--method", "fldgm", "--dataset", "german", "--max-rows", "200", "--seeds", "0",
                 "--max-epochs", "1", "--output", str(tmp_path)]) == 0
    capsys.readouterr()
    from skfairlatent.datasets import load_german

    X, y, A = load_german(return_X_y_A=True)
    synthetic = pd.read_csv(tmp_path / "fldgm_german_synthetic.csv")
    assert list(synthetic.columns) == [*X.columns, y.name]
    assert len(synthetic) == 140          # as many rows as the 70 % training split
    rows = json.loads((tmp_path / "fldgm_german_table.json").read_text())
    assert [r["data"] for r in rows] == ["real data", "FLDGM (fair, α=1)", "no fairness (α=0)"]
    assert {"precision", "recall", "auroc", "dp", "ftu", "density", "coverage"} <= set(rows[0])
    assert (tmp_path / "fldgm_german_marginals.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fairflow_and_aeda_run_beside_fairlearn(tmp_path, capsys):
    assert main(["--method", "fairflow", *TINY, "--seeds", "0", "--model", "logistic",
                 "--output", str(tmp_path)]) == 0
    table = (tmp_path / "fairflow_german_table.md").read_text()
    assert "FairLatentFlow" in table and "LogisticRegression (sklearn)" in table
    assert experiments.EG_LABEL in table
    assert main(["--method", "aeda", *TINY, "--seeds", "0", "--no-compare",
                 "--output", str(tmp_path)]) == 0
    table = (tmp_path / "aeda_german_mlp_table.md").read_text()
    assert "robust" in table and "model_bias" in table
    capsys.readouterr()
