"""The manifest: the seam between making corpora and ingesting them, one row per file.

Corpus builders and importers write it; ingestion, training and evaluation read it and
nothing else of the corpus code.

Columns (a CSV, JSONL or Parquet file, picked by extension):

- `piece`: the piece id. All rows of a piece are sources of the same music.
- `source`: `kind` or `kind:name`, kind one of SOURCE_KINDS, e.g. `instrument:organ`.
  A (piece, source) pair appears once.
- `uri`: `s3://...` or a path; a relative one is resolved against the manifest's folder.
- `split`: `train`, `valid` or `test`, the same for every row of a piece.
- `offset_s` (optional, seconds): the known time offset of the file against the aligned
  stem, used only to test alignment. The file's audio is the aligned stem delayed by
  offset_s: file[t] = stem[t - offset_s]. offset_s > 0: the file starts with that much
  extra padding (a delay); offset_s < 0: the stem's first -offset_s seconds were cut.
  The mix is the reference (offset 0). NaN when unknown.
- `gain_db` (optional, dB): the known level change of the file against the aligned stem,
  file = stem * 10**(gain_db / 20), so tests can undo loudness spread. NaN when unknown.
- `duplicate_of` (optional): for a redundant duplicate take, the source it repeats; "" else.

`load_manifest` returns those columns plus `kind` and `name` (the parts of `source`), with
every uri resolved. Every validation problem is a `ManifestError` of one line naming the
file and the row: row N is the N-th record (1-based, the header not counted).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import posixpath
from pathlib import Path

import pandas as pd

from msvae import storage
from msvae.config import SOURCE_KINDS
from msvae.errors import MsvaeError

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
REQUIRED = ("piece", "source", "uri", "split")
OPTIONAL = {"offset_s": math.nan, "gain_db": math.nan, "duplicate_of": ""}
COLUMNS = ("piece", "source", "kind", "name", "uri", "split", *OPTIONAL)
PIECE_COLUMNS = ["piece", "source", "kind", "uri", "split"]  # what ingestion needs of a row
SUFFIXES = (".csv", ".jsonl", ".parquet")
MANIFEST_NAME = "manifest.csv"


class ManifestError(MsvaeError):
    """A bad manifest, worded as one line naming the file and the row."""


def is_manifest(uri: str) -> bool:
    """True when `uri` names a manifest file (by its suffix), not a folder of shards."""
    return Path(str(uri)).suffix.lower() in SUFFIXES


def piece_rows(manifest: pd.DataFrame) -> list[list[dict]]:
    """A loaded manifest grouped by piece (sorted by id): each piece's rows as dicts with
    PIECE_COLUMNS, the unit ingestion processes."""
    return [group[PIECE_COLUMNS].to_dict("records")
            for _, group in manifest.groupby("piece", sort=True)]


def manifest_uri(uri: str) -> str:
    """A manifest file URI; a folder (no manifest extension) means its `manifest.csv`."""
    if is_manifest(uri):
        return str(uri)
    return storage.join(str(uri), MANIFEST_NAME)


def default_corpus(cfg) -> str:
    """The folder `msvae corpus build` writes by default, one per piece count and seed, so
    the demo's corpus and the comparison's larger one live side by side:
    <storage.root>/corpus/<pieces>-pieces-seed<seed>."""
    c = cfg.corpus
    return storage.join(cfg.storage.root, "corpus", f"{c.pieces}-pieces-seed{c.seed}")


def default_manifest(cfg) -> str:
    """The manifest of the default corpus, what training reads when train.dataset is unset."""
    return storage.join(default_corpus(cfg), MANIFEST_NAME)


def parse_source(source: str) -> tuple[str, str]:
    """'instrument:organ' -> ('instrument', 'organ'); 'mix' -> ('mix', '')."""
    kind, _, name = str(source).partition(":")
    return kind.strip(), name.strip()


def assign_split(piece: str, seed: int, valid_share: float, test_share: float) -> str:
    """A split for a piece from a seeded hash of its id, stable as pieces come and go: a
    uniform draw u in [0, 1) falls in train, valid or test by the shares (train the rest,
    first, so a piece moves only if the shares change)."""
    digest = hashlib.sha256(f"{seed}:{piece}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    train_share = 1.0 - valid_share - test_share
    if u < train_share:
        return "train"
    return "valid" if u < train_share + valid_share else "test"


def fill_stem_splits(df: pd.DataFrame) -> pd.DataFrame:
    """Give valid and test a piece with stems (sources besides a mix) each, so fill-ins
    and multi-source scores have something to test on: with 3 or more such pieces, a split
    holding none gets the last train piece (by id) that has stems, while train keeps one;
    pieces already in valid/test never move. Logs one warning per split left empty or,
    where the table has stems at all, left without a piece with stems."""
    multi = df.groupby("piece")["source"].agg(lambda s: (s != "mix").any())
    split_of = df.groupby("piece")["split"].first()
    for split in ("valid", "test"):
        stemmed = sorted(p for p in multi[multi].index if split_of[p] == "train")
        if multi.sum() >= 3 and len(stemmed) > 1 and not multi[split_of == split].any():
            split_of[stemmed[-1]] = split
    counts = ", ".join(f"{s} {int(multi[split_of == s].sum())}" for s in SPLITS)
    hint = (f" (pieces with stems: {counts}"
            f"{'; 3 would give every split one' if multi.sum() < 3 else ''})"
            if multi.any() else "")
    for split in SPLITS:
        pieces = list(split_of[split_of == split].index)
        if not pieces:
            log.warning("split %r is empty: none of the %d pieces is in it%s", split,
                        len(split_of), hint)
        elif multi.any() and not multi[pieces].any():
            names = ", ".join(pieces[:3]) + (", ..." if len(pieces) > 3 else "")
            log.warning("split %r has no piece with stems, only mix-only %s%s", split, names,
                        hint)
    return df.assign(split=df["piece"].map(split_of))


def resolve_uri(uri: str, manifest: str) -> str:
    """An absolute URI for `uri` as written in the manifest at `manifest`."""
    if storage.is_s3(uri):
        return uri
    if Path(uri).expanduser().is_absolute():
        return str(Path(uri).expanduser())
    if storage.is_s3(manifest):
        return "s3://" + posixpath.normpath(posixpath.join(posixpath.dirname(manifest[5:]), uri))
    return str((Path(manifest).expanduser().resolve().parent / uri).resolve())


def _read_table(data: bytes, uri: str) -> pd.DataFrame:
    suffix = Path(uri).suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(io.BytesIO(data), dtype={c: str for c in REQUIRED},
                               keep_default_na=False, na_values={"offset_s": [""],
                                                                 "gain_db": [""]})
        if suffix == ".jsonl":
            return pd.read_json(io.BytesIO(data), lines=True, dtype=False)
        return pd.read_parquet(io.BytesIO(data))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # noqa: BLE001 - any parser failure is the file's fault
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ManifestError(f"{uri}: not a readable {suffix[1:]} manifest ({first})") from None


def _text(value) -> str:
    """A cell as stripped text; missing values become ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _number(value, label: str, column: str) -> float:
    if _text(value) == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{label}: {column} {value!r} is not a number") from None


def validate(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Check a raw manifest table and return it normalised to COLUMNS (uris as written).

    `name` labels errors, e.g. 'manifest.csv'; raises ManifestError on the first problem.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing and len(df.columns):
        raise ManifestError(f"{name}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise ManifestError(f"{name}: empty manifest (no rows)")
    rows, seen, split_of = [], {}, {}
    for i, rec in enumerate(df.to_dict("records"), start=1):
        label = f"{name} row {i}"
        row = {c: _text(rec.get(c)) for c in REQUIRED}
        for column in REQUIRED:
            if not row[column]:
                raise ManifestError(f"{label}: empty {column}")
        kind, source_name = parse_source(row["source"])
        if kind not in SOURCE_KINDS:
            raise ManifestError(f"{label}: unknown source kind {kind!r} "
                                f"(known: {', '.join(SOURCE_KINDS)})")
        if row["split"] not in SPLITS:
            raise ManifestError(f"{label}: unknown split {row['split']!r} "
                                f"(known: {', '.join(SPLITS)})")
        row["source"] = f"{kind}:{source_name}" if source_name else kind
        key = (row["piece"], row["source"])
        if key in seen:
            raise ManifestError(f"{label}: piece {key[0]!r} has source {key[1]!r} twice "
                                f"(also row {seen[key]})")
        seen[key] = i
        first = split_of.setdefault(row["piece"], (row["split"], i))
        if first[0] != row["split"]:
            raise ManifestError(f"{label}: piece {row['piece']!r} is in split {row['split']!r} "
                                f"but row {first[1]} puts it in {first[0]!r}")
        row.update(kind=kind, name=source_name,
                   offset_s=_number(rec.get("offset_s"), label, "offset_s"),
                   gain_db=_number(rec.get("gain_db"), label, "gain_db"),
                   duplicate_of=_text(rec.get("duplicate_of")))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def load_manifest(cfg, uri: str) -> pd.DataFrame:
    """Read, validate and resolve a manifest (a file, or a folder holding manifest.csv).

    Returns columns piece, source, kind, name, uri (absolute), split, offset_s (float, NaN
    when unknown), gain_db (float, NaN when unknown), duplicate_of ('' when not a duplicate).
    """
    uri = manifest_uri(uri)
    if Path(uri).suffix.lower() not in SUFFIXES:
        raise ManifestError(f"{uri}: a manifest must end in {', '.join(SUFFIXES)}")
    try:
        data = storage.read_bytes(cfg, uri)
    except storage.StorageError as exc:
        raise ManifestError(str(exc)) from None
    df = validate(_read_table(data, uri), posixpath.basename(uri))
    df["uri"] = [resolve_uri(u, uri) for u in df["uri"]]
    return df


def save_manifest(cfg, df: pd.DataFrame, uri: str) -> None:
    """Validate `df` and write it to `uri` as CSV, JSONL or Parquet (by extension).

    `kind` and `name` are not written (they are parts of `source`); uris are written as
    given, so relative ones stay relative to the manifest.
    """
    suffix = Path(str(uri)).suffix.lower()
    if suffix not in SUFFIXES:
        raise ManifestError(f"{uri}: a manifest must end in {', '.join(SUFFIXES)}")
    table = validate(df, posixpath.basename(str(uri))).drop(columns=["kind", "name"])
    if suffix == ".csv":
        data = table.to_csv(index=False).encode()
    elif suffix == ".jsonl":
        data = table.to_json(orient="records", lines=True).encode()
    else:
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        data = buf.getvalue()
    storage.write_bytes(cfg, str(uri), data)
