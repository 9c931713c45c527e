"""Adversarial attacks: ALFA's latent fairness attack and AEDA's I-FGSM."""

import numpy as np
import torch
from tqdm.auto import tqdm

from .losses import sinkhorn_distance


# =========================================================================== #
# ALFA: latent fairness attack
# (Jung, Chai & Wang, "Adversarial Latent Feature Augmentation for Fairness", ICLR 2025)
# =========================================================================== #
def balanced_upsampling(cell_codes, rng):
    """Index the same number of rows from every cell (ALFA Sec. 3.1).

    Each cell's rows are repeated whole as often as they fit into
    ``m = max_c n_c`` and topped up by a random draw without replacement, so
    every row is used and N_p = n_cells · m (= 4·max n_ay for binary a, y).

    Parameters
    ----------
    cell_codes : ndarray of shape (n,), int
        Cell of each row (e.g. 2·a + y).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_cells, m), int
        Row indices, shuffled within each cell.
    """
    cells = [np.flatnonzero(cell_codes == c) for c in np.unique(cell_codes)]
    size = max(len(rows) for rows in cells)
    upsampled = []
    for rows in cells:
        repeats, remainder = divmod(size, len(rows))
        picked = np.concatenate([np.tile(rows, repeats), rng.choice(rows, remainder, replace=False)])
        upsampled.append(rng.permutation(picked))
    return np.stack(upsampled)


def project_to_ball(delta, radius):
    """Rescale each row of ``delta`` into its L2 ball: δ_i / max(1, ‖δ_i‖ / ε_i)."""
    norms = delta.norm(dim=1, keepdim=True)
    return delta / torch.clamp(norms / radius.reshape(-1, 1), min=1.0)


def fairness_attack(features, model, fairness_loss, *, sensitive, targets, radius,
                    upsampled, alpha, steps=10, lr=0.1, batch_size=128,
                    sinkhorn_reg=0.1, sinkhorn_max_iter=10, verbose=0):
    """ALFA's fairness attack (Alg. 1, Eq. 4): δ* = argmax_{‖δ‖₂≤ε} L_fair - α·D(z, z+δ).

    The attack runs batch by batch: each batch takes ``batch_size`` rows from
    every cell of ``upsampled`` (as the authors' code: 4 × 128 for binary a
    and y), so L_fair is computed on balanced cells (Thm. B.2) and the
    Sinkhorn distance D is batch-wise (Sec. 3.3). δ starts small and random
    (Xavier-uniform, as the authors' code), is updated by Adam for ``steps``
    steps with ``model`` frozen, and after every step each row is projected
    back into its ε-ball.

    Parameters
    ----------
    features : torch.Tensor of shape (n, d)
        Clean latent features z = f(x) (or inputs, for input-space attacks).
    model : callable
        Frozen map from features to logits (the linear head g, or the whole
        network for input-space attacks).
    fairness_loss : callable ``(logits, sensitive, targets) -> scalar``
        L_fair, to be maximised.
    sensitive : torch.Tensor of shape (n,), int
    targets : torch.Tensor of shape (n,) or (n, T)
    radius : torch.Tensor of shape (n,)
        ε for each row (per (a, y) cell in the authors' code).
    upsampled : ndarray of shape (n_cells, m)
        From :func:`balanced_upsampling`.
    alpha : float
        Weight of the Sinkhorn distance.
    steps : int, default=10
    lr : float, default=0.1
        Adam learning rate.
    batch_size : int, default=128
        Rows per cell per batch.
    sinkhorn_reg : float, default=0.1
    sinkhorn_max_iter : int, default=10
        Sinkhorn iterations per evaluation of D (the authors' 10).
    verbose : int, default=0
        A progress bar over batches when >= 1.

    Returns
    -------
    rows : ndarray of shape (N_p,), int
        Index into ``features`` of each attacked row.
    delta : torch.Tensor of shape (N_p, d)
        The perturbation δ*, detached, each row inside its ε-ball.
    """
    n_batches = int(np.ceil(upsampled.shape[1] / batch_size))
    all_rows, all_deltas = [], []
    for b in tqdm(range(n_batches), desc="fairness attack", disable=not verbose, leave=False):
        rows = upsampled[:, b * batch_size:(b + 1) * batch_size].reshape(-1)
        index = torch.as_tensor(rows, device=features.device)
        clean, ball = features[index], radius[index]
        delta = torch.empty_like(clean)
        torch.nn.init.xavier_uniform_(delta)
        delta = project_to_ball(delta, ball).requires_grad_(True)
        optimizer = torch.optim.Adam([delta], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            perturbed = clean + delta
            objective = fairness_loss(model(perturbed), sensitive[index], targets[index])
            if alpha:
                objective = objective - alpha * sinkhorn_distance(
                    clean, perturbed, reg=sinkhorn_reg, max_iter=sinkhorn_max_iter)
            (-objective).backward()
            optimizer.step()
            with torch.no_grad():
                delta.copy_(project_to_ball(delta, ball))
        all_rows.append(rows)
        all_deltas.append(delta.detach())
    return np.concatenate(all_rows), torch.cat(all_deltas)



# =========================================================================== #
# AEDA: iterative FGSM (Kurakin et al., 2017) on the coupled loss of Eq. 3
# (Zhang & Sang, "Towards accuracy-fairness paradox: adversarial example-based
# data augmentation for visual debiasing", ACM MM 2020)
# =========================================================================== #
def ifgsm(loss_fn, X, *, epsilon, step_size, n_steps, clip_min=None, clip_max=None):
    """Targeted iterative FGSM: minimise ``loss_fn`` within an L∞ ball around ``X``.

    x⁰ = X;  x^{k+1} = clip_[lo, hi]( Π_{‖x - X‖∞ ≤ ε}( x^k − α · sign ∇ₓ loss(x^k) ) ).

    The loss is *minimised* (a targeted attack towards the labels built into
    ``loss_fn``), as in AEDA's Eq. 2-3. Only the input receives gradients:
    the parameters of the networks inside ``loss_fn`` are left untouched.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(x) -> torch.Tensor`` of shape (n,) (per-row losses) or a
        scalar; rows are independent, so the sum is differentiated.
    X : torch.Tensor of shape (n, ...)
        Clean inputs; not modified.
    epsilon : float or torch.Tensor broadcastable to ``X``
        L∞ budget ε (>= 0); a tensor gives a box with one budget per input
        value, ``|x_j − X_j| ≤ ε_j`` (AEDA's ``epsilon="auto"``).
    step_size : float or torch.Tensor broadcastable to ``X``
        α, the step of each sign-gradient update (per value for a tensor).
    n_steps : int
        Number of updates.
    clip_min, clip_max : float, torch.Tensor broadcastable to ``X`` or None
        Valid input range; ``None`` leaves that side unbounded.

    Returns
    -------
    torch.Tensor
        The adversarial inputs, detached, same shape and dtype as ``X``.
    """
    X = X.detach()
    x_adv = X.clone()
    lower, upper = X - epsilon, X + epsilon
    if clip_min is not None:
        lower = torch.clamp(lower, min=clip_min) if not torch.is_tensor(clip_min) else torch.maximum(lower, clip_min)
    if clip_max is not None:
        upper = torch.clamp(upper, max=clip_max) if not torch.is_tensor(clip_max) else torch.minimum(upper, clip_max)
    for _ in range(n_steps):
        x_adv.requires_grad_(True)
        loss = loss_fn(x_adv).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv - step_size * grad.sign()
            x_adv = torch.minimum(torch.maximum(x_adv, lower), upper)
    return x_adv.detach()
