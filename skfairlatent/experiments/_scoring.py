"""Scores of one prediction: accuracy and the fairness gaps, overall and by group."""

from __future__ import annotations

import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from ..metrics import (
    balanced_group_accuracy,
    delta_dp,
    delta_eod,
    model_bias,
    worst_group_accuracy,
)

#: The test scores of every run (:func:`scores`), in table order.
METRICS = ("accuracy", "delta_dp", "delta_eod", "worst_group_accuracy")


def scores(y, pred, A, *, extra=False):
    """Accuracy, ΔDP, ΔEOd and worst-group accuracy of one prediction.

    With ``extra=True`` also AEDA's ``balanced_group_accuracy`` and ``model_bias``.
    """
    out = {
        "accuracy": accuracy_score(y, pred),
        "delta_dp": delta_dp(y, pred, sensitive_features=A),
        "delta_eod": delta_eod(y, pred, sensitive_features=A),
        "worst_group_accuracy": worst_group_accuracy(y, pred, sensitive_features=A),
    }
    if extra:
        out["balanced_group_accuracy"] = balanced_group_accuracy(y, pred, sensitive_features=A)
        out["model_bias"] = model_bias(y, pred, sensitive_features=A)
    return out


def metric_frame(y, pred, A):
    """Per-group accuracy, selection rate, TPR and FPR (fairlearn ``MetricFrame``)."""
    return MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate,
                 "TPR": true_positive_rate, "FPR": false_positive_rate},
        y_true=y, y_pred=pred, sensitive_features=pd.Series(A, name="group"))
