"""The practitioner's comparison (skfairlatent.experiments._peers) and ``skfairlatent compare``."""

import numpy as np
import pandas as pd
import pytest

from skfairlatent.experiments import (
    PEERS,
    Method,
    Point,
    compare,
    dominates,
    load_cell,
    report,
    run_cell,
    sensitive_columns,
)
from skfairlatent.experiments._peers import paired_differences

FAST = ["plain", "ThresholdOptimizer", "OxonFair (inferred groups)", "OxonFair (true groups)"]


def _spy(needs_A, calls):
    def fit(train, valid, form, seed, epochs):
        X, y, _ = train
        calls.append(("fit", X.shape[1]))
        majority = np.bincount(y.astype(int)).argmax()

        def predict(*args):
            calls.append(("predict", args))
            return np.full(len(args[0]), majority)
        return [Point("", predict, 0.0)]
    return Method("spy", fit, needs_A=needs_A)


@pytest.mark.parametrize("setting", ["A in X", "group-blind"])
def test_a_method_that_needs_no_A_is_never_given_A_at_predict(setting):
    calls = []
    run_cell("german", 0, setting, "LR", _spy(False, calls))
    predicts = [args for kind, args in calls if kind == "predict"]
    assert len(predicts) == 2                        # validation and test
    assert all(len(args) == 1 for args in predicts)   # X only


def test_a_method_that_needs_A_gets_the_rows_own_groups():
    calls = []
    run_cell("german", 0, "group-blind", "LR", _spy(True, calls))
    split = load_cell("german", 0, "group-blind")
    (_, _, A_va), (X_te, _, A_te) = split["valid"], split["test"]
    predicts = [args for kind, args in calls if kind == "predict"]
    assert [len(args) for args in predicts] == [2, 2]
    np.testing.assert_array_equal(predicts[0][1], A_va)
    np.testing.assert_array_equal(predicts[1][1], A_te)
    np.testing.assert_array_equal(predicts[1][0], X_te)


def test_every_peer_flag_matches_the_published_method():
    needs_A = {name for name, method in PEERS.items() if method.needs_A}
    assert needs_A == {"ThresholdOptimizer", "OxonFair (true groups)", "error-parity"}


@pytest.mark.parametrize("dataset, n_columns", [
    ("compas", 2), ("german", 2), ("drug", 1), pytest.param("adult", 2, marks=pytest.mark.slow)])
def test_group_blind_drops_exactly_the_sensitive_columns(dataset, n_columns):
    drop = sensitive_columns(dataset)
    assert len(drop) == n_columns
    with_a = load_cell(dataset, 0, "A in X", max_train_rows=300)
    blind = load_cell(dataset, 0, "group-blind", max_train_rows=300)
    X, _, A = with_a["train"]
    assert blind["train"][0].shape[1] == X.shape[1] - n_columns
    # the dropped columns determine A; no kept column does
    for j in range(blind["train"][0].shape[1]):
        per_group = pd.DataFrame({"x": blind["train"][0][:, j], "a": A}).groupby("x").a.nunique()
        assert (per_group > 1).any() or blind["train"][0][:, j].std() == 0
    codes = pd.DataFrame(X[:, drop]).astype(str).agg("|".join, axis=1)
    assert pd.DataFrame({"c": codes, "a": A}).groupby("c").a.nunique().max() == 1


def test_compare_smoke_on_german_writes_a_report(tmp_path):
    runs = compare(["german"], [0], forms=["LR"], methods=FAST, epochs=1)
    assert set(runs.setting) == {"A in X", "group-blind"}
    assert set(runs.method) == set(FAST)
    assert runs.groupby("method").needs_A.first().to_dict() == {
        m: PEERS[m].needs_A for m in FAST}
    assert runs.test_accuracy.between(0.5, 1).all()
    markdown, payload, table = report(runs, "smoke.")
    assert "## german, group-blind" in markdown and table.on_front.any()
    assert len(payload["runs"]) == len(runs)


def _toy_runs(shift_acc, shift_eod, noise, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(10):
        for method, d_acc, d_eod in (("a", shift_acc, -shift_eod), ("b", 0.0, 0.0)):
            rows.append({"dataset": "d", "setting": "s", "form": "LR", "method": method,
                         "knob": "", "seed": s,
                         "test_accuracy": 0.7 + d_acc + noise * rng.normal(),
                         "test_delta_eod": 0.2 + d_eod + noise * rng.normal()})
    return pd.DataFrame(rows)


def _point(method):
    return pd.DataFrame([{"dataset": "d", "setting": "s", "form": "LR", "method": method,
                          "knob": ""}])


def test_dominance_needs_a_margin_beyond_the_seed_spread():
    clear = _toy_runs(0.0, 0.05, noise=0.01)
    assert dominates(clear, _point("a"), _point("b"))
    assert not dominates(clear, _point("b"), _point("a"))
    # control: the same mean gap inside a spread ten times wider is no dominance
    noisy = _toy_runs(0.0, 0.05, noise=0.2)
    assert not dominates(noisy, _point("a"), _point("b"))


def test_paired_differences_pick_the_fairest_matched_blind_peer():
    rows = []
    for s in range(5):
        for method, acc, eod in (("ALFA", 0.70, 0.10), ("ExponentiatedGradient", 0.70, 0.05),
                                 ("fairret", 0.60, 0.01), ("ThresholdOptimizer", 0.71, 0.0)):
            rows.append({"dataset": "d", "setting": "s", "form": "LR", "method": method,
                         "knob": "", "seed": s, "test_accuracy": acc, "test_delta_eod": eod})
    diffs = paired_differences(pd.DataFrame(rows))
    # fairret is fairer but 10 points less accurate; ThresholdOptimizer needs A
    assert set(diffs.peer) == {"ExponentiatedGradient (LR)"}
    np.testing.assert_allclose(diffs.d_delta_eod, 0.05)


@pytest.mark.slow
def test_cli_compare_writes_tables_and_one_front_per_setting(tmp_path, capsys):
    from skfairlatent.cli import main

    assert main(["compare", "--datasets", "german", "--seeds", "0", "--forms", "LR",
                 "--methods", "plain", "OxonFair (inferred groups)", "--max-epochs", "1",
                 "--output", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["compare.json", "compare.md", "compare_front_A_in_X.png",
                     "compare_front_group-blind.png"]
    assert "OxonFair (inferred groups)" in (tmp_path / "compare.md").read_text()


def test_cli_compare_refuses_error_parity_without_its_python(capsys):
    from skfairlatent.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "--methods", "error-parity"])
    assert "--error-parity-python" in capsys.readouterr().err
