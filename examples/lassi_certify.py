"""Certified individual fairness with LASSI on COMPAS (sex).

Two people are "similar" when their latent codes in a normalizing flow fitted
on the data differ only along the sex direction (at most ``epsilon`` times
the mean latent difference between women and men). LASSI learns a
representation that maps similar people close together; a smoothed linear
classifier on top of it is then certified, person by person, to give every
similar individual the same decision (LASSI, Peychev et al. 2022, Alg. 1).

Run: ``python examples/lassi_certify.py`` (about a minute on a laptop CPU).
"""

import os

import sklearn
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skfairlatent import CertifiedSmoothClassifier, LASSIRepresentation
from skfairlatent.datasets import load_compas, make_preprocessor
from skfairlatent.lassi import FlowTransformer
from skfairlatent.smoothing import certify_individual_fairness

# SKFAIRLATENT_EXAMPLES_QUICK=1 (the test suite): fewer epochs, people and samples, same code.
QUICK = os.environ.get("SKFAIRLATENT_EXAMPLES_QUICK") == "1"
EPOCHS, N_PEOPLE, N_SAMPLES = (1, 10, 200) if QUICK else (10, 100, 2000)

sklearn.set_config(enable_metadata_routing=True)

X, y, A = load_compas(return_X_y_A=True)
X_train, X_test, y_train, y_test, A_train, A_test = train_test_split(
    X, y, A, test_size=0.3, random_state=0, stratify=y)
preprocessor = make_preprocessor().fit(X_train)
X_train, X_test = preprocessor.transform(X_train), preprocessor.transform(X_test)

# The generative model G = (E, D): fitted once, shared by both representations.
flow = FlowTransformer(max_epochs=EPOCHS, random_state=0).fit(X_train)

for name, lambda_adv in [("Naive (lambda_adv=0)", 0.0), ("LASSI (lambda_adv=1)", 1.0)]:
    model = make_pipeline(
        LASSIRepresentation(flow=flow, lambda_adv=lambda_adv, epsilon=1.0, max_epochs=EPOCHS,
                            random_state=0).set_fit_request(sensitive_features=True),
        CertifiedSmoothClassifier(sigma=0.5, random_state=0)
        .set_fit_request(sensitive_features=False),
    )
    model.fit(X_train, y_train, sensitive_features=A_train)
    accuracy = (model.predict(X_test) == y_test).mean()
    # Alg. 1 on 100 test people; smaller sample sizes than the paper's for speed.
    report = certify_individual_fairness(
        model[0], model[1], X_test[:N_PEOPLE], sigma_cs=1.0, n0_cs=N_SAMPLES, n_cs=N_SAMPLES,
        delta=0.1, n0_rs=100, n_rs=5 * N_SAMPLES, random_state=0)
    print(f"{name}: accuracy {accuracy:.3f}, certified fair "
          f"{report.attrs['certified_fraction']:.0%}, abstained {report.attrs['abstain_rate']:.0%} "
          f"(each certificate holds with probability >= {report.attrs['confidence']:.3f})")
    print(report.head().to_string(), "\n")
