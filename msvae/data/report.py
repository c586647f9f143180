"""The ingestion report: per-piece fragments merged into the totals `report.json` holds.

Keys: files_in, files_ok, quarantined [{uri, piece, source, reason}], windows_out,
windows_per_split {split: count}, windows_per_piece {piece: count}, windows_dropped
{reason: count}, offsets [{piece, source, offset_s}], audio_seconds_in (s decoded).
Counts reconcile: files_in = files_ok + len(quarantined), windows_out is the sum over
splits and over pieces (every manifest split and piece listed, 0 included), and every
window cut is in windows_out or in windows_dropped under its reason.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable

from msvae.manifest import SPLITS

PIECES_LISTED = 12  # summary lines name every piece's windows up to this many pieces
COUNTS = ("windows_per_split", "windows_per_piece", "windows_dropped")  # {key: count}


def empty_report() -> dict:
    """A report with nothing counted yet; the keys `msvae prepare` writes."""
    return {"files_in": 0, "files_ok": 0, "quarantined": [], "windows_out": 0,
            "windows_per_split": {}, "windows_per_piece": {}, "windows_dropped": {},
            "offsets": [], "audio_seconds_in": 0.0}


def quarantine_entry(row: dict, reason: str) -> dict:
    """A quarantined file as the report lists it: its uri, piece, source and reason."""
    return {"uri": row["uri"], "piece": row["piece"], "source": row["source"],
            "reason": reason}


def count_windows(fragment: dict, piece: str, split: str, windows: int) -> None:
    """Set one piece's windows out in its fragment, under its piece and its split too."""
    fragment["windows_out"] = windows
    fragment["windows_per_piece"] = {piece: windows}
    fragment["windows_per_split"] = {split: windows}


def merge(fragments: Iterable[dict]) -> dict:
    """Sum per-piece report fragments; lists are concatenated and sorted for stable output."""
    total = empty_report()
    counts = {key: Counter() for key in COUNTS}
    for frag in fragments:
        for key in ("files_in", "files_ok", "windows_out", "audio_seconds_in"):
            total[key] += frag[key]
        total["quarantined"] += frag["quarantined"]
        total["offsets"] += frag["offsets"]
        for key in COUNTS:
            counts[key].update(frag[key])
    order = {"windows_per_split": lambda kv: SPLITS.index(kv[0])}
    for key in COUNTS:
        total[key] = dict(sorted(counts[key].items(), key=order.get(key)))
    total["quarantined"].sort(key=lambda q: q["uri"])
    total["offsets"].sort(key=lambda o: (o["piece"], o["source"]))
    total["audio_seconds_in"] = round(total["audio_seconds_in"], 3)
    return total


def reconciles(report: dict) -> bool:
    """True when every input file is counted once: used or quarantined."""
    return report["files_in"] == report["files_ok"] + len(report["quarantined"])


def summary(report: dict) -> str:
    """One line for people: files, windows and drops."""
    drops = ", ".join(f"{k} {v}" for k, v in report["windows_dropped"].items()) or "none"
    return (f"{report['files_ok']}/{report['files_in']} files used, "
            f"{len(report['quarantined'])} quarantined; {report['windows_out']} windows out, "
            f"dropped: {drops}; {report['audio_seconds_in']:.1f} s of audio in")


def breakdown(report: dict) -> list[str]:
    """Two lines for people: windows per split, and per piece (each piece up to
    PIECES_LISTED of them, else their range and the pieces that gave none)."""
    per_piece = report["windows_per_piece"]
    if len(per_piece) <= PIECES_LISTED:
        pieces = ", ".join(f"{p} {n}" for p, n in per_piece.items())
    else:
        counts = list(per_piece.values())
        none = [p for p, n in per_piece.items() if n == 0]
        pieces = (f"{len(counts)} pieces, {min(counts)} to {max(counts)} "
                  f"(median {statistics.median(counts):g})")
        if none:
            pieces += (f"; none from {len(none)}: {', '.join(none[:PIECES_LISTED])}"
                       + (", ..." if len(none) > PIECES_LISTED else ""))
    splits = ", ".join(f"{s} {n}" for s, n in report["windows_per_split"].items())
    return [f"windows per split: {splits or '-'}", f"windows per piece: {pieces or '-'}"]


def offsets_within(report: dict, manifest, reference: str, tolerance_s: float = 0.010) -> float:
    """Percent of used sources with a known offset (manifest `offset_s` not NaN) other
    than the `reference` kind whose estimated offset is within `tolerance_s` s of it;
    NaN when there are none."""
    truth = {(r.piece, r.source): r.offset_s for r in manifest.itertuples()
             if not math.isnan(r.offset_s) and r.kind != reference}
    errors = [abs(o["offset_s"] - truth[key]) for o in report["offsets"]
              if (key := (o["piece"], o["source"])) in truth]
    return 100.0 * sum(e <= tolerance_s for e in errors) / len(errors) if errors else math.nan
