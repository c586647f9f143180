"""One optimisation step without Ray: forward, loss, backward, clipping, update.

The Ray worker loop calls it on every rank and unit tests call it on a plain model. A
non-finite loss raises NonFiniteLoss before any gradient is applied; in DDP the check
(`all_finite`) agrees across ranks, so every rank stops at the same step.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch

from msvae.config import Config
from msvae.errors import MsvaeError
from msvae.model.objective import loss as elbo_loss


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


def finite(loss: torch.Tensor) -> bool:
    """True when this process's loss is finite (the single-process check)."""
    return bool(torch.isfinite(loss).item())


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict,
               step: int, cfg: Config,
               all_finite: Callable[[torch.Tensor], bool] = finite) -> dict[str, float]:
    """One update on `batch` ({"x": [B, S, M, T] dB, "mask": [B, S]}) at `step` (0-based,
    for the beta schedule); returns the loss parts as floats (nats per window, dB).

    Gradients are clipped to `train.grad_clip` (0: off) and their norm reported.
    """
    model.train()
    with autocast(batch["x"].device):
        out = model(batch["x"], batch["mask"])
        loss, parts = elbo_loss(out, batch["x"].float(), batch["mask"], step, cfg)
    if not all_finite(loss):
        raise NonFiniteLoss(f"non-finite loss at step {step} "
                            f"(recon={parts.get('recon', math.nan):.4g}, "
                            f"kl={parts.get('kl', math.nan):.4g}); lower train.lr or "
                            "raise train.grad_clip")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.train.grad_clip > 0:
        parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                                  cfg.train.grad_clip))
    optimizer.step()
    return parts
