"""Stage 6: find silent windows and near-duplicate material.

Silence: every present source of a window has an RMS below `silence_db` dBFS.
Near-duplicates: the Pearson correlation of two log-mel fingerprints (dB, so the
measure ignores level) is above `dedup_similarity`. Windows are compared with the
earlier kept windows of their piece. Sources (a repeated take, possibly re-encoded,
re-levelled or cut shorter) are compared with the other sources of their kind on the
frames where both sound, so padding and rests do not dilute the match.
"""

from __future__ import annotations

import numpy as np

MIN_FRAMES = 16  # fewer jointly sounding mel frames than this: not compared


def rms_dbfs(windows: np.ndarray) -> np.ndarray:
    """[windows, sources, channels, samples] -> RMS per window and source, dBFS."""
    power = np.mean(np.square(windows, dtype=np.float64), axis=(-2, -1))
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def silent(windows: np.ndarray, present: np.ndarray, silence_db: float) -> np.ndarray:
    """[windows] bool: True where every present source is below `silence_db` dBFS."""
    return np.all(rms_dbfs(windows[:, present]) < silence_db, axis=1)


def _standardise(rows: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit norm, so a dot product is a correlation."""
    rows = rows.reshape(len(rows), -1).astype(np.float64)
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def near_duplicates(fingerprints: np.ndarray, threshold: float) -> np.ndarray:
    """[items] bool: True where an item correlates above `threshold` with an earlier
    item that was itself kept. `fingerprints` is [items, ...] (flattened per item)."""
    drop = np.zeros(len(fingerprints), dtype=bool)
    if len(fingerprints) < 2:
        return drop
    unit = _standardise(fingerprints)
    for i in range(1, len(unit)):
        kept = np.flatnonzero(~drop[:i])
        drop[i] = bool(np.any(unit[kept] @ unit[i] > threshold))
    return drop


def repeated_sources(mels: np.ndarray, threshold: float, floor_db: float) -> np.ndarray:
    """[sources] bool: True where a source's log-mel [n_mels, frames] (dB) correlates
    above `threshold` with an earlier kept source, over the frames where both peak
    above `floor_db` dB, values clamped at `floor_db`."""
    drop = np.zeros(len(mels), dtype=bool)
    active = mels.max(axis=1) > floor_db
    clamped = np.maximum(mels, floor_db)
    for i in range(1, len(mels)):
        for j in np.flatnonzero(~drop[:i]):
            both = active[i] & active[j]
            if both.sum() >= MIN_FRAMES:
                a, b = _standardise(np.stack([clamped[i][:, both], clamped[j][:, both]]))
                if a @ b > threshold:
                    drop[i] = True
                    break
    return drop
