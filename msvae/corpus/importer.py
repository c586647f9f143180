"""`msvae corpus import`: a folder of the user's own stems -> a manifest.

Layout: `<root>/<piece>/<source>[_<name>].<ext>`, e.g. `song1/instrument_guitar.flac`,
`song1/vocal.mp3`, `song1/mix.wav`. Splits come from a seeded hash of the piece id
(`assign_split`, at `corpus.valid_share` and `corpus.test_share`), so adding pieces later
moves no old one, except that valid and test each get a piece with stems where the hash
gave them none (`fill_stem_splits`, which warns about a split left empty or without
stems). Files that do not fit the layout are reported one line each and skipped;
everything else is kept.
"""

from __future__ import annotations

import logging

import pandas as pd

from msvae import storage
from msvae.audio import AUDIO_EXTENSIONS
from msvae.config import SOURCE_KINDS
from msvae.manifest import ManifestError, assign_split, fill_stem_splits

log = logging.getLogger(__name__)


def _listing(cfg, root: str) -> list[str]:
    """Every file under `root`, as paths relative to it ('/'-separated), sorted."""
    fs, base = storage.filesystem(cfg, root)
    if not fs.isdir(base):
        raise ManifestError(f"{root}: no such folder")
    base = base.rstrip("/")
    return sorted(p[len(base) + 1:] for p in fs.find(base) if p.startswith(base + "/"))


def row_for(rel: str) -> tuple[dict | None, str]:
    """'song1/instrument_guitar.flac' -> (row without uri/split, '') or (None, why)."""
    parts = rel.split("/")
    stem, _, ext = parts[-1].rpartition(".")
    if ext.lower() not in AUDIO_EXTENSIONS:
        return None, f"not an audio file (.{ext})"
    if len(parts) != 2:
        return None, "not laid out as <piece>/<source>[_<name>].<ext>"
    kind, _, name = stem.partition("_")
    if kind not in SOURCE_KINDS:
        return None, f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})"
    return {"piece": parts[0], "source": f"{kind}:{name}" if name else kind}, ""


def import_folder(cfg, root: str, seed: int) -> pd.DataFrame:
    """Manifest rows (absolute uris) for every well-laid-out audio file under `root`, with
    their splits (warnings for a split empty or without stems)."""
    rows, seen = [], {}
    for rel in _listing(cfg, root):
        row, why = row_for(rel)
        if row is None:
            log.warning("skipping %s: %s", rel, why)
            continue
        key = (row["piece"], row["source"])
        if key in seen:
            log.warning("skipping %s: %s already has a %s file (%s)", rel, key[0], key[1],
                        seen[key])
            continue
        seen[key] = rel
        base = root if storage.is_s3(root) else storage.filesystem(cfg, root)[1]
        uri = storage.join(base, *rel.split("/"))
        rows.append({**row, "uri": uri, "split": assign_split(
            row["piece"], seed, cfg.corpus.valid_share, cfg.corpus.test_share)})
    df = pd.DataFrame(rows, columns=["piece", "source", "uri", "split"])
    return fill_stem_splits(df) if rows else df

