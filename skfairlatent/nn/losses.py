"""Losses shared by the methods: fairness constraints, Sinkhorn distance, ...

Each section names the paper and equation it implements.
"""

import ot
import torch
from torch import nn
from torch.nn import functional as F


# =========================================================================== #
# Weighted cross-entropy (used to fine-tune with per-row weights)
# =========================================================================== #
class WeightedBCEWithLogitsLoss(nn.Module):
    """Binary cross-entropy on logits with optional per-row weights.

    ``forward(logits, target, sample_weight=None)``: ``logits`` and ``target``
    of shape (n,) or (n, n_outputs); ``sample_weight`` of shape (n,). Returns
    ``mean_i(w_i * mean_t BCE(logit_it, target_it))``. The rows' weights come
    in the batch (see :class:`skfairlatent.base.RowExtrasNet`).
    """

    def forward(self, logits, target, sample_weight=None):
        target = target.to(logits.dtype).reshape(logits.shape)
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if loss.ndim > 1:
            loss = loss.mean(dim=1)
        if sample_weight is not None:
            loss = loss * sample_weight.to(loss.dtype)
        return loss.mean()


# =========================================================================== #
# ALFA: fairness constraints for the fairness attack
# (Jung et al., "Fairness through adversarial latent feature augmentation", ICLR 2025)
# =========================================================================== #
def piecewise_linear_logit(proba, n_segments=10, beta=1e-7):
    """Piecewise-linear approximation of the logit σ⁻¹ (ALFA App. B.2, Thm. B.2).

    ``proba`` is clipped to ``[beta, 1 - beta]`` and the logit is interpolated
    linearly between ``n_segments + 1`` evenly spaced knots on that interval,
    so the slope is bounded by
    ``a_max = m / (1 - 2β) · [logit(β + (1 - 2β)/m) - logit(β)]``.
    (The authors' code puts the knots on [0, 1] with the last shifted by 1e-7
    and clips the logit with eps 1e-7; on the clipped range this is the same
    function.)

    Parameters
    ----------
    proba : torch.Tensor
        Predicted probabilities σ(g(z)), any shape.
    n_segments : int, default=10
        m, the number of linear segments.
    beta : float, default=1e-7
        β, the clipping margin.

    Returns
    -------
    torch.Tensor
        The signed distance d = f_k(ŷ) = a_k ŷ + b_k, same shape as ``proba``.
    """
    knots = torch.linspace(beta, 1 - beta, n_segments + 1, dtype=proba.dtype, device=proba.device)
    logits_at_knots = torch.logit(knots)
    proba = proba.clamp(beta, 1 - beta)
    segment = torch.bucketize(proba.detach(), knots[1:-1])
    left, right = knots[segment], knots[segment + 1]
    slope = (logits_at_knots[segment + 1] - logits_at_knots[segment]) / (right - left)
    return logits_at_knots[segment] + slope * (proba - left)


def _group_indicators(sensitive):
    """Columns of 1[a = g]; for two groups only 1[a = 1], as in ALFA's Eq. 2."""
    sensitive = sensitive.long()
    n_groups = int(sensitive.max().item()) + 1 if sensitive.numel() else 0
    groups = [1] if n_groups <= 2 else list(range(n_groups))
    return torch.stack([(sensitive == g).float() for g in groups], dim=1)


def covariance(u, v):
    """Column-wise covariance matrix ``Cov(u_j, v_k)`` (1/N normalisation).

    ``u`` of shape (N, p), ``v`` of shape (N, q); returns (p, q).
    """
    u = u - u.mean(dim=0, keepdim=True)
    v = v - v.mean(dim=0, keepdim=True)
    return u.T @ v / u.shape[0]


def covariance_attack_signs(sensitive, targets):
    """Signs s of ALFA's Eq. 3: s = +1 if Cov(a, y) ≥ 0 else -1, on clean data.

    Parameters
    ----------
    sensitive : torch.Tensor of shape (N,), integer group codes
    targets : torch.Tensor of shape (N,) or (N, T), 0/1

    Returns
    -------
    torch.Tensor of shape (n_indicators, T)
        One sign per (sensitive indicator, output). With two groups there is
        one indicator (a = 1); with more, one per group (App. J.2).
    """
    targets = targets.float().reshape(len(targets), -1)
    cov = covariance(_group_indicators(sensitive), targets)
    return torch.where(cov >= 0, 1.0, -1.0)


def covariance_fairness_loss(logits, sensitive, signs, n_segments=10, beta=1e-7):
    """ALFA's fairness constraint L_fair (Eq. 2-3), to be *maximised* by the attack.

    L_fair = (1/T) Σ_t Σ_g s_{g,t} · Cov(1[a = g], d_t),
    d_t = piecewise-linear logit of σ(logit_t) (App. B.2).

    With a binary attribute and a single output this is exactly Eq. 3,
    ±Cov(a, g(z̃)); on balanced (a, y) cells it equals ¼·Δd_dp (Prop. B.1).
    For several outputs (multi-label, App. J.1; one-vs-rest multi-class,
    App. J.3) each output keeps the sign of its own clean covariance, which
    reduces to the paper's Cov(a, (1/T) Σ_t d_t) when all signs agree. For
    more than two groups (App. J.2) every group indicator is attacked in the
    direction of its own covariance with the label.

    Parameters
    ----------
    logits : torch.Tensor of shape (N,) or (N, T)
        Outputs g(z + δ) of the frozen linear head.
    sensitive : torch.Tensor of shape (N,), integer group codes
    signs : torch.Tensor of shape (n_indicators, T)
        From :func:`covariance_attack_signs` on the clean data.
    n_segments, beta : see :func:`piecewise_linear_logit`.

    Returns
    -------
    torch.Tensor, scalar
    """
    logits = logits.reshape(len(logits), -1)
    distances = piecewise_linear_logit(torch.sigmoid(logits), n_segments, beta)
    cov = covariance(_group_indicators(sensitive).to(logits.dtype), distances)
    return (signs.to(cov.dtype) * cov).sum() / logits.shape[1]


def _surrogate_eod_gap(logits, sensitive, targets, surrogate):
    """Σ_y E[1(a=1,y)/p(a=1,y) · φ(f) + 1(a=0,y)/p(a=0,y) · φ(-f)] - 2 (Wu et al. 2019)."""
    gap = logits.new_zeros(())
    for y in (0, 1):
        in_label = targets == y
        one, zero = in_label & (sensitive == 1), in_label & (sensitive == 0)
        if one.any() and zero.any():
            gap = gap + surrogate(logits[one]).mean() + surrogate(-logits[zero]).mean() - 1
    return gap


def convex_fairness_loss(logits, sensitive, targets, sign):
    """ALFA's alternative constraint of App. L (Wu et al., 2019), to be maximised.

    The equalized-odds gap with the indicator 1(f > 0) replaced by the convex
    surrogate κ(z) = max(z + 1, 0) or the concave δ(z) = min(z, 1):
    ΔEOD_φ(f) = Σ_y E[1(a=1,y)/p_{1,y} φ(f) + 1(a=0,y)/p_{0,y} φ(-f)] - 2.
    When the clean gap is non-negative (``sign = +1``) the attack maximises
    ΔEOD_κ; otherwise it maximises -ΔEOD_δ. Read literally, App. L maximises
    ΔEOD_δ in the negative case, which would shrink the existing gap; the
    mirrored form keeps the rule of Eq. 3 (deepen the clean bias).

    Parameters
    ----------
    logits : torch.Tensor of shape (N,) or (N, 1)
    sensitive, targets : torch.Tensor of shape (N,), binary codes
    sign : float, +1 or -1
        Sign of the clean ΔEOD (signed TPR and FPR differences, a=1 minus a=0).
    """
    logits = logits.reshape(-1)
    if sign >= 0:
        return _surrogate_eod_gap(logits, sensitive, targets, lambda z: F.relu(z + 1))
    return -_surrogate_eod_gap(logits, sensitive, targets, lambda z: torch.clamp(z, max=1.0))


# =========================================================================== #
# Sinkhorn distance (ALFA Sec. 3.2 and App. D; Genevay et al., 2018) via POT
# =========================================================================== #
def sinkhorn_distance(source, target, reg=0.1, max_iter=100, tol=1e-6):
    """Entropic optimal-transport cost between two point clouds, differentiable.

    D(z, z̃) = <P*, C> with C_ij = ‖z_i - z̃_j‖² and P* the entropic plan of
    regularisation ``reg`` between uniform weights (ALFA App. D.1). Computed
    by POT's log-domain Sinkhorn (``method="sinkhorn_log"``), which stays
    finite where the plain Gibbs kernel exp(-C/reg) underflows to 0.
    Gradients flow to both clouds through the cost matrix.

    Parameters
    ----------
    source, target : torch.Tensor of shape (N, d) and (M, d)
    reg : float, default=0.1
        Entropic regularisation ε_s (the authors' value).
    max_iter : int, default=100
    tol : float, default=1e-6
        Stopping threshold on the marginal violation.

    Returns
    -------
    torch.Tensor, scalar, >= 0
    """
    a = torch.full((source.shape[0],), 1.0 / source.shape[0], dtype=source.dtype, device=source.device)
    b = torch.full((target.shape[0],), 1.0 / target.shape[0], dtype=target.dtype, device=target.device)
    cost = ot.dist(source, target)  # squared Euclidean
    return ot.sinkhorn2(a, b, cost, reg, method="sinkhorn_log", numItermax=max_iter, stopThr=tol)


