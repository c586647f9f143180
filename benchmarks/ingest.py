"""Ingestion throughput: the Ray Data pipeline against a plain single-process loop.

Both do the same work on the same files (read, decode, resample, loudness, align, balance,
window, log-mel: `msvae.data.ingest_piece.process_piece` per piece) and hand the windows
to the caller (the pool returns them as the pipeline's rows reach its iterator).
Throughput is audio seconds decoded per wall-clock second, median of --repeats after one
warm-up run.
Prints `name: value` lines: ratio_1cpu (pipeline on 1 CPU / plain loop), ratio_2cpu
(pipeline on 2 CPUs / plain loop), scaling_1_to_2cpu, ratio_pool_2proc (a plain
2-process multiprocessing pool / plain loop: the machine's own ceiling for 2 CPUs),
ratio_2cpu_vs_pool (the pipeline on 2 CPUs / that pool: the share of the ceiling Ray
Data reaches) and offsets_within_10ms_pct (estimated offsets against the corpus
builder's recorded ones).

    python benchmarks/ingest.py [--manifest URI] [--pieces 8] [--repeats 3] [--json PATH]

Without --manifest it builds (or reuses, cached per seed) a demo corpus in a temp folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

from _common import emit, median_time

from msvae.config import load
from msvae.data.ingest_piece import process_piece
from msvae.data.report import merge, offsets_within
from msvae.manifest import load_manifest, piece_rows


def plain_loop(cfg, pieces: list[list[dict]]) -> dict:
    """Every piece in this process, one after another, on one thread; the merged report."""
    return merge(process_piece(cfg, rows).report for rows in pieces)


def _one_piece(cfg, rows: list[dict]) -> tuple:
    """One piece in a pool process; its windows come back to the caller, as the pipeline's
    rows reach whoever iterates it."""
    import torch

    torch.set_num_threads(1)
    piece = process_piece(cfg, rows)
    return piece.x, piece.mask


def pool_seconds(cfg, pieces: list[list[dict]], processes: int, repeats: int) -> float:
    """Median seconds for a plain multiprocessing pool doing the same pieces and returning
    their windows: what the machine allows `processes` CPUs without Ray (the pipeline's
    ceiling)."""
    import multiprocessing
    from functools import partial

    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        work = partial(pool.map, partial(_one_piece, cfg), pieces, chunksize=1)
        work()  # warm-up: the processes import torch
        return median_time(work, repeats)


def pipeline_seconds(cfg, manifest, cpus: int, repeats: int) -> float:
    """Median seconds for the Ray Data pipeline on a local Ray limited to `cpus` CPUs."""
    import ray

    from msvae.data.pipeline import stream_windows

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        def run():
            for _ in stream_windows(cfg, manifest).iter_batches(batch_size=None):
                pass
        run()  # warm-up: worker processes start and import torch
        return median_time(run, repeats)
    finally:
        ray.shutdown()


def _manifest_uri(args, cfg) -> str:
    if args.manifest:
        return args.manifest
    from msvae.corpus.build import build

    out = str(Path(tempfile.gettempdir()) / f"msvae-ingest-bench-{args.pieces}-{args.seed}")
    return build(cfg, out, args.pieces, args.seed).manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", help="manifest URI (default: build a demo corpus)")
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    # One whole CPU per piece task, so "1 CPU" runs one task at a time.
    cfg = load(overrides=["data.read_cpus=1.0"])
    manifest = load_manifest(cfg, _manifest_uri(args, cfg))
    pieces = piece_rows(manifest)

    import torch

    torch.set_num_threads(1)
    report = plain_loop(cfg, pieces)
    audio_s = report["audio_seconds_in"]
    plain = audio_s / median_time(lambda: plain_loop(cfg, pieces), args.repeats)
    ray1 = audio_s / pipeline_seconds(cfg, manifest, 1, args.repeats)
    ray2 = audio_s / pipeline_seconds(cfg, manifest, 2, args.repeats)
    pool2 = audio_s / pool_seconds(cfg, pieces, 2, args.repeats)
    emit({"pieces": len(pieces), "files": report["files_in"], "audio_seconds": audio_s,
          "plain_audio_s_per_s": plain, "pipeline_1cpu_audio_s_per_s": ray1,
          "pipeline_2cpu_audio_s_per_s": ray2, "ratio_1cpu": ray1 / plain,
          "ratio_2cpu": ray2 / plain, "scaling_1_to_2cpu": ray2 / ray1,
          "pool_2proc_audio_s_per_s": pool2, "ratio_pool_2proc": pool2 / plain,
          "ratio_2cpu_vs_pool": ray2 / pool2,
          "offsets_within_10ms_pct": offsets_within(report, manifest, cfg.data.reference)},
         args.json)


if __name__ == "__main__":
    main()
