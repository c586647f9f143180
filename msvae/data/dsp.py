"""Stage 3: sample rate and channel layout.

Resampling uses torchaudio's band-limited sinc interpolation. Channel policy "mono"
averages all channels into one; "stereo" keeps two (mono is duplicated, channels
beyond the first two, e.g. surround, are averaged into both).
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """[channels, samples] at `rate_in` Hz -> [channels, samples'] at `rate_out` Hz."""
    if rate_in == rate_out:
        return wave
    out = AF.resample(torch.from_numpy(wave), rate_in, rate_out)
    return out.numpy().astype(np.float32, copy=False)


def apply_channels(wave: np.ndarray, policy: str) -> np.ndarray:
    """[channels, samples] -> [1, samples] ("mono") or [2, samples] ("stereo")."""
    if policy == "mono":
        return wave.mean(axis=0, keepdims=True)
    if policy != "stereo":
        raise ValueError(f"unknown channel policy {policy!r}")
    if wave.shape[0] == 1:
        return np.repeat(wave, 2, axis=0)
    if wave.shape[0] == 2:
        return wave
    rest = wave[2:].mean(axis=0, keepdims=True)
    return 0.5 * (wave[:2] + rest)
