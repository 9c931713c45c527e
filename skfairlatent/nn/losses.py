"""Losses shared by the methods: fairness constraints, Sinkhorn distance, ...

Each section names the paper and equation it implements.
"""

import math as _math

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
# (Jung, Chai & Wang, "Adversarial Latent Feature Augmentation for Fairness", ICLR 2025)
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
    """Columns of 1[a = g]; for two groups only 1[a = 1], as in ALFA's Eq. 2.

    ``sensitive`` of shape (..., N) gives (..., N, n_indicators).
    """
    sensitive = sensitive.long()
    n_groups = int(sensitive.max().item()) + 1 if sensitive.numel() else 0
    groups = [1] if n_groups <= 2 else list(range(n_groups))
    return torch.stack([(sensitive == g).float() for g in groups], dim=-1)


def soft_demographic_parity_gap(logits, sensitive, n_groups, temperature=1.0, reference=None):
    """Demographic-parity gap of a classifier's soft decisions on a batch.

    The soft decision for class c is softmax(logits / T)_c; the gap is
    max over c of (max over groups g of its mean over the rows of g, minus
    the min over g), the groups absent from the batch left out. With T = 1
    it is the gap in mean predicted probability; as T -> 0 it tends to
    ΔDP = max_g P(ŷ = c | s = g) - min_g P(ŷ = c | s = g) of the argmax
    decision (for two classes, the decision at the 0.5 threshold).

    With ``reference`` (the class frequencies r_c a decision rate should
    have, e.g. the batch's base rates of the label), the gap is instead
    max over g and c of |mean_g softmax_c - r_c|: zero only when every group
    is decided at the reference rates, so that parity cannot be bought by
    moving every group towards the majority class (the base rate is kept as
    in the "massaging" of Kamiran and Calders, 2012).

    Parameters
    ----------
    logits : Tensor of shape (N, C), C >= 2
    sensitive : Tensor of shape (N,)
        Integer group codes in [0, n_groups).
    n_groups : int
    temperature : float, default=1.0
        T > 0.
    reference : Tensor of shape (C,) or None, default=None
        Class rates each group's mean decision is compared with.

    Returns
    -------
    Tensor of shape ()
        In [0, 1]; 0 when fewer than two groups are in the batch.
    """
    decisions = torch.softmax(logits / temperature, dim=1)
    members = F.one_hot(sensitive.long(), n_groups).to(decisions.dtype)
    counts = members.sum(0)
    present = counts > 0
    if int(present.sum()) < 2:
        return decisions.new_zeros(())
    group_means = (members.T @ decisions)[present] / counts[present, None]
    if reference is not None:
        return (group_means - reference.to(group_means.dtype)).abs().max()
    return (group_means.max(0).values - group_means.min(0).values).max()


def covariance(u, v):
    """Column-wise covariance matrix ``Cov(u_j, v_k)`` (1/N normalisation).

    ``u`` of shape (..., N, p), ``v`` of shape (..., N, q); returns (..., p, q),
    one matrix per leading (batch) index.
    """
    u = u - u.mean(dim=-2, keepdim=True)
    v = v - v.mean(dim=-2, keepdim=True)
    return u.transpose(-1, -2) @ v / u.shape[-2]


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
    logits : torch.Tensor of shape (..., N) or (..., N, T)
        Outputs g(z + δ) of the frozen linear head. Leading dimensions are
        independent attack batches (each with its own covariance).
    sensitive : torch.Tensor of shape (..., N), integer group codes
    signs : torch.Tensor of shape (n_indicators, T)
        From :func:`covariance_attack_signs` on the clean data.
    n_segments, beta : see :func:`piecewise_linear_logit`.

    Returns
    -------
    torch.Tensor, scalar
        The constraint of one batch, or the sum over the leading batches.
    """
    logits = logits.reshape(*sensitive.shape, -1)
    distances = piecewise_linear_logit(torch.sigmoid(logits), n_segments, beta)
    cov = covariance(_group_indicators(sensitive).to(logits.dtype), distances)
    return (signs.to(cov.dtype) * cov).sum() / logits.shape[-1]


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
# Sinkhorn distance (ALFA Sec. 3.2 and App. D; Genevay et al., 2018)
# =========================================================================== #
def squared_distances(source, target):
    """C_ij = ‖x_i - y_j‖², batched: (..., N, d), (..., M, d) -> (..., N, M).

    Expanded as ‖x‖² + ‖y‖² - 2 x·y (clamped at 0), whose gradient stays
    finite where x_i = y_j (``torch.cdist(...) ** 2`` differentiates the
    square root at 0 into NaN).
    """
    cost = (source.pow(2).sum(-1).unsqueeze(-1) + target.pow(2).sum(-1).unsqueeze(-2)
            - 2 * source @ target.transpose(-1, -2))
    return cost.clamp_min(0)


def sinkhorn_distance(source, target, reg=0.1, max_iter=100, tol=1e-6):
    """Entropic optimal-transport cost between two point clouds, via POT.

    OT_reg(z, z̃) = <P*, C> + reg·KL(P* ‖ a⊗b), with C_ij = ‖z_i - z̃_j‖², uniform
    weights a, b and P* POT's log-domain Sinkhorn plan
    (``ot.sinkhorn(method="sinkhorn_log")``), which stays finite where the
    Gibbs kernel exp(-C/reg) underflows. This is ALFA's D of App. D.1 (its
    entropy H(P) and KL(P ‖ a⊗b) differ by a constant). The gradient is the
    envelope gradient P*·∂C, the exact gradient of this value once P* has
    converged (``tol``); with few iterations it is an approximation.
    The attack itself uses the batched, warm-started
    :func:`sinkhorn_divergence_step`; this function is its reference.

    Parameters
    ----------
    source, target : torch.Tensor of shape (N, d) and (M, d)
    reg : float, default=0.1
        Entropic regularisation ε_s.
    max_iter : int, default=100
        Sinkhorn iterations at most.
    tol : float, default=1e-6
        Stopping threshold on the marginal violation.

    Returns
    -------
    torch.Tensor, scalar
    """
    a = torch.full((source.shape[0],), 1.0 / source.shape[0], dtype=source.dtype,
                   device=source.device)
    b = torch.full((target.shape[0],), 1.0 / target.shape[0], dtype=target.dtype,
                   device=target.device)
    cost = ot.dist(source, target)  # squared Euclidean
    with torch.no_grad():
        plan = ot.sinkhorn(a, b, cost.detach(), reg, method="sinkhorn_log",
                           numItermax=max_iter, stopThr=tol, warn=False)
        ratio = plan / (a[:, None] * b[None, :])
        kl = (plan * torch.log(torch.where(plan > 0, ratio, torch.ones_like(ratio)))).sum()
    return (plan * cost).sum() + reg * kl


def sinkhorn_divergence_step(source, target, reg=0.1, n_iter=10, potentials=None,
                             cost_scale=1.0):
    """Batched, warm-started entropic OT cost: ALFA's D(z, z + δ) inside the attack.

    The attack re-solves the same transport problem after every Adam step on
    δ, and δ moves little between steps, so the dual potentials (f, g) of
    the previous step are a good start. One call:

    1. C = ‖z_i - z̃_j‖² / ``cost_scale`` (batched over leading dimensions);
    2. K̃_ij = exp((f_i + g_j - C_ij)/reg), the kernel absorbed into the
       warm potentials (the only ``exp`` of the call; the stabilised scaling
       form, so K̃ ≈ the plan and nothing underflows);
    3. ``n_iter`` scaling iterations u = 1 / (K̃ (b·v)), v = 1 / (K̃ᵀ (a·u)),
       without gradient; g ← g + reg·log v;
    4. f(C) = f - reg·log Σ_j b_j K̃_ij v_j, the exact c-transform of g (row
       marginals exact), and the returned value is the semi-dual objective

           D(C) = Σ_i a_i f_i(C) + Σ_j b_j g_j      (g held fixed),

       a lower bound of OT_reg = <P, C> + reg·KL(P ‖ a⊗b) that equals it at
       convergence. The gradient returned is exactly this function's (written
       out in ``_SemiDualSinkhorn``, equal to autograd's through the same
       formula to rounding): in C it is the row-normalised plan
       P_ij = a_i b_j K̃_ij v_j / (Σ_j ...), so value and gradient belong to
       the same function (the neglected dependence of g on C is weighted by
       the column-marginal error of g, small after warm-started iterations;
       see the finite-difference test).

    Written in torch rather than POT because the attack needs a batched
    problem with warm-started potentials, which ``ot.sinkhorn`` does not
    take; :func:`sinkhorn_distance` (POT) is the reference it is tested against.

    Parameters
    ----------
    source, target : torch.Tensor of shape (..., N, d) and (..., M, d)
        Clean and perturbed clouds; leading dimensions are independent problems.
    reg : float, default=0.1
        Entropic regularisation, in the units of the scaled cost.
    n_iter : int, default=10
        Scaling iterations per call (the authors' 10 log-domain iterations,
        here from a warm start).
    potentials : tuple (f, g) of torch.Tensor of shape (..., N) and (..., M), or None
        Potentials returned by the previous call (in scaled-cost units);
        ``None`` starts from g = 0 and f its c-transform (log domain).
    cost_scale : float, default=1.0
        C is divided by it (ALFA uses a latent-scale normalisation, see
        :class:`skfairlatent.ALFAClassifier`).

    Returns
    -------
    value : torch.Tensor of shape (...)
        D per problem, differentiable with respect to ``source`` and ``target``.
    potentials : tuple (f, g), detached
        To pass to the next call.
    """
    if potentials is None:
        f = g = None
    else:
        f, g = (p.detach() for p in potentials)
    value, f_exact, g = _SemiDualSinkhorn.apply(source, target, f, g, float(reg), int(n_iter),
                                                float(cost_scale))
    return value, (f_exact, g)


def _times_kernel(kernel, vector):
    """K v for batched K (..., N, M), v (..., M), as vᵀKᵀ: a row-vector product reads K
    row by row, about 4× faster on CPU than the batched matrix-vector product."""
    return (vector.unsqueeze(-2) @ kernel.mT).squeeze(-2)


class _SemiDualSinkhorn(torch.autograd.Function):
    """Value and gradient of :func:`sinkhorn_divergence_step`, written out.

    Autograd through the same formula stores and re-reads several (B, N, M)
    temporaries (cost, its scaled copy, the kernel); here the kernel is built
    in place from one ``baddbmm`` and the backward pass is two products with
    it, which makes the attack about twice as fast on CPU (memory-bound).
    ``tests/test_alfa_maths.py`` checks it against finite differences.

    With v and the updated g held fixed, V(C) = mean_i f_i(C) + mean_j g_j,
    f_i(C) = f_i - reg·log Σ_j K̃_ij v_j / m, so ∂V/∂C_ij = π_ij =
    K̃_ij v_j / (n·m·r_i) with r_i = Σ_j K̃_ij v_j / m, and since
    ∂C_ij/∂z̃_j = 2(z̃_j - z_i)/s:

        ∂V/∂z̃_j = (2/s)·(Σ_i π_ij · z̃_j - Σ_i π_ij z_i),
        ∂V/∂z_i = (2/s)·(z_i / n - Σ_j π_ij z̃_j).
    """

    @staticmethod
    def forward(ctx, source, target, f, g, reg, n_iter, cost_scale):
        n, m = source.shape[-2], target.shape[-2]
        tiny = torch.finfo(source.dtype).tiny
        half_cost_unit = 2.0 / (cost_scale * reg)
        # log K̃ = (f_i + g_j - C_ij)/reg with C_ij = (‖z_i‖² + ‖z̃_j‖² - 2 z_i·z̃_j)/s
        row_term = -source.pow(2).sum(-1) / (cost_scale * reg)
        col_term = -target.pow(2).sum(-1) / (cost_scale * reg)
        if g is None:
            g = col_term.new_zeros(col_term.shape)
        log_kernel = torch.baddbmm((row_term + (f / reg if f is not None else 0)).unsqueeze(-1)
                                   .reshape(-1, n, 1),
                                   source.reshape(-1, n, source.shape[-1]),
                                   target.reshape(-1, m, target.shape[-1]).transpose(1, 2),
                                   alpha=half_cost_unit)
        log_kernel = log_kernel.reshape(source.shape[:-1] + (m,))
        log_kernel += (col_term + g / reg).unsqueeze(-2)
        if f is None:   # cold start: f is the c-transform of g = 0 (log domain)
            f = -reg * torch.logsumexp(log_kernel - torch.log(log_kernel.new_tensor(float(m))),
                                       dim=-1)
            log_kernel += (f / reg).unsqueeze(-1)
        kernel = log_kernel.exp_()
        v = torch.ones_like(g)
        for _ in range(n_iter):
            u = 1.0 / (_times_kernel(kernel, v) / m).clamp_min(tiny)
            v = 1.0 / ((u.unsqueeze(-2) @ kernel).squeeze(-2) / n).clamp_min(tiny)
        g = g + reg * torch.log(v)
        column_weight = v / m
        rows = _times_kernel(kernel, column_weight).clamp_min(tiny)
        f_exact = f - reg * torch.log(rows)
        value = f_exact.mean(-1) + g.mean(-1)
        ctx.save_for_backward(source, target, kernel, column_weight, rows)
        ctx.scale = 2.0 / cost_scale
        ctx.mark_non_differentiable(f_exact, g)
        return value, f_exact, g

    @staticmethod
    def backward(ctx, grad_value, _grad_f, _grad_g):
        source, target, kernel, column_weight, rows = ctx.saved_tensors
        n = source.shape[-2]
        # π = diag(row_weight) K̃ diag(column_weight)
        row_weight = 1.0 / (n * rows)
        scale = ctx.scale * grad_value.unsqueeze(-1).unsqueeze(-1)
        grad_source = grad_target = None
        if ctx.needs_input_grad[1]:
            column_mass = column_weight * (row_weight.unsqueeze(-2) @ kernel).squeeze(-2)
            pulled = column_weight.unsqueeze(-1) * (kernel.transpose(-1, -2)
                                                    @ (row_weight.unsqueeze(-1) * source))
            grad_target = scale * (column_mass.unsqueeze(-1) * target - pulled)
        if ctx.needs_input_grad[0]:
            pushed = row_weight.unsqueeze(-1) * (kernel @ (column_weight.unsqueeze(-1) * target))
            grad_source = scale * (source / n - pushed)
        return grad_source, grad_target, None, None, None, None, None


# =========================================================================== #
# FairLatentFlow: losses of the fair latent space
# ("Constructing Fair Latent Space for Intersection of Fairness and
# Explainability", arXiv 2412.17523, section 3.2)
# =========================================================================== #
def batch_covariance(z):
    """Biased covariance matrix of the rows of ``z`` (n, d) -> (d, d)."""
    centred = z - z.mean(dim=0, keepdim=True)
    return centred.T @ centred / max(z.shape[0], 1)


def decorrelation_loss(z):
    """L_dg: drive the off-diagonal of the covariance of ``z`` to zero.

    ``L_dg = ||C - C ∘ I||_F^2 / d`` with ``C`` the batch covariance of ``z``
    (n, d): the squared entries left after subtracting the diagonal
    (arXiv 2412.17523, section 3.2, "we subtract the term that is
    element-wise multiplied by the identity matrix"). Divided by ``d`` as
    VICReg's covariance term (Bardes et al., 2022, eq. 3) so that the scale
    does not grow with ``d``. Returns a scalar; 0 when ``d == 1``.
    """
    cov = batch_covariance(z)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return off_diagonal.pow(2).sum() / z.shape[1]


def variance_equality_loss(z):
    """L_eq: equalise the variances of the dimensions of ``z`` (n, d).

    ``L_eq = mean_k (C_kk - mean_j C_jj)^2``, zero iff every dimension has the
    same variance. With L_dg this makes the covariance a multiple of the
    identity, whose log-determinant is the largest for a given trace
    (arXiv 2412.17523, section 3.1: equality of the eigenvalues maximises the
    Gaussian entropy of Z_Y); the Gaussian term L_g fixes the common scale.
    """
    variances = z.var(dim=0, unbiased=False)
    return (variances - variances.mean()).pow(2).mean()


def _pair_masks(y, s):
    y = y.reshape(-1)
    s = s.reshape(-1)
    same_y = y[:, None] == y[None, :]
    diff_s = s[:, None] != s[None, :]
    return same_y & diff_s, ~same_y


def _sliced_quantile_pairs(z, y, s, n_projections=8, n_quantiles=16):
    """Mean squared distance of rank-matched pairs of opposite groups, same label.

    Rows are projected on the coordinate axes and ``n_projections`` random unit
    directions (torch's global generator); in each projection the ``q``-th
    quantile of one group is paired with the ``q``-th quantile of the other
    (the optimal one-dimensional matching, whose mean squared distance is the
    squared 2-Wasserstein distance), for every label and pair of groups.
    """
    d = z.shape[1]
    directions = torch.randn(n_projections, d, dtype=z.dtype, device=z.device)
    directions = torch.cat([torch.eye(d, dtype=z.dtype, device=z.device),
                            directions / directions.norm(dim=1, keepdim=True)])
    levels = torch.linspace(0, 1, n_quantiles, dtype=z.dtype, device=z.device)
    projected = z @ directions.T
    terms = []
    for label in torch.unique(y):
        in_label = y == label
        groups = torch.unique(s[in_label])
        quantiles = [torch.quantile(projected[in_label & (s == g)], levels, dim=0)
                     for g in groups]
        for i in range(len(quantiles)):
            for j in range(i + 1, len(quantiles)):
                terms.append((quantiles[i] - quantiles[j]).pow(2).mean())
    if not terms:
        return z.new_zeros(())
    return torch.stack(terms).mean()


def _matched_pairs(z, y, s, matching="optimal"):
    """Mean squared distance of one-to-one matched pairs of opposite groups, same label.

    For every label and every pair of groups ``(g, h)`` present with that
    label, the rows of the larger cell are each given exactly one partner in
    the smaller cell, whose rows are tiled ``ceil(n_large / n_small)`` times
    so that each is used at most that many times:

    * ``matching="optimal"``: the assignment of least total squared distance
      (:func:`scipy.optimize.linear_sum_assignment` on the detached distances;
      the gradient flows through the matched rows). This is the empirical
      optimal-transport coupling between the two cells (balanced up to the
      tiling), i.e. nearest-neighbour matching without hubs.
    * ``matching="random"``: a random assignment (torch's global generator),
      the literal reading of the paper's ``x^y_s0,i`` with ``x^y_s1,i`` for
      rows in batch order. Its expectation equals the mean over all
      cross-group pairs (``pairing="all"``).

    Returns the mean over (label, group pair) of the per-dimension mean
    squared distance of the matched pairs; 0 when no label holds two groups.
    """
    from scipy.optimize import linear_sum_assignment

    terms = []
    for label in torch.unique(y):
        in_label = y == label
        groups = torch.unique(s[in_label])
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a = z[in_label & (s == groups[i])]
                b = z[in_label & (s == groups[j])]
                large, small = (a, b) if len(a) >= len(b) else (b, a)
                reps = -(-len(large) // len(small))
                if matching == "optimal":
                    cost = torch.cdist(large.detach(), small.detach()).pow(2)
                    cost = cost.repeat(1, reps).cpu().double().numpy()
                    rows, cols = linear_sum_assignment(cost)
                    rows = torch.as_tensor(rows, device=z.device)
                    cols = torch.as_tensor(cols, device=z.device) % len(small)
                else:
                    rows = torch.arange(len(large), device=z.device)
                    cols = torch.randperm(reps * len(small), device=z.device)[:len(large)]
                    cols = cols % len(small)
                terms.append((large[rows] - small[cols]).pow(2).mean(dim=1).mean())
    if not terms:
        return z.new_zeros(())
    return torch.stack(terms).mean()


_PAIRINGS = ("quantile", "matched", "random", "nearest", "all")


def group_pair_distance_loss(z, y, s, margin=4.0, pairing="quantile"):
    """L_di: pull together opposite sensitive groups with the same label.

    For the rows ``z`` (n, d) of a batch with labels ``y`` (n,) and sensitive
    codes ``s`` (n,), with ``d_ij = ||z_i - z_j||^2 / d``:

        L_di = mean over pairs P(pairing) of d_ij
               + mean_{y_i != y_j} max(0, margin - d_ij)

    where every pair in ``P`` joins two rows of *different* sensitive groups
    with the *same* label. The first term is the paper's tractable surrogate
    ``L2(x^y_s0, x^y_s1)`` for maximising the mutual information
    ``I(X^y_s0; X^y_s1)`` between matched samples ``x^y_s0,i`` and
    ``x^y_s1,i`` (arXiv 2412.17523, sections 3.1-3.2). The paper's images
    come in no given pairs; which rows are "matched" is ``pairing``:

    * ``"quantile"`` (default): rank matching on the axes of ``z`` and 8
      random directions, 16 quantile levels per (label, group): a sliced
      2-Wasserstein distance between the groups' conditional distributions.
    * ``"matched"``: one-to-one optimal matching per batch (least total
      squared distance, Hungarian algorithm on the detached distances; the
      smaller cell is tiled so every row of the larger cell has one partner).
    * ``"random"``: one-to-one random pairing per batch (same tiling), the
      literal ``x_s0,i`` with ``x_s1,i`` in batch order; in expectation the
      same objective as ``"all"``.
    * ``"nearest"``: each row with its nearest row of another group (not
      one-to-one: several rows may share a partner).
    * ``"all"``: every cross-group pair, ``||mu_0 - mu_1||^2 + tr C_0 +
      tr C_1`` per dimension: this also shrinks each cell's spread, which on
      COMPAS collapsed the minority group's cells (see ``doc/fair_flow.md``).

    The second (hinge) term keeps different labels apart, the contrastive
    counterpart ("reducing g(x_s0,i, x_s1,j)"); it is our addition, ``margin``
    in units of the per-dimension squared distance (2 for two independent
    N(0, I) points; 0 switches it off). More than two groups: every pair of
    different groups counts. A term with no pair in the batch contributes 0.

    Parameters
    ----------
    z : Tensor of shape (n, d)
    y, s : Tensor of shape (n,)
        Integer labels and sensitive group codes.
    margin : float, default=4.0
    pairing : {"quantile", "matched", "random", "nearest", "all"}, default="quantile"

    Returns
    -------
    torch.Tensor
        A scalar.

    Raises
    ------
    ValueError
        For an unknown ``pairing``.
    """
    if pairing not in _PAIRINGS:
        raise ValueError(f"pairing must be one of {_PAIRINGS}; got {pairing!r}.")
    y, s = y.reshape(-1), s.reshape(-1)
    positive, negative = _pair_masks(y, s)
    need_dist = pairing in ("nearest", "all") or (margin > 0 and bool(negative.any()))
    dist = (z[:, None, :] - z[None, :, :]).pow(2).mean(dim=2) if need_dist else None
    loss = z.new_zeros(())
    if pairing == "nearest":
        # each row's counterpart: the closest row of another group, same label
        has_pair = positive.any(dim=1)
        if has_pair.any():
            nearest = dist.masked_fill(~positive, float("inf")).min(dim=1).values
            loss = loss + nearest[has_pair].mean()
    elif pairing == "quantile":
        loss = loss + _sliced_quantile_pairs(z, y, s)
    elif pairing in ("matched", "random"):
        loss = loss + _matched_pairs(z, y, s, "optimal" if pairing == "matched" else "random")
    elif positive.any():
        loss = loss + dist[positive].mean()
    if margin > 0 and negative.any():
        loss = loss + torch.relu(margin - dist[negative]).mean()
    return loss


# --------------------------------------------------------------------------- #
# FLDGM (Ramachandranpillai, Sikder, Heintz, "Fair Latent Deep Generative Models
# (FLDGMs) for Syntax-Agnostic and Fair Synthetic Data Generation", ECAI 2023;
# section 2.2 and Eq. 8):
# distance correlation between a latent code and the sensitive attribute, and
# FairDisCo's closed-form V^2 (Liu et al., KDD 2022), which the paper's public
# code uses.
# --------------------------------------------------------------------------- #
def _pairwise_distances_safe(x):
    """Euclidean distances between the rows of ``x`` (n, d), with finite gradients.

    ``torch.cdist`` differentiates sqrt at 0 (the diagonal, repeated rows) into
    NaN; here the square root is only taken where the squared distance is
    positive, and the distance is exactly 0 elsewhere.
    """
    diff = x.unsqueeze(1) - x.unsqueeze(0)
    sq = (diff * diff).sum(-1)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


def _double_centre(d):
    return d - d.mean(0, keepdim=True) - d.mean(1, keepdim=True) + d.mean()


def distance_correlation_sq(x, y, eps=1e-12):
    """Squared distance correlation dCor^2(x, y), differentiable (V-statistic).

    Székely, Rizzo and Bakirov (2007): with A and B the double-centred
    Euclidean distance matrices of the rows of ``x`` and ``y``,
    dCov^2(x, y) = mean(A * B) and
    dCor^2 = dCov^2(x, y) / sqrt(dCov^2(x, x) dCov^2(y, y)) in [0, 1];
    0 if and only if x and y are independent (in the population). This is
    the sample version of the V^2 dependence of Eq. 1 of the FLDGM paper, and
    equals ``dcor.distance_correlation_sqr`` (biased estimator).

    Parameters
    ----------
    x : Tensor of shape (n, d) or (n,)
        E.g. a minibatch of latent codes.
    y : Tensor of shape (n, k) or (n,)
        E.g. the one-hot encoded sensitive attribute (floating point).
    eps : float, default=1e-12
        Guards the denominator when one variable is constant (dCor^2 is then 0).

    Returns
    -------
    Tensor of shape ()
        dCor^2, with gradients with respect to both inputs.
    """
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y need the same number of rows; got {x.shape[0]} and {y.shape[0]}.")
    y = y.to(x.dtype)
    a = _double_centre(_pairwise_distances_safe(x))
    b = _double_centre(_pairwise_distances_safe(y))
    dcov_xy = (a * b).mean()
    dcov_xx = (a * a).mean()
    dcov_yy = (b * b).mean()
    return dcov_xy / torch.sqrt(dcov_xx * dcov_yy + eps)


def _gaussian_overlap_matrix(mean, var):
    """K_ij = N(mu_i - mu_j; 0, diag(var_i + var_j)), shape (n, n)."""
    var_sum = var.unsqueeze(1) + var.unsqueeze(0)
    quad = ((mean.unsqueeze(1) - mean.unsqueeze(0)) ** 2 / var_sum).sum(-1)
    return torch.exp(-0.5 * quad - 0.5 * torch.log(2 * _math.pi * var_sum).sum(-1))


def fairdisco_v2(mean, var, groups, n_groups):
    """FairDisCo's closed-form V^2 between p(z, s) and p(z) p(s).

    Liu et al., "Fair representation learning: an alternative to mutual
    information", KDD 2022 (reference [18] of the FLDGM paper). With the
    aggregate posterior p(z) = 1/n sum_i N(z; mu_i, diag(var_i)) and
    p(z, s) = 1/n sum_{i: s_i = s} N(z; mu_i, diag(var_i)), the integral of
    Eq. 1, int sum_s |p(z, s) - p(z) p(s)|^2 dz, has the closed form

        V^2 = sum_s (n_s / n)^2 [dis(all, all) + dis(s, s) - 2 dis(s, all)],

    dis(I, J) = mean over i in I, j in J of N(mu_i - mu_j; 0, diag(var_i + var_j)),

    because the integral of a product of two Gaussian densities is a Gaussian
    density of the difference of their means. Groups absent from the batch
    contribute 0. Unlike the authors' code the result is not rescaled by
    ``len(batch) / batch_size`` (their last, smaller batch).

    Parameters
    ----------
    mean, var : Tensor of shape (n, d)
        Posterior means and variances of q(z | x, s) on a minibatch.
    groups : LongTensor of shape (n,)
        Sensitive group codes in ``0 .. n_groups - 1``.
    n_groups : int

    Returns
    -------
    Tensor of shape ()
        V^2 (not normalised: its scale shrinks like (4 pi var)^(-d/2), which
        is why the authors weight it by 1e7 with d = 8).
    """
    n = mean.shape[0]
    kernel = _gaussian_overlap_matrix(mean, var)  # one (n, n) matrix for all terms
    total = kernel.mean()
    v2 = mean.new_zeros(())
    for g in range(n_groups):
        mask = groups == g
        n_g = int(mask.sum())
        if n_g == 0 or n_g == n:
            continue
        rows = kernel[mask]
        cur = total + rows[:, mask].mean() - 2 * rows.mean()
        v2 = v2 + (n_g / n) ** 2 * cur
    return v2
