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
from msvae.model.blocks import down, full_precision, up
from msvae.model.latent import draw, gaussian_kl, split


def _stage(channels: int, resample: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(channels, channels, 3, padding=1), nn.SiLU(),
                         resample, nn.SiLU())


class ConvVAE(AudioVAE):
    """Plain conv VAE over the mix at `channels` width: one latent level at the coarsest
    time scale."""

    def __init__(self, cfg: Config, channels: int):
        super().__init__(cfg)
        m, c, d = cfg.data.n_mels, channels, cfg.model.latent_dim
        self.stride, self.latent_dim = 2 ** cfg.model.levels, d
        self.encoder = nn.Sequential(
            nn.Conv1d(m, c, 3, padding=1), nn.SiLU(),
            *(_stage(c, down(c)) for _ in range(cfg.model.levels)),
            nn.Conv1d(c, 2 * d, 3, padding=1))
        self.decoder = nn.Sequential(
            nn.Conv1d(d, c, 3, padding=1), nn.SiLU(),
            *(_stage(c, up(c)) for _ in range(cfg.model.levels)))
        self.head = nn.Conv1d(c, m, 3, padding=1)

    def encode_decode(self, u, seen, sample):
        mu, logvar = split(self.encoder(u[:, 0]))
        kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
        return self._decode(draw(mu, logvar, sample)), [kl], [mu]

    def prior(self, n, frames):
        steps = -(-frames // self.stride)
        return self._decode(torch.randn(n, self.latent_dim, steps, device=self.device))

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B, D, T'] latents -> [B, 1, M, T] units, the head in float32."""
        return full_precision(self.head, self.decoder(z))[:, None]
