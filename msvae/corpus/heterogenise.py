"""Make clean stems heterogeneous the way real source files are.

Each file gets its own format (wav, flac, ogg, mp3), sample rate (16-48 kHz), channel
count, level (a peak between -21 and -1 dBFS: a 20 dB loudness spread) and time offset
(up to +-0.5 s; the mix, the reference, keeps 0). Offsets are whole samples at the file's
rate and gains are recorded exactly, so `undo` recovers the aligned stem:
file[t] = stem[t - offset_s] * 10**(gain_db / 20)   (see msvae.manifest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msvae import audio

RATES = (16000, 22050, 24000, 32000, 44100, 48000)  # Hz; MP3 supports each of them
PEAK_DBFS = (-21.0, -1.0)
MAX_OFFSET_S = 0.5


@dataclass(frozen=True)
class FileSpec:
    """How one source file differs from its clean stem."""

    ext: str
    rate: int  # Hz
    channels: int
    peak_dbfs: float  # the file's peak level; the gain follows from the stem's peak
    offset_samples: int  # at `rate`; file[t] = stem[t - offset]

    @property
    def offset_s(self) -> float:
        return self.offset_samples / self.rate


def choose(rng: np.random.Generator, *, reference: bool, lossless: bool,
           stereo_share: float = 0.5) -> FileSpec:
    """A random FileSpec; `reference` (the mix) gets no offset, `lossless` only wav/flac."""
    ext = str(rng.choice(audio.LOSSLESS if lossless else tuple(audio.FORMATS)))
    rate = int(rng.choice(RATES))
    channels = 2 if rng.random() < stereo_share else 1
    peak = float(rng.uniform(*PEAK_DBFS))
    offset = 0 if reference else round(rng.uniform(-MAX_OFFSET_S, MAX_OFFSET_S) * rate)
    return FileSpec(ext, rate, channels, peak, offset)


def apply(x: np.ndarray, sr: int, spec: FileSpec) -> tuple[np.ndarray, float]:
    """Stem [channels, samples] at `sr` -> (file signal at spec.rate, gain_db applied)."""
    y = audio.shift(audio.to_channels(audio.resample(x, sr, spec.rate), spec.channels),
                    spec.offset_samples)
    gain_db = spec.peak_dbfs - audio.peak_db(y) if np.any(y) else 0.0
    return (y * audio.db_to_gain(gain_db)).astype(np.float32), float(gain_db)


def undo(y: np.ndarray, sr: int, offset_s: float, gain_db: float) -> np.ndarray:
    """A decoded file back onto its stem's time base and level (edges where it was cut: 0)."""
    return audio.shift(y, -round(offset_s * sr)) / audio.db_to_gain(gain_db)
