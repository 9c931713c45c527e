"""The exception types skfairlatent raises, one per kind of failure.

Bad hyperparameters raise scikit-learn's
:class:`~sklearn.utils._param_validation.InvalidParameterError` (a subclass of
both ``ValueError`` and ``TypeError``), as every scikit-learn estimator does;
it is re-exported here so that users can catch it without importing a
private scikit-learn module. Bad data (``X``, ``y``, ``sensitive_features``)
raises ``ValueError``. Numerical failure during training or prediction raises
one of the two ``FloatingPointError`` subclasses below.
"""

from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["InvalidParameterError", "NonFiniteLossError", "NonFiniteOutputError"]


class NonFiniteLossError(FloatingPointError):
    """A training loss became ``nan`` or ``inf``.

    Raised by every estimator as soon as one batch (or epoch) loss is not
    finite, instead of letting NaN weights make the model predict one class.
    The usual causes are unscaled inputs (standardise ``X``) or too large a
    learning rate.
    """


class NonFiniteOutputError(FloatingPointError):
    """A prediction, probability, latent code or sample is ``nan`` or ``inf``."""
