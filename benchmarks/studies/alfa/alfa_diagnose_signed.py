"""Signed group rates on one tuning seed: baseline, control, ALFA α=0 with ε, ε/2, ε/4 and λ=0.8.

Usage: python benchmarks/alfa_diagnose_signed.py adult 100 "{'upsampling':'per_batch','class_prior':'data'}"
(ε is scaled by patching ALFAClassifier._distance_to_boundary; a diagnosis, not an option).
Output of that run: benchmarks/results/alfa_diagnose_adult_signed.txt
"""
import sys, time, warnings, numpy as np, torch
warnings.filterwarnings("ignore"); torch.set_num_threads(1)
sys.path.insert(0, __import__("os").path.dirname(__file__))
from skfairlatent import ALFAClassifier
from skfairlatent.cli import load_split
from alfa_ablation import _PretrainCache
ds = sys.argv[1]; seed = int(sys.argv[2]); extra = eval(sys.argv[3]) if len(sys.argv) > 3 else {}
split = load_split(ds, seed); X, y, A = split["train"]
def signed(clf, part):
    Xp, yp, Ap = split[part]; p = clf.predict(Xp); g = np.unique(Ap)
    r = lambda t: [p[(Ap == gg) & (yp == t)].mean() for gg in g]
    tpr, fpr = r(1), r(0)
    return f"acc {np.mean(p == yp):.3f} TPR {tpr[0]:.3f}/{tpr[1]:.3f} FPR {fpr[0]:.3f}/{fpr[1]:.3f} EOd {abs(tpr[0]-tpr[1])+abs(fpr[0]-fpr[1]):.3f}"
orig = ALFAClassifier._distance_to_boundary
with _PretrainCache() as cache:
    cache.key = 1
    base = dict(max_epochs=20, random_state=seed, **extra)
    for name, params, scale in [("baseline", dict(lambda_=0.0), 1), ("control", dict(alpha=0.0, epsilon=1e-8), 1),
                                ("alpha0", dict(alpha=0.0), 1), ("alpha0 eps/2", dict(alpha=0.0), 0.5),
                                ("alpha0 eps/4", dict(alpha=0.0), 0.25), ("alpha0 lam.8", dict(alpha=0.0, lambda_=0.8), 1)]:
        ALFAClassifier._distance_to_boundary = staticmethod(lambda m, f, s=scale: s * orig(m, f))
        t = time.perf_counter()
        clf = ALFAClassifier(**base, **params).fit(X, y, sensitive_features=A)
        print(f"{name:14s} valid {signed(clf, 'valid')} | test {signed(clf, 'test')} ({time.perf_counter()-t:.0f}s)", flush=True)
