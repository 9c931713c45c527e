"""Exact inverse and log-determinant of the vector Glow flow (skfairlatent.nn.flows).

Every layer's ``log_det`` is checked against ``log|det|`` of the Jacobian that
torch's autograd computes row by row, in float64, after training-like random
perturbation of the parameters (so that the zero-initialised couplings are
not the identity).
"""

import pickle

import numpy as np
import pytest
import torch

from skfairlatent.nn.flows import (
    ActNorm,
    AffineCoupling,
    InvertibleLinear,
    VectorFlow,
    standard_normal_logprob,
    standard_normal_nll,
)


def _perturb(module, scale=0.3, seed=0):
    """Give every parameter a random value so no layer is the identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def _autograd_logdet(fn, x):
    """log|det J| of ``fn`` at each row of ``x`` (fn maps (1, d) -> (1, d))."""
    out = []
    for row in x:
        jac = torch.autograd.functional.jacobian(lambda r: fn(r[None])[0], row)
        out.append(torch.linalg.slogdet(jac).logabsdet)
    return torch.stack(out)


def _build(kind, d):
    torch.manual_seed(0)
    if kind == "actnorm":
        layer = ActNorm(d)
    elif kind == "linear":
        layer = InvertibleLinear(d)
    elif kind == "coupling":
        layer = AffineCoupling(d, hidden_size=8)
    else:
        layer = VectorFlow(d, n_blocks=3, hidden_size=8)
    return layer.double()


@pytest.mark.parametrize("kind", ["actnorm", "linear", "coupling", "flow"])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_log_det_matches_autograd_jacobian_and_inverse_is_exact(kind, d):
    layer = _build(kind, d)
    x = torch.randn(6, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    layer(3.0 * x + 1.0)  # data-dependent ActNorm init on a different batch
    _perturb(layer)

    y, log_det = layer(x)
    assert y.shape == x.shape and log_det.shape == (6,)
    expected = _autograd_logdet(lambda r: layer(r)[0], x)
    torch.testing.assert_close(log_det, expected, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(layer.inverse(y), x, rtol=1e-9, atol=1e-9)


def test_actnorm_data_dependent_init_standardises_first_batch():
    x = 5.0 + 3.0 * torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    x[:, 3] = 7.0  # a constant feature gets scale 1, not 1/eps
    layer = ActNorm(4)
    y, _ = layer(x)
    torch.testing.assert_close(y[:, :3].mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y[:, :3].std(0, unbiased=False), torch.ones(3), atol=1e-5,
                               rtol=0)
    assert torch.all(y[:, 3] == 0) and layer.log_scale[3] == 0
    before = layer.loc.detach().clone()
    layer(x + 100.0)  # second batch: no re-initialisation
    torch.testing.assert_close(layer.loc.detach(), before)
    assert bool(ActNorm(4, data_init=False).initialized)


def test_coupling_and_linear_start_as_identity_and_rotation():
    torch.manual_seed(0)
    x = torch.randn(10, 5)
    y, log_det = AffineCoupling(5)(x)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(log_det, torch.zeros(10))
    lin = InvertibleLinear(5)
    w = lin.weight()
    torch.testing.assert_close(w @ w.T, torch.eye(5), atol=1e-5, rtol=0)
    assert abs(float(lin.log_s.detach().sum())) < 1e-5


def test_coupling_scale_is_bounded():
    layer = AffineCoupling(4, hidden_size=8, max_log_scale=1.5)
    with torch.no_grad():
        layer.conditioner.layers[-1].bias.fill_(1e3)
    _, log_det = layer(torch.randn(3, 4))
    torch.testing.assert_close(log_det, torch.full((3,), 2 * 1.5), atol=1e-4, rtol=0)


def test_float32_round_trip_after_training_step():
    torch.manual_seed(0)
    x = torch.randn(256, 7) @ torch.randn(7, 7) + 2.0
    flow = VectorFlow(7)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(30):
        z, log_det = flow(x)
        loss = standard_normal_nll(z, log_det)
        opt.zero_grad()
        loss.backward()
        opt.step()
    z, log_det = flow(x)
    assert torch.isfinite(standard_normal_nll(z, log_det))
    torch.testing.assert_close(flow.inverse(z), x, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_training_lowers_nll_and_gaussianises():
    torch.manual_seed(0)
    # a skewed, correlated 3-d distribution
    base = torch.randn(1024, 3)
    x = torch.stack([base[:, 0], base[:, 0] ** 2 + 0.3 * base[:, 1],
                     torch.exp(0.5 * base[:, 2])], 1)
    flow = VectorFlow(3, n_blocks=4, hidden_size=32)
    flow(x)
    nll_start = standard_normal_nll(*flow(x)).item()
    opt = torch.optim.Adam(flow.parameters(), lr=5e-3)
    for _ in range(200):
        loss = standard_normal_nll(*flow(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z, log_det = flow(x)
    assert standard_normal_nll(z, log_det).item() < nll_start - 0.5
    cov = torch.cov(z.T)
    assert torch.allclose(cov, torch.eye(3), atol=0.25)


def test_nll_helpers():
    z = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    log_det = torch.tensor([0.5, -1.0])
    lp = standard_normal_logprob(z)
    torch.testing.assert_close(lp, torch.tensor([-np.log(2 * np.pi), -2.5 - np.log(2 * np.pi)],
                                                dtype=torch.float32))
    torch.testing.assert_close(standard_normal_nll(z, log_det, reduction="none"), -(lp + log_det))
    torch.testing.assert_close(standard_normal_nll(z, log_det), (-(lp + log_det)).mean())
    torch.testing.assert_close(standard_normal_nll(z, log_det, reduction="sum"),
                               (-(lp + log_det)).sum())
    with pytest.raises(ValueError, match="reduction"):
        standard_normal_nll(z, log_det, reduction="max")
    flow = VectorFlow(2, n_blocks=1)
    torch.testing.assert_close(flow.log_prob(z), standard_normal_logprob(flow(z)[0]) + flow(z)[1])


def test_bad_shapes_and_arguments():
    flow = VectorFlow(3, n_blocks=1)
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        flow(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        flow.inverse(torch.randn(4))
    with pytest.raises(ValueError, match="n_features"):
        VectorFlow(0)
    with pytest.raises(ValueError, match="n_blocks"):
        VectorFlow(2, n_blocks=0)


def test_pickle_keeps_actnorm_state():
    torch.manual_seed(0)
    flow = VectorFlow(4, n_blocks=2, hidden_size=8)
    x = 3 + torch.randn(20, 4)
    z, _ = flow(x)
    clone = pickle.loads(pickle.dumps(flow))
    assert all(bool(m.initialized) for m in clone.modules() if isinstance(m, ActNorm))
    torch.testing.assert_close(clone(x)[0], z)
    torch.testing.assert_close(clone.inverse(z), x, atol=1e-5, rtol=1e-5)
