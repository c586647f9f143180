"""Training in this process, without Ray: the same step (msvae.train.step) the Ray workers
run, on in-memory windows, with the global batch train.batch_size x train.workers.

For tests, benchmarks and ablations; `msvae train` always goes through Ray Train.
"""

from __future__ import annotations

import numpy as np
import torch

from msvae.config import Config
from msvae.model import build_model
from msvae.train.checkpoint import seed_everything
from msvae.train.step import optimizer_for, train_step


def train_local(cfg: Config, x: np.ndarray, mask: np.ndarray) -> torch.nn.Module:
    """A fresh model trained train.steps steps on x [W, S, M, T] dB, mask [W, S], every
    epoch in a new random order (seeded by train.seed)."""
    seed_everything(cfg.train.seed)
    model = build_model(cfg)
    optimizer = optimizer_for(model, cfg)
    batch = min(len(x), cfg.train.batch_size * cfg.train.workers)
    rng = np.random.default_rng(cfg.train.seed)
    order, pos = rng.permutation(len(x)), 0
    for step in range(cfg.train.steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch]
        pos += batch
        train_step(model, optimizer, {"x": torch.from_numpy(x[idx]),
                                      "mask": torch.from_numpy(mask[idx])}, step, cfg)
    return model.eval()
