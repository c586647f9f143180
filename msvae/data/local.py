"""A whole manifest ingested without Ray, in a plain process pool: window arrays per split
for tests, benchmarks and ablations that must not depend on a cluster."""

from __future__ import annotations

from multiprocessing import get_context

import numpy as np
import torch

from msvae.config import Config
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
    out = {}
    for split in SPLITS:
        got = [(x, m) for s, x, m in pieces if s == split and len(x)]
        shape = (0, len(cfg.data.sources), cfg.data.n_mels, 0)
        out[split] = (np.concatenate([x for x, _ in got]) if got else np.zeros(shape, "f4"),
                      np.concatenate([m for _, m in got]) if got else np.zeros((0, shape[1]), bool))
    return out
