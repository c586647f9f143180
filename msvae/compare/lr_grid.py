"""The learning rate per model, chosen on validation: the first seed is trained at every rate
of `compare.lrs` (empty: just `train.lr`), and the rate whose run scores best on the
validation figure the champion rule uses (msvae.tracking.registry.SCORE_METRIC) is kept
for the other seeds; that first-seed run is the first seed's result."""

from __future__ import annotations

import math

from msvae.config import Config


def grid(cfg: Config) -> list[float]:
    """The learning rates tried per model."""
    return list(cfg.compare.lrs) or [cfg.train.lr]


def choose_lr(scores: dict[float, float | None]) -> float:
    """The rate with the highest finite validation score (the first such on a tie); the
    first rate when none scored (`scores` keeps the grid's order)."""
    finite = {lr: s for lr, s in scores.items() if s is not None and math.isfinite(s)}
    return max(finite, key=finite.get) if finite else next(iter(scores))


def run_count(cfg: Config) -> int:
    """Training runs a comparison makes: per model, the grid at the first seed and the
    other seeds at the chosen rate."""
    return len(cfg.compare.models) * (len(grid(cfg)) + len(cfg.compare.seeds) - 1)
