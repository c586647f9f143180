"""Bootstrap confidence intervals over test pieces (pure numpy).

Windows of one piece are not independent (same music, same instruments), so the unit
resampled is the piece: B seeded resamples of the pieces with replacement, each giving the
mean over the windows of the pieces drawn (every window weighs alike, so the full sample's
statistic is the plain window mean the table reports), and the percentile interval of
those means. Per-window values are first averaged over seeds (one value per window).
"""

from __future__ import annotations

import math

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0


def interval(values: np.ndarray, groups: np.ndarray, resamples: int = RESAMPLES,
             level: float = LEVEL, seed: int = SEED) -> tuple[float, float]:
    """The `level` percentile interval of the window mean of `values` [n] over `resamples`
    resamples of whole groups (`groups` [n], a piece id per window). NaN values (windows
    not scored) are left out; (NaN, NaN) when none is left."""
    scored = ~np.isnan(values)
    values, groups = values[scored], np.asarray(groups)[scored]
    if not values.size:
        return math.nan, math.nan
    _, group = np.unique(groups, return_inverse=True)
    sums, counts = np.bincount(group, weights=values), np.bincount(group)
    draws = np.random.default_rng(seed).integers(len(sums), size=(resamples, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def seed_interval(per_seed: list[np.ndarray], groups: np.ndarray) -> tuple[float, float]:
    """`interval` of per-window values [n] of each seed, averaged over seeds window by
    window first (every seed scored the same windows in the same order)."""
    return interval(np.mean(np.stack(per_seed), axis=0), groups)
