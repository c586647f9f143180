"""Ray Data around the per-piece stages: tasks of cfg.data.pieces_per_task pieces at
cfg.data.read_cpus CPUs.

`piece_dataset` yields one row per piece (ragged windows plus its report fragment) and
`window_dataset` explodes that into one row per window, for `msvae prepare` and evaluation, which
need the reports and piece ids. `build_dataset` streams (`stream_windows`) the fixed-shape
numeric columns `x` float32 [sources, n_mels, frames] and `mask` bool [sources] straight
into Ray Train (`iter_torch_batches` takes them as they are); `load_prepared` reads the
Parquet shards `msvae prepare` wrote back as the same kind of Dataset (with the piece ids
too when asked, for intervals over pieces).
"""

from __future__ import annotations

import json
import math
from functools import partial

import numpy as np
import pandas as pd
import ray

from msvae import storage
from msvae.config import Config
from msvae.data import idle_wait
from msvae.data.ingest_piece import process_piece
from msvae.manifest import ManifestError, load_manifest, piece_rows

TRAIN_COLUMNS = ["x", "mask"]
SPLIT_PREFIX = "split="  # hive-style folder of one split's shards under the output URI


def _ragged(items: list) -> np.ndarray:
    """A 1-D object array holding arrays of different shapes (Ray's ragged tensors)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _process_batch(batch: dict, cfg: Config) -> dict:
    """Ray Data adapter: a batch of pieces (their rows as JSON) -> one row per piece."""
    results = [process_piece(cfg, json.loads(rows)) for rows in batch["rows"]]
    return {"piece": np.array([r.piece for r in results]),
            "split": np.array([r.split for r in results]),
            "x": _ragged([r.x for r in results]),
            "start_s": _ragged([r.start_s for r in results]),
            "mask": np.stack([r.mask for r in results]),
            "report": np.array([json.dumps(r.report) for r in results])}


def window_rows(pieces: list[dict], columns: list[str]) -> dict:
    """Per-piece fields (x [W, S, M, T], mask [S], piece, split, start_s [W]) -> one row
    per window with `columns`."""
    counts = [len(p["x"]) for p in pieces]
    out = {"x": np.concatenate([p["x"] for p in pieces]).astype(np.float32, copy=False),
           "mask": np.repeat(np.stack([p["mask"] for p in pieces]), counts, axis=0).astype(bool),
           "piece": np.repeat([p["piece"] for p in pieces], counts),
           "start_s": np.concatenate([p["start_s"] for p in pieces]).astype(np.float64),
           "split": np.repeat([p["split"] for p in pieces], counts)}
    return {c: out[c] for c in columns}


def _explode(batch: dict, columns: list[str]) -> dict:
    """Ray Data adapter: piece rows -> window rows with the requested columns."""
    return window_rows([dict(zip(batch, row)) for row in zip(*batch.values())], columns)


def _stream_batch(batch: dict, cfg: Config) -> dict:
    """Ray Data adapter: a batch of pieces -> their {x, mask} window rows in one step
    (no ragged per-piece row: Arrow converts those element by element, ~40 ms a piece)."""
    results = [process_piece(cfg, json.loads(rows)) for rows in batch["rows"]]
    return window_rows([vars(r) for r in results], TRAIN_COLUMNS)


def _piece_items(cfg: Config, manifest: pd.DataFrame) -> ray.data.Dataset:
    """One row per piece (its manifest rows as JSON), cfg.data.pieces_per_task a block."""
    idle_wait.install()
    items = [{"rows": json.dumps(rows)} for rows in piece_rows(manifest)]
    blocks = max(1, math.ceil(len(items) / cfg.data.pieces_per_task))
    return ray.data.from_items(items, override_num_blocks=blocks)


def _per_task(rows: ray.data.Dataset, fn, cfg: Config) -> ray.data.Dataset:
    """`fn` over cfg.data.pieces_per_task pieces a task, at cfg.data.read_cpus CPUs."""
    return rows.map_batches(fn, batch_size=cfg.data.pieces_per_task,
                            num_cpus=cfg.data.read_cpus, batch_format="numpy")


def piece_dataset(cfg: Config, manifest: pd.DataFrame) -> ray.data.Dataset:
    """One row per piece: piece, split, x [windows, S, M, F], start_s, mask, report (JSON)."""
    return _per_task(_piece_items(cfg, manifest), partial(_process_batch, cfg=cfg), cfg)


def window_dataset(pieces: ray.data.Dataset, cfg: Config,
                   columns: list[str] = TRAIN_COLUMNS) -> ray.data.Dataset:
    """One row per window with `columns` (of x, mask, piece, start_s, split)."""
    return _per_task(pieces, partial(_explode, columns=list(columns)), cfg)


def stream_windows(cfg: Config, manifest: pd.DataFrame) -> ray.data.Dataset:
    """The {x, mask} window rows of a manifest's pieces, for streaming into training."""
    return _per_task(_piece_items(cfg, manifest), partial(_stream_batch, cfg=cfg), cfg)


def build_dataset(cfg: Config, manifest_uri: str, split: str) -> ray.data.Dataset:
    """Stream a manifest's pieces of one split as training rows {x, mask}.

    Raises ManifestError for a bad manifest or when no piece is in `split`.
    """
    manifest = load_manifest(cfg, manifest_uri)
    manifest = manifest[manifest["split"] == split]
    if manifest.empty:
        raise ManifestError(f"{manifest_uri}: no pieces in split {split!r}")
    return stream_windows(cfg, manifest)


def load_prepared(cfg: Config, uri: str, split: str, columns: list[str] = TRAIN_COLUMNS,
                  order_seed: int | None = None, reorder_each_pass: bool = False
                  ) -> ray.data.Dataset:
    """The rows of one split from the shards `msvae prepare` wrote under `uri`, with
    `columns` (of x, mask, piece, start_s; training reads {x, mask}).

    With `order_seed` the shard files are read in a seeded random order, a new one on every
    pass over the dataset (every epoch) when `reorder_each_pass`: the order comes from the
    file list alone, so the split streams and is never materialised."""
    idle_wait.install()
    fs, path = _split_folder(cfg, uri, split)
    shuffle = None if order_seed is None else ray.data.FileShuffleConfig(
        seed=order_seed, reseed_after_execution=reorder_each_pass)
    # One read task per shard file (`msvae prepare` writes a few MB each), through Ray
    # Data's V1 Parquet reader: 2.60's default V2 reader packs files into read tasks of up
    # to 128 MB whatever override_num_blocks says, so blocks grow with the corpus (a
    # 512-piece split: 13 blocks, 16 s to the first, the object store spilling;
    # benchmarks/scale.py), and it lists files in a one-CPU task every epoch, which a node
    # full of training workers never runs.
    context = ray.data.DataContext.get_current()
    v2, context.use_datasource_v2 = context.use_datasource_v2, False
    try:  # fractional CPUs: reads must fit beside training workers on a small machine
        return ray.data.read_parquet(path, filesystem=fs, columns=list(columns),
                                     num_cpus=cfg.data.read_cpus, shuffle=shuffle,
                                     override_num_blocks=len(_shards(fs, path).files))
    finally:
        context.use_datasource_v2 = v2


def prepared_rows(cfg: Config, uri: str, split: str) -> int:
    """How many windows one split of prepared shards holds, from the Parquet footers alone
    (no row is read)."""
    return _shards(*_split_folder(cfg, uri, split)).count_rows()


def _shards(fs, path: str):
    """The pyarrow dataset of one split's shard files (their footers, no rows read)."""
    import pyarrow.dataset as pads

    return pads.dataset(path, filesystem=fs, format="parquet")


def _split_folder(cfg: Config, uri: str, split: str):
    """(pyarrow filesystem, path) of one split's shard folder; StorageError when missing."""
    folder = storage.join(uri, f"{SPLIT_PREFIX}{split}")
    if not storage.exists(cfg, folder):
        raise storage.StorageError(f"{folder}: no prepared shards for split {split!r}")
    return storage.pyarrow_filesystem(cfg, folder)
