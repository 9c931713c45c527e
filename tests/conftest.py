"""Fixtures shared by the test modules."""

import pytest
import torch


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
