"""An ambience stem for a piece: a real environmental bed plus a few recorded events.

The bed (rain, wind, birds, night insects) is cropped from a random point or looped with
a crossfade to the piece's length; events (animal calls, machines) land at random times.
The caller sets the stem's level against the music (8-20 dB below it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from msvae import audio
from msvae.corpus import material
from msvae.corpus.render import RENDER_RATE

CROSSFADE_S = 0.5
EVENT_DB = (-9.0, 3.0)  # event RMS against the bed RMS, dB
MAX_EVENTS = 3


@lru_cache(maxsize=4)
def _load(rec: material.Recording) -> np.ndarray:
    """A recording as [2, samples] float32 at RENDER_RATE."""
    x, sr = audio.decode(rec.read())
    return audio.to_channels(audio.resample(x, sr, RENDER_RATE), 2)


def loop_to(x: np.ndarray, n: int, start: int, fade: int) -> np.ndarray:
    """`n` samples of [channels, samples] `x` from `start`, wrapping around with a linear
    crossfade of `fade` samples."""
    length = x.shape[-1]
    if length - start >= n:
        return x[:, start:start + n]
    fade = min(fade, length // 4)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    seam = x[:, :fade] * ramp + x[:, length - fade:] * ramp[::-1]
    cycle = np.concatenate([seam, x[:, fade:length - fade]], axis=1)  # loops onto itself
    reps = -(-(n + start) // cycle.shape[-1]) + 1
    return np.tile(cycle, (1, reps))[:, start:start + n]


def ambience(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, list[str]]:
    """A [2, samples] bed-plus-events stem `seconds` long and the recordings it used."""
    n = round(seconds * RENDER_RATE)
    beds, events = material.beds(), material.events()
    if not beds:
        raise RuntimeError("no ambience recordings: install megaglest-data")
    bed_rec = beds[rng.integers(len(beds))]
    bed = _load(bed_rec)
    if bed.shape[-1] >= n:
        start = int(rng.integers(bed.shape[-1] - n + 1))  # crop from a random point
    else:
        start = int(rng.integers(bed.shape[-1]))  # loop, entering the cycle anywhere
    out = loop_to(bed, n, start, round(CROSSFADE_S * RENDER_RATE)).copy()
    used = [bed_rec.name]
    bed_db = audio.rms_db(out)
    for _ in range(int(rng.integers(MAX_EVENTS + 1)) if events else 0):
        rec = events[rng.integers(len(events))]
        ev = _load(rec)[:, :n]
        at = int(rng.integers(n - ev.shape[-1] + 1))
        gain = audio.db_to_gain(bed_db + rng.uniform(*EVENT_DB) - audio.rms_db(ev))
        out[:, at:at + ev.shape[-1]] += gain * ev
        used.append(rec.name)
    return out, used
