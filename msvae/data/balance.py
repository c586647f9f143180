"""Stage 6: put a piece's stems back in balance with its mix.

Loudness normalisation gives every file its own gain, and real stems arrive at arbitrary
levels, so "the mix is the sum of its stems" no longer holds; the fill-in task (the mix
from the stems) relies on it. With the mix as reference, each stem gets the non-negative
gain g that best explains the mix's mel power as a sum of the stems' powers,
P_mix(m, t) ~= sum_i g_i P_i(m, t) (least squares over every bin and frame; stems add
in power when they are uncorrelated), and is scaled by sqrt(g). The mix keeps its level.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls

from msvae.config import DataConfig
from msvae.data.features import mel_transform


def mel_power(wave: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """[channels, samples] -> channel-mean mel power [n_mels * frames], flattened."""
    return mel_transform(cfg)(torch.from_numpy(wave.mean(axis=0))).numpy().ravel()


def stem_gains(mix: np.ndarray, stems: list[np.ndarray], cfg: DataConfig) -> np.ndarray:
    """Power gains [len(stems)] >= 0 with mix power ~= sum_i g_i stem_i power; a stem the
    fit gives no weight (silent, or unrelated to the mix) keeps gain 1."""
    target = mel_power(mix, cfg)
    basis = np.stack([mel_power(s, cfg) for s in stems], axis=1)
    scale = basis.max(axis=0)
    scale[scale == 0] = 1.0
    gains, _ = nnls(basis / scale, target, maxiter=50 * len(stems))
    gains = gains / scale
    return np.where(gains > 0, gains, 1.0)
