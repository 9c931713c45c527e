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
