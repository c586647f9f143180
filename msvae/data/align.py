"""Stage 5: put every source of a piece on one time base.

The offset of a file against the reference (the mix: the sum of the stems, so every
stem correlates with it) is the lag that maximises their generalised cross-correlation
with PHAT-beta weighting (GCC-PHAT; beta < 1 keeps some magnitude so tonal music does
not drown in whitened noise). Convention as in the manifest: file[t] = stem[t - offset],
so a positive offset is a delay and aligning reads the file `offset` later.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from msvae.audio import shift

PHAT_BETA = 0.8  # 1: classic GCC-PHAT (pure phase); 0: plain cross-correlation


def estimate_lag(ref: np.ndarray, sig: np.ndarray, max_lag: int) -> int:
    """Samples by which mono `sig` lags mono `ref` (positive: `sig` is delayed).

    Searches lags in [-max_lag, max_lag] of the full-length correlation.
    """
    size = fft.next_fast_len(len(ref) + len(sig))
    cross = fft.rfft(sig, size) * np.conj(fft.rfft(ref, size))
    weight = np.abs(cross) ** PHAT_BETA
    cross /= np.maximum(weight, 1e-12 * weight.max() + 1e-30)
    corr = fft.irfft(cross, size)
    max_lag = min(max_lag, size // 2 - 1)
    window = np.concatenate([corr[size - max_lag:], corr[:max_lag + 1]])
    return int(np.argmax(window)) - max_lag


def align(ref: np.ndarray, wave: np.ndarray, rate: int,
          max_offset_s: float) -> tuple[np.ndarray, float]:
    """(wave on the time base of `ref`, same length as it; estimated offset in s)."""
    lag = estimate_lag(ref.mean(axis=0), wave.mean(axis=0), round(max_offset_s * rate))
    return shift(wave, -lag, ref.shape[1]), lag / rate  # read `lag` later: undo the delay
