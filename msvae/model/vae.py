"""`vae`: the traditional baseline, a plain convolutional VAE on the mix.

Conv + SiLU stages halve the frame rate `levels` times down to one Gaussian latent
[B, latent_dim, T / 2^levels] under a standard normal prior; a mirrored stack decodes.
No residuals, norms or attention: the plain model the paper compares against.
"""

from __future__ import annotations

import torch
from torch import nn

from msvae.config import Config
from msvae.model.base import AudioVAE
from msvae.model.blocks import down, up
from msvae.model.latent import draw, gaussian_kl, split


def _stage(channels: int, resample: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(channels, channels, 3, padding=1), nn.SiLU(),
                         resample, nn.SiLU())


class ConvVAE(AudioVAE):
    """Plain conv VAE over the mix: one latent level at the coarsest time scale."""

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        m, c, d = cfg.data.n_mels, cfg.model.channels, cfg.model.latent_dim
        self.stride, self.latent_dim = 2 ** cfg.model.levels, d
        self.encoder = nn.Sequential(
            nn.Conv1d(m, c, 3, padding=1), nn.SiLU(),
            *(_stage(c, down(c)) for _ in range(cfg.model.levels)),
            nn.Conv1d(c, 2 * d, 3, padding=1))
        self.decoder = nn.Sequential(
            nn.Conv1d(d, c, 3, padding=1), nn.SiLU(),
            *(_stage(c, up(c)) for _ in range(cfg.model.levels)),
            nn.Conv1d(c, m, 3, padding=1))

    def encode_decode(self, u, seen, sample):
        mu, logvar = split(self.encoder(u[:, 0]))
        kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
        return self.decoder(draw(mu, logvar, sample))[:, None], [kl], [mu]

    def prior(self, n, frames):
        steps = -(-frames // self.stride)
        z = torch.randn(n, self.latent_dim, steps, device=self.device)
        return self.decoder(z)[:, None]
