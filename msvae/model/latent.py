"""Diagonal Gaussian latents: elementwise KL, sampling, and one level of a top-down ladder.

A level reads the decoder state `d` (what the levels above decided) for its prior
p(z | d) and, when inferring, the encoder feature `h` too for its posterior q(z | h, d),
as in ladder VAEs / NVAE. KL terms are elementwise, in nats.
"""

from __future__ import annotations

import torch
from torch import nn

LOGVAR_LIMIT = 10.0  # clamp on log-variances; keeps exp() finite under bf16


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) per element, nats."""
    return 0.5 * (logvar_p - logvar_q
                  + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0)


def draw(mu: torch.Tensor, logvar: torch.Tensor, sample: bool) -> torch.Tensor:
    """A reparameterised sample when `sample`, else the mean."""
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu


def split(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, 2D, T] conv output -> (mu, clamped logvar), each [B, D, T], in float32."""
    mu, logvar = stats.float().chunk(2, dim=1)
    return mu, logvar.clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)


class LadderLevel(nn.Module):
    """One latent level: prior from d, posterior from (h, d), z added back into d."""

    def __init__(self, channels: int, latent_dim: int):
        super().__init__()
        self.prior = nn.Conv1d(channels, 2 * latent_dim, 3, padding=1)
        self.posterior = nn.Conv1d(2 * channels, 2 * latent_dim, 3, padding=1)
        self.inject = nn.Conv1d(latent_dim, channels, 1)
        nn.init.zeros_(self.prior.weight)  # start from a standard normal prior
        nn.init.zeros_(self.prior.bias)

    def forward(self, d: torch.Tensor, h: torch.Tensor | None, sample: bool,
                z: torch.Tensor | None = None):
        """-> (new d, elementwise KL or None, posterior mean or None); h None samples the
        prior, or takes `z` when given (a latent prior's draw)."""
        if z is not None:
            return d + self.inject(z), None, None
        mu_p, logvar_p = split(self.prior(d))
        if h is None:
            z, kl, mu = draw(mu_p, logvar_p, True), None, None
        else:
            mu, logvar = split(self.posterior(torch.cat([h, d], dim=1)))
            z, kl = draw(mu, logvar, sample), gaussian_kl(mu, logvar, mu_p, logvar_p)
        return d + self.inject(z), kl, mu
