"""One piece through every stage, without Ray: the unit the pipeline maps over.

`load_source` is the per-file chain (read, decode, resample, channels, loudness);
`process_piece` loads a piece's files, aligns them to the reference, drops repeated
takes, sums the stems of a kind into that kind's slot, cuts windows, drops silent and
near-duplicate ones and computes log-mels. Every file ends used or quarantined and
every window out or dropped with a reason, in the piece's report fragment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from msvae.audio import resample, to_channels
from msvae.config import Config
from msvae.data.align import align
from msvae.data.balance import stem_gains
from msvae.data.decode import decode
from msvae.data.errors import Quarantine
from msvae.data.features import FLOOR_DB, log_mel, window_frames, window_samples
from msvae.data.loudness import normalise
from msvae.data.read import read_source
from msvae.data.redundancy import near_duplicates, repeated_sources, silent
from msvae.data.report import count_windows, empty_report, quarantine_entry
from msvae.data.windows import cut, mel_features, window_starts

CHANNELS = {"mono": 1, "stereo": 2}  # data.channels -> channels per source


@dataclass
class PieceResult:
    """Windows of one piece plus its share of the report.

    x: float32 [windows, sources, n_mels, frames], dB; mask: bool [sources];
    start_s: float64 [windows], window start in s on the reference's time base.
    """

    piece: str
    split: str
    x: np.ndarray
    mask: np.ndarray
    start_s: np.ndarray
    report: dict = field(default_factory=dict)


def load_source(cfg: Config, uri: str) -> tuple[np.ndarray, float]:
    """(float32 [channels, samples] at cfg.data.sample_rate, loudness-normalised;
    seconds of audio decoded). Raises Quarantine with the reason."""
    d = cfg.data
    wave, rate = decode(read_source(cfg, uri), uri)
    seconds = wave.shape[1] / rate
    wave = to_channels(resample(wave, rate, d.sample_rate), CHANNELS[d.channels])
    wave, _ = normalise(wave, d.sample_rate, d.target_lufs, d.gate_lufs)
    return wave, seconds


def slot_of(source: str, kind: str, slots: list[str]) -> int | None:
    """Slot index for a file: its exact `kind:name` slot if configured, else its kind's."""
    for key in (source, kind):
        if key in slots:
            return slots.index(key)
    return None


def _fingerprint(wave: np.ndarray, cfg: Config) -> np.ndarray:
    """Log-mel of a whole source (channel mean), dB: the repeated-take fingerprint."""
    return log_mel(torch.from_numpy(wave.mean(axis=0)), cfg.data).numpy()


def _drop_repeated_takes(cfg: Config, aligned: list[dict], quarantined: list[dict]) -> list[dict]:
    """Keep the first of each group of same-slot aligned sources whose log-mels correlate
    above cfg.data.dedup_similarity; quarantine the others as redundant."""
    keep = []
    for slot in sorted({f["slot"] for f in aligned}):
        group = [f for f in aligned if f["slot"] == slot]
        if len(group) == 1:
            keep += group
            continue
        prints = np.stack([_fingerprint(f["wave"], cfg) for f in group])
        dups = repeated_sources(prints, cfg.data.dedup_similarity, cfg.data.silence_db)
        for f, dup in zip(group, dups):
            if dup:
                quarantined.append(quarantine_entry(f, "redundant: near-duplicate of "
                                                    f"another {cfg.data.sources[slot]} source"))
            else:
                keep.append(f)
    return keep


def _reference(cfg: Config, loaded: list[dict]) -> dict:
    """The configured reference kind's first file, else the first file in slot order."""
    ref_slot = cfg.data.sources.index(cfg.data.reference)
    return min(loaded, key=lambda f: (f["slot"] != ref_slot, f["slot"]))


def _load_all(cfg: Config, rows: list[dict], report: dict) -> list[dict]:
    """Every row loaded, or quarantined with its reason; adds the seconds decoded."""
    loaded = []
    for row in rows:
        slot = slot_of(row["source"], row["kind"], cfg.data.sources)
        try:
            if slot is None:
                raise Quarantine(f"source {row['source']!r} has no slot in data.sources")
            wave, seconds = load_source(cfg, row["uri"])
        except Quarantine as exc:
            report["quarantined"].append(quarantine_entry(row, str(exc)))
            continue
        report["audio_seconds_in"] += seconds
        loaded.append({**row, "slot": slot, "wave": wave})
    return loaded


def _align_all(cfg: Config, loaded: list[dict]) -> list[dict]:
    """Every file moved onto the reference's time base, with its offset in s."""
    d = cfg.data
    ref = _reference(cfg, loaded)
    out = []
    for f in loaded:
        if f is ref:
            out.append({**f, "offset_s": 0.0})
        else:
            wave, offset = align(ref["wave"], f["wave"], d.sample_rate, d.max_offset_s)
            out.append({**f, "wave": wave, "offset_s": offset})
    return out


def _balance(cfg: Config, used: list[dict]) -> list[dict]:
    """Stems scaled so their powers add up to the mix's (msvae.data.balance), when the
    reference is a mix and the piece has one and any stem; otherwise as they are."""
    ref_slot = cfg.data.sources.index(cfg.data.reference)
    mixes = [f for f in used if f["slot"] == ref_slot]
    stems = [f for f in used if f["slot"] != ref_slot]
    if not (cfg.data.balance_stems and cfg.data.reference == "mix" and len(mixes) == 1
            and stems):
        return used
    gains = stem_gains(mixes[0]["wave"], [f["wave"] for f in stems], cfg.data)
    return mixes + [{**f, "wave": f["wave"] * np.float32(np.sqrt(g))}
                    for f, g in zip(stems, gains)]


def _stack(cfg: Config, used: list[dict], report: dict) -> tuple[np.ndarray, np.ndarray]:
    """Aligned files summed per slot: ([slots, channels, samples], presence mask [slots])."""
    waves = np.zeros((len(cfg.data.sources), *used[0]["wave"].shape), dtype=np.float32)
    mask = np.zeros(len(cfg.data.sources), dtype=bool)
    for f in used:
        waves[f["slot"]] += f["wave"]
        mask[f["slot"]] = True
        report["offsets"].append({"piece": f["piece"], "source": f["source"],
                                  "offset_s": round(f["offset_s"], 6)})
    return waves, mask


def process_piece(cfg: Config, rows: list[dict]) -> PieceResult:
    """All manifest rows of one piece (dicts with piece, source, kind, uri, split)."""
    d = cfg.data
    report = empty_report()
    report["files_in"] = len(rows)
    piece, split = rows[0]["piece"], rows[0]["split"]
    count_windows(report, piece, split, 0)
    loaded = _load_all(cfg, rows, report)
    aligned = _align_all(cfg, loaded) if loaded else []
    used = _balance(cfg, _drop_repeated_takes(cfg, aligned, report["quarantined"]))
    report["files_ok"] = len(used)
    frames = window_frames(d)
    empty = np.zeros((0, len(d.sources), d.n_mels, frames), dtype=np.float32)
    result = PieceResult(piece, split, empty,
                         np.zeros(len(d.sources), dtype=bool), np.zeros(0), report)
    if not used:
        return result
    waves, result.mask = _stack(cfg, used, report)
    starts = window_starts(waves.shape[-1], d)
    windows = cut(waves, starts, window_samples(d))
    quiet = silent(windows, result.mask, d.silence_db)
    x = np.full((len(starts), len(d.sources), d.n_mels, frames), FLOOR_DB, dtype=np.float32)
    if not quiet.all():
        x[np.ix_(~quiet, result.mask)] = mel_features(windows[~quiet][:, result.mask], d)
    dup = np.zeros(len(starts), dtype=bool)
    dup[~quiet] = near_duplicates(x[~quiet][:, result.mask], d.dedup_similarity)
    keep = ~quiet & ~dup
    counts = Counter({"silent": int(quiet.sum()), "duplicate": int(dup.sum())})
    report["windows_dropped"] = {k: v for k, v in counts.items() if v}
    count_windows(report, piece, split, int(keep.sum()))
    result.x, result.start_s = x[keep], starts[keep] / d.sample_rate
    return result
