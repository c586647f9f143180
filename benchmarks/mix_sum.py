"""How far real mixes are from the power sum of their stems, in dB per mel bin.

Remix augmentation (msvae.train.remix) makes a training mix as its stems' power sum; this
is the gap between that and a real mix of the same stems.

Ingests a manifest's pieces with the pipeline's own per-piece function (no Ray; stems
balanced against the mix as ingestion does, msvae.data.balance), keeps the windows that
have a mix and every stem, and compares the mix's log-mel with the power sum of the
stems' (msvae.train.remix.power_sum_db) over the time-frequency bins where either is
above --above-db. Per group of pieces (all; lossless: every file wav/flac; lossy: any
ogg/mp3):

  <group>_pieces, <group>_windows, <group>_bins: what was compared
  <group>_gap_median_db, <group>_gap_p90_db: median and 90th percentile of
    |mix dB - power sum dB|
  <group>_bias_median_db: median of (power sum dB - mix dB); > 0: the sum is louder

    python benchmarks/mix_sum.py --manifest /tmp/corpus32/manifest.csv \
        [--config configs/demo.yaml] [--set K=V] [--above-db -60] [--json PATH]
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, manifest_parser

from msvae.audio import LOSSLESS
from msvae.config import load
from msvae.data.ingest_piece import process_piece
from msvae.manifest import load_manifest, piece_rows
from msvae.train.remix import power_sum_db


def _lossless(rows: list[dict]) -> bool:
    return all(Path(r["uri"]).suffix.lower().lstrip(".") in LOSSLESS for r in rows)


def gaps(x: np.ndarray, mix: int, above_db: float) -> np.ndarray:
    """Signed gaps (power sum dB - mix dB) over the bins of windows x [W, S, M, T] dB (every
    slot present) where the mix or the sum is above `above_db`."""
    x = torch.from_numpy(x)
    stems = torch.ones(x.shape[:2], dtype=torch.bool)
    stems[:, mix] = False
    summed, real = power_sum_db(x, stems), x[:, mix]
    loud = torch.maximum(summed, real) > above_db
    return (summed - real)[loud].numpy()


def figures(group: str, pieces: list, mix: int, above_db: float) -> dict:
    """The group's figures over its pieces' windows with a mix and every stem."""
    windows = [p.x for p in pieces if p.mask.all() and len(p.x)]
    gap = (np.concatenate([gaps(x, mix, above_db) for x in windows]) if windows
           else np.zeros(0))
    out = {f"{group}_pieces": len(windows), f"{group}_windows": sum(map(len, windows)),
           f"{group}_bins": len(gap)}
    if len(gap):
        out.update({f"{group}_gap_median_db": float(np.median(np.abs(gap))),
                    f"{group}_gap_p90_db": float(np.percentile(np.abs(gap), 90)),
                    f"{group}_bias_median_db": float(np.median(gap))})
    return out


def main() -> None:
    ap = manifest_parser(__doc__)
    ap.add_argument("--above-db", type=float, default=-60.0,
                    help="bins compared: mix or sum above this, dB")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    cfg = load(args.config, args.set)
    rows = piece_rows(load_manifest(cfg, args.manifest))
    with multiprocessing.get_context("spawn").Pool(
            args.processes, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        pieces = pool.starmap(process_piece, [(cfg, r) for r in rows])
    mix = cfg.data.sources.index("mix")
    lossless = [_lossless(r) for r in rows]
    emit({**figures("all", pieces, mix, args.above_db),
          **figures("lossless", [p for p, ok in zip(pieces, lossless) if ok], mix,
                    args.above_db),
          **figures("lossy", [p for p, ok in zip(pieces, lossless) if not ok], mix,
                    args.above_db)}, args.json)


if __name__ == "__main__":
    main()
