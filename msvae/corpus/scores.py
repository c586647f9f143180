"""Multi-part scores from music21's bundled corpus, as note lists per part.

Sources: Bach's chorales (`bach/bwv*.mxl`, four named SATB parts, some with an extra
instrumental part) and Palestrina's masses and motets (`palestrina/*.krn`, 4-8 voices).
Pieces by RESERVED_COMPOSERS are kept for an independent evaluation corpus and never
used here. Times are in quarter notes (music21's unit) until `to_seconds`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from msvae.errors import require_extra

# (composer, file glob, quarter-note tempo range in beats per minute)
COLLECTIONS = (
    ("bach", "bwv*.mxl", (60.0, 92.0)),
    ("palestrina", "*.krn", (110.0, 170.0)),
)
RESERVED_COMPOSERS = ("monteverdi", "haydn", "mozart", "beethoven")
MIN_PARTS, MAX_PARTS = 4, 6


@dataclass(frozen=True)
class Note:
    """One note: start and duration (quarter notes or seconds, see the holder), MIDI pitch."""

    start: float
    duration: float
    pitch: int


@dataclass(frozen=True)
class Score:
    """A parsed score: parts top to bottom, each a list of notes in quarter notes."""

    piece: str
    composer: str
    path: str
    parts: tuple[tuple[Note, ...], ...]
    length_q: float  # quarter notes
    tempo_range: tuple[float, float]


def piece_id(composer: str, path: str | Path) -> str:
    """'bach', '.../bwv10.7.mxl' -> 'bach-bwv10-7': a folder-safe, unique id."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")
    return f"{composer}-{stem}"


def candidates() -> list[tuple[str, str]]:
    """Every (composer, path) this corpus may use, sorted; reserved composers excluded."""
    require_extra("music21", "corpus")
    from music21 import corpus

    found = []
    for composer, pattern, _ in COLLECTIONS:
        assert composer not in RESERVED_COMPOSERS
        found += [(composer, str(p)) for p in corpus.getComposer(composer)
                  if Path(p).match(pattern)]
    return sorted(found)


def _part_notes(part) -> tuple[Note, ...]:
    """A music21 part -> its notes (chords by their top pitch), ties merged."""
    notes = []
    for element in part.stripTies().flatten().notes:
        pitch = max(p.midi for p in element.pitches)
        duration = float(element.quarterLength)
        if duration > 0:
            notes.append(Note(float(element.offset), duration, pitch))
    return tuple(sorted(notes, key=lambda n: n.start))


def parse(composer: str, path: str) -> Score | None:
    """Parse one score; None when it has too few or too many sounding parts."""
    from music21 import converter

    tempo_range = {c: t for c, _, t in COLLECTIONS}[composer]
    parts = tuple(p for p in (_part_notes(part) for part in converter.parse(path).parts) if p)
    if not MIN_PARTS <= len(parts) <= MAX_PARTS:
        return None
    length = max(n.start + n.duration for part in parts for n in part)
    parts = tuple(sorted(parts, key=lambda ns: -sum(n.pitch for n in ns) / len(ns)))
    return Score(piece_id(composer, path), composer, path, parts, length, tempo_range)


def to_seconds(notes: tuple[Note, ...], bpm: float, seconds: float) -> tuple[Note, ...]:
    """Quarter-note times -> seconds at `bpm`, notes cropped to the first `seconds`."""
    q = 60.0 / bpm
    out = []
    for n in notes:
        start = n.start * q
        if start < seconds:
            out.append(Note(start, min(n.duration * q, seconds - start), n.pitch))
    return tuple(out)
