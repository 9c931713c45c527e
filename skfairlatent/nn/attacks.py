"""Adversarial attacks: ALFA's latent fairness attack and AEDA's I-FGSM."""

import numpy as np
import torch
from tqdm.auto import tqdm

from .losses import sinkhorn_divergence_step, squared_distances


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
        picked = np.concatenate([np.tile(rows, repeats),
                                 rng.choice(rows, remainder, replace=False)])
        upsampled.append(rng.permutation(picked))
    return np.stack(upsampled)


def per_batch_upsampling(cell_codes, rng, batch_size):
    """Balanced attack batches drawn batch by batch, as the authors' code does.

    The rows are shuffled and cut into chunks of ``n_cells · batch_size``
    rows (the authors' data loader of 4 × 128 rows for binary a, y); from
    each chunk ``batch_size`` rows of every cell are drawn, without
    replacement when the chunk holds enough of them and with replacement
    otherwise. A cell absent from a chunk is drawn from all its rows (the
    authors' code leaves it out; we keep the batches equally sized so they
    stack). N_p = n_chunks · n_cells · batch_size ≈ n (rounded up), against
    the paper's N_p = n_cells · max n_c (:func:`balanced_upsampling`):
    every batch is balanced, but rare cells are repeated within a batch
    rather than across the data.

    Parameters
    ----------
    cell_codes : ndarray of shape (n,), int
        Cell of each row (e.g. 2·a + y).
    rng : numpy.random.Generator
    batch_size : int
        Rows per cell per batch.

    Returns
    -------
    ndarray of shape (n_chunks, n_cells · batch_size), int
        Row indices of each batch, cell after cell (``batch_size`` each, in
        the order of ``np.unique(cell_codes)``).

    Notes
    -----
    Source: ``latent_adversarial.py`` of the authors' public code
    (github.com/HoinJung/Adversarial-Latent-Feature-Augmentation-Fairness),
    which the paper (Sec. 3.1) describes as N_p = 4·max n_ay instead.
    """
    cell_codes = np.asarray(cell_codes)
    codes = np.unique(cell_codes)
    chunk = len(codes) * batch_size
    order = rng.permutation(len(cell_codes))
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        picked = []
        for code in codes:
            rows = part[cell_codes[part] == code]
            if not len(rows):
                rows = np.flatnonzero(cell_codes == code)
            picked.append(rng.choice(rows, batch_size, replace=len(rows) < batch_size))
        batches.append(np.concatenate(picked))
    return np.stack(batches)


def batch_cell_radius(distance, batches, n_cells):
    """ε per attack slot: the mean of ``distance`` over its batch's cell.

    The authors' code computes ε per (a, y) cell of each attack batch.

    Parameters
    ----------
    distance : torch.Tensor of shape (n,)
        Distance of every row to the decision boundary.
    batches : ndarray of shape (B, n_cells · b), int
        From :func:`per_batch_upsampling` (cells in consecutive blocks of b).
    n_cells : int

    Returns
    -------
    torch.Tensor of shape (B, n_cells · b)
    """
    index = torch.as_tensor(batches, device=distance.device)
    slots = distance[index].reshape(len(batches), n_cells, -1)
    return slots.mean(dim=2, keepdim=True).expand_as(slots).reshape(index.shape).contiguous()


def project_to_ball(delta, radius):
    """Rescale each row of ``delta`` into its L2 ball: δ_i / max(1, ‖δ_i‖ / ε_i)."""
    norms = delta.norm(dim=1, keepdim=True)
    return delta / torch.clamp(norms / radius.reshape(-1, 1), min=1.0)


def distance_to_boundary(model, features):
    """Distance of each row to the decision boundary of ``model`` (ALFA step 3).

    |g(z)| / ‖∇_z g(z)‖₂ for each output of ``model``, averaged over the
    outputs: exact, |w·z + b| / ‖w‖₂, for a linear head; linearised for a
    whole network (input-space attacks).

    Parameters
    ----------
    model : callable
        Map from features (n, d) to logits (n,) or (n, T).
    features : torch.Tensor of shape (n, d)

    Returns
    -------
    torch.Tensor of shape (n,), detached
    """
    features = features.detach().requires_grad_(True)
    logits = model(features).reshape(len(features), -1)
    distances = []
    for k in range(logits.shape[1]):
        (grad,) = torch.autograd.grad(logits[:, k].sum(), features, retain_graph=True)
        distances.append(logits[:, k].abs() / grad.norm(dim=1).clamp_min(1e-12))
    return torch.stack(distances, dim=1).mean(dim=1).detach()


def sinkhorn_cost_scale(features, radius, scale, rng, n_sample=512):
    """The unit s of the attack's squared-distance Sinkhorn cost.

    Parameters
    ----------
    features : torch.Tensor of shape (n, d)
        Clean features.
    radius : torch.Tensor
        ε of every attacked row (any shape).
    scale : "epsilon", "median" or float
        ``"epsilon"``: s = mean ε², so D ≈ 1 when every row moves by its full
        radius. ``"median"``: the median squared distance between ``n_sample``
        clean rows drawn from ``rng`` (off the diagonal). A float is returned
        as it is (``1.0`` is the raw cost of the paper).
    rng : numpy.random.Generator
        Used only by ``"median"``.

    Returns
    -------
    float
    """
    if not isinstance(scale, str):
        return float(scale)
    if scale == "epsilon":
        return float(radius.pow(2).mean().clamp_min(1e-12))
    sample = features[torch.as_tensor(rng.choice(len(features), min(len(features), n_sample),
                                                 replace=False), device=features.device)]
    cost = squared_distances(sample, sample)
    off_diagonal = cost[~torch.eye(len(sample), dtype=torch.bool, device=cost.device)]
    return float(off_diagonal.median().clamp_min(1e-12))


def attack_batches(upsampled, batch_size):
    """Row indices of the attack batches, stacked: a list of (B, n_cells·b) arrays.

    Batch k takes rows ``k·batch_size .. (k+1)·batch_size`` of every cell of
    ``upsampled`` (the authors' 4 × 128 for binary a, y). The full batches
    form one stacked array; a shorter last batch forms a second one.
    """
    n_cells, m = upsampled.shape
    n_full = m // batch_size
    blocks = []
    if n_full:
        full = upsampled[:, :n_full * batch_size].reshape(n_cells, n_full, batch_size)
        blocks.append(full.transpose(1, 0, 2).reshape(n_full, n_cells * batch_size))
    if m % batch_size:
        blocks.append(upsampled[:, n_full * batch_size:].reshape(1, -1))
    return blocks


def fairness_attack(features, model, fairness_loss, *, sensitive, targets, radius,
                    upsampled=None, alpha, steps=10, lr=0.1, batch_size=128,
                    sinkhorn_reg=0.1, sinkhorn_max_iter=10, cost_scale=1.0,
                    max_stack=2 ** 22, batches=None, verbose=0):
    """ALFA's fairness attack (Alg. 1, Eq. 4): δ* = argmax_{‖δ‖₂≤ε} L_fair - α·D(z, z+δ).

    Batch-wise as the authors' code: each batch takes ``batch_size`` rows from
    every cell of ``upsampled`` (4 × 128 for binary a and y), so L_fair is
    computed on balanced cells (Thm. B.2) and the Sinkhorn distance D is
    batch-wise (Sec. 3.3). δ starts small and random (Xavier-uniform per
    batch, as the authors' code), is updated by Adam for ``steps`` steps with
    ``model`` frozen, and after every step each row is projected back into
    its ε-ball.

    The batches are solved as stacked problems of at most ``max_stack``
    cost-matrix entries each: the objective is the sum of the batches'
    objectives, each depending on its own δ only, and Adam acts element-wise,
    so a stack is exactly its batches solved one by one, with one tensor
    operation per step instead of one per batch. D is
    :func:`skfairlatent.nn.losses.sinkhorn_divergence_step`, whose dual
    potentials are warm-started from one Adam step to the next (δ moves
    little between steps). This function returns every δ at once;
    :func:`fairness_attack_chunks` yields them stack by stack, so that memory
    stays one stack's worth whatever the number of rows.

    Parameters
    ----------
    features : torch.Tensor of shape (n, d), or rows on demand
        Clean latent features z = f(x) (or inputs, for input-space attacks);
        anything with ``len``, ``shape``, ``device`` and ``features[index]``
        for an integer tensor ``index`` of any shape (returning shape
        ``(*index.shape, d)``) will do, e.g. rows encoded when asked.
    model : callable
        Frozen map from features (n, d) to logits (n,) or (n, T) (the linear
        head g, or the whole network for input-space attacks).
    fairness_loss : callable ``(logits, sensitive, targets) -> scalar``
        L_fair, to be maximised, on stacked batches: ``logits`` of shape
        (B, N) or (B, N, T), ``sensitive`` (B, N), ``targets`` (B, N) or
        (B, N, T); it returns the sum over the B batches.
    sensitive : torch.Tensor of shape (n,), int
    targets : torch.Tensor of shape (n,) or (n, T)
    radius : torch.Tensor of shape (n,) or (B, N)
        ε for each row (per (a, y) cell in the authors' code), or, with
        ``batches``, for each slot of each batch (shape of ``batches``).
    upsampled : ndarray of shape (n_cells, m), default=None
        From :func:`balanced_upsampling`; cut into batches by
        :func:`attack_batches`. Give either it or ``batches``.
    alpha : float
        Weight of the Sinkhorn distance.
    steps : int, default=10
    lr : float, default=0.1
        Adam learning rate.
    batch_size : int, default=128
        Rows per cell per batch.
    sinkhorn_reg : float, default=0.1
        Entropic regularisation, in units of the scaled cost.
    sinkhorn_max_iter : int, default=10
        Scaling iterations per Adam step (the authors' 10).
    cost_scale : float, default=1.0
        The squared-distance cost of D is divided by it.
    max_stack : int, default=2**22
        Most cost-matrix entries (B·N²) per stack: 16 MiB of float32 costs,
        16 batches of 4 × 128 rows. It bounds the attack's memory and does not
        change δ.
    batches : ndarray of shape (B, N), int, default=None
        Ready-made attack batches (e.g. :func:`per_batch_upsampling`), used
        instead of ``upsampled``.
    verbose : int, default=0
        A progress bar over the stacks when >= 1.

    Returns
    -------
    rows : ndarray of shape (N_p,), int
        Index into ``features`` of each attacked row, batch after batch.
    delta : torch.Tensor of shape (N_p, d)
        The perturbation δ*, detached, each row inside its ε-ball.
    """
    rows, deltas = [], []
    for chunk_rows, _, delta in fairness_attack_chunks(
            features, model, fairness_loss, sensitive=sensitive, targets=targets,
            radius=radius, upsampled=upsampled, alpha=alpha, steps=steps, lr=lr,
            batch_size=batch_size, sinkhorn_reg=sinkhorn_reg,
            sinkhorn_max_iter=sinkhorn_max_iter, cost_scale=cost_scale,
            max_stack=max_stack, batches=batches, verbose=verbose):
        rows.append(chunk_rows)
        deltas.append(delta)
    d = features.shape[1]
    if not rows:
        return np.zeros(0, dtype=np.int64), torch.zeros((0, d), device=features.device)
    return np.concatenate(rows), torch.cat(deltas)


def attack_stacks(*, upsampled=None, batches=None, radius, batch_size=128,
                  max_stack=2 ** 22):
    """Cut the attack batches into stacks of at most ``max_stack`` cost entries.

    Parameters
    ----------
    upsampled, batches, radius, batch_size, max_stack
        As in :func:`fairness_attack`.

    Returns
    -------
    list of (ndarray of shape (B, N), torch.Tensor of shape (B, N))
        The row indices of each stack's batches and their ε, in attack order:
        ``np.concatenate([rows.reshape(-1) for rows, _ in stacks])`` is the
        ``rows`` that :func:`fairness_attack` returns.
    """
    if (upsampled is None) == (batches is None):
        raise ValueError("fairness_attack: give exactly one of `upsampled` and `batches`.")
    if batches is None:
        blocks = attack_batches(upsampled, batch_size)
        radii = [radius[torch.as_tensor(block, device=radius.device)] for block in blocks]
    else:
        blocks = [np.asarray(batches)]
        per_slot = tuple(radius.shape) == blocks[0].shape
        radii = [radius if per_slot else radius[torch.as_tensor(blocks[0], device=radius.device)]]
    stacks = []
    for block, block_radius in zip(blocks, radii):
        per_stack = max(1, max_stack // block.shape[1] ** 2)
        stacks += [(block[i:i + per_stack], block_radius[i:i + per_stack])
                   for i in range(0, len(block), per_stack)]
    return stacks


def fairness_attack_chunks(features, model, fairness_loss, *, sensitive, targets, radius,
                           upsampled=None, alpha, steps=10, lr=0.1, batch_size=128,
                           sinkhorn_reg=0.1, sinkhorn_max_iter=10, cost_scale=1.0,
                           max_stack=2 ** 22, batches=None, verbose=0):
    """:func:`fairness_attack`, one stack of batches at a time.

    Parameters are those of :func:`fairness_attack`.

    Yields
    ------
    rows : ndarray of shape (m,), int
        Index into ``features`` of the stack's attacked rows, batch after batch.
    clean : torch.Tensor of shape (m, d)
        Their clean features, detached.
    delta : torch.Tensor of shape (m, d)
        Their perturbation δ*, detached, each row inside its ε-ball.

    Notes
    -----
    The stacks are solved one after the other, each for all ``steps``; the
    draws of δ's initial values follow the stacks' order, so the result is
    that of solving all stacks at once.
    """
    stacks = attack_stacks(upsampled=upsampled, batches=batches, radius=radius,
                           batch_size=batch_size, max_stack=max_stack)
    for rows, ball in tqdm(stacks, desc="fairness attack", disable=not verbose, leave=False):
        index = torch.as_tensor(rows, device=features.device)
        clean = features[index]
        delta = _attack_stack(clean, index, ball.reshape(-1), model, fairness_loss,
                              sensitive=sensitive, targets=targets, alpha=alpha, steps=steps,
                              lr=lr, sinkhorn_reg=sinkhorn_reg,
                              sinkhorn_max_iter=sinkhorn_max_iter, cost_scale=cost_scale)
        d = clean.shape[-1]
        yield rows.reshape(-1), clean.reshape(-1, d), delta.reshape(-1, d)


def _attack_stack(clean, index, ball, model, fairness_loss, *, sensitive, targets, alpha,
                  steps, lr, sinkhorn_reg, sinkhorn_max_iter, cost_scale):
    """δ* of one stack of batches: ``clean`` (B, N, d) -> detached δ (B, N, d)."""
    d = clean.shape[-1]
    bound = float(np.sqrt(6.0 / (index.shape[1] + d)))   # Xavier-uniform per batch
    delta = torch.empty_like(clean).uniform_(-bound, bound)
    delta = project_to_ball(delta.reshape(-1, d), ball).reshape(clean.shape)
    delta.requires_grad_(True)
    optimizer = torch.optim.Adam([delta], lr=lr)
    potentials = None
    for _ in range(steps):
        optimizer.zero_grad()
        perturbed = clean + delta
        logits = model(perturbed.reshape(-1, d))
        logits = logits.reshape(*index.shape, -1)
        if logits.shape[-1] == 1:
            logits = logits.squeeze(-1)
        objective = fairness_loss(logits, sensitive[index], targets[index])
        if alpha:
            value, potentials = sinkhorn_divergence_step(
                clean, perturbed, reg=sinkhorn_reg, n_iter=sinkhorn_max_iter,
                potentials=potentials, cost_scale=cost_scale)
            objective = objective - alpha * value.sum()
        (-objective).backward()
        optimizer.step()
        with torch.no_grad():
            flat = delta.view(-1, d)
            flat.copy_(project_to_ball(flat, ball))
    return delta.detach()


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
        lower = (torch.clamp(lower, min=clip_min) if not torch.is_tensor(clip_min)
                 else torch.maximum(lower, clip_min))
    if clip_max is not None:
        upper = (torch.clamp(upper, max=clip_max) if not torch.is_tensor(clip_max)
                 else torch.minimum(upper, clip_max))
    for _ in range(n_steps):
        x_adv.requires_grad_(True)
        loss = loss_fn(x_adv).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv - step_size * grad.sign()
            x_adv = torch.minimum(torch.maximum(x_adv, lower), upper)
    return x_adv.detach()
