"""Stage 4: integrated loudness normalisation (ITU-R BS.1770-4, LUFS).

Each source gets one gain so its integrated loudness hits the target. A source
quieter than `gate_lufs` (or silent, or under one 400 ms gating block) is left as is,
so near-silence is not amplified into noise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF

BLOCK_S = 0.4  # BS.1770 gating block, s


def integrated_lufs(wave: np.ndarray, rate: int) -> float:
    """Integrated loudness of [channels, samples] in LUFS; -inf when not measurable."""
    if wave.shape[-1] < math.ceil(BLOCK_S * rate):
        return -math.inf
    value = float(AF.loudness(torch.from_numpy(wave), rate))
    return value if math.isfinite(value) else -math.inf


def normalise(wave: np.ndarray, rate: int, target_lufs: float,
              gate_lufs: float) -> tuple[np.ndarray, float]:
    """(wave scaled to `target_lufs`, its measured loudness in LUFS before scaling)."""
    lufs = integrated_lufs(wave, rate)
    if lufs < gate_lufs:
        return wave, lufs
    gain = 10.0 ** ((target_lufs - lufs) / 20.0)
    return (wave * gain).astype(np.float32, copy=False), lufs
