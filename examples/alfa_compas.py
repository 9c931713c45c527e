"""ALFA on COMPAS: grid-search α with a fairness scorer, audit with MetricFrame, plot.

Run: python examples/alfa_compas.py   (about a minute on a 2-core CPU)
"""

import os

import matplotlib

matplotlib.use("Agg")
import sklearn
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skfairlatent import ALFAClassifier
from skfairlatent.datasets import load_compas, make_preprocessor
from skfairlatent.metrics import delta_dp, delta_eod, make_fairness_scorer
from skfairlatent.model_selection import closest_to_upper_right, pareto_front
from skfairlatent.plotting import plot_tradeoff, plot_unfair_region

# SKFAIRLATENT_EXAMPLES_QUICK=1 (the test suite): fewer epochs and α values, same code.
QUICK = os.environ.get("SKFAIRLATENT_EXAMPLES_QUICK") == "1"

sklearn.set_config(enable_metadata_routing=True)
X, y, A = load_compas(return_X_y_A=True)
X_tr, X_te, y_tr, y_te, A_tr, A_te = train_test_split(X, y, A, test_size=0.2, random_state=0,
                                                      stratify=y)
pipe = make_pipeline(
    make_preprocessor(),
    ALFAClassifier(max_epochs=2 if QUICK else 10, random_state=0)
    .set_fit_request(sensitive_features=True),
)
search = GridSearchCV(
    pipe, {"alfaclassifier__alpha": [0.1, 10] if QUICK else [0.01, 0.1, 1, 10]},
    cv=2 if QUICK else 3,
    scoring={"accuracy": "accuracy", "delta_eod": make_fairness_scorer(delta_eod)},
    refit=closest_to_upper_right(),   # the paper's choice of operating point (App. H)
).fit(X_tr, y_tr, sensitive_features=A_tr)

print(pareto_front(search.cv_results_))
pred = search.predict(X_te)
print(f"test accuracy {accuracy_score(y_te, pred):.3f}  "
      f"ΔDP {delta_dp(y_te, pred, sensitive_features=A_te):.3f}  "
      f"ΔEOd {delta_eod(y_te, pred, sensitive_features=A_te):.3f}")
print(MetricFrame(metrics={"accuracy": accuracy_score, "selection_rate": selection_rate,
                           "TPR": true_positive_rate},
                  y_true=y_te, y_pred=pred, sensitive_features=A_te).by_group)

ax = plot_tradeoff(search)
ax.figure.savefig("alfa_compas_tradeoff.png", dpi=120)
ax = plot_unfair_region(search.best_estimator_[-1])
ax.figure.savefig("alfa_compas_unfair_region.png", dpi=120)
print("saved alfa_compas_tradeoff.png and alfa_compas_unfair_region.png")
