"""The ingestion report: per-piece fragments merged into the totals `report.json` holds.

Keys: files_in, files_ok, quarantined [{uri, reason}], windows_out, windows_dropped
{reason: count}, offsets [{piece, source, offset_s}], audio_seconds_in (s decoded).
Counts reconcile: files_in = files_ok + len(quarantined), and every window cut is in
windows_out or in windows_dropped under its reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable


def empty_report() -> dict:
    """A report with nothing counted yet; the keys `msvae prepare` writes."""
    return {"files_in": 0, "files_ok": 0, "quarantined": [], "windows_out": 0,
            "windows_dropped": {}, "offsets": [], "audio_seconds_in": 0.0}


def merge(fragments: Iterable[dict]) -> dict:
    """Sum per-piece report fragments; lists are concatenated and sorted for stable output."""
    total = empty_report()
    dropped: Counter = Counter()
    for frag in fragments:
        for key in ("files_in", "files_ok", "windows_out", "audio_seconds_in"):
            total[key] += frag[key]
        total["quarantined"] += frag["quarantined"]
        total["offsets"] += frag["offsets"]
        dropped.update(frag["windows_dropped"])
    total["windows_dropped"] = dict(sorted(dropped.items()))
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


def offsets_within(report: dict, manifest, reference: str, tolerance_s: float = 0.010) -> float:
    """Percent of used sources with a known offset (manifest `offset_s` not NaN) other
    than the `reference` kind whose estimated offset is within `tolerance_s` s of it;
    NaN when there are none."""
    truth = {(r.piece, r.source): r.offset_s for r in manifest.itertuples()
             if not math.isnan(r.offset_s) and r.kind != reference}
    errors = [abs(o["offset_s"] - truth[key]) for o in report["offsets"]
              if (key := (o["piece"], o["source"])) in truth]
    return 100.0 * sum(e <= tolerance_s for e in errors) / len(errors) if errors else math.nan
