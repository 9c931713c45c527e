"""The routed grid search scaled out: joblib's loky processes and a Dask cluster.

For every estimator, the same routed ``Pipeline`` + ``GridSearchCV`` as in
``tests/test_common.py`` runs with ``n_jobs=-1`` (loky worker processes) and
under ``joblib.parallel_backend("dask")`` on a ``distributed.LocalCluster``
of two worker processes. Both must give the scores of the serial search:
each fit is seeded by ``random_state``, so where a fit runs must not change
its result, and the sensitive features must reach the estimator in the
worker (metadata routing and scikit-learn's configuration travel with the
tasks). The Dask run must also really have run on the cluster's workers.
"""

import logging
import warnings

import joblib
import numpy as np
import pytest
import sklearn
from test_common import (  # noqa: F401  (compas is a fixture)
    ESTIMATORS,
    NAMES,
    SERIAL_SCORES,
    check_search_result,
    compas,
    fold_scores,
    routed_search,
)

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _fit(name, compas, *, n_jobs=None):
    X, y, A, _ = compas
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search = routed_search(name)
        search.set_params(n_jobs=n_jobs)
        return search.fit(X, y, sensitive_features=A)


@pytest.fixture(scope="module")
def serial_scores(compas):
    """The serial search's fold scores: from tests/test_common.py's run when it ran, else fitted."""

    def get(name):
        if name not in SERIAL_SCORES:
            SERIAL_SCORES[name] = fold_scores(_fit(name, compas))
        return SERIAL_SCORES[name]

    return get


def _assert_same_scores(got, expected):
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_grid_search_with_loky_processes(name, compas, serial_scores):
    search = _fit(name, compas, n_jobs=-1)
    check_search_result(search, name)
    _assert_same_scores(fold_scores(search), serial_scores(name))


@pytest.mark.parametrize("name", NAMES)
def test_grid_search_on_dask_cluster(name, compas, client, serial_scores):
    n_fits = 2 * int(np.prod([len(v) for v in ESTIMATORS[name][2].values()]))
    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        search = _fit(name, compas)
    check_search_result(search, name)
    _assert_same_scores(fold_scores(search), serial_scores(name))
    # The fits ran as Dask tasks on the cluster's workers, not in this process.
    workers = set(client.scheduler_info()["workers"])
    ran_on = {task["worker"] for task in stream.data}
    assert len(stream.data) >= n_fits // 2, len(stream.data)  # joblib may batch fits
    assert ran_on and ran_on <= workers


def test_dask_search_keeps_metadata_routing(compas, client):
    """A routed single-group attribute is rejected inside the worker, and the error comes back."""
    X, y, _, _ = compas
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings(), \
            joblib.parallel_backend("dask"):
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match="two groups"):
            routed_search("ALFAClassifier").fit(X, y, sensitive_features=np.full(len(X), "Male"))
