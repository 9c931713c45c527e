"""Data larger than the memory an estimator may use: memmaps under a memory cap.

Each estimator fits and predicts (or transforms, certifies) on a read-only
float32 ``np.memmap`` of 200 MB (100,000 rows, 500 columns) in a subprocess whose
private memory is capped (``RLIMIT_DATA``) at 320 MiB above what the process held
after a warm-up fit (the estimators' constant: model, batches, chunks of rows,
the attack's Sinkhorn block): a float64 copy of ``X`` cannot be made, so the
estimator must stream the memmap a chunk at a time. The control in the same
process (that float64 copy) must be refused.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skfairlatent.base import RowStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_DATA and /proc are Linux's")

N_ROWS, N_FEATURES = 100_000, 500       # X: 200 MB of float32, 400 MB in float64
BUDGET = 320 * 2 ** 20                   # bytes above the warm-up's memory

SCRIPT = textwrap.dedent("""
    import resource, sys, warnings
    import numpy as np, torch
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    from skfairlatent import (AEDAClassifier, ALFAClassifier, CertifiedSmoothClassifier,
                              FairLatentFlow, FairLatentSynthesizer, FairLatentVAE,
                              LASSIRepresentation)
    from skfairlatent.lassi import FlowTransformer
    from skfairlatent.smoothing import certify_individual_fairness

    def alfa(X, y, A):
        ALFAClassifier(max_epochs=1, random_state=0).fit(X, y, sensitive_features=A).predict(X)

    def aeda(X, y, A):
        AEDAClassifier(max_epochs=1, random_state=0).fit(X, y, sensitive_features=A).predict(X)

    def smoothing(X, y, A):
        model = CertifiedSmoothClassifier(max_epochs=1, n_samples=50, n0=10, n_certify=50,
                                          random_state=0).fit(X, y)
        model.predict(X[:20])
        model.certify(X[:20])

    def lassi(X, y, A):
        representation = LASSIRepresentation(flow=FlowTransformer(max_epochs=1), max_epochs=1,
                                             random_state=0).fit(X, y, sensitive_features=A)
        Z = representation.transform(X)
        head = CertifiedSmoothClassifier(max_epochs=1, n_samples=50, n0=10, n_certify=50,
                                         random_state=0).fit(Z, y)
        certify_individual_fairness(representation, head, X[:3], n0_cs=10, n_cs=20,
                                    n0_rs=10, n_rs=20, random_state=0)

    def vae(X, y, A):
        model = FairLatentVAE(max_epochs=1, random_state=0).fit(X, y, sensitive_features=A)
        model.transform(X)

    def synthesizer(X, y, A):
        vae = FairLatentVAE(max_epochs=1, condition_encoder=False, alpha_target=2.0)
        synth = FairLatentSynthesizer(vae=vae, generator_max_epochs=1, random_state=0)
        synth.fit(X, y, sensitive_features=A).sample(100)

    def flow(X, y, A):
        model = FairLatentFlow(max_epochs=1, random_state=0).fit(X, y, sensitive_features=A)
        model.transform(X)

    def private_memory():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024

    name, path, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X = np.load(path, mmap_mode="r")
    rng = np.random.default_rng(0)
    y, A = rng.integers(0, 2, len(X)), rng.integers(0, 2, len(X))
    run = globals()[name]
    run(np.array(X[:300]), y[:300], A[:300])          # imports, thread pools, allocator
    limit = private_memory() + budget
    resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    run(X, y, A)
    try:
        np.array(X, dtype=np.float64)
    except MemoryError:
        print("CAPPED")
    print("DONE")
""")


@pytest.fixture(scope="module")
def memmap_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "X.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                  shape=(N_ROWS, N_FEATURES))
    rng = np.random.default_rng(0)
    for start in range(0, N_ROWS, 500):
        X[start:start + 500] = rng.normal(size=(min(500, N_ROWS - start), N_FEATURES))
    X.flush()
    del X
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alfa", "aeda", "smoothing", "lassi", "vae", "synthesizer",
                                  "flow"])
def test_memmap_streams_under_a_memory_cap(memmap_path, name):
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, name, str(memmap_path), str(BUDGET)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "DONE" in completed.stdout
    assert "CAPPED" in completed.stdout      # the cap binds: a float64 copy of X is refused


def test_row_store_spills_to_disk_and_reads_back_in_order():
    rows = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    store = RowStore(3, memory_bytes=1200)
    for start in range(0, 1000, 70):
        store.append(rows[start:start + 70])
    assert not store.in_memory and len(store) == 1000 and store.shape == (1000, 3)
    blocks = list(store.blocks(chunk_rows=256))
    assert max(len(block) for block in blocks) <= 256
    np.testing.assert_array_equal(np.concatenate(blocks), rows)
    np.testing.assert_array_equal(store.to_array(), rows)   # and again
    store.close()


def test_row_store_within_budget_stays_in_memory():
    store = RowStore(2, dtype=np.float64)
    store.append(np.ones((10, 2)))
    assert store.in_memory
    np.testing.assert_array_equal(store.to_array(), np.ones((10, 2)))
    assert RowStore(4).to_array().shape == (0, 4)
