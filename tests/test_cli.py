"""The main job, end to end on a small real dataset."""

import json

import pytest

from skfairlatent.cli import main


def test_cli_runs_alfa_on_german_and_writes_outputs(tmp_path, capsys):
    code = main(["--dataset", "german", "--seeds", "0", "--alphas", "0.1", "1",
                 "--max-epochs", "2", "--output", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "MetricFrame by group" in out and "Female" in out
    assert "ALFA (α chosen on validation)" in out
    assert (tmp_path / "alfa_german_mlp_tradeoff.png").stat().st_size > 1000
    table = (tmp_path / "alfa_german_mlp_table.md").read_text()
    assert "delta_eod" in table and "baseline" in table
    runs = json.loads((tmp_path / "alfa_german_mlp_runs.json").read_text())
    assert {r["method"] for r in runs} == {"baseline", "ALFA"}
    assert sum(r["selected"] for r in runs) == 1


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["--method", "magic"], "unknown method 'magic'"),
    (["--model", "svm"], "unknown model 'svm'"),
    (["--dataset", "colored_mnist"], "colored_mnist is available with --method aeda"),
])
def test_cli_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_runs_fairflow_on_german(tmp_path, capsys):
    assert main(["--method", "fairflow", "--dataset", "german", "--seeds", "0",
                 "--max-epochs", "2", "--output", str(tmp_path)]) == 0
    assert "FairLatentFlow" in capsys.readouterr().out
    assert (tmp_path / "fairflow_german_table.md").exists()


def test_cli_runs_aeda_on_german(tmp_path, capsys):
    assert main(["--method", "aeda", "--dataset", "german", "--seeds", "0",
                 "--max-epochs", "1", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "robust" in out and "model_bias" in out
    assert (tmp_path / "aeda_german_table.md").exists()
