"""`msvae corpus stats`: what a manifest holds, from the audio files' own headers.

Counts pieces per split, files per source kind, hours (all files, and per piece its
longest file), formats, sample rates and channel counts. Unreadable files are counted and
named, not fatal. Headers are read through msvae.storage (works on s3://).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import soundfile as sf

from msvae import storage
from msvae.console import progress_bar

_THREADS = 8  # header reads are I/O-bound


def file_info(cfg, uri: str) -> dict | None:
    """{'format', 'rate', 'channels', 'seconds'} from the file's header; None if unreadable."""
    try:
        fs, path = storage.filesystem(cfg, uri)
        with fs.open(path, "rb") as fh:
            info = sf.info(fh)
    except Exception:  # noqa: BLE001 - any failure means an unreadable file, reported
        return None
    return {"format": info.format.lower(), "rate": info.samplerate,
            "channels": info.channels, "seconds": info.duration}


def summarise(cfg, df: pd.DataFrame) -> dict:
    """The statistics of a loaded manifest (see load_manifest) as plain data."""
    with ThreadPoolExecutor(_THREADS) as pool:
        infos = list(progress_bar(pool.map(lambda u: file_info(cfg, u), df["uri"]), total=len(df),
                                  desc="reading headers", unit="file", disable=len(df) < 50))
    ok = [(row, info) for row, info in zip(df.to_dict("records"), infos) if info]
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
        "unreadable": [u for u, i in zip(df["uri"], infos) if i is None],
    }


def table(stats: dict) -> str:
    """The statistics as an aligned two-column table for the terminal."""
    def cell(value) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        if isinstance(value, list):
            return f"{len(value)}" + (f" (first: {value[0]})" if value else "")
        return str(value)

    width = max(len(k) for k in stats)
    return "\n".join(f"{k.replace('_', ' '):<{width}}  {cell(v)}" for k, v in stats.items())
