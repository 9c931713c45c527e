"""Baselines of AEDA's Table 1, trained on the same data and backbone as AEDA.

Zhang & Sang, "Towards Accuracy-Fairness Paradox: Adversarial Example-based
Data Augmentation for Visual Debiasing", Sec. 4.1 lists the baselines:

* Down-sampling: drop majority-bias rows so every (target, bias) cell of a
  class has the size of its smallest cell [7, 30]. Undefined when a cell is
  empty (100 % aligned C-MNIST, as the paper says). Trained for as many
  gradient steps as the full-data model (the epochs are scaled up), so the
  smaller set does not leave the network under-trained.
* Reweighting: weight 1 / n_{t,b} per row, normalised to mean 1 [15];
  undefined when a cell is empty.
* Adv debiasing [4, 11, 26]: the target network (same :class:`SmallCNN`
  backbone and head as AEDA) plus an adversary that predicts the bias from
  what it is given, trained through a gradient-reversal layer (Ganin &
  Lempitsky 2015, the paper's [11]). ``adversary="features"`` gives it the
  shared features f(x) (a fair representation, as the paper describes the
  baseline); ``adversary="equal_opportunity"`` gives it the predicted class
  probabilities and the one-hot true class (Zhang, Lemoine & Mitchell 2018's
  conditioning on the label, for every class as the positive one). When every
  class has a single bias value (100 % aligned) the true class alone
  predicts the bias, so the equal-opportunity adversary has nothing to
  remove there.
* fairlearn's ``AdversarialFairnessClassifier`` (an MLP on the pixels) as a
  further reference.
"""

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from skfairlatent.nn.cnn import SmallCNN


def downsample(y, A, rng):
    """Row indices keeping, per class, as many rows of each group as its smallest group.

    Returns ``None`` when a class has an empty (class, group) cell.
    """
    keep = []
    for t in np.unique(y):
        cells = [np.flatnonzero((y == t) & (A == a)) for a in np.unique(A)]
        n = min(len(c) for c in cells)
        if n == 0:
            return None
        keep += [rng.choice(c, n, replace=False) for c in cells]
    return np.sort(np.concatenate(keep))


def reweight(y, A):
    """Weights 1 / n_{t,a} (each (class, group) cell weighs the same), mean 1; ``None`` if a cell is empty."""
    cells = pd.crosstab(y, A)
    if (cells == 0).any().any():
        return None
    weight = 1.0 / cells.to_numpy()[np.searchsorted(cells.index, y), np.searchsorted(cells.columns, A)]
    return (weight * len(y) / weight.sum()).astype(np.float32)


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coefficient):
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coefficient * grad, None


def adversarial_debiasing_cnn(X, y, A, X_test, *, seed, epochs, adversary="features", alpha=1.0,
                              conv_channels=(8, 16), hidden_layer_sizes=(64,), batch_size=64,
                              lr=1e-3):
    """Train the adversarial-debiasing CNN and return its test predictions.

    Loss per batch: CE(h_t(f(x)), y) + CE(adv(GRL(input)), a); the gradient
    reversal multiplies the adversary's gradient into the network by
    ``−alpha · (2 / (1 + exp(−10 p)) − 1)`` with p the training progress in
    [0, 1] (Ganin & Lempitsky's schedule).

    Parameters
    ----------
    X, X_test : ndarray of shape (n, C, H, W), float32
    y, A : ndarray of shape (n,), int
    seed, epochs : int
    adversary : {"features", "equal_opportunity"}
    alpha : float
        Weight of the reversed adversary gradient.

    Returns
    -------
    ndarray of shape (n_test,), int
    """
    torch.manual_seed(seed)
    n_classes, n_groups = int(y.max()) + 1, int(A.max()) + 1
    f = SmallCNN(X.shape[1:], conv_channels, hidden_layer_sizes)
    head = nn.Linear(f.out_dim, n_classes)
    width = f.out_dim if adversary == "features" else 2 * n_classes
    adv = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, n_groups))
    params = [*f.parameters(), *head.parameters(), *adv.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr)
    Xt, yt, At = torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(A)
    generator = torch.Generator().manual_seed(seed)
    n_steps, step = epochs * int(np.ceil(len(X) / batch_size)), 0
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            coefficient = alpha * (2 / (1 + np.exp(-10 * step / n_steps)) - 1)
            z = f(Xt[idx])
            logits = head(z)
            if adversary == "features":
                adv_in = _GradReverse.apply(z, coefficient)
            else:
                adv_in = torch.cat([_GradReverse.apply(F.softmax(logits, 1), coefficient),
                                    F.one_hot(yt[idx], n_classes).float()], 1)
            loss = F.cross_entropy(logits, yt[idx]) + F.cross_entropy(adv(adv_in), At[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    with torch.no_grad():
        return torch.cat([head(f(torch.as_tensor(X_test[i:i + 512]))).argmax(1)
                          for i in range(0, len(X_test), 512)]).numpy()


def fairlearn_adversarial(X, y, A, X_test, *, seed, epochs, constraints="equalized_odds"):
    """fairlearn's AdversarialFairnessClassifier on flattened pixels (an MLP), test predictions."""
    from fairlearn.adversarial import AdversarialFairnessClassifier

    clf = AdversarialFairnessClassifier(
        backend="torch", predictor_model=[128, "leaky_relu"], adversary_model=[32, "leaky_relu"],
        constraints=constraints, alpha=1.0, learning_rate=1e-3, epochs=epochs,
        batch_size=64, shuffle=True, random_state=seed)
    clf.fit(X.reshape(len(X), -1), y, sensitive_features=A)
    return np.asarray(clf.predict(X_test.reshape(len(X_test), -1)))
