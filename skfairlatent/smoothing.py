"""Randomized smoothing, center smoothing and end-to-end fairness certification.

Three layers, each usable on its own:

* statistics -- :func:`clopper_pearson_lower`, :func:`certified_radius`,
  :func:`center_smoothing_quantile_level` (scipy only, no torch);
* samplers -- :func:`smoothed_counts`, :func:`smooth_predict`,
  :func:`smooth_certify` (Cohen et al. 2019) and :func:`center_smooth`
  (Kumar & Goldstein 2021) on any torch callable;
* estimators -- :class:`CertifiedSmoothClassifier` (a base classifier trained
  under Gaussian noise whose smoothed version is certified) and
  :func:`certify_individual_fairness`, Algorithm 1 of LASSI (Peychev et al.,
  ECCV 2022, Sec. 4.4) on a fitted :class:`~skfairlatent.LASSIRepresentation`.

Sampling
--------
Every row has its own noise: a seed hashed from ``random_state``, the row's
values and the number of earlier rows of ``X`` with the same values
(:func:`row_seeds`) seeds CPU ``torch.Generator`` objects, one per block of
4096 draws of each noise stream. A row's noise, and therefore its prediction,
counts and certificate, depends only on ``random_state``, the row itself and
that count of earlier duplicates: not on ``batch_size`` or the row chunks
(which only set how many points go through the network at once), and not on
the other rows of ``X`` unless they repeat it. Every row of ``X``, repeated
rows included, gets its own seed, so the noise of different rows is
independent (as far as distinct seeds of the generator are) and so are the
failure events of their certificates.

Parameters of every function are checked with scikit-learn's
``validate_params``: a value outside its range raises
:class:`~skfairlatent.exceptions.InvalidParameterError` (a ``ValueError``).

References
----------
Cohen, Rosenfeld, Kolter, "Certified Adversarial Robustness via Randomized
Smoothing", ICML 2019, arXiv:1902.02918 (Algorithms PREDICT and CERTIFY,
Theorem 1).
Kumar, Goldstein, "Center Smoothing: Certified Robustness for Networks with
Structured Outputs", NeurIPS 2021, arXiv:2102.09701 (Algorithm Smooth,
Theorem 1), and the authors' code (aounon/center-smoothing), which LASSI's
code follows.
Peychev, Ruoss, Balunović, Baader, Vechev, "Latent Space Smoothing for
Individually Fair Representations", ECCV 2022, arXiv:2111.13650 (Alg. 1,
Thm. 1).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from scipy.stats import beta as beta_dist
from scipy.stats import binomtest, norm
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted, validate_data
from skorch.dataset import Dataset
from torch import nn

from .base import (
    FiniteLoss,
    _FairLatentEstimator,
    check_hidden_layer_sizes,
    derive_seed,
    make_net,
    row_chunks,
    torch_seeded,
)
from .exceptions import InvalidParameterError
from .nn.modules import MLP

__all__ = [
    "clopper_pearson_lower",
    "certified_radius",
    "center_smoothing_quantile_level",
    "smoothed_counts",
    "smooth_predict",
    "smooth_certify",
    "center_smooth",
    "center_smoothing_abstains",
    "row_seeds",
    "CenterSmoothingResult",
    "CertifiedSmoothClassifier",
    "certify_individual_fairness",
]

#: Number of float32 values one sampling chunk may hold (rows x samples x dims).
_CHUNK_BUDGET = 2**22
#: Noise draws generated from one seed: a row's noise never depends on chunking.
_NOISE_BLOCK = 4096
#: Approximation factor of the median center (Kumar & Goldstein 2021): d_cs = (1 + beta) R_hat.
_CENTER_BETA = 2.0
#: Fewest candidates of the candidate-set center (see the Notes of :func:`center_smooth`).
_MIN_CANDIDATES = 32


# =========================================================================== #
# Batched loading for skorch (shared with lassi.py)
# =========================================================================== #
class _BatchDataset(Dataset):
    """skorch ``Dataset`` of arrays that fetches a whole batch with one fancy index.

    ``DataLoader`` passes the sampler's batch of indices to ``__getitems__``;
    the batch ``(X[idx], y[idx])`` is returned already collated (pass
    :func:`_collated` as the loader's ``collate_fn``). The tensors equal those
    of skorch's row-by-row ``__getitem__`` and ``default_collate`` (``y=None``
    gives zeros of shape (b, 1), as there), the sampler and its random draws
    are unchanged, and ``X`` (e.g. a ``np.memmap``) is read a batch at a time.
    """

    def __getitems__(self, indices):
        idx = np.asarray(indices, dtype=np.intp)
        X = torch.from_numpy(np.asarray(self.X[idx]))
        y = (torch.zeros((len(idx), 1)) if self.y is None
             else torch.as_tensor(np.asarray(self.y[idx])))
        return X, y


def _collated(batch):
    """``collate_fn`` for :class:`_BatchDataset`: the batch is already collated."""
    return batch


#: ``make_net`` keywords that load batches through :class:`_BatchDataset` and step Adam
#: with its multi-tensor (``foreach``) kernels: the same arithmetic, less overhead per step.
_BATCHED_LOADING = dict(dataset=_BatchDataset, iterator_train__collate_fn=_collated,
                        iterator_valid__collate_fn=_collated, optimizer__foreach=True)


# =========================================================================== #
# Parameter constraints (scikit-learn's validate_params: InvalidParameterError)
# =========================================================================== #
_PROBABILITY = [Interval(Real, 0, 1, closed="neither")]
_POSITIVE = [Interval(Real, 0, np.inf, closed="neither")]      # finite and > 0
_COUNT = [Interval(Integral, 1, None, closed="left")]
_OPTIONAL_COUNT = [None, Interval(Integral, 1, None, closed="left")]
_FINITE = [Interval(Real, None, np.inf, closed="neither")]


# =========================================================================== #
# Statistics (scipy only)
# =========================================================================== #
@validate_params({"alpha": _PROBABILITY}, prefer_skip_nested_validation=False)
def clopper_pearson_lower(k, n, alpha):
    """One-sided Clopper-Pearson lower confidence bound of a binomial proportion.

    Returns ``p_lower`` such that ``P(p >= p_lower) >= 1 - alpha`` when
    ``k ~ Binomial(n, p)``: the ``alpha`` quantile of ``Beta(k, n - k + 1)``,
    and ``0`` when ``k = 0``. This is Cohen et al.'s (2019)
    ``LowerConfBound(k, n, 1 - alpha)``, i.e. the lower end of the two-sided
    ``1 - 2 alpha`` "beta" interval of statsmodels' ``proportion_confint``.

    Parameters
    ----------
    k : int or array-like of int
        Number of successes, ``0 <= k <= n``.
    n : int or array-like of int
        Number of trials, ``n >= 1`` (broadcast against ``k``).
    alpha : float in (0, 1)
        Failure probability of the bound.

    Returns
    -------
    p_lower : float or ndarray of float64
        Same shape as ``np.broadcast(k, n)``.

    Raises
    ------
    InvalidParameterError
        If ``alpha`` is not a number in (0, 1).
    ValueError
        If ``n < 1`` or ``k`` is outside ``[0, n]``.
    """
    alpha = float(alpha)
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k), np.asarray(n))
    if np.any(n_arr < 1) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("clopper_pearson_lower needs 0 <= k <= n and n >= 1.")
    k_f = k_arr.astype(np.float64)
    n_f = n_arr.astype(np.float64)
    bound = beta_dist.ppf(alpha, np.maximum(k_f, 1.0), n_f - k_f + 1.0)
    bound = np.where(k_f > 0, bound, 0.0)
    return bound.item() if bound.ndim == 0 else bound


@validate_params({"sigma": _POSITIVE}, prefer_skip_nested_validation=False)
def certified_radius(p_lower, sigma):
    """Certified L2 radius of a Gaussian-smoothed classifier (Cohen et al. 2019, Thm. 1).

    ``sigma * Phi^{-1}(p_lower)`` where ``p_lower > 1/2`` (the lower bound of
    the top class's probability under noise), ``0`` elsewhere (abstain).

    Parameters
    ----------
    p_lower : float or array-like of float in [0, 1]
    sigma : float > 0
        Standard deviation of the isotropic Gaussian noise, in input units.

    Returns
    -------
    radius : float or ndarray of float64
        In the same units as the input of the smoothed classifier.
    """
    p = np.asarray(p_lower, dtype=np.float64)
    radius = np.where(p > 0.5, sigma * norm.ppf(np.where(p > 0.5, p, 0.75)), 0.0)
    return radius.item() if radius.ndim == 0 else radius


@validate_params({"epsilon": _POSITIVE, "sigma": _POSITIVE, "n": _COUNT, "alpha": _PROBABILITY,
                  "delta": [Interval(Real, 0, 0.5, closed="neither")]},
                 prefer_skip_nested_validation=False)
def center_smoothing_quantile_level(epsilon, sigma, n, alpha, delta=0.05):
    """Quantile level of center smoothing's radius bound (Kumar & Goldstein 2021, Thm. 1).

    ``q = Phi(Phi^{-1}(1/2 + delta) + epsilon / sigma) + sqrt(ln(1 / alpha) / (2 n))``:
    the probability the output ball must hold for an input shift of L2 norm
    ``epsilon``, plus the one-sided Hoeffding (DKW) margin of its estimate from
    ``n`` samples at failure probability ``alpha``.

    Parameters
    ----------
    epsilon : float > 0
        Input radius to certify (same units as ``sigma``).
    sigma : float > 0
        Noise standard deviation of center smoothing.
    n : int >= 1
        Number of samples of the radius estimate.
    alpha : float in (0, 1)
        Failure probability of the estimate (``alpha_2`` in the paper).
    delta : float in (0, 1/2), default=0.05
        Center smoothing's Delta.

    Returns
    -------
    q : float
        May exceed 1, in which case no finite bound can be certified.
    """
    alpha = float(alpha)
    return float(norm.cdf(norm.ppf(0.5 + delta) + epsilon / sigma)
                 + math.sqrt(math.log(1.0 / alpha) / (2.0 * n)))


def _conservative_quantile(values, q):
    """The ``ceil(q * m)``-th smallest of ``m`` values (a tensor, any order) along the last axis.

    The smallest value ``v`` with empirical CDF ``F_m(v) >= q`` (numpy's
    ``method="inverted_cdf"``, q <= 1): never interpolated below an order statistic.
    """
    m = values.shape[-1]
    rank = min(max(math.ceil(q * m - 1e-9), 1), m)
    return torch.kthvalue(torch.as_tensor(values), rank, dim=-1).values


# =========================================================================== #
# Samplers
# =========================================================================== #
def _mix(*values):
    """A 63-bit seed hashed (BLAKE2b) from non-negative integers."""
    digest = hashlib.blake2b(b"".join(int(v).to_bytes(8, "little") for v in values),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def row_seeds(X, random_state=None):
    """One noise seed per row of ``X``: its values, earlier duplicates and ``random_state``.

    The seed of row ``i`` is the 63-bit BLAKE2b digest of the row's bytes (as
    float32) keyed with ``derive_seed(random_state)`` when no earlier row of
    ``X`` has the same bytes; the ``k``-th repeat of a row (``k`` earlier
    rows equal to it) gets that digest mixed with ``k`` (SplitMix64). So every row,
    repeated rows included, gets its own seed (independent noise), and a
    row's seed depends only on ``random_state``, its values and ``k``: not on
    the row chunks, and not on the other rows of ``X`` unless they repeat it.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_rows, n_features)
    random_state : None, int or RandomState

    Returns
    -------
    seeds : list of int
        ``n_rows`` seeds in ``[0, 2**63)``.

    Notes
    -----
    ``X`` (e.g. a read-only ``np.memmap``) is read a chunk of rows at a time;
    memory is 8 bytes per row for the digests plus the sort that counts the
    repeats (O(n_rows log n_rows) time).
    """
    return _row_seeds(X, derive_seed(random_state))


def _row_digests(X, base):
    """Keyed 63-bit BLAKE2b digest of each row's float32 bytes, an int64 array."""
    key = base.to_bytes(8, "little")
    digests = np.empty(_num_samples(X), dtype=np.int64)
    for rows in row_chunks(len(digests)):
        part = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        chunk = np.ascontiguousarray(np.asarray(part, dtype=np.float32))
        digests[rows] = [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8,
                                                        key=key).digest(), "little") & (2**63 - 1)
                         for row in chunk.reshape(len(chunk), -1)]
    return digests


def _earlier_repeats(values):
    """For each entry of the 1-d array ``values``, how many earlier entries equal it."""
    order = np.argsort(values, kind="stable")  # equal values keep their order
    ordered = values[order]
    position = np.arange(len(values))
    group_start = np.maximum.accumulate(
        np.where(np.r_[True, ordered[1:] != ordered[:-1]], position, 0))
    repeats = np.empty(len(values), dtype=np.int64)
    repeats[order] = position - group_start
    return repeats


def _splitmix64(x):
    """SplitMix64's finaliser (a bijection of 64-bit integers) on a uint64 array."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _row_seeds(X, base):
    """:func:`row_seeds` from the integer ``base = derive_seed(random_state)``."""
    digests = _row_digests(X, base)
    repeats = _earlier_repeats(digests)
    mixed = _splitmix64(digests.view(np.uint64) ^ _splitmix64(repeats.view(np.uint64)))
    mixed = (mixed & np.uint64(2**63 - 1)).view(np.int64)
    return np.where(repeats == 0, digests, mixed).tolist()


def _row_noise(seed, stream, start, stop, total, dim):
    """Standard normal draws ``start:stop`` (of ``total``) of one row's noise stream.

    A stream is cut into blocks of ``_NOISE_BLOCK`` draws, each drawn from its
    own CPU generator seeded with ``(seed, stream, block)``; ``start`` must be
    a multiple of ``_NOISE_BLOCK``. The draws therefore depend on
    ``(seed, stream, total)`` only, not on how a caller chunks them.
    """
    parts = []
    for block in range(start // _NOISE_BLOCK, -(-stop // _NOISE_BLOCK)):
        size = min(_NOISE_BLOCK, total - block * _NOISE_BLOCK)
        generator = torch.Generator(device="cpu").manual_seed(_mix(seed, stream, block))
        parts.append(torch.randn((size, dim), generator=generator))
    return torch.cat(parts)[: stop - start]


def _sample_chunk(n, width):
    """Samples per row and pass: a multiple of ``_NOISE_BLOCK`` (or ``n``) within the budget."""
    per_pass = max(_NOISE_BLOCK, (_CHUNK_BUDGET // max(1, width)) // _NOISE_BLOCK * _NOISE_BLOCK)
    return min(n, per_pass)


@validate_params({"sigma": _POSITIVE, "n_samples": _COUNT, "random_state": ["random_state"],
                  "batch_size": _OPTIONAL_COUNT}, prefer_skip_nested_validation=False)
@torch.no_grad()
def smoothed_counts(predict_labels, X, *, sigma, n_samples, n_classes,
                    random_state=None, batch_size=None, device="cpu", stream=0, seeds=None):
    """Class counts of ``predict_labels(X + noise)`` under Gaussian noise.

    Each row gets its own noise, generated from :func:`row_seeds`: the
    counts of a row depend on ``random_state``, ``stream``, ``n_samples``,
    the row itself and how many earlier rows of ``X`` repeat it, not on
    ``batch_size``; repeated rows get independent noise.

    Parameters
    ----------
    predict_labels : callable
        Maps a float32 tensor of shape (m, n_features) on ``device`` to an
        integer tensor of shape (m,) with values in ``0 .. n_classes - 1``
        (the base classifier).
    X : array-like of shape (n_rows, n_features)
        Points around which to sample.
    sigma : float > 0
        Noise standard deviation, in the units of ``X``.
    n_samples : int >= 1
        Noise draws per row.
    n_classes : int
    random_state : None, int or RandomState
        Seeds the noise.
    batch_size : int or None
        Most points per call of ``predict_labels`` (memory); ``None``: about
        4M floats per call.
    device : str
    stream : int, default=0
        Noise stream; different streams give independent noise for the same row.
    seeds : sequence of int or None, default=None
        Per-row noise seeds; ``None`` uses ``row_seeds(X, random_state)``.

    Returns
    -------
    counts : ndarray of shape (n_rows, n_classes), dtype int64

    Notes
    -----
    ``X`` (e.g. a read-only ``np.memmap``) is read one block of rows at a time;
    memory is the counts plus one block of noisy points (about 4M floats).
    """
    n_samples = int(n_samples)
    X = np.asarray(X, dtype=np.float32)
    n_rows, width = X.shape
    seeds = row_seeds(X, random_state) if seeds is None else list(seeds)
    counts = torch.zeros((n_rows, n_classes), dtype=torch.int64)
    chunk = _sample_chunk(n_samples, width)
    row_block = max(1, _CHUNK_BUDGET // max(1, chunk * width))
    per_call = batch_size or _CHUNK_BUDGET // max(1, width)
    for r0 in range(0, n_rows, row_block):
        rows = range(r0, min(n_rows, r0 + row_block))
        X_t = torch.from_numpy(np.array(X[r0:rows.stop]))      # this block's rows only
        for s0 in range(0, n_samples, chunk):
            s1 = min(n_samples, s0 + chunk)
            noise = torch.empty((len(rows), s1 - s0, width))
            for j, i in enumerate(rows):
                noise[j] = _row_noise(seeds[i], stream, s0, s1, n_samples, width)
            # in place: the same values as X_t[:, None, :] + sigma * noise, no temporaries
            points = noise.mul_(float(sigma)).add_(X_t[:, None, :]).reshape(-1, width)
            points = points.to(device)
            labels = torch.cat([predict_labels(points[p:p + per_call]).long().cpu()
                                for p in range(0, len(points), per_call)])
            offsets = torch.arange(len(rows)).repeat_interleave(s1 - s0) * n_classes
            counts[r0:rows.stop] += torch.bincount(
                labels + offsets, minlength=len(rows) * n_classes).reshape(len(rows), n_classes)
    return counts.numpy()


@validate_params({"alpha": _PROBABILITY}, prefer_skip_nested_validation=False)
def smooth_predict(counts, alpha):
    """Cohen et al.'s PREDICT from class counts: top class, or abstain.

    The top class ``c_A`` is returned unless a two-sided binomial test of
    ``n_A`` against ``n_A + n_B`` (the two largest counts) at ``p = 1/2`` has a
    p-value above ``alpha``; then PREDICT abstains. With probability at most
    ``alpha`` the returned class differs from the smoothed classifier's.

    Parameters
    ----------
    counts : ndarray of shape (n_rows, n_classes), int
    alpha : float in (0, 1)

    Returns
    -------
    top : ndarray of shape (n_rows,), int64
        Index of the most frequent class (returned also where abstaining).
    abstain : ndarray of shape (n_rows,), bool
    """
    alpha = float(alpha)
    counts = np.asarray(counts)
    order = np.argsort(-counts, axis=1, kind="stable")
    top = order[:, 0]
    n_a = counts[np.arange(len(counts)), top]
    n_b = counts[np.arange(len(counts)), order[:, 1]] if counts.shape[1] > 1 else 0 * n_a
    abstain = np.array([binomtest(int(a), int(a + b), 0.5).pvalue > alpha
                        for a, b in zip(n_a, n_b)], dtype=bool)
    return top.astype(np.int64), abstain


@validate_params({"sigma": _POSITIVE, "n0": _COUNT, "n": _COUNT, "alpha": _PROBABILITY,
                  "random_state": ["random_state"], "batch_size": _OPTIONAL_COUNT},
                 prefer_skip_nested_validation=False)
def smooth_certify(predict_labels, X, *, sigma, n0, n, alpha, n_classes,
                   random_state=None, batch_size=None, device="cpu", seeds=None):
    """Cohen et al.'s CERTIFY: prediction and certified L2 radius per row.

    ``n0`` noise draws select the top class ``c_A``; ``n`` fresh draws count
    ``n_A``; ``p_A_lower = clopper_pearson_lower(n_A, n, alpha)``. If
    ``p_A_lower > 1/2`` the smoothed classifier ``g`` satisfies
    ``g(x + d) = c_A`` for every ``||d||_2 < sigma * Phi^{-1}(p_A_lower)``
    with probability at least ``1 - alpha`` (over the sampling); otherwise the
    row abstains. The two samples are independent noise streams of the row
    (:func:`smoothed_counts`, streams 0 and 1), seeded by :func:`row_seeds`:
    a row's result does not depend on the other rows unless they repeat it,
    and repeated rows get independent noise.

    Parameters
    ----------
    predict_labels : callable
        Base classifier, see :func:`smoothed_counts`.
    X : array-like of shape (n_rows, n_features)
    sigma : float > 0
    n0, n : int >= 1
        Selection and estimation sample sizes (Cohen et al.: 100 and 100,000).
    alpha : float in (0, 1)
    n_classes : int
    random_state : None, int or RandomState
    batch_size : int or None
    device : str
    seeds : sequence of int or None, default=None
        Per-row noise seeds; ``None`` uses ``row_seeds(X, random_state)``.

    Returns
    -------
    result : dict of ndarrays of shape (n_rows,)
        ``prediction`` (int64 class index, also filled where abstaining),
        ``abstain`` (bool), ``p_lower`` (float64), ``radius`` (float64, NaN
        where abstaining).
    """
    n0, n, alpha = int(n0), int(n), float(alpha)
    seed = derive_seed(random_state)
    kwargs = dict(sigma=sigma, n_classes=n_classes, batch_size=batch_size, device=device,
                  random_state=seed, seeds=seeds)
    counts0 = smoothed_counts(predict_labels, X, n_samples=n0, stream=0, **kwargs)
    top = np.argmax(counts0, axis=1)
    counts = smoothed_counts(predict_labels, X, n_samples=n, stream=1, **kwargs)
    n_a = counts[np.arange(len(counts)), top]
    p_lower = np.atleast_1d(clopper_pearson_lower(n_a, n, alpha)) if len(counts) else np.empty(0)
    abstain = p_lower <= 0.5
    radius = np.where(abstain, np.nan, certified_radius(p_lower, sigma)) if len(counts) \
        else np.empty(0)
    return {"prediction": top.astype(np.int64), "abstain": abstain,
            "p_lower": p_lower, "radius": radius}


@dataclass
class CenterSmoothingResult:
    """Output of :func:`center_smooth` (one entry per row).

    Attributes
    ----------
    center : ndarray of shape (n_rows, n_outputs), float32
        The center ``c`` of the certificate, the smoothed output ``f_hat(x)``
        (NaN where abstaining).
    radius : ndarray of shape (n_rows,), float64
        Certified output radius ``d_cs``: ``||c - f_hat(x')||_2 <= d_cs``
        for every ``||x' - x||_2 <= epsilon`` (NaN where abstaining, ``inf``
        when the quantile level exceeds 1).
    abstain : ndarray of shape (n_rows,), bool
        Center smoothing abstained (its Delta check failed).
    median_radius : ndarray of shape (n_rows,), float64
        ``r_hat``, the median distance of the samples to the center (radius
        of the ball of the Delta check).
    p_hat : ndarray of shape (n_rows,), float64
        Fraction of the fresh samples of the Delta check inside ``B(center, r_hat)``.
    failure_probability : float
        Upper bound on the probability that a row's certificate is wrong:
        ``alpha = alpha_1 + alpha_2``, whichever center rule (see the Notes
        of :func:`center_smooth`).
    """

    center: np.ndarray
    radius: np.ndarray
    abstain: np.ndarray
    median_radius: np.ndarray
    p_hat: np.ndarray
    failure_probability: float


def _median_center(samples, n_candidates=None):
    """The sample (of the first ``n_candidates``) with the smallest median distance to all samples.

    ``samples``: tensor (m, k). Distances are computed in float32 in blocks
    of candidates (memory O(block * m)) after subtracting the sample mean
    (which keeps the matrix-product form of ``torch.cdist`` accurate);
    ``n_candidates=None`` ranks every sample (O(m^2), LASSI's and Kumar &
    Goldstein's exact rule). The returned median ``r_hat`` is recomputed in
    float64 as the lower median (the ``ceil(m / 2)``-th smallest distance,
    so ``B(c, r_hat)`` holds at least half of the samples).

    Returns
    -------
    center : tensor (k,), r_hat : float
    """
    m = samples.shape[0]
    rank = (m + 1) // 2  # 1-based rank of the lower median
    centred = (samples - samples.mean(dim=0)).float()
    candidates = centred if n_candidates is None else centred[:n_candidates]
    block = max(1, _CHUNK_BUDGET // max(1, m))
    medians = np.concatenate([  # np.partition: several times faster than torch.kthvalue
        np.partition(torch.cdist(candidates[s:s + block], centred).cpu().numpy(),
                     rank - 1, axis=1)[:, rank - 1]
        for s in range(0, len(candidates), block)])
    center = samples[int(np.argmin(medians))]
    exact = _distances(samples, center)
    return center, float(torch.kthvalue(exact, rank).values)


def _distances(samples, center):
    """Float64 L2 distances of the rows of ``samples`` (..., k) to ``center`` (k,)."""
    return torch.linalg.vector_norm(samples.double() - center.double(), dim=-1)


@validate_params({"n0": _COUNT, "alpha_1": _PROBABILITY,
                  "delta": [Interval(Real, 0, 0.5, closed="neither")]},
                 prefer_skip_nested_validation=False)
def center_smoothing_abstains(p_hat, n0, alpha_1, delta):
    """Center smoothing's Delta check (Kumar & Goldstein 2021, Algorithm Smooth).

    With ``Delta_1 = sqrt(ln(2 / alpha_1) / (2 n0))`` and
    ``Delta_2 = 1/2 - (p_hat - Delta_1)``, abstain unless
    ``max(Delta_1, Delta_2) <= delta``; ``p_hat`` is the fraction of ``n0``
    fresh samples inside the center's ball ``B(c, r_hat)``. When it does not
    abstain, that ball holds at least ``1/2 - delta`` of the output
    distribution with probability at least ``1 - alpha_1``.

    Parameters
    ----------
    p_hat : float or ndarray
    n0 : int >= 1
    alpha_1 : float in (0, 1)
    delta : float in (0, 1/2)

    Returns
    -------
    abstain : bool or ndarray of bool
    """
    n0, alpha_1 = int(n0), float(alpha_1)
    delta_1 = math.sqrt(math.log(2.0 / alpha_1) / (2.0 * n0))
    delta_2 = 0.5 - (np.asarray(p_hat, dtype=np.float64) - delta_1)
    return np.maximum(delta_1, delta_2) > delta


@validate_params({"noise_dim": _COUNT, "sigma": _POSITIVE, "epsilon": _POSITIVE, "n0": _COUNT,
                  "n": _COUNT, "alpha": _PROBABILITY,
                  "delta": [Interval(Real, 0, 0.5, closed="neither")],
                  "beta": _FINITE,
                  "center": [StrOptions({"candidates", "exact"})], "n_candidates": _COUNT,
                  "random_state": ["random_state"], "batch_size": _OPTIONAL_COUNT},
                 prefer_skip_nested_validation=False)
@torch.no_grad()
def center_smooth(func, X, *, noise_dim, sigma, epsilon, n0, n, alpha, delta=0.05,
                  beta=2.0, center="candidates", n_candidates=64, random_state=None,
                  batch_size=None, seeds=None):
    """Center smoothing of ``eta -> func(x, eta)`` under ``eta ~ N(0, sigma^2 I)``.

    For each row ``x`` (Kumar & Goldstein 2021, Algorithm Smooth and Thm. 1;
    the authors' code, which LASSI's code follows):

    1. ``n0`` draws ``f(x + eta_i)``; the center ``c`` is the draw with the
       smallest median distance to all draws, ``r_hat`` that median (the
       ``ceil(n0 / 2)``-th smallest distance). With ``center="exact"`` every
       draw is a candidate (O(n0^2) distances, as in LASSI's code); with
       ``center="candidates"`` the first ``n_candidates`` draws (an i.i.d.
       sample) are (O(n_candidates n0)).
    2. ``n0`` fresh draws estimate ``p_hat = P(||f(x + eta) - c|| <= r_hat)``;
       :func:`center_smoothing_abstains` (``alpha_1``) decides whether to abstain.
    3. ``n`` fresh draws of ``||f(x + eta) - c||``; ``R_hat`` is their
       conservative (order-statistic) quantile at level
       :func:`center_smoothing_quantile_level` ``(epsilon, sigma, n, alpha_2, delta)``
       and ``d_cs = (1 + beta) R_hat``; ``d_cs = inf`` when that level exceeds 1.

    Noise: every row has its own three noise streams seeded by
    :func:`row_seeds` (``random_state``, the row's values and its count of
    earlier repeats in ``X``), so a row's result does not depend on
    ``batch_size``, nor on the other rows of ``X`` unless they repeat it;
    repeated rows get independent noise.

    With ``alpha_1 = alpha_2 = alpha / 2`` (as in LASSI's code), with
    probability at least ``1 - alpha`` (``failure_probability``, for both
    center rules): if the row does not abstain,
    ``||c - f_hat(x')||_2 <= d_cs`` for every ``||x' - x||_2 <= epsilon``
    (``x' = x`` included).

    Parameters
    ----------
    func : callable
        ``func(X_block, eta)`` with ``X_block`` the float32 tensor of a block
        of rows (b, n_features) and ``eta`` the noise tensor
        (b, m, noise_dim), one noise sample per row, returns the outputs, a
        float tensor of shape (b, m, n_outputs). For LASSI
        ``func(z, t) = R(z + t A)``: noise on the attribute coefficients ``t`` only.
    X : array-like of shape (n_rows, n_features)
    noise_dim : int
        Dimension of the smoothed input ``eta`` (the number of attributes).
    sigma : float > 0
        ``sigma_cs``, noise standard deviation (units of ``eta``).
    epsilon : float > 0
        Input radius to certify (units of ``eta``).
    n0, n : int >= 1
        Sample sizes of steps 1-2 and 3 (LASSI: 10,000 and 10,000).
    alpha : float in (0, 1)
        ``alpha_cs``, total failure probability (split equally).
    delta : float in (0, 1/2), default=0.05
    beta : float >= 2, default=2.0
        Approximation factor of the center; the radius factor is ``1 + beta``
        (the authors' ``radius_coeff = 3``). Both center rules achieve
        ``beta = 2``; a larger value only loosens the bound, a smaller one
        would void Theorem 1 and is rejected.
    center : {"candidates", "exact"}, default="candidates"
    n_candidates : int >= 32, default=64
        Candidates of the candidate-set center.
    random_state : None, int or RandomState
    batch_size : int or None
        Most noise draws per call of ``func`` (memory); ``None``: 8192.
    seeds : sequence of int or None, default=None
        Per-row noise seeds; ``None`` uses ``row_seeds(X, random_state)``.

    Returns
    -------
    CenterSmoothingResult

    Raises
    ------
    InvalidParameterError
        For non-finite or non-positive ``sigma``/``epsilon``, ``alpha``
        outside (0, 1), ``delta`` outside (0, 1/2), ``beta < 2`` or not
        finite, an unknown ``center``, ``n_candidates < 32`` with
        ``center="candidates"`` or non-positive sample sizes.

    Notes
    -----
    Why the certificate holds for the returned ``c``, whichever draw it is,
    and why the center rule adds nothing to the failure probability (Kumar &
    Goldstein 2021, Thm. 1 and its proof). Let
    ``p = Phi(Phi^{-1}(1/2 + delta) + epsilon / sigma)`` and ``R_hat`` the
    ``ceil(q n)``-th smallest of the ``n`` step-3 distances ``||f(x + eta) - c||``,
    ``q = p + sqrt(ln(1 / alpha_2) / (2 n))``
    (:func:`center_smoothing_quantile_level`).

    (a) ``c`` is fixed before the step-3 draws, so (Hoeffding) the ball
        ``B(c, R_hat)`` holds less than ``p`` of the law of ``f(x + eta)``
        with probability at most ``alpha_2``.
    (b) Otherwise, for ``||x' - x|| <= epsilon`` the Gaussian shift bound
        (the Neyman-Pearson argument of Cohen et al. 2019, Thm. 1) gives it at least
        ``Phi(Phi^{-1}(p) - epsilon / sigma) = 1/2 + delta`` of the law of
        ``f(x' + eta)``, so the smallest ball holding ``1/2 + delta`` of that
        law has a radius ``r*(x') <= R_hat``.
    (c) ``f_hat(x')`` is by definition a point whose ball of radius
        ``beta r*(x')`` holds at least ``1/2 - delta`` of that law (what
        steps 1-2 establish where they are run). The two balls meet, so
        ``||c - f_hat(x')|| <= R_hat + beta R_hat = d_cs``.

    The median-center approximation (``beta = 2``) enters only in (c), at
    ``x'``, as part of the definition of ``f_hat``; no draw is made at ``x'``,
    and of ``c`` the proof uses only that it was fixed before step 3. A
    poor ``c`` (a far draw) makes ``R_hat``, hence ``d_cs``, larger, never
    wrong; the candidate rule therefore adds no term such as
    ``(1/2 - delta) ** n_candidates`` to the failure probability.

    ``alpha_1`` is spent on step 2, Kumar & Goldstein's test that ``c`` is
    itself an admissible value of ``f_hat(x)``: with ``Delta_1 =
    sqrt(ln(2 / alpha_1) / (2 n0))``, at least half of the ``n0`` draws fall
    in the smallest ball ``B*`` holding ``1/2 + Delta_1`` of the law (failure
    ``alpha_1 / 2``), so a candidate inside ``B*`` has median distance
    ``<= 2 r*(x)``; and ``B(c, r_hat)`` holds ``>= p_hat - Delta_1 >= 1/2 -
    delta`` (failure ``alpha_1 / 2``). With ``k`` candidates none lies in
    ``B*`` with probability ``<= (1/2 - Delta_1) ** k``, which would be the
    candidate rule's extra term in that admissibility claim (with
    ``k >= 32``, at most ``2 ** -32``; ``1e-20`` at the defaults). The
    certificate above does not need ``c`` admissible, and LASSI's
    (:func:`certify_individual_fairness`) neither, since ``x`` is in its own
    similarity set, so ``f_hat(x)`` itself lies within ``d_cs`` of ``c``.
    ``failure_probability = alpha_1 + alpha_2 = alpha`` keeps the paper's
    accounting (Peychev et al. 2022, Thm. 1); ``alpha_2`` alone would do.
    """
    n0, n, alpha, n_candidates = int(n0), int(n), float(alpha), int(n_candidates)
    if beta < _CENTER_BETA:  # a smaller factor would void Theorem 1
        raise InvalidParameterError(
            f"beta must be a finite number >= {_CENTER_BETA:g} (the approximation factor "
            f"the median center achieves); got {beta!r}.")
    if center == "candidates" and n_candidates < _MIN_CANDIDATES:
        raise InvalidParameterError(
            f"n_candidates must be >= {_MIN_CANDIDATES} with center='candidates' (the "
            f"center is then admissible, no candidate missing the smallest ball of mass "
            f"1/2 + Delta_1, except with probability <= 2**-{_MIN_CANDIDATES}); got "
            f"{n_candidates}.")
    alpha_1 = alpha_2 = alpha / 2.0
    level = center_smoothing_quantile_level(epsilon, sigma, n, alpha_2, delta)
    X = np.asarray(X, dtype=np.float32)
    seeds = row_seeds(X, random_state) if seeds is None else list(seeds)
    per_call = batch_size or 8192
    sizes = (n0, n0, n)
    n_rows = X.shape[0]
    center_values = np.empty((0, 0), np.float32)
    r_hat, p_hat, radius = np.empty(n_rows), np.empty(n_rows), np.full(n_rows, np.inf)
    for i in range(n_rows):
        eta = float(sigma) * torch.cat([_row_noise(seeds[i], 10 + s, 0, size, size, noise_dim)
                                        for s, size in enumerate(sizes)])
        x = torch.from_numpy(np.array(X[i:i + 1]))
        out = torch.cat([func(x, eta[None, s:s + per_call])[0]
                         for s in range(0, len(eta), per_call)])
        first, fresh, last = torch.split(out, list(sizes))
        c, r_hat[i] = _median_center(first, None if center == "exact" else n_candidates)
        if i == 0:  # one array for all rows' centers: no per-row allocation outlives the row
            center_values = np.empty((n_rows, len(c)), np.float32)
        center_values[i] = c.float().cpu().numpy()
        p_hat[i] = float((_distances(fresh, c) <= r_hat[i]).double().mean())
        if level <= 1.0:
            dist = _distances(last, c)
            radius[i] = (1.0 + beta) * float(_conservative_quantile(dist, level))
    abstain = np.asarray(center_smoothing_abstains(p_hat, n0, alpha_1, delta), dtype=bool)
    center_values[abstain] = np.nan
    radius[abstain] = np.nan
    return CenterSmoothingResult(center=center_values, radius=radius, abstain=abstain,
                                 median_radius=r_hat, p_hat=p_hat,
                                 failure_probability=alpha_1 + alpha_2)


# =========================================================================== #
# CertifiedSmoothClassifier
# =========================================================================== #
class NoisyInputClassifier(nn.Module):
    """Base classifier trained under Gaussian noise (Cohen et al. 2019, Sec. 3.2).

    In training mode ``forward`` adds ``N(0, sigma^2 I)`` to its input before
    the MLP (a linear layer when ``hidden_layer_sizes=()``); in eval mode it
    is the plain classifier ``f`` that is smoothed.
    """

    def __init__(self, in_features, n_classes, hidden_layer_sizes=(), sigma=0.25):
        super().__init__()
        self.sigma = float(sigma)
        self.body = MLP(in_features, tuple(hidden_layer_sizes), out_features=n_classes)

    def forward(self, X):
        if self.training and self.sigma > 0:
            X = X + self.sigma * torch.randn_like(X)
        return self.body(X)


class CertifiedSmoothClassifier(ClassifierMixin, _FairLatentEstimator):
    """Gaussian randomized smoothing classifier with certified L2 robustness.

    A base classifier ``f`` (linear by default, an MLP optionally) is trained
    on ``X + N(0, sigma^2 I)``; the estimator predicts with the smoothed
    classifier ``g(x) = argmax_c P(f(x + eta) = c)``, ``eta ~ N(0, sigma^2 I)``,
    and certifies it with Cohen et al.'s PREDICT and CERTIFY. It works on any
    features; after a :class:`~skfairlatent.LASSIRepresentation` it is LASSI's
    data consumer ``C`` (Peychev et al. 2022, Sec. 4.3), and
    :func:`certify_individual_fairness` runs LASSI's Algorithm 1 on the pair.

    Parameters
    ----------
    sigma : float > 0, default=0.5
        ``sigma_rs``: noise standard deviation for training and smoothing, in
        feature units (after a LASSI representation, which ends in a
        non-affine batch normalisation, one standard deviation per component).
    hidden_layer_sizes : int or tuple of int, default=()
        Hidden layers of ``f``; ``()`` is a linear base classifier (the
        paper's ``C``).
    max_epochs : int >= 1, default=20
    batch_size : int >= 1, default=128
    lr : float > 0, default=1e-2
        Adam learning rate.
    n_samples : int >= 1, default=1000
        Noise draws per row of ``predict``, ``predict_abstain`` and
        ``predict_proba`` (PREDICT's ``n``).
    n0 : int >= 1, default=100
        Selection draws of :meth:`certify` (CERTIFY's ``n0``).
    n_certify : int >= 1, default=10000
        Estimation draws of :meth:`certify` (CERTIFY's ``n``; Cohen et al.
        use 100,000).
    alpha : float in (0, 1), default=0.001
        Failure probability of PREDICT's binomial test and of CERTIFY's bound.
    abstain_label : object or None, default=None
        ``None``: ``predict`` always returns a label of ``classes_`` (the most
        frequent class under noise, also where PREDICT abstains), keeping
        scikit-learn's contract; the abstentions are available from
        :meth:`predict_abstain`. Otherwise rows where PREDICT abstains are
        labelled ``abstain_label`` (a value outside ``classes_``).
    noise_batch_size : int >= 1 or None, default=None
        Most noise draws per forward pass of ``f`` (memory only; results do
        not depend on it).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    random_state : None, int or RandomState, default=None
        Seeds training and the prediction noise (the same seed gives the same
        predictions on every call).
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.
    net_ : skorch net holding the trained :class:`NoisyInputClassifier`.
    device_ : str

    Raises
    ------
    InvalidParameterError
        From ``fit``, for any hyperparameter outside its range (``sigma`` or
        ``lr`` not finite and positive, ``alpha`` outside (0, 1), counts < 1).
    NonFiniteLossError
        From ``fit``, if a training loss becomes NaN or inf.

    See Also
    --------
    certify_individual_fairness : LASSI's Algorithm 1 on a representation and this classifier.
    smooth_certify, smooth_predict : the samplers, on any torch classifier.

    Notes
    -----
    Cohen et al. (2019, Thm. 1): if ``p_A_lower``, a lower confidence bound
    of the top class's probability under noise, exceeds 1/2, then
    ``g(x + d) = c_A`` for every ``||d||_2 < sigma Phi^{-1}(p_A_lower)``;
    :meth:`certify` returns that radius with a one-sided Clopper-Pearson
    bound at level ``1 - alpha``. Each row's noise is seeded from
    ``random_state``, the row itself and its count of earlier repeats in
    ``X`` (:func:`row_seeds`), so a row's prediction does not depend on the
    other rows of ``X`` unless they repeat it, and repeated rows get
    independent noise.

    ``fit`` accepts ``sensitive_features`` so that the classifier sits in the
    same pipelines as the other estimators; it is validated but not used (the
    certificate is about the input features; fairness comes from the
    representation fed in), and no warning is raised when it is missing.

    References
    ----------
    Cohen, Rosenfeld, Kolter, "Certified Adversarial Robustness via Randomized
    Smoothing", ICML 2019 (arXiv:1902.02918).

    Peychev, Ruoss, Balunović, Baader, Vechev, "Latent Space Smoothing for
    Individually Fair Representations", ECCV 2022 (arXiv:2111.13650).

    Examples
    --------
    >>> import numpy as np
    >>> from skfairlatent import CertifiedSmoothClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 2).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = CertifiedSmoothClassifier(max_epochs=5, n_samples=100, n_certify=500,
    ...                                 random_state=0, device="cpu").fit(X, y)
    >>> report = clf.certify(X[:3])
    >>> list(report.columns)
    ['prediction', 'abstain', 'p_lower', 'radius']
    """

    _parameter_constraints: dict = {
        **_FairLatentEstimator._parameter_constraints,
        "sigma": _POSITIVE,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "max_epochs": _COUNT,
        "batch_size": _COUNT,
        "lr": _POSITIVE,
        "n_samples": _COUNT,
        "n0": _COUNT,
        "n_certify": _COUNT,
        "alpha": _PROBABILITY,
        "abstain_label": "no_validation",
        "noise_batch_size": _OPTIONAL_COUNT,
    }

    def __init__(self, sigma=0.5, hidden_layer_sizes=(), max_epochs=20, batch_size=128,
                 lr=1e-2, n_samples=1000, n0=100, n_certify=10000, alpha=0.001,
                 abstain_label=None, noise_batch_size=None, device="auto",
                 random_state=None, verbose=0):
        self.sigma = sigma
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_samples = n_samples
        self.n0 = n0
        self.n_certify = n_certify
        self.alpha = alpha
        self.abstain_label = abstain_label
        self.noise_batch_size = noise_batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_param_relations(self):
        check_hidden_layer_sizes(self.hidden_layer_sizes)

    def fit(self, X, y, *, sensitive_features=None):
        """Train the base classifier ``f`` under Gaussian noise ``N(0, sigma^2 I)``.

        ``X`` (a read-only float32 ``np.memmap`` included, never written) is
        read a batch of rows at a time; memory beyond ``X`` is the model and
        one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sensitive_features : array-like of shape (n_samples,) or None
            Validated, not used (see Notes of the class).

        Returns
        -------
        self

        Raises
        ------
        InvalidParameterError
            For a hyperparameter outside its range.
        ValueError
            If ``y`` is None.
        NonFiniteLossError
            If a training loss becomes NaN or inf (e.g. inputs of magnitude 1e30).
        """
        start = self._start_fit(X, y, sensitive_features, requires_y=True, mitigates=False)
        X = start.X
        self.net_ = make_net(
            NoisyInputClassifier, nn.CrossEntropyLoss, device=start.device,
            max_epochs=self.max_epochs, batch_size=self.batch_size, lr=self.lr,
            verbose=self.verbose, module__in_features=X.shape[1],
            module__n_classes=len(self.classes_),
            module__hidden_layer_sizes=check_hidden_layer_sizes(self.hidden_layer_sizes),
            module__sigma=float(self.sigma),
            callbacks=[("finite_loss", FiniteLoss(type(self).__name__))],
            **_BATCHED_LOADING,
        )
        with torch_seeded(start.seed, start.device):
            self.net_.fit(X, start.y_encoded)
        self.net_.module_.eval()
        self._noise_seed = start.seed
        return self

    # ----------------------------------------------------------------- base f
    def _base_labels(self, points):
        return self.net_.module_(points).argmax(dim=1)

    def predict_base(self, X):
        """Labels of the base classifier ``f`` (no noise), shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        labels = np.empty(len(X), dtype=np.int64)
        with torch.no_grad():
            for rows in row_chunks(len(X)):
                chunk = torch.from_numpy(np.array(X[rows])).to(self.device_)
                labels[rows] = self._base_labels(chunk).cpu().numpy()
        return self.classes_[labels]

    def _counts(self, X, n_samples, seed_offset=0):
        return smoothed_counts(self._base_labels, X, sigma=float(self.sigma),
                               n_samples=n_samples, n_classes=len(self.classes_),
                               random_state=self._noise_seed + seed_offset,
                               batch_size=self.noise_batch_size, device=self.device_)

    # --------------------------------------------------------------- smoothed g
    def predict_proba(self, X):
        """Class frequencies of ``f(x + eta)`` over ``n_samples`` noise draws.

        A Monte Carlo estimate of the smoothed classifier's class
        probabilities ``P(f(x + eta) = c)``, shape (n_samples, n_classes),
        float64, rows summing to 1.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self._counts(X, self.n_samples) / float(self.n_samples)

    def predict_abstain(self, X):
        """Cohen et al.'s PREDICT: labels and abstention flags.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            The most frequent class under noise (from ``classes_``).
        abstain : ndarray of shape (n_samples,), bool
            True where the binomial test of the two largest counts has
            p-value above ``alpha``; elsewhere the label equals the smoothed
            classifier's with probability at least ``1 - alpha``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        top, abstain = smooth_predict(self._counts(X, self.n_samples), self.alpha)
        return self.classes_[top], abstain

    def predict(self, X):
        """Smoothed prediction (PREDICT; see ``abstain_label``), shape (n_samples,)."""
        labels, abstain = self.predict_abstain(X)
        if self.abstain_label is None:
            return labels
        labels = labels.astype(object)
        labels[abstain] = self.abstain_label
        return labels

    def certify(self, X):
        """Cohen et al.'s CERTIFY for each row.

        ``X`` (a read-only float32 ``np.memmap`` included) is read a block of
        rows at a time: memory is the per-row results plus one block of noisy
        points (about 4M floats), whatever the number of rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        pandas.DataFrame
            One row per input row: ``prediction`` (label of ``classes_``, the
            class selected from ``n0`` draws), ``abstain`` (bool; the
            prediction is then not certified), ``p_lower`` (Clopper-Pearson
            lower bound of the class probability) and ``radius``
            (``sigma * Phi^{-1}(p_lower)``, NaN where abstaining). With
            probability at least ``1 - alpha`` a non-abstaining row's
            smoothed prediction is constant on the open L2 ball of that radius.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        result = self._certify_points(X, random_state=self._noise_seed + 1)
        result["prediction"] = self.classes_[result["prediction"]]
        return pd.DataFrame(result)

    def _certify_points(self, R, *, n0=None, n=None, alpha=None, random_state=None,
                        batch_size=None, seeds=None):
        return smooth_certify(
            self._base_labels, R, sigma=float(self.sigma), n0=n0 or self.n0,
            n=n or self.n_certify, alpha=self.alpha if alpha is None else alpha,
            n_classes=len(self.classes_), random_state=random_state,
            batch_size=batch_size or self.noise_batch_size, device=self.device_, seeds=seeds)


# =========================================================================== #
# LASSI Algorithm 1
# =========================================================================== #
def _check_certification_inputs(representation, classifier):
    """Type, fitted state and widths of Alg. 1's two models, checked before any sampling."""
    needed = ("encode_latent", "_smoothing_function", "n_components")
    if not all(hasattr(representation, name) for name in needed):
        raise TypeError(
            "representation must be a fitted LASSIRepresentation (it provides the flow "
            f"encoder, R and the attribute vectors); got {type(representation).__name__}.")
    check_is_fitted(representation)
    if not isinstance(classifier, CertifiedSmoothClassifier):
        raise TypeError(
            "classifier must be a fitted CertifiedSmoothClassifier trained on "
            "representation.transform(X) (Alg. 1 certifies its Gaussian-smoothed base "
            f"network); got {type(classifier).__name__}.")
    check_is_fitted(classifier)
    width = int(representation.n_components)
    if classifier.n_features_in_ != width:
        raise ValueError(
            f"classifier expects {classifier.n_features_in_} input features but the "
            f"representation outputs {width} (n_components); fit the classifier on "
            "representation.transform(X).")
    attribute_vectors = getattr(representation, "attribute_vectors_", None)
    if attribute_vectors is None or len(attribute_vectors) == 0:
        raise ValueError(
            "The representation has no attribute vector: fit it with "
            "sensitive_features (or pass attribute_vector as an array) before certifying."
        )
    return attribute_vectors


@validate_params({"sigma_cs": _POSITIVE, "alpha_cs": _PROBABILITY, "n0_cs": _COUNT, "n_cs": _COUNT,
                  "delta": [Interval(Real, 0, 0.5, closed="neither")],
                  "beta": _FINITE,
                  "center": [StrOptions({"candidates", "exact"})], "n_candidates": _COUNT,
                  "n0_rs": _COUNT, "n_rs": _COUNT, "alpha_rs": _PROBABILITY,
                  "abstain_label": "no_validation", "random_state": ["random_state"],
                  "batch_size": _OPTIONAL_COUNT}, prefer_skip_nested_validation=False)
def certify_individual_fairness(representation, classifier, X, *, sigma_cs=0.5,
                                alpha_cs=0.01, n0_cs=10_000, n_cs=10_000, delta=0.05,
                                beta=2.0, center="candidates", n_candidates=64,
                                n0_rs=2_000, n_rs=100_000, alpha_rs=0.001,
                                abstain_label=None, random_state=None, batch_size=None):
    """Certify individual fairness of ``C_hat o R_hat o E`` row by row (LASSI, Alg. 1).

    For each row ``x`` with flow latent ``z = E(x)``:

    1. center smoothing (:func:`center_smooth`) of ``t -> R(z + t A)``,
       noise ``t ~ N(0, sigma_cs^2 I)`` on the attribute coefficients only,
       at input radius ``epsilon`` (the representation's), gives the center
       ``r_cs`` and ``d_cs``; if it abstains, the row abstains;
    2. randomized smoothing (:func:`smooth_certify`) of the classifier's base
       network around ``r_cs`` with its ``sigma`` gives the prediction and
       ``d_rs`` (or abstains);
    3. the row is certified iff ``d_cs < d_rs``.

    If a row is certified, then with probability at least
    ``1 - alpha_cs - alpha_rs`` (union bound; Peychev et al. 2022, Thm. 1),
    for both center rules (see the Notes of :func:`center_smooth`), every
    individual of its similarity set
    ``S(x) = {E(x) + t A : ||t||_2 <= epsilon}`` receives the same prediction
    from the smoothed end-to-end model. Of ``alpha_cs``, ``alpha_cs / 2`` is
    the quantile's (``d_cs``) and ``alpha_cs / 2`` the Delta check's;
    ``alpha_rs`` is CERTIFY's (``d_rs``). Each row's noise is seeded by
    :func:`row_seeds` from ``random_state``, its values and its count of
    earlier repeats in ``X``: its result does not depend on ``batch_size``
    or the row chunks, nor on the other rows unless they repeat it, and
    repeated rows get independent noise.

    ``X`` (a read-only float32 ``np.memmap`` included) is read, encoded and
    certified ``CHUNK_ROWS`` rows at a time: memory is the per-row results
    plus one chunk's latents, centers and noise samples.

    Parameters
    ----------
    representation : fitted LASSIRepresentation
        Provides ``encode_latent`` (E), ``_smoothing_function`` (R),
        ``attribute_vectors_`` (A, shape (n_attributes, n_latent)) and
        ``epsilon``.
    classifier : fitted CertifiedSmoothClassifier
        Trained on ``representation.transform(X)`` (``n_features_in_`` equal
        to the representation's ``n_components``).
    X : array-like of shape (n_samples, n_features)
        Rows in the representation's input space.
    sigma_cs : float > 0, default=0.5
        Center smoothing noise on ``t`` (units of ``t``; ``epsilon = 1`` in the paper).
    alpha_cs : float in (0, 1), default=0.01
        Center smoothing failure probability (split in two halves as in LASSI's code).
    n0_cs, n_cs : int, default=10000, 10000
        Center smoothing sample sizes (paper).
    delta : float in (0, 1/2), default=0.05
    beta : float >= 2, default=2.0
        Approximation factor of the center (``d_cs = (1 + beta) R_hat``).
    center : {"candidates", "exact"}, default="candidates"
        Center rule of :func:`center_smooth`: ``"exact"`` is LASSI's
        (all ``n0_cs`` samples are candidates, O(n0_cs^2)), ``"candidates"``
        Kumar & Goldstein's candidate set (O(n_candidates n0_cs)).
    n_candidates : int >= 32, default=64
    n0_rs, n_rs : int, default=2000, 100000
        Randomized smoothing sample sizes (paper).
    alpha_rs : float in (0, 1), default=0.001
    abstain_label : object, default=None
        Value of ``prediction`` for abstaining rows.
    random_state : None, int or RandomState
        Seeds both samplers.
    batch_size : int or None
        Most noise draws per forward pass (memory).

    Returns
    -------
    pandas.DataFrame
        One row per row of ``X``: ``prediction`` (label, or ``abstain_label``),
        ``abstain`` (bool), ``certified`` (bool, ``d_cs < d_rs``), ``d_cs``
        and ``d_rs`` (float64, NaN where the step abstained, representation
        units). ``df.attrs`` holds ``certified_fraction``, ``abstain_rate``
        and the guarantee's level ``confidence = 1 - alpha_cs - alpha_rs``.

    Raises
    ------
    TypeError
        If ``representation`` is not a LASSIRepresentation or ``classifier``
        not a CertifiedSmoothClassifier.
    InvalidParameterError
        For invalid smoothing parameters (checked before the models).
    ValueError
        For a classifier whose input width differs from the representation's
        output width, or a representation fitted without sensitive features
        (no attribute vector, no similarity set).
    sklearn.exceptions.NotFittedError
        If either model is not fitted.
    """
    attribute_vectors = _check_certification_inputs(representation, classifier)
    n_rows = _num_samples(X)
    if n_rows == 0:
        check_array(X, dtype=np.float32)  # raises: no row
    # all rows' seeds first: repeats are counted over X, not within a chunk
    seeds = _row_seeds(X, derive_seed(random_state))
    func = representation._smoothing_function()
    prediction = np.full(n_rows, abstain_label, dtype=object)
    abstain, d_cs = np.ones(n_rows, dtype=bool), np.full(n_rows, np.nan)
    d_rs = np.full(n_rows, np.nan)
    for rows in row_chunks(n_rows):  # X is read, encoded and certified a chunk at a time
        X_rows = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        base_seeds = seeds[rows]
        cs = center_smooth(func, representation.encode_latent(X_rows),
                           noise_dim=len(attribute_vectors), sigma=sigma_cs,
                           epsilon=float(representation.epsilon), n0=n0_cs, n=n_cs,
                           alpha=alpha_cs, delta=delta, beta=beta, center=center,
                           n_candidates=n_candidates, batch_size=batch_size,
                           seeds=[_mix(seed, 1) for seed in base_seeds])
        d_cs[rows] = cs.radius
        abstain[rows] = cs.abstain
        keep = np.flatnonzero(~cs.abstain)
        if len(keep):
            rs = classifier._certify_points(cs.center[keep], n0=n0_rs, n=n_rs, alpha=alpha_rs,
                                            batch_size=batch_size,
                                            seeds=[_mix(base_seeds[i], 2) for i in keep])
            labels = classifier.classes_[rs["prediction"]].astype(object)
            labels[rs["abstain"]] = abstain_label
            prediction[rows.start + keep] = labels
            d_rs[rows.start + keep] = rs["radius"]
            abstain[rows.start + keep] = rs["abstain"]
    with np.errstate(invalid="ignore"):
        certified = ~abstain & (d_cs < d_rs)
    frame = pd.DataFrame({"prediction": prediction, "abstain": abstain,
                          "certified": certified, "d_cs": d_cs, "d_rs": d_rs})
    frame.attrs.update(certified_fraction=float(certified.mean()) if n_rows else float("nan"),
                       abstain_rate=float(abstain.mean()) if n_rows else float("nan"),
                       confidence=1.0 - alpha_cs - alpha_rs)
    return frame
