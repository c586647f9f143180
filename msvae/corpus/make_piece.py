"""Build one piece of the corpus: render its sources, mix them, write heterogeneous files.

A multi-source piece is a score excerpt: its top part sung by Festival (the vocal stem),
the other parts on distinct General MIDI instruments (one instrument stem each), a real
ambience bed 8-20 dB below the music, and the mix, defined as the sum of those stems.
Some pieces lack the vocal or the ambience (real corpora have gaps), some stems fall
silent for a stretch, and some get a redundant duplicate take (`duplicate_of`).
A mix-only piece is an excerpt of a real recorded music track.
Everything is drawn from one generator seeded by (seed, index): deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msvae import audio
from msvae.corpus import ambience, heterogenise, material, render, scores, sing

MISSING_SHARE = 0.15  # share of pieces without a vocal, and (separately) without ambience
SILENT_SHARE = 0.3  # share of pieces where one music stem falls silent for a stretch
SILENT_S = (2.0, 5.0)
DUPLICATE_SHARE = 0.2  # share of pieces with a redundant duplicate take of one stem
AMBIENCE_BELOW_DB = (8.0, 20.0)
VOCAL_DB = (-3.0, 3.0)  # vocal RMS against the mean instrument RMS, dB
SLOWEST = 0.75  # a tempo may slow to this share of its range's floor to reach min length
_FADE_S = 0.01


@dataclass(frozen=True)
class PieceJob:
    """Everything a worker process needs to build piece `index` into `root`."""

    index: int
    seed: int
    root: str  # local folder: files go to root/audio/<piece>/, rows to root/rows/
    min_s: float
    max_s: float
    lossless: bool  # every file of the piece in wav or flac (lets tests check mix = sum)
    complete: bool  # every source kind present
    timeout_s: float
    max_bytes: int
    candidates: tuple[tuple[str, str], ...] = ()  # (composer, score path), tried in order
    recording: material.Recording | None = None  # a mix-only piece's music track


def _silence_stretch(rng: np.random.Generator, x: np.ndarray) -> None:
    """Zero a random stretch of SILENT_S seconds of [channels, samples] `x` in place, with
    short fades at its edges."""
    n = round(rng.uniform(*SILENT_S) * render.RENDER_RATE)
    fade = round(_FADE_S * render.RENDER_RATE)
    at = fade + int(rng.integers(x.shape[-1] - n - 2 * fade))
    x[:, at - fade:at] *= np.linspace(1, 0, fade, dtype=np.float32)
    x[:, at:at + n] = 0
    x[:, at + n:at + n + fade] *= np.linspace(0, 1, fade, dtype=np.float32)


def _pick_score(rng: np.random.Generator, job: PieceJob):
    """The first candidate long enough at an allowed tempo -> (score, bpm, seconds)."""
    for composer, path in job.candidates:
        score = scores.parse(composer, path)
        seconds = float(rng.uniform(job.min_s, job.max_s))
        if score is None:
            continue
        lo, hi = score.tempo_range
        bpm = min(float(rng.uniform(lo, hi)), score.length_q * 60.0 / seconds)
        if bpm >= SLOWEST * lo:
            return score, bpm, seconds
    raise RuntimeError(f"piece {job.index}: no candidate score of {job.min_s:g} s or more")


def _stems(rng: np.random.Generator, job: PieceJob) -> tuple[str, float, dict]:
    """Render a multi-source piece -> (piece id, seconds, {source: [ch, samples] stem})."""
    score, bpm, seconds = _pick_score(rng, job)
    parts = [scores.to_seconds(p, bpm, seconds) for p in score.parts]
    bound = {"timeout_s": job.timeout_s, "max_bytes": job.max_bytes}
    stems = {}
    if job.complete or rng.random() >= MISSING_SHARE:
        syllables = tuple(rng.permutation(sing.SYLLABLES))
        stems["vocal"] = sing.sing(parts.pop(0), seconds, syllables, **bound)
    soundfont = render.SOUNDFONTS[str(rng.choice(sorted(render.SOUNDFONTS)))]
    names = rng.choice(sorted(render.INSTRUMENTS), size=len(parts), replace=False)
    for name, notes in zip(names, parts):
        stems[f"instrument:{name}"] = render.render(notes, render.INSTRUMENTS[str(name)],
                                                    soundfont, seconds, **bound)
    instrument_db = np.mean([audio.rms_db(x) for s, x in stems.items() if s != "vocal"])
    if "vocal" in stems:
        target = instrument_db + rng.uniform(*VOCAL_DB)
        stems["vocal"] *= audio.db_to_gain(target - audio.rms_db(stems["vocal"]))
    if rng.random() < SILENT_SHARE:
        _silence_stretch(rng, stems[sorted(stems)[rng.integers(len(stems))]])
    if job.complete or rng.random() >= MISSING_SHARE:
        music_db = audio.rms_db(sum(audio.to_channels(x, 2) for x in stems.values()))
        bed, _ = ambience.ambience(rng, seconds)
        target = music_db - rng.uniform(*AMBIENCE_BELOW_DB)
        stems["ambience"] = bed * audio.db_to_gain(target - audio.rms_db(bed))
    stems = {"mix": sum(audio.to_channels(x, 2) for x in stems.values()), **stems}
    return score.piece, seconds, stems


def _mix_only(rng: np.random.Generator, job: PieceJob) -> tuple[str, float, dict]:
    """An excerpt of a real recorded track -> (piece id, seconds, {'mix': stem})."""
    rec = job.recording
    seconds = float(min(rng.uniform(job.min_s, job.max_s), rec.seconds))
    x, sr = audio.decode(rec.read(), float(rng.uniform(0, rec.seconds - seconds)), seconds)
    return f"megaglest-{rec.name}", seconds, {"mix": audio.resample(x, sr, render.RENDER_RATE)}


def build_piece(job: PieceJob) -> list[dict]:
    """Build, write and record one piece; returns its manifest rows (uris relative, no
    split: msvae.corpus.build assigns those, so the rendered audio does not depend on them)."""
    rng = np.random.default_rng([job.seed, job.index])
    piece, _, stems = (_mix_only if job.recording else _stems)(rng, job)
    files = [(source, stems[source], "") for source in stems]
    instruments = [s for s in stems if s.startswith("instrument:")]
    if instruments and rng.random() < DUPLICATE_SHARE:
        original = instruments[rng.integers(len(instruments))]
        files.append((f"{original}-take2", stems[original], original))
    rows = []
    for source, stem, duplicate_of in files:
        spec = heterogenise.choose(rng, reference=source == "mix", lossless=job.lossless,
                                   stereo_share=0.5 if stem.shape[0] == 2 else 0.2)
        y, gain_db = heterogenise.apply(stem, render.RENDER_RATE, spec)
        rel = f"audio/{piece}/{source.replace(':', '_')}.{spec.ext}"
        path = Path(job.root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio.encode(y, spec.rate, spec.ext))
        rows.append({"piece": piece, "source": source, "uri": rel,
                     "offset_s": spec.offset_s, "gain_db": gain_db,
                     "duplicate_of": duplicate_of})
    done = Path(job.root, "rows", f"{job.index:05d}.json")
    done.parent.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    tmp.replace(done)  # the marker that this piece is complete
    return rows
