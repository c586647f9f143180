"""The three models behind one interface; `build_model(cfg)` picks by `cfg.model.kind`.
Their training objective (the reshaped ELBO) is `msvae.model.objective`.

Every model maps (x [B, S, M, T] dB, mask [B, S] bool) to a `ModelOutput` (recon in dB,
per-level elementwise KL and posterior means) and has `generate(n, frames, cond_x,
cond_mask)`. `vae` and `single` get the width that brings their parameter count closest
to `msvae`'s at the same config, so the three compare at equal size.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import nn

from msvae.config import Config
from msvae.model.base import ModelOutput, output_slots
from msvae.model.hierarchical import LadderVAE
from msvae.model.vae import ConvVAE

__all__ = ["ModelOutput", "build_model", "count_parameters", "matched_width", "output_slots"]


def count_parameters(model: nn.Module) -> int:
    """The autoencoder's parameters; a latent prior's (a generator of its own, fitted after
    it on its latents) are not counted, so model sizes compare as before."""
    return sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith("latent_prior."))


def _size(cfg: Config, kind: str, channels: int) -> int:
    """Parameters of a model of `kind` at `channels` width."""
    kind_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, kind=kind))
    return count_parameters(ConvVAE(kind_cfg, channels) if kind == "vae"
                            else LadderVAE(kind_cfg, channels))


def matched_width(cfg: Config, kind: str) -> int:
    """Channels (a multiple of heads) giving `kind` the parameter count nearest `msvae`'s.

    A model's count is exactly quadratic in its width, so three tiny builds fix the
    quadratic and its root gives the width; the nearest multiples of heads are compared.
    """
    target, step = _size(cfg, "msvae", cfg.model.channels), cfg.model.heads
    widths = [step, 2 * step, 3 * step]
    a, b, c = np.polyfit(widths, [_size(cfg, kind, w) for w in widths], 2)
    root = (-b + np.sqrt(b * b - 4 * a * (c - target))) / (2 * a)
    candidates = [max(step, int(root // step) * step), (int(root // step) + 1) * step]

    def size(width: int) -> float:
        return a * width * width + b * width + c

    return min(candidates, key=lambda width: abs(size(width) - target))


def build_model(cfg: Config) -> nn.Module:
    """The model `cfg.model.kind` names, on CPU, freshly initialised."""
    if cfg.model.kind == "vae":
        return ConvVAE(cfg, matched_width(cfg, "vae"))
    if cfg.model.kind == "single":
        return LadderVAE(cfg, matched_width(cfg, "single"))
    return LadderVAE(cfg, cfg.model.channels)
