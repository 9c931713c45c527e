"""skfairlatent: scikit-learn compatible fairness methods that act in a latent space.

Estimators are imported lazily, so ``import skfairlatent`` stays cheap and
``from skfairlatent import ALFAClassifier`` loads torch only when asked.
"""

import importlib

__version__ = "0.1.0.dev0"

_ESTIMATORS = {
    "ALFAClassifier": "skfairlatent.alfa",
    "AEDAClassifier": "skfairlatent.aeda",
    "LASSIRepresentation": "skfairlatent.lassi",
    "CertifiedSmoothClassifier": "skfairlatent.smoothing",
    "FairLatentVAE": "skfairlatent.fair_vae",
    "FairLatentSynthesizer": "skfairlatent.fldgm",
    "FairLatentFlow": "skfairlatent.fair_flow",
}

__all__ = ["__version__", *_ESTIMATORS]


def __getattr__(name):
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(_ESTIMATORS[name]), name)
    raise AttributeError(f"module 'skfairlatent' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
