"""One optimisation step without Ray: forward, loss, backward, clipping, update.

The Ray worker loop calls it on every rank and unit tests call it on a plain model. A
non-finite loss raises NonFiniteLoss before any gradient is applied. The check reads the
gradient norm, which DDP has already all-reduced, so every rank takes the same decision
without a collective of its own; that read is the step's one host synchronisation (the
loss parts come back as tensors, read only when logged).
"""

from __future__ import annotations

import contextlib
import math

import torch

from msvae.config import Config
from msvae.errors import MsvaeError
from msvae.model.objective import loss as elbo_loss
from msvae.train.remix import remix, remix_generator


class NonFiniteLoss(MsvaeError):
    """The loss was NaN or infinite; the message says where and what to change."""


def autocast(device: torch.device):
    """bf16 autocast on GPU; full precision on CPU (bf16 there is slower, not faster)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def optimizer_for(model: torch.nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """The one optimiser every training path uses: AdamW at train.lr."""
    return torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict,
               step: int, cfg: Config, rank: int = 0) -> dict[str, torch.Tensor]:
    """One update on `batch` ({"x": [B, S, M, T] dB, "mask": [B, S]}) at `step` (0-based,
    for the beta schedule); returns the loss parts and the gradient norm (before clipping)
    as detached 0-d tensors (nats per window, dB).

    With train.remix_share > 0 a share of the rows are first remixed (msvae.train.remix),
    the draws seeded from (train.seed, step, `rank`: the worker's, 0 without Ray).
    Gradients are clipped to `train.grad_clip` (0: off).
    """
    t = cfg.train
    if t.remix_share > 0:
        batch = remix(batch, t.remix_share, t.remix_gain_db, cfg.data.sources.index("mix"),
                      remix_generator(t.seed, step, rank, batch["x"].device))
    model.train()
    with autocast(batch["x"].device):
        out = model(batch["x"], batch["mask"])
        loss, parts = elbo_loss(out, batch["x"].float(), batch["mask"], step, cfg)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip or math.inf)
    if not bool(torch.isfinite(norm)):
        what = "loss" if not bool(torch.isfinite(loss)) else "gradient"
        raise NonFiniteLoss(f"non-finite {what} at step {step} "
                            f"(recon={float(parts['recon']):.4g}, kl={float(parts['kl']):.4g});"
                            " lower train.lr or raise train.grad_clip")
    parts["grad_norm"] = norm.detach()
    optimizer.step()
    return parts
