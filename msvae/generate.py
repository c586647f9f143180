"""Fill in audio with a trained model: reconstruct what is given, generate what is not.

One rule serves the MLflow model, `msvae generate` and the demo: with every slot the
model reads present it reconstructs; with none it samples the prior; with some it
generates the rest conditioned on them.
"""

from __future__ import annotations

import torch

from msvae.config import Config


def input_slots(cfg: Config) -> list[int]:
    """Source slots the model reads: the mix alone for `vae`/`single`, all for `msvae`."""
    if cfg.model.kind == "msvae":
        return list(range(len(cfg.data.sources)))
    return [cfg.data.sources.index("mix")]


@torch.no_grad()
def complete(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, cfg: Config,
             seed: int = 0) -> torch.Tensor:
    """[n, S, M, T] dB and [n, S] presence -> [n, S, M, T] dB with every slot filled."""
    torch.manual_seed(seed)
    model.eval()
    given = mask[:, input_slots(cfg)]
    n, frames = x.shape[0], x.shape[-1]
    if bool(given.all()):
        return model(x, mask).recon
    if not bool(given.any()):
        return model.generate(n, frames)
    return model.generate(n, frames, cond_x=x, cond_mask=mask)
