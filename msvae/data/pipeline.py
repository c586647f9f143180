"""Ray Data around the per-piece stages: one task per piece at cfg.data.read_cpus CPUs.

`piece_dataset` yields one row per piece (ragged windows plus its report fragment);
`windows` explodes that into one row per window. `build_dataset` streams the fixed-shape
numeric columns `x` float32 [sources, n_mels, frames] and `mask` bool [sources] straight
into Ray Train (`iter_torch_batches` takes them as they are); `load_prepared` reads the
Parquet shards `msvae prepare` wrote back as the same kind of Dataset.
"""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import ray

from msvae import storage
from msvae.config import Config
from msvae.corpus.manifest import load_manifest
from msvae.data.piece import process_piece

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


def _explode(batch: dict, columns: list[str]) -> dict:
    """Ray Data adapter: piece rows -> window rows with the requested columns."""
    counts = [len(x) for x in batch["x"]]
    out = {"x": np.concatenate(list(batch["x"])).astype(np.float32, copy=False),
           "mask": np.repeat(batch["mask"], counts, axis=0).astype(bool),
           "piece": np.repeat(batch["piece"], counts),
           "start_s": np.concatenate(list(batch["start_s"])).astype(np.float64),
           "split": np.repeat(batch["split"], counts)}
    return {c: out[c] for c in columns}


def piece_dataset(cfg: Config, manifest: pd.DataFrame) -> ray.data.Dataset:
    """One row per piece: piece, split, x [windows, S, M, F], start_s, mask, report (JSON)."""
    keep = ["piece", "source", "kind", "uri", "split"]
    items = [{"rows": json.dumps(group[keep].to_dict("records"))}
             for _, group in manifest.groupby("piece", sort=True)]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    return ds.map_batches(partial(_process_batch, cfg=cfg), batch_size=1,
                          num_cpus=cfg.data.read_cpus, batch_format="numpy")


def windows(pieces: ray.data.Dataset, cfg: Config,
            columns: list[str] = TRAIN_COLUMNS) -> ray.data.Dataset:
    """One row per window with `columns` (of x, mask, piece, start_s, split)."""
    return pieces.map_batches(partial(_explode, columns=list(columns)), batch_size=1,
                              num_cpus=cfg.data.read_cpus, batch_format="numpy")


def build_dataset(cfg: Config, manifest_uri: str, split: str) -> ray.data.Dataset:
    """Stream a manifest's pieces of one split as training rows {x, mask}.

    Raises ManifestError for a bad manifest and ValueError when no piece is in `split`.
    """
    manifest = load_manifest(cfg, manifest_uri)
    manifest = manifest[manifest["split"] == split]
    if manifest.empty:
        raise ValueError(f"{manifest_uri}: no pieces in split {split!r}")
    return windows(piece_dataset(cfg, manifest), cfg)


def load_prepared(cfg: Config, uri: str, split: str) -> ray.data.Dataset:
    """The {x, mask} rows of one split from the shards `msvae prepare` wrote under `uri`."""
    folder = storage.join(uri, f"{SPLIT_PREFIX}{split}")
    if not storage.exists(cfg, folder):
        raise storage.StorageError(f"{folder}: no prepared shards for split {split!r}")
    fs, path = storage.pyarrow_filesystem(cfg, folder)
    # fractional CPUs: reads must fit beside training workers on a small machine
    return ray.data.read_parquet(path, filesystem=fs, columns=TRAIN_COLUMNS,
                                 ray_remote_args={"num_cpus": cfg.data.read_cpus})
