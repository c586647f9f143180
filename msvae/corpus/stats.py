"""`msvae corpus stats`: what a manifest holds, from its audio files decoded in full.

Counts pieces per split, files per source kind, hours (all files, and per piece its
longest file), formats, sample rates and channel counts. Every file is read and decoded
with the checks `msvae prepare` applies (msvae.data.read, msvae.data.decode), so the
files listed unreadable, each with its reason, are the ones prepare would quarantine as
unreadable, undecodable, truncated, empty or NaN-filled; not fatal. Works on s3://.
"""

from __future__ import annotations

import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import soundfile as sf

from msvae.console import progress_bar

_THREADS = 8  # reads from object storage are I/O-bound
CHECKED = "every file read and decoded in full, with the checks msvae prepare applies"


def file_info(cfg, uri: str) -> dict:
    """{'format', 'rate', 'channels', 'seconds'} of a file decoded in full, or {'reason'}:
    why `msvae prepare` would quarantine it."""
    from msvae.data.decode import decode
    from msvae.data.errors import Quarantine
    from msvae.data.read import read_source

    try:
        data = read_source(cfg, uri)
        wave, rate = decode(data, uri)
    except Quarantine as exc:
        return {"reason": str(exc)}
    return {"format": sf.info(io.BytesIO(data)).format.lower(), "rate": rate,
            "channels": wave.shape[0], "seconds": wave.shape[1] / rate}


def summarise(cfg, df: pd.DataFrame) -> dict:
    """The statistics of a loaded manifest (see load_manifest) as plain data."""
    from msvae.data.report import quarantine_entry

    with ThreadPoolExecutor(_THREADS) as pool:
        infos = list(progress_bar(pool.map(lambda u: file_info(cfg, u), df["uri"]), total=len(df),
                                  desc="decoding", unit="file", disable=len(df) < 50))
    rows = df.to_dict("records")
    ok = [(row, info) for row, info in zip(rows, infos) if "reason" not in info]
    longest: dict[str, float] = {}
    for row, info in ok:
        longest[row["piece"]] = max(longest.get(row["piece"], 0.0), info["seconds"])
    first_split = df.drop_duplicates("piece")["split"]
    return {
        "pieces": int(df["piece"].nunique()),
        "files": len(df),
        "pieces_per_split": dict(Counter(first_split)),
        "files_per_kind": dict(Counter(df["kind"])),
        "hours": round(sum(i["seconds"] for _, i in ok) / 3600, 4),
        "piece_hours": round(sum(longest.values()) / 3600, 4),
        "formats": dict(Counter(i["format"] for _, i in ok)),
        "sample_rates": {str(k): v for k, v in sorted(Counter(i["rate"] for _, i in ok).items())},
        "channels": {str(k): v for k, v in sorted(Counter(i["channels"] for _, i in ok).items())},
        "known_offsets": int(df["offset_s"].notna().sum()),
        "duplicates": int((df["duplicate_of"] != "").sum()),
        "checked": CHECKED,
        "unreadable": [quarantine_entry(row, info["reason"])
                       for row, info in zip(rows, infos) if "reason" in info],
    }


def table(stats: dict) -> str:
    """The statistics as an aligned two-column table for the terminal, then one line per
    unreadable file with its piece, source and reason."""
    def cell(value) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        if isinstance(value, list):
            return str(len(value))
        return str(value)

    width = max(len(k) for k in stats)
    lines = [f"{k.replace('_', ' '):<{width}}  {cell(v)}" for k, v in stats.items()]
    lines += [f"  {q['uri']} ({q['piece']}, {q['source']}): {q['reason']}"
              for q in stats["unreadable"]]
    return "\n".join(lines)
