"""Fixtures shared by the test modules."""

import os

import pytest
import torch


def _fairness_seeds(default=(0, 1, 2)):
    """Seeds of the real-outcome fairness tests: ``SKFAIRLATENT_TEST_SEEDS="5,6,7"`` or the default.

    The bars of those tests were set from the per-seed spread measured by
    ``benchmarks/studies/seed_spread/seed_spread.py``; they must hold on the
    CI seeds (0, 1, 2) and on a second set (5, 6, 7) run once by this variable.
    """
    text = os.environ.get("SKFAIRLATENT_TEST_SEEDS", "").strip()
    return tuple(int(seed) for seed in text.split(",")) if text else default


#: Seeds of every fairness test's seed mean (see ``_fairness_seeds``).
FAIRNESS_SEEDS = _fairness_seeds()


@pytest.fixture(scope="session")
def fairness_seeds():
    """The seeds whose mean the fairness tests assert (``FAIRNESS_SEEDS``)."""
    return FAIRNESS_SEEDS


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's fits on one torch thread, restoring the setting after.

    Small fits spend more time synchronising threads than computing, and
    CI's two cores are shared with pytest itself.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(items):
    """Put scikit-learn's ``check_classifiers_train`` runs in the slow tier.

    They train each classifier to a stated accuracy on three dtypes and take
    about 1.5 s each; every other estimator check stays in the fast tier.
    """
    for item in items:
        if "check_classifiers_train" in item.nodeid:
            item.add_marker(pytest.mark.slow)
