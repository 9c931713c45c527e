"""Does the default goal's label head decide both classes on small tables? (Adult)

Fits only the VAE that ``FairLatentSynthesizer()`` builds (blind encoder,
``alpha=1``, ``alpha_target=2``, ``kl_weight=0.1``) with the given batch size and
epochs on the Adult tuning split (``fldgm_tuning_split(n, seed=100)``: 70 % of ``n``
rows to train on), then scores its label head on the held-out 30 %: the share of
rows whose decision (argmax, as ``label_decode="mode"``) is ``>50K`` (real: about
0.24), the DP of those decisions between the sexes, and the AUROC of the head's
probability.

Usage (from the repository root)::

    python benchmarks/studies/fldgm/fldgm_head_scale.py N BATCH,EPOCHS [BATCH,EPOCHS ...]

Prints one line per setting; ``results/fldgm_head_scale.md`` collects the lines of
the runs made for the Defaults table (tuning seed 100 only).
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from skfairlatent import FairLatentVAE  # noqa: E402

from benchmarks._common import fldgm_tuning_split  # noqa: E402


def main():
    torch.set_num_threads(1)
    n, settings = int(sys.argv[1]), sys.argv[2:]
    X_tr, X_te, y_tr, y_te, A_tr, A_te = fldgm_tuning_split(n, seed=100)
    X_blind, X_test_blind = X_tr.drop(columns="sex"), X_te.drop(columns="sex")
    for setting in settings:
        batch_size, epochs = map(int, setting.split(","))
        start = time.time()
        vae = FairLatentVAE(condition_encoder=False, alpha_target=2.0, kl_weight=0.1,
                            batch_size=batch_size, max_epochs=epochs, random_state=100,
                            device="cpu").fit(X_blind, y_tr, sensitive_features=A_tr)
        with torch.no_grad():
            logits = vae.net_.module_.target_head(torch.as_tensor(vae.transform(X_test_blind)))
        proba = torch.softmax(logits, 1).numpy()
        positive = vae.target_classes_[proba.argmax(1)] == ">50K"
        male = np.asarray(A_te == "Male")
        column = list(vae.target_classes_).index(">50K")
        print(n, setting, f"pos {positive.mean():.3f} "
              f"dp {abs(positive[male].mean() - positive[~male].mean()):.3f} "
              f"auc {roc_auc_score(y_te == '>50K', proba[:, column]):.3f} "
              f"{time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
