"""Conditional variational autoencoders q(z | x, s), p(x | z, s) (plain torch).

Used by :class:`skfairlatent.FairLatentVAE`, stage 1 of FLDGM
(Ramachandranpillai, Sikder, Heintz, "Fair Latent Deep Generative Models
(FLDGMs) for Syntax-Agnostic and Fair Synthetic Data Generation", ECAI 2023;
section 4.1, Eq. 7): a
Gaussian posterior N(mu, diag(exp(logvar))) with a standard normal prior,
the sensitive attribute s (integer codes, one-hot encoded inside) given to
the encoder (optional) and to the decoder.

* :class:`TabularVAE` -- mixed tabular rows: one softmax block per
  categorical column, one Gaussian mean per (standardised) numeric column,
  and an optional target head p(y | z) that does *not* see s (or, as an
  ablation, p(y | z, s)).
* :class:`ConvVAE` -- small images (C, H, W) with H and W divisible by 4,
  Bernoulli/sigmoid pixels in [0, 1].

Both modules return the same tuple from ``forward(x, s)``:
``(mean, logvar, z, outputs)`` where ``outputs`` is what the decoder
produced from the reparametrised sample z (a dict for tabular rows, a pixel
tensor for images). :class:`VAELoss` turns that tuple into the loss.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .losses import (
    _pairwise_distances_safe,
    distance_correlation_sq,
    fairdisco_v2,
    soft_demographic_parity_gap,
)
from .modules import MLP

__all__ = ["TabularVAE", "ConvVAE", "VAELoss", "reparametrise",
           "bias_corrected_distance_correlation_sq"]


def _u_centre(d):
    """U-centred distance matrix (Székely and Rizzo 2014, Def. 1): zero diagonal."""
    n = d.shape[0]
    u = (d - d.sum(0, keepdim=True) / (n - 2) - d.sum(1, keepdim=True) / (n - 2)
         + d.sum() / ((n - 1) * (n - 2)))
    return u - torch.diag_embed(torch.diagonal(u))


def bias_corrected_distance_correlation_sq(x, y, eps=1e-12):
    """Bias-corrected squared distance correlation dCor^2_n*(x, y), differentiable.

    Székely and Rizzo, "Partial distance correlation with methods for
    dissimilarities", Annals of Statistics 42(6), 2014 (U-centred distance
    matrices; Székely and Rizzo, J. Multivariate Analysis 117, 2013 for the
    bias correction): with A~ and B~ the U-centred distance matrices of the
    rows, dCov^2_U(x, y) = sum_{i != j} A~_ij B~_ij / (n (n - 3)) is an
    *unbiased* estimator of the population dCov^2, and
    dCor^2* = dCov^2_U(x, y) / sqrt(dCov^2_U(x, x) dCov^2_U(y, y)).
    Equals ``dcor.u_distance_correlation_sqr``.

    Why not the V-statistic (:func:`~skfairlatent.nn.losses.distance_correlation_sq`)
    as a minibatch penalty: for independent x and y its expectation is not
    0 but grows with the effective dimension of x (about 0.037 for an
    8-dimensional Gaussian against a binary s on 128 rows, 0.013 for a
    one-dimensional one), so minimising it also rewards a latent code that
    collapses to few directions. The bias-corrected estimator has mean 0
    under independence whatever the dimension; it can be slightly negative.

    Parameters
    ----------
    x : Tensor of shape (n, d) or (n,), n >= 4
    y : Tensor of shape (n, k) or (n,)
    eps : float, default=1e-12
        Guards the denominator (a constant variable gives 0).

    Returns
    -------
    Tensor of shape ()
    """
    if x.dim() == 1:
        x = x.unsqueeze(1)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y need the same number of rows; got {n} and {y.shape[0]}.")
    if n < 4:
        return x.new_zeros(())
    y = y.to(x.dtype)
    a = _u_centre(_pairwise_distances_safe(x))
    b = _u_centre(_pairwise_distances_safe(y))
    scale = 1.0 / (n * (n - 3))
    xy, xx, yy = (a * b).sum() * scale, (a * a).sum() * scale, (b * b).sum() * scale
    return xy / torch.sqrt(torch.clamp(xx * yy, min=0.0) + eps)


def reparametrise(mean, logvar):
    """z = mean + exp(logvar / 2) * eps, eps ~ N(0, I) from torch's global generator."""
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)


class TabularVAE(nn.Module):
    """Conditional VAE for mixed tabular rows.

    Parameters
    ----------
    in_features : int
        Width of the encoder input ``x`` (one-hot categoricals followed by
        standardised numerics).
    cardinalities : sequence of int
        Number of categories of each categorical column (softmax blocks).
    n_numeric : int
        Number of numeric columns (Gaussian means).
    n_groups : int
        Number of sensitive groups (width of the one-hot s).
    latent_dim : int, default=8
    hidden_layer_sizes : sequence of int, default=(64,)
    condition_encoder : bool, default=True
        Feed s to the encoder (q(z | x, s), the paper's Eq. 7); ``False``
        gives q(z | x).
    target_kind : {None, "categorical", "numeric"}, default=None
        Adds a head p(y | z) from z alone.
    n_target_classes : int, default=0
        Classes of a categorical target.
    condition_target : bool, default=False
        Feed s to the target head too, p(y | z, s) (an ablation: the label
        then depends on s through the head whatever the penalty on z).
    """

    def __init__(self, in_features, cardinalities, n_numeric, n_groups, latent_dim=8,
                 hidden_layer_sizes=(64,), condition_encoder=True, target_kind=None,
                 n_target_classes=0, condition_target=False):
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.n_numeric = int(n_numeric)
        self.n_groups = int(n_groups)
        self.latent_dim = int(latent_dim)
        self.condition_encoder = bool(condition_encoder)
        self.target_kind = target_kind
        self.condition_target = bool(condition_target)
        enc_in = in_features + (self.n_groups if self.condition_encoder else 0)
        self.encoder = MLP(enc_in, hidden_layer_sizes, 2 * self.latent_dim)
        out = sum(self.cardinalities) + self.n_numeric
        self.decoder = MLP(self.latent_dim + self.n_groups, tuple(reversed(hidden_layer_sizes)),
                           out)
        if target_kind is None:
            self.target_head = None
        else:
            width = n_target_classes if target_kind == "categorical" else 1
            head_in = self.latent_dim + (self.n_groups if self.condition_target else 0)
            self.target_head = MLP(head_in, tuple(reversed(hidden_layer_sizes)), width)

    def _one_hot(self, s):
        return F.one_hot(s.long(), self.n_groups).to(torch.get_default_dtype())

    def encode(self, x, s=None):
        """Posterior parameters ``(mean, logvar)``, each of shape (n, latent_dim)."""
        if self.condition_encoder:
            x = torch.cat([x, self._one_hot(s).to(x.dtype)], dim=1)
        h = self.encoder(x)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def decode(self, z, s):
        """Decoder outputs from ``z`` (n, latent_dim) and group codes ``s`` (n,).

        Returns a dict: ``"logits"`` (n, sum(cardinalities)), ``"numeric"``
        (n, n_numeric) and, with a target head, ``"target"`` (n, n_classes or 1).
        """
        zs = torch.cat([z, self._one_hot(s).to(z.dtype)], dim=1)
        h = self.decoder(zs)
        n_cat = sum(self.cardinalities)
        out = {"logits": h[:, :n_cat], "numeric": h[:, n_cat:]}
        if self.target_head is not None:
            out["target"] = self.target_head(zs if self.condition_target else z)
        return out

    def forward(self, x, s):
        mean, logvar = self.encode(x, s)
        z = reparametrise(mean, logvar) if self.training else mean
        return mean, logvar, z, self.decode(z, s)


class ConvVAE(nn.Module):
    """Conditional VAE for small images with pixels in [0, 1].

    Encoder: two stride-2 4x4 convolutions (32 and 64 channels, ReLU) and a
    linear map to (mean, logvar), the flattened features concatenated with
    the one-hot s when ``condition_encoder``. Decoder: a linear map from
    [z, one-hot s] to 64 x H/4 x W/4, then two stride-2 transposed
    convolutions back to C x H x W with a sigmoid (as FairDisCo's image model,
    scaled down to 28 x 28).

    Parameters
    ----------
    image_shape : tuple (C, H, W)
        H and W must be divisible by 4.
    n_groups : int
    latent_dim : int, default=8
    condition_encoder : bool, default=True
    """

    def __init__(self, image_shape, n_groups, latent_dim=8, condition_encoder=True):
        super().__init__()
        c, h, w = (int(v) for v in image_shape)
        if h % 4 or w % 4:
            raise ValueError(f"ConvVAE needs image height and width divisible by 4; got {h}x{w}.")
        self.image_shape = (c, h, w)
        self.n_groups = int(n_groups)
        self.latent_dim = int(latent_dim)
        self.condition_encoder = bool(condition_encoder)
        self.target_head = None
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(),
        )
        flat = 64 * (h // 4) * (w // 4)
        self.to_posterior = nn.Linear(flat + (self.n_groups if self.condition_encoder else 0),
                                      2 * self.latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(self.latent_dim + self.n_groups, flat),
                                         nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, c, 4, 2, 1),
        )

    def _one_hot(self, s, dtype):
        return F.one_hot(s.long(), self.n_groups).to(dtype)

    def encode(self, x, s=None):
        h = self.features(x)
        if self.condition_encoder:
            h = torch.cat([h, self._one_hot(s, h.dtype)], dim=1)
        h = self.to_posterior(h)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def decode(self, z, s):
        """``{"logits": pixel logits of shape (n, C, H, W)}``."""
        c, h, w = self.image_shape
        feat = self.from_latent(torch.cat([z, self._one_hot(s, z.dtype)], dim=1))
        return {"logits": self.deconv(feat.view(-1, 64, h // 4, w // 4))}

    def forward(self, x, s):
        mean, logvar = self.encode(x, s)
        z = reparametrise(mean, logvar) if self.training else mean
        return mean, logvar, z, self.decode(z, s)


class VAELoss(nn.Module):
    """Negative ELBO per element plus a fairness penalty (FLDGM Eq. 8).

    loss = (reconstruction + kl_weight * KL(q(z|x,s) || N(0, I))) / D + alpha * penalty,

    the reconstruction summed over the D reconstructed elements of a row
    (columns of a table, the target included; C * H * W pixels of an image),
    the KL summed over latent dimensions, both averaged over the rows of the
    batch. Dividing the negative ELBO by D does not move its optimum (alpha=0
    trains the same VAE as the summed loss, up to the optimiser's step
    scale); it makes ``alpha`` the weight of the penalty against the
    reconstruction *per element*, so that one ``alpha`` means the same on a
    13-column table and on a 2,352-pixel image. (Summed over pixels, a
    penalty in [0, 1] weighted 5 is negligible beside an image's
    reconstruction of order 10^3.)

    Reconstruction: cross-entropy per categorical column, 0.5 * squared error
    per standardised numeric column (a unit-variance Gaussian up to a
    constant), Bernoulli cross-entropy per pixel for images, and the target
    head's cross-entropy (or 0.5 * squared error) when a target is given.

    Parameters
    ----------
    cardinalities : sequence of int
        Categorical block sizes (empty for images).
    n_groups : int
    penalty : {"dcor", "dcor-biased", "fairdisco"}
        ``"dcor"``: :func:`bias_corrected_distance_correlation_sq` between the
        posterior means and one-hot s on the batch (the distance correlation
        the paper's text names, estimated without the V-statistic's bias).
        ``"dcor-biased"``: the V-statistic
        :func:`~skfairlatent.nn.losses.distance_correlation_sq` (an ablation:
        its bias rewards codes that collapse to few directions).
        ``"fairdisco"``: :func:`~skfairlatent.nn.losses.fairdisco_v2` from
        the posterior means and variances (the authors' code).
    alpha : float
        Weight of the penalty; 0 switches it off.
    kl_weight : float, default=1.0
    image : bool, default=False
    alpha_target : float, default=0.0
        Weight of a second penalty, on the decoded label rather than on z:
        :func:`bias_corrected_distance_correlation_sq` between the target
        head's output (class probabilities, or the value of a numeric
        target) and one-hot s on the batch. Zero in the population exactly
        when the decoded label is independent of s, i.e. demographic parity
        of the label head (the FLDGM paper's DP variants choose the stage-1
        objective by the target constraint, section 4.1; this form is ours).
        0 switches it off.
    target_penalty : {"dcor", "dp", "dp-base-rate"}, default="dcor"
        The label penalty weighted by ``alpha_target``. ``"dcor"``: the
        dCor^2 above (independence of the whole output distribution from
        s). ``"dp"``: :func:`~skfairlatent.nn.losses.soft_demographic_parity_gap`
        of a categorical head's logits at ``target_temperature``, the gap
        between the groups' mean soft decisions: demographic parity of the
        decision itself, a weaker demand than independence.
        ``"dp-base-rate"``: the largest distance of a group's mean soft
        decision from the batch's base rate of the label (parity at the
        data's own positive rate). A numeric target falls back to
        ``"dcor"``.
    target_temperature : float, default=1.0
        Temperature T of the ``"dp"`` and ``"dp-base-rate"`` penalties: 1
        compares mean probabilities, smaller values approach the argmax
        decision.
    """

    def __init__(self, cardinalities, n_groups, penalty="dcor", alpha=1.0, kl_weight=1.0,
                 image=False, alpha_target=0.0, target_penalty="dcor", target_temperature=1.0):
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.n_groups = int(n_groups)
        self.penalty = penalty
        self.alpha = float(alpha)
        self.kl_weight = float(kl_weight)
        self.image = bool(image)
        self.alpha_target = float(alpha_target)
        self.target_penalty = target_penalty
        self.target_temperature = float(target_temperature)

    def reconstruction(self, outputs, x=None, cat=None, num=None, target=None):
        """Per-batch mean reconstruction negative log-likelihood (up to constants)."""
        if self.image:
            bce = F.binary_cross_entropy_with_logits(outputs["logits"], x, reduction="none")
            return bce.flatten(1).sum(1).mean()
        loss = outputs["logits"].new_zeros(())
        left = 0
        for j, size in enumerate(self.cardinalities):
            loss = loss + F.cross_entropy(outputs["logits"][:, left:left + size], cat[:, j].long())
            left += size
        if num is not None and num.shape[1] > 0:
            loss = loss + 0.5 * ((outputs["numeric"] - num) ** 2).sum(1).mean()
        if target is not None and "target" in outputs:
            if target.dtype in (torch.int64, torch.int32):
                loss = loss + F.cross_entropy(outputs["target"], target.long())
            else:
                loss = loss + 0.5 * ((outputs["target"][:, 0] - target) ** 2).mean()
        return loss

    def fairness_penalty(self, mean, logvar, z, s):
        if self.penalty in ("dcor", "dcor-biased"):
            # On the posterior means, not on the reparametrised draws: on the
            # draws the encoder can shrink dCor^2 by inflating the noise while
            # the means (what ``transform`` returns) still carry s.
            dcor = (bias_corrected_distance_correlation_sq if self.penalty == "dcor"
                    else distance_correlation_sq)
            return dcor(mean, F.one_hot(s.long(), self.n_groups).to(mean.dtype))
        return fairdisco_v2(mean, torch.exp(logvar), s.long(), self.n_groups)

    def label_penalty(self, outputs, s, target=None):
        """Dependence of the decoded label on s (0 without a target head)."""
        if "target" not in outputs:
            return outputs["logits"].new_zeros(())
        label = outputs["target"]
        if self.target_penalty == "dp" and label.shape[1] > 1:
            return soft_demographic_parity_gap(label, s, self.n_groups, self.target_temperature)
        if self.target_penalty == "dp-base-rate" and label.shape[1] > 1 and target is not None:
            base_rate = F.one_hot(target.long(), label.shape[1]).to(label.dtype).mean(0)
            return soft_demographic_parity_gap(label, s, self.n_groups, self.target_temperature,
                                               reference=base_rate)
        if label.shape[1] > 1:
            label = torch.softmax(label, dim=1)
        return bias_corrected_distance_correlation_sq(
            label, F.one_hot(s.long(), self.n_groups).to(label.dtype))

    def n_elements(self, x=None, num=None, target=None):
        """D, the number of reconstructed elements per row."""
        if self.image:
            return x[0].numel()
        n_num = num.shape[1] if num is not None else 0
        return max(len(self.cardinalities) + n_num + (target is not None), 1)

    def forward(self, y_pred, y_true=None, s=None, x=None, cat=None, num=None, target=None):
        mean, logvar, z, outputs = y_pred
        kl = -0.5 * (1 + logvar - mean ** 2 - torch.exp(logvar)).sum(1).mean()
        loss = self.reconstruction(outputs, x=x, cat=cat, num=num, target=target)
        loss = (loss + self.kl_weight * kl) / self.n_elements(x=x, num=num, target=target)
        if self.alpha > 0 and s is not None:
            loss = loss + self.alpha * self.fairness_penalty(mean, logvar, z, s)
        if self.alpha_target > 0 and s is not None:
            loss = loss + self.alpha_target * self.label_penalty(outputs, s, target)
        return loss
