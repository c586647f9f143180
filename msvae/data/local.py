"""A whole manifest ingested without Ray, in a plain process pool: window arrays per split
for tests, benchmarks and ablations that must not depend on a cluster."""

from __future__ import annotations

from multiprocessing import get_context

import numpy as np
import torch

from msvae.config import Config
from msvae.data.features import window_frames
from msvae.data.ingest_piece import process_piece
from msvae.manifest import load_manifest, piece_rows

SPLITS = ("train", "valid", "test")


def _ingest(args) -> tuple[str, np.ndarray, np.ndarray]:
    cfg, rows = args
    torch.set_num_threads(1)
    piece = process_piece(cfg, rows)
    return piece.split, piece.x, np.repeat(piece.mask[None], len(piece.x), axis=0)


def split_windows(cfg: Config, manifest_uri: str, processes: int = 2) -> dict[str, tuple]:
    """{split: (x float32 [W, S, M, T] dB, mask bool [W, S])} over every piece of the
    manifest, ingested exactly as the pipeline does (msvae.data.ingest_piece)."""
    jobs = [(cfg, rows) for rows in piece_rows(load_manifest(cfg, manifest_uri))]
    with get_context("spawn").Pool(processes) as pool:
        pieces = pool.map(_ingest, jobs)
    sources = len(cfg.data.sources)
    empty = (np.zeros((0, sources, cfg.data.n_mels, window_frames(cfg.data)), np.float32),
             np.zeros((0, sources), bool))
    out = {}
    for split in SPLITS:
        got = [(x, m) for s, x, m in pieces if s == split and len(x)]
        out[split] = (tuple(np.concatenate(parts) for parts in zip(*got)) if got else empty)
    return out
