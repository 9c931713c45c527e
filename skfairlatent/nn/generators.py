"""Generative models on vectors (plain torch): DDPM, WGAN-GP, LSGAN.

FLDGM stage 2 (Ramachandranpillai, Sikder, Heintz, "Fair Latent Deep Generative
Models (FLDGMs) for Syntax-Agnostic and Fair Synthetic Data Generation", ECAI
2023, section 4.2)
trains one of these on the (standardised) fair latent codes.

* :class:`VectorDDPM` -- denoising diffusion (Ho et al., 2020; paper Eq. 5-6)
  with an MLP denoiser and a sinusoidal time embedding; epsilon- or
  v-prediction (Salimans and Ho, 2022), linear or cosine (Nichol and
  Dhariwal, 2021) noise schedule, ancestral sampling with the posterior
  variance beta-tilde. ``forward(x0)`` draws t and the noise and returns
  ``(prediction, regression_target)``, so that the training loss is a plain
  mean squared error (:class:`DiffusionLoss`). Each reverse step goes
  through the predicted x_0, optionally clipped to ``[-clip_x0, clip_x0]``
  (the authors' code clips to [-1, 1], the range of their normalised
  latents; ours are standardised, so the synthesizer passes the range of its
  training latents).
* :class:`GAN` -- an MLP generator G(xi), xi ~ N(0, I), and an MLP critic
  D(x), with the losses :func:`wgan_gp_critic_loss` (Gulrajani et al., 2017;
  paper Eq. 4), :func:`wgan_generator_loss`, :func:`lsgan_discriminator_loss`
  and :func:`lsgan_generator_loss` (Mao et al., 2017; paper Eq. 2-3 with
  a = 0, b = c = 1).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "timestep_embedding",
    "noise_schedule",
    "Denoiser",
    "VectorDDPM",
    "DiffusionLoss",
    "GAN",
    "wgan_gp_critic_loss",
    "wgan_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
]


# --------------------------------------------------------------------------- #
# DDPM
# --------------------------------------------------------------------------- #
def timestep_embedding(t, dim, max_period=10000.0):
    """Sinusoidal embedding of integer time steps ``t`` (n,) -> (n, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                           device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


def noise_schedule(timesteps, kind="cosine"):
    """Variances beta_1..beta_T (float64 tensor of shape (T,)).

    ``"linear"``: Ho et al. (2020), 1e-4 to 0.02 rescaled by 1000 / T.
    ``"cosine"``: Nichol and Dhariwal (2021), s = 0.008, betas clipped at 0.999.
    """
    if kind == "linear":
        scale = 1000.0 / timesteps
        return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        steps = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
        alphas_bar = torch.cos((steps / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        alphas_bar = alphas_bar / alphas_bar[0]
        return torch.clip(1 - alphas_bar[1:] / alphas_bar[:-1], 0, 0.999)
    raise ValueError(f"schedule must be 'linear' or 'cosine'; got {kind!r}.")


class Denoiser(nn.Module):
    """MLP denoiser f(x_t, t): [x_t, MLP(embedding(t))] -> SiLU MLP -> (n, dim)."""

    def __init__(self, dim, hidden_layer_sizes=(256, 256), time_dim=64):
        super().__init__()
        self.time_dim = int(time_dim)
        self.time_mlp = nn.Sequential(nn.Linear(self.time_dim, self.time_dim), nn.SiLU(),
                                      nn.Linear(self.time_dim, self.time_dim))
        layers, width = [], dim + self.time_dim
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.SiLU()]
            width = size
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x, t):
        return self.net(torch.cat([x, self.time_mlp(timestep_embedding(t, self.time_dim))], dim=1))


class VectorDDPM(nn.Module):
    """Denoising diffusion probabilistic model on vectors of width ``dim``.

    Forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (paper
    Eq. 5); the reverse process (Eq. 6) has the mean given by the predicted
    noise and the fixed variance beta-tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t.

    Parameters
    ----------
    dim : int
    hidden_layer_sizes : sequence of int, default=(256, 256)
    timesteps : int, default=1000
    schedule : {"cosine", "linear"}, default="cosine"
    prediction : {"eps", "v"}, default="eps"
        What the network regresses: the noise eps, or
        v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (Salimans and Ho, 2022).
    clip_x0 : float or None, default=None
        Sampling: clip the predicted x_0 of every reverse step to
        [-clip_x0, clip_x0] before forming the posterior mean (Ho et al.'s
        ``clip_denoised``). Without it an eps-model amplifies its error by
        1 / sqrt(alpha_t) at the first steps of a cosine schedule (about 32
        where beta_t is clipped at 0.999): the samples of an imperfect model
        can explode (standard deviations of 50-200 were measured on
        standardised Adult latents).
    """

    def __init__(self, dim, hidden_layer_sizes=(256, 256), timesteps=1000, schedule="cosine",
                 prediction="eps", clip_x0=None):
        super().__init__()
        if prediction not in ("eps", "v"):
            raise ValueError(f"prediction must be 'eps' or 'v'; got {prediction!r}.")
        if clip_x0 is not None and not clip_x0 > 0:
            raise ValueError(f"clip_x0 must be None or positive; got {clip_x0!r}.")
        self.dim = int(dim)
        self.timesteps = int(timesteps)
        self.prediction = prediction
        self.clip_x0 = None if clip_x0 is None else float(clip_x0)
        self.denoiser = Denoiser(self.dim, hidden_layer_sizes)
        betas = noise_schedule(self.timesteps, schedule)
        alphas_bar = torch.cumprod(1 - betas, dim=0)
        alphas_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_bar[:-1]])
        for name, value in {
            "betas": betas,
            "alphas_bar": alphas_bar,
            "sqrt_alphas_bar": alphas_bar.sqrt(),
            "sqrt_one_minus_alphas_bar": (1 - alphas_bar).sqrt(),
            "posterior_variance": betas * (1 - alphas_bar_prev) / (1 - alphas_bar),
            "sqrt_recip_alphas_bar": alphas_bar.rsqrt(),
            "sqrt_recipm1_alphas_bar": (1 / alphas_bar - 1).sqrt(),
            # q(x_{t-1} | x_t, x_0) = N(coef1 x_0 + coef2 x_t, beta-tilde_t) (Ho et al., Eq. 7)
            "posterior_coef1": betas * alphas_bar_prev.sqrt() / (1 - alphas_bar),
            "posterior_coef2": (1 - alphas_bar_prev) * (1 - betas).sqrt() / (1 - alphas_bar),
        }.items():
            self.register_buffer(name, value.float())

    def _at(self, name, t):
        return getattr(self, name)[t][:, None]

    def forward(self, x0):
        """Training pair ``(prediction, target)`` for a batch of clean vectors ``x0``."""
        t = torch.randint(0, self.timesteps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        xt = self._at("sqrt_alphas_bar", t) * x0 + self._at("sqrt_one_minus_alphas_bar", t) * noise
        if self.prediction == "eps":
            target = noise
        else:
            target = (self._at("sqrt_alphas_bar", t) * noise
                      - self._at("sqrt_one_minus_alphas_bar", t) * x0)
        return self.denoiser(xt, t), target

    def predict_eps(self, xt, t):
        """Predicted noise; for v-prediction eps = sqrt(abar) v + sqrt(1 - abar) x_t."""
        out = self.denoiser(xt, t)
        if self.prediction == "eps":
            return out
        return self._at("sqrt_alphas_bar", t) * out + self._at("sqrt_one_minus_alphas_bar", t) * xt

    def predict_x0(self, xt, t):
        """Predicted clean vector x_0 from x_t (eps- or v-parametrisation)."""
        out = self.denoiser(xt, t)
        if self.prediction == "v":
            return (self._at("sqrt_alphas_bar", t) * xt
                    - self._at("sqrt_one_minus_alphas_bar", t) * out)
        return (self._at("sqrt_recip_alphas_bar", t) * xt
                - self._at("sqrt_recipm1_alphas_bar", t) * out)

    @torch.no_grad()
    def sample(self, n_samples, generator=None, batch_size=65536):
        """Draw ``n_samples`` vectors by ancestral sampling, shape (n_samples, dim).

        ``generator``: a :class:`torch.Generator` on the module's device for
        reproducible draws (torch's global generator when None).
        """
        device = self.betas.device
        chunks = []
        for start in range(0, n_samples, batch_size):
            n = min(batch_size, n_samples - start)
            x = torch.randn(n, self.dim, generator=generator, device=device)
            for step in reversed(range(self.timesteps)):
                t = torch.full((n,), step, dtype=torch.long, device=device)
                x0 = self.predict_x0(x, t)
                if self.clip_x0 is not None:
                    x0 = x0.clamp(-self.clip_x0, self.clip_x0)
                # without clipping this is (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t),
                # Ho et al.'s Eq. 11
                mean = self._at("posterior_coef1", t) * x0 + self._at("posterior_coef2", t) * x
                if step > 0:
                    noise = torch.randn(n, self.dim, generator=generator, device=device)
                    x = mean + self._at("posterior_variance", t).sqrt() * noise
                else:
                    x = mean
            chunks.append(x)
        return torch.cat(chunks) if chunks else torch.zeros(0, self.dim, device=device)


class DiffusionLoss(nn.Module):
    """Mean squared error between the two tensors :meth:`VectorDDPM.forward` returns."""

    def forward(self, y_pred, y_true=None):
        prediction, target = y_pred
        return F.mse_loss(prediction, target)


# --------------------------------------------------------------------------- #
# GANs
# --------------------------------------------------------------------------- #
def _mlp(in_dim, hidden, out_dim, activation, batch_norm=False):
    layers, width = [], in_dim
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(activation())
        width = size
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class _LeakyReLU(nn.LeakyReLU):
    def __init__(self):
        super().__init__(0.2)


class GAN(nn.Module):
    """Generator and critic MLPs for vectors of width ``dim``.

    Generator: xi ~ N(0, I_noise_dim) -> Linear/ReLU layers -> (n, dim), no
    output activation (the latents are standardised, unbounded). Critic:
    Linear/LeakyReLU(0.2) layers -> one score, no batch normalisation (the
    gradient penalty is per sample).

    ``forward(x_real)`` returns ``x_real`` unchanged: the adversarial updates
    are done by the training loop, not by a single forward pass.
    """

    def __init__(self, dim, noise_dim=None, hidden_layer_sizes=(256, 256)):
        super().__init__()
        self.dim = int(dim)
        self.noise_dim = int(noise_dim or dim)
        self.generator = _mlp(self.noise_dim, hidden_layer_sizes, self.dim, nn.ReLU)
        self.critic = _mlp(self.dim, hidden_layer_sizes, 1, _LeakyReLU)

    def noise(self, n, generator=None, device=None):
        device = device or next(self.parameters()).device
        return torch.randn(n, self.noise_dim, generator=generator, device=device)

    def forward(self, x):
        return x

    def predict_x0(self, xt, t):
        """Predicted clean vector x_0 from x_t (eps- or v-parametrisation)."""
        out = self.denoiser(xt, t)
        if self.prediction == "v":
            return (self._at("sqrt_alphas_bar", t) * xt
                    - self._at("sqrt_one_minus_alphas_bar", t) * out)
        return (self._at("sqrt_recip_alphas_bar", t) * xt
                - self._at("sqrt_recipm1_alphas_bar", t) * out)

    @torch.no_grad()
    def sample(self, n_samples, generator=None, batch_size=65536):
        """Draw ``n_samples`` vectors G(xi), shape (n_samples, dim)."""
        out = [self.generator(self.noise(min(batch_size, n_samples - s), generator))
               for s in range(0, n_samples, batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.dim)


def gradient_penalty(critic, real, fake):
    """E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = u real + (1 - u) fake, u ~ U[0, 1] per row."""
    u = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    x_hat = (u * real + (1 - u) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def wgan_gp_critic_loss(critic, real, fake, gp_weight=10.0):
    """WGAN-GP critic loss, paper Eq. 4: E[D(fake)] - E[D(real)] + lambda * GP."""
    return (critic(fake).mean() - critic(real).mean()
            + gp_weight * gradient_penalty(critic, real, fake))


def wgan_generator_loss(critic, fake):
    """-E[D(G(xi))]."""
    return -critic(fake).mean()


def lsgan_discriminator_loss(critic, real, fake, a=0.0, b=1.0):
    """LSGAN discriminator loss (Mao et al., 2017, Eq. 2 of the FLDGM paper).

    1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(xi)) - a)^2], per-sample squared errors
    averaged over the batch. (The paper prints a minus sign before the first
    term; Mao et al.'s objective, minimised here, has a plus.)
    """
    return 0.5 * ((critic(real) - b) ** 2).mean() + 0.5 * ((critic(fake) - a) ** 2).mean()


def lsgan_generator_loss(critic, fake, c=1.0):
    """LSGAN generator loss, Eq. 3: 1/2 E[(D(G(xi)) - c)^2]."""
    return 0.5 * ((critic(fake) - c) ** 2).mean()
