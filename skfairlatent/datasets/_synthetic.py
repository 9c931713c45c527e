"""ALFA's synthetic unfair Gaussian mixture (Appendix C, Eq. 18)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_unfair_gaussians"]

# (y, a) of the four groups of Eq. 18, in the order of ``n_samples``.
_GROUPS = ((1, 1), (0, 1), (1, 0), (0, 0))

UNFAIR_GAUSSIANS_DESCR = """\
ALFA synthetic unfair data (Appendix C, Eq. 18)
-----------------------------------------------

A 2-d Gaussian mixture with binary label y and binary sensitive attribute a
(a = 1 privileged). Group 1 (y=1, a=1) ~ N([mu, mu], sigma^2 I); group 2
(y=0, a=1) ~ N([mu, r mu], sigma^2 I); group 3 (y=1, a=0) ~
N([0, mu], (K sigma)^2 I); group 4 (y=0, a=0) ~ N([0, 0], (K sigma)^2 I).
The paper sets K=3, r=0.7, mu=1 and N1=N2=100, N3=N4=400; it does not give
sigma, 0.2 is used here. A logistic regression then over-predicts y=1 for
(a=1, y=0) and under-predicts it for (a=0, y=1): the "unfair regions".
"""


def make_unfair_gaussians(n_samples=(100, 100, 400, 400), *, K=3.0, r=0.7, mu=1.0,
                          sigma=0.2, shuffle=True, random_state=None, return_X_y_A=True):
    """Generate ALFA's synthetic 2-d data with unfair regions (Appendix C).

    Four isotropic Gaussian groups (ALFA, Eq. 18)::

        group 1  y=1, a=1 :  N([mu, mu],    sigma^2 I)
        group 2  y=0, a=1 :  N([mu, r*mu],  sigma^2 I)
        group 3  y=1, a=0 :  N([0,  mu],   (K sigma)^2 I)
        group 4  y=0, a=0 :  N([0,  0],    (K sigma)^2 I)

    With the defaults (the paper's K=3, r=0.7, mu=1, N1:N2:N3:N4 =
    100:100:400:400) a linear classifier misclassifies (a=1, y=0) and
    (a=0, y=1) disproportionately often (ALFA Figure 2).

    Parameters
    ----------
    n_samples : int or tuple of 4 int, default=(100, 100, 400, 400)
        Samples in groups 1-4 (order above). An int is split in the paper's
        ratio 1:1:4:4 (a remainder goes to the groups from the last one back).
    K : float, default=3.0
        Ratio of the standard deviations of the a=0 and a=1 groups (paper:
        K > 1). Must be > 0.
    r : float, default=0.7
        mu' = r * mu, the second coordinate of group 2's mean (paper:
        0 < r < 1).
    mu : float, default=1.0
        Location of the means.
    sigma : float, default=0.2
        Standard deviation of the a=1 groups. The paper does not state it;
        0.2 gives the overlaps of its Figure 2 (a logistic regression errs on
        roughly half of group 2 and a quarter of group 3, and on few of
        group 1). Must be > 0.
    shuffle : bool, default=True
        Shuffle the rows; if False they come group by group in the order
        above.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw (``check_random_state``); an int gives the same data
        every call.
    return_X_y_A : bool, default=True
        If True return ``(X, y, A)``; if False a Bunch with ``data``,
        ``target``, ``sensitive``, ``group`` (1-4 as in Eq. 18), ``means``,
        ``stds`` and ``DESCR``.

    Returns
    -------
    X : ndarray of shape (n_samples_total, 2), dtype float64
    y : ndarray of shape (n_samples_total,), dtype int64
        Class label, 0 or 1.
    A : ndarray of shape (n_samples_total,), dtype int64
        Sensitive attribute, 1 = privileged (groups 1-2), 0 = unprivileged.

    Raises
    ------
    ValueError
        If ``n_samples`` is not a non-negative int or a tuple of 4 of them
        with a positive total, or ``K``/``sigma`` is not positive.

    References
    ----------
    ALFA (Adversarial Latent Feature Augmentation), Appendix C, Eq. 18,
    after Xu et al., "To be robust or to be fair", ICML 2021.
    """
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        if n_samples < 4:
            raise ValueError(f"n_samples must be at least 4 when an int; got {n_samples}.")
        base = np.array([1, 1, 4, 4]) * (int(n_samples) // 10)
        for i in range(int(n_samples) - int(base.sum())):
            base[3 - i % 4] += 1
        counts = [int(c) for c in base]
    else:
        try:
            counts = [] if isinstance(n_samples, str) else [int(c) for c in n_samples]
            ok = len(counts) == 4 and all(
                isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 0
                for c in n_samples
            ) and sum(counts) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                "n_samples must be an int or a tuple of 4 non-negative ints "
                f"(groups y=1/a=1, y=0/a=1, y=1/a=0, y=0/a=0); got {n_samples!r}."
            )
    for name, value in (("K", K), ("sigma", sigma)):
        if not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{name} must be a positive number; got {value!r}.")
    for name, value in (("r", r), ("mu", mu)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number; got {value!r}.")

    rng = check_random_state(random_state)
    means = np.array([[mu, mu], [mu, r * mu], [0.0, mu], [0.0, 0.0]], dtype=np.float64)
    stds = np.array([sigma, sigma, K * sigma, K * sigma], dtype=np.float64)
    X = np.concatenate([
        rng.normal(loc=means[g], scale=stds[g], size=(counts[g], 2)) for g in range(4)
    ])
    group = np.repeat(np.arange(1, 5), counts)
    y = np.array([_GROUPS[g - 1][0] for g in group], dtype=np.int64)
    A = np.array([_GROUPS[g - 1][1] for g in group], dtype=np.int64)
    if shuffle:
        order = rng.permutation(len(X))
        X, y, A, group = X[order], y[order], A[order], group[order]
    if return_X_y_A:
        return X, y, A
    return Bunch(data=X, target=y, sensitive=A, group=group, means=means, stds=stds,
                 DESCR=UNFAIR_GAUSSIANS_DESCR)
