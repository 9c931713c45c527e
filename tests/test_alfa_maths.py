"""The maths behind ALFA: Prop. B.1, the piecewise-linear logit, Sinkhorn, the attack."""

import numpy as np
import ot
import pytest
import torch

from skfairlatent.nn.attacks import (
    attack_batches,
    balanced_upsampling,
    fairness_attack,
    project_to_ball,
)
from skfairlatent.nn.losses import (
    convex_fairness_loss,
    covariance,
    covariance_attack_signs,
    covariance_fairness_loss,
    piecewise_linear_logit,
    sinkhorn_distance,
    sinkhorn_divergence_step,
    squared_distances,
)


def _balanced_example():
    """Four (a, y) cells of two rows each, with hand-picked signed distances d."""
    a = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    y = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    d = torch.tensor([-2.0, -1.0, 0.0, 1.0, 0.0, 1.0, 2.0, 4.0])
    return a, y, d


def test_prop_b1_covariance_is_quarter_of_mean_distance_gap():
    a, y, d = _balanced_example()
    # Δd_dp = mean(d | a=1) - mean(d | a=0) = 7/4 - (-2/4) = 2.25
    delta_d_dp = d[a == 1].mean() - d[a == 0].mean()
    assert delta_d_dp.item() == pytest.approx(2.25)
    # Δd_eod,1 = mean(2, 4) - mean(0, 1) = 2.5 ; Δd_eod,0 = mean(0, 1) - mean(-2, -1) = 2.0
    delta_d_eod = (d[(a == 1) & (y == 1)].mean() - d[(a == 0) & (y == 1)].mean()
                   + d[(a == 1) & (y == 0)].mean() - d[(a == 0) & (y == 0)].mean())
    assert delta_d_eod.item() == pytest.approx(4.5)
    cov = covariance(a.float()[:, None], d[:, None]).item()
    assert cov == pytest.approx(delta_d_dp.item() / 4)      # = 0.5625
    assert cov == pytest.approx(delta_d_eod.item() / 8)


def test_covariance_fairness_loss_uses_eq3_sign_and_piecewise_logit():
    a, y, _ = _balanced_example()
    logits = torch.tensor([-3.0, -1.0, 0.5, 1.0, -0.5, 0.2, 2.0, 3.0])
    signs = covariance_attack_signs(a, y)       # Cov(a, y) = 0 here -> sign +1
    assert signs.tolist() == [[1.0]]
    d = piecewise_linear_logit(torch.sigmoid(logits))
    expected = covariance(a.float()[:, None], d[:, None]).item()
    assert covariance_fairness_loss(logits, a, signs).item() == pytest.approx(expected, rel=1e-5)
    flipped = covariance_fairness_loss(logits, a, -signs).item()
    assert flipped == pytest.approx(-expected, rel=1e-5)


def test_attack_signs_follow_clean_covariance():
    a = torch.tensor([0, 0, 1, 1])
    assert covariance_attack_signs(a, torch.tensor([1, 1, 0, 0])).item() == -1.0
    assert covariance_attack_signs(a, torch.tensor([0, 0, 1, 1])).item() == 1.0
    # three groups: one indicator per group (App. J.2)
    a3 = torch.tensor([0, 1, 2, 2])
    signs = covariance_attack_signs(a3, torch.tensor([1, 0, 0, 0]))
    assert signs.ravel().tolist() == [1.0, -1.0, -1.0]


def test_piecewise_linear_logit_interpolates_logit_at_knots():
    beta, m = 1e-7, 10
    knots = torch.linspace(beta, 1 - beta, m + 1, dtype=torch.float64)
    assert torch.allclose(piecewise_linear_logit(knots, m, beta), torch.logit(knots))
    grid = torch.linspace(0.01, 0.99, 500, dtype=torch.float64)
    approx = piecewise_linear_logit(grid, m, beta)
    assert torch.all(torch.diff(approx) > 0)              # monotone
    # The chord of a function convex on [1/2, 1) lies above it.
    upper = grid > 0.5
    assert torch.all(approx[upper] >= torch.logit(grid[upper]) - 1e-9)
    # Slope bound of Thm. B.2
    first_knot = torch.tensor(beta + (1 - 2 * beta) / m, dtype=torch.float64)
    a_max = m / (1 - 2 * beta) * (torch.logit(first_knot)
                                  - torch.logit(torch.tensor(beta, dtype=torch.float64)))
    slopes = torch.diff(approx) / torch.diff(grid)
    assert slopes.max() <= a_max + 1e-6
    # Saturated probabilities stay finite
    assert torch.isfinite(piecewise_linear_logit(torch.tensor([0.0, 1.0]))).all()


def test_sinkhorn_does_not_underflow_on_distant_clouds():
    torch.manual_seed(0)
    source = torch.randn(64, 10, dtype=torch.float64)
    target = source + 50.0
    cost = ot.dist(source, target)
    # The plain Gibbs kernel underflows: a naive Sinkhorn would divide 0 by 0.
    assert torch.exp(-cost / 0.1).max().item() == 0.0
    value = sinkhorn_distance(source, target, reg=0.1, max_iter=500)
    exact = ot.emd2(torch.full((64,), 1 / 64, dtype=torch.float64),
                    torch.full((64,), 1 / 64, dtype=torch.float64), cost)
    assert torch.isfinite(value) and value.item() > 0
    assert value.item() == pytest.approx(exact.item(), rel=1e-3)


def test_sinkhorn_gradient_pulls_perturbation_back():
    torch.manual_seed(0)
    clean = torch.randn(32, 4)
    delta = (0.5 * torch.randn(32, 4)).requires_grad_(True)
    sinkhorn_distance(clean, clean + delta).backward()
    assert torch.isfinite(delta.grad).all()
    # One gradient step on D lowers D.
    with torch.no_grad():
        before = sinkhorn_distance(clean, clean + delta)
        after = sinkhorn_distance(clean, clean + delta - 0.1 * delta.grad)
    assert after < before


def test_convex_constraint_increases_with_gap():
    a = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    fair = torch.zeros(8)
    unfair = torch.where(a == 1, 2.0, -2.0)
    assert convex_fairness_loss(unfair, a, y, 1.0) > convex_fairness_loss(fair, a, y, 1.0)
    assert convex_fairness_loss(-unfair, a, y, -1.0) > convex_fairness_loss(fair, a, y, -1.0)


def test_balanced_upsampling_uses_every_row_and_equal_cells():
    cells = np.array([0] * 5 + [1] * 2 + [2] * 9 + [3] * 1)
    upsampled = balanced_upsampling(cells, np.random.default_rng(0))
    assert upsampled.shape == (4, 9)
    for c in range(4):
        assert set(upsampled[c]) == set(np.flatnonzero(cells == c))


def test_projection_keeps_rows_in_their_ball():
    delta = torch.tensor([[3.0, 4.0], [0.1, 0.0]])
    projected = project_to_ball(delta, torch.tensor([1.0, 1.0]))
    assert torch.allclose(projected.norm(dim=1), torch.tensor([1.0, 0.1]))


def test_attack_raises_unfairness_of_frozen_linear_model():
    rng = np.random.default_rng(0)
    n = 400
    a = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    z = torch.as_tensor(rng.normal(size=(n, 2)) + 1.5 * (2 * y[:, None] - 1) * [1, 0],
                        dtype=torch.float32)
    head = torch.nn.Linear(2, 1)
    with torch.no_grad():
        head.weight[:] = torch.tensor([[1.0, 0.0]])
        head.bias.zero_()
    head.requires_grad_(False)
    a_t, y_t = torch.as_tensor(a), torch.as_tensor(y)
    signs = covariance_attack_signs(a_t, y_t)

    def loss(logits, aa, yy):
        return covariance_fairness_loss(logits, aa, signs)

    upsampled = balanced_upsampling(2 * a + y, np.random.default_rng(0))
    radius = torch.full((n,), 1.0)
    rows, delta = fairness_attack(z, lambda x: head(x).squeeze(-1), loss, sensitive=a_t,
                                  targets=y_t, radius=radius, upsampled=upsampled, alpha=0.0,
                                  steps=10, lr=0.1, batch_size=64)
    assert delta.norm(dim=1).max() <= 1.0 + 1e-5
    before = head(z[rows]).squeeze(-1)
    after = head(z[rows] + delta).squeeze(-1)

    def gap(out):
        positive = (out > 0).float()
        return (positive[a[rows] == 1].mean() - positive[a[rows] == 0].mean()).abs()

    # Balanced random groups: the clean model is fair; the attack makes it unfair.
    assert gap(before) < 0.1
    assert gap(after) > 0.2          # measured 0.29 (seed 0)


# --------------------------------------------------------------------------- #
# The attack's batched, warm-started Sinkhorn
# --------------------------------------------------------------------------- #
def _entropic_ot_pot(source, target, reg):
    """<P, C> + reg·KL(P ‖ a⊗b) with POT's converged log-domain plan (float64)."""
    n, m = len(source), len(target)
    a = torch.full((n,), 1 / n, dtype=torch.float64)
    b = torch.full((m,), 1 / m, dtype=torch.float64)
    cost = ot.dist(source, target)
    plan = ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=20000, stopThr=1e-10)
    entropy_term = (plan * torch.log(plan / (a[:, None] * b[None, :]))).sum()
    return ((plan * cost).sum() + reg * entropy_term).item()


def test_batched_sinkhorn_converges_to_pot_entropic_cost():
    torch.manual_seed(0)
    source = torch.randn(3, 40, 5, dtype=torch.float64)
    target = source + 0.5 * torch.randn_like(source)
    potentials = None
    for _ in range(20):                                  # 20 warm-started calls of 10 iterations
        value, potentials = sinkhorn_divergence_step(source, target, reg=1.0, potentials=potentials)
    for k in range(3):
        expected = _entropic_ot_pot(source[k], target[k], 1.0)
        assert value[k].item() == pytest.approx(expected, rel=1e-5)
        # POT's reference function returns the same entropic cost
        reference = sinkhorn_distance(source[k], target[k], reg=1.0, max_iter=20000, tol=1e-10)
        assert reference.item() == pytest.approx(value[k].item(), rel=1e-5)


def test_batched_sinkhorn_does_not_underflow():
    torch.manual_seed(0)
    source = torch.randn(1, 64, 10)
    target = source + 50.0               # exp(-C/reg) underflows everywhere in float32
    value, potentials = sinkhorn_divergence_step(source, target, reg=0.1)
    assert torch.isfinite(value).all() and all(torch.isfinite(p).all() for p in potentials)
    exact = 10 * 50.0 ** 2                      # a translation: OT cost ‖shift‖²
    assert 0.9 * exact < value.item() <= exact * (1 + 1e-4)      # a dual lower bound
    first = value.item()
    for _ in range(30):                                          # warm starts close the gap
        value, potentials = sinkhorn_divergence_step(source, target, reg=0.1, potentials=potentials)
    assert first < value.item() <= exact * (1 + 1e-4)


def test_sinkhorn_value_and_gradient_are_one_function():
    """Finite differences at the attack's operating point: float32, 10 iterations, warm start."""
    torch.manual_seed(0)
    clean = torch.randn(2, 256, 16)
    delta = 0.3 * torch.randn_like(clean)
    scale = squared_distances(clean[0], clean[0]).median().item()
    potentials = None
    for _ in range(5):                  # the warm start a few Adam steps in
        _, potentials = sinkhorn_divergence_step(clean, clean + delta, potentials=potentials,
                                                 cost_scale=scale)
    delta.requires_grad_(True)
    value, _ = sinkhorn_divergence_step(clean, clean + delta, potentials=potentials,
                                        cost_scale=scale)
    (grad,) = torch.autograd.grad(value.sum(), delta)
    direction = grad + grad.norm() / grad.numel() ** 0.5 * torch.randn_like(grad)
    direction /= direction.norm()
    h = 5e-2
    with torch.no_grad():
        plus, _ = sinkhorn_divergence_step(clean, clean + delta + h * direction,
                                           potentials=potentials, cost_scale=scale)
        minus, _ = sinkhorn_divergence_step(clean, clean + delta - h * direction,
                                            potentials=potentials, cost_scale=scale)
    finite_difference = (plus.sum() - minus.sum()).item() / (2 * h)
    analytic = (grad * direction).sum().item()
    assert analytic == pytest.approx(finite_difference, rel=2e-2)


def _semi_dual_reference(source, target, g, reg, n_iter, cost_scale):
    """Plain-autograd float64 reference of ``sinkhorn_divergence_step`` (the custom Function).

    The same log-domain maths, unrolled: ``n_iter`` Sinkhorn iterations
    f <- c-transform of g, g <- c-transform of f, run without gradient (the
    Function holds the updated g fixed), then the value
    D(C) = mean_i f_i(C) + mean_j g_j with f(C) the c-transform of that g,
    differentiated by autograd through C_ij = ‖z_i - z̃_j‖² / s. The Function's
    starting f cancels out of its result, so only the starting g is an input.
    """
    n, m = source.shape[-2], target.shape[-2]
    cost = (source.unsqueeze(-2) - target.unsqueeze(-3)).pow(2).sum(-1) / cost_scale
    log_a, log_b = -np.log(n), -np.log(m)
    if g is None:
        g = torch.zeros(cost.shape[:-2] + (m,), dtype=cost.dtype)
    with torch.no_grad():
        fixed = cost.detach()
        for _ in range(n_iter):
            f = -reg * torch.logsumexp((g.unsqueeze(-2) - fixed) / reg + log_b, dim=-1)
            g = -reg * torch.logsumexp((f.unsqueeze(-1) - fixed) / reg + log_a, dim=-2)
    f = -reg * torch.logsumexp((g.unsqueeze(-2) - cost) / reg + log_b, dim=-1)
    return f.mean(-1) + g.mean(-1), f, g


@pytest.mark.parametrize("warm", [False, True])
def test_sinkhorn_function_equals_plain_autograd_reference(warm):
    """Value, potentials and both gradients of the custom Function against autograd (float64)."""
    torch.manual_seed(0)
    source = torch.randn(3, 7, 4, dtype=torch.float64)
    target = torch.randn(3, 9, 4, dtype=torch.float64) + 0.5
    reg, n_iter, scale = 0.3, 6, 1.7
    potentials = None
    if warm:                  # potentials of a previous call on a nearby problem
        _, potentials = sinkhorn_divergence_step(source, target + 0.1, reg=reg, n_iter=3,
                                                 cost_scale=scale)
    weights = torch.randn(3, dtype=torch.float64)          # a non-uniform upstream gradient
    results = []
    for function in ("custom", "reference"):
        s, t = source.clone().requires_grad_(True), target.clone().requires_grad_(True)
        if function == "custom":
            value, (f, g) = sinkhorn_divergence_step(s, t, reg=reg, n_iter=n_iter,
                                                     potentials=potentials, cost_scale=scale)
        else:
            value, f, g = _semi_dual_reference(s, t, None if potentials is None else potentials[1],
                                               reg, n_iter, scale)
        grads = torch.autograd.grad((weights * value).sum(), (s, t))
        results.append((value.detach(), f, g, *grads))
    for name, mine, reference in zip(("value", "f", "g", "d/dsource", "d/dtarget"), *results):
        assert torch.allclose(mine, reference, rtol=1e-10, atol=1e-12), name
    # the gradients are not trivially small: the comparison has something to compare
    assert results[1][3].abs().max() > 1e-2 and results[1][4].abs().max() > 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("n_iter", [0, 300])
def test_sinkhorn_function_passes_gradcheck_in_both_inputs(n_iter):
    """Finite differences (float64) of both gradients, where value and gradient are one function.

    With ``n_iter=0`` the given g is a constant and the value is exactly the
    semi-dual D(C) whose gradient the Function writes out; with 300 iterations
    from a cold start Sinkhorn has converged, the value is the entropic OT cost
    and its gradient the plan's (envelope theorem), which the Function returns.
    """
    torch.manual_seed(1)
    source = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    target = (torch.randn(2, 6, 3, dtype=torch.float64) + 0.3).requires_grad_(True)
    reg, scale = 0.5, 1.3
    potentials = None
    if n_iter == 0:
        _, potentials = sinkhorn_divergence_step(source.detach(), target.detach() + 0.2,
                                                 reg=reg, cost_scale=scale)

    def value(s, t):
        return sinkhorn_divergence_step(s, t, reg=reg, n_iter=n_iter, potentials=potentials,
                                        cost_scale=scale)[0]

    assert torch.autograd.gradcheck(value, (source, target), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_stacked_attack_equals_batch_by_batch_attack():
    """Adam is element-wise and batches share nothing: stacking changes nothing."""
    rng = np.random.default_rng(0)
    n = 300
    a, y = rng.integers(0, 2, n), rng.integers(0, 2, n)
    z = torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float64)
    head = torch.nn.Linear(3, 1).double().requires_grad_(False)
    a_t, y_t = torch.as_tensor(a), torch.as_tensor(y)
    signs = covariance_attack_signs(a_t, y_t)

    def loss(logits, aa, yy):
        return covariance_fairness_loss(logits, aa, signs)

    upsampled = balanced_upsampling(2 * a + y, np.random.default_rng(0))
    assert [b.shape for b in attack_batches(upsampled, 32)] == [
        (2, 128), (1, 4 * (upsampled.shape[1] - 64))]
    kwargs = dict(sensitive=a_t, targets=y_t, radius=torch.full((n,), 0.5, dtype=torch.float64),
                  upsampled=upsampled, alpha=1.0, batch_size=32, cost_scale=2.0)
    torch.manual_seed(0)
    rows, stacked = fairness_attack(z, head, loss, **kwargs)
    torch.manual_seed(0)
    # one batch per chunk
    rows_chunked, chunked = fairness_attack(z, head, loss, max_stack=1, **kwargs)
    np.testing.assert_array_equal(rows, rows_chunked)
    torch.testing.assert_close(stacked, chunked)
    # batch k holds rows k·32..(k+1)·32 of every cell
    np.testing.assert_array_equal(rows[:128].reshape(4, 32), upsampled[:, :32])
