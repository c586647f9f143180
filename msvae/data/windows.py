"""Stage 7: fixed-length windows and their log-mel features.

Windows are `window_samples(cfg)` long (a whole number of mel hops) and start
every `hop_s` seconds; a piece shorter than one window gives one zero-padded window.
Features use the shared definition in `msvae.data.features`; for stereo the mel power is
averaged over the two channels (one slot per source).
"""

from __future__ import annotations

import numpy as np
import torch

from msvae.config import DataConfig
from msvae.data.features import db_to_power, log_mel, window_samples


def hop_samples(cfg: DataConfig) -> int:
    """Samples between window starts."""
    return max(1, round(cfg.hop_s * cfg.sample_rate))


def window_starts(n_samples: int, cfg: DataConfig) -> np.ndarray:
    """Start sample of every window over a signal of `n_samples`."""
    win = window_samples(cfg)
    if n_samples <= win:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, n_samples - win + 1, hop_samples(cfg), dtype=np.int64)


def cut(waves: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """[..., samples] -> [windows, ..., length], zero-padded past the end."""
    short = int(starts.max(initial=0)) + length - waves.shape[-1]
    if short > 0:
        waves = np.concatenate([waves, np.zeros((*waves.shape[:-1], short), waves.dtype)], -1)
    return np.stack([waves[..., s:s + length] for s in starts])


def mel_features(windows: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """[windows, sources, channels, samples] -> [windows, sources, n_mels, frames] in dB."""
    db = log_mel(torch.from_numpy(windows), cfg)
    if db.shape[2] > 1:
        db = 10.0 * torch.log10(db_to_power(db).mean(dim=2, keepdim=True))
    return db[:, :, 0].numpy().astype(np.float32, copy=False)
