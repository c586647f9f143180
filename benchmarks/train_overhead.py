"""Ray Train overhead: the training loop on Ray Train against the same loop in plain PyTorch.

Same windows (real corpus, processed once), same model, objective, optimiser and batch
size. Plain: one process, one thread. Plain DDP: two `torch.distributed` processes (gloo)
with DistributedDataParallel, one thread each, the same step (msvae.train.step). Ray:
`msvae.train.launch.make_trainer` with one, then two workers at one CPU each (the loop
sets one torch thread per CPU). Throughput is measured inside each loop, start-up
excluded; medians of --repeats runs.
Needs the embedded services (`msvae services up`).

    python benchmarks/train_overhead.py [--pieces 6] [--steps 60] [--repeats 3] [--json PATH]

Prints ratio_ray_vs_plain (1 Ray worker / plain, steps/s), ratio_2w_vs_plain_ddp (2 Ray
Train workers / 2 plain DDP processes, steps/s at the same per-process batch) and
ratio_2w_vs_1w (steps/s of two workers / one; each step of two workers takes twice the
windows), plus the windows/s ratio of two workers to one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit  # noqa: E402

from msvae.config import load  # noqa: E402
from msvae.corpus.build import build  # noqa: E402
from msvae.data.ingest_piece import process_piece  # noqa: E402
from msvae.data.pipeline import window_rows  # noqa: E402
from msvae.manifest import load_manifest, piece_rows  # noqa: E402
from msvae.model import build_model  # noqa: E402
from msvae.train.step import optimizer_for, train_step  # noqa: E402

WARMUP = 5  # steps excluded from the plain loop's timing


def windows(cfg) -> tuple[np.ndarray, np.ndarray, int]:
    """All windows of the corpus as x [N, S, M, T] dB and mask [N, S]; the piece count."""
    manifest = load_manifest(cfg, build(cfg, tempfile.gettempdir() + "/msvae-bench-corpus",
                                        cfg.corpus.pieces, cfg.corpus.seed).manifest)
    results = [process_piece(cfg, rows) for rows in piece_rows(manifest)]
    rows = window_rows([vars(r) for r in results], ["x", "mask"])
    return rows["x"], rows["mask"], len(results)


def plain_steps_per_s(cfg, x: np.ndarray, mask: np.ndarray) -> float:
    """The loop's work (forward, ELBO, backward, clip, AdamW) in plain PyTorch, 1 thread."""
    torch.set_num_threads(1)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg)
    optimizer = optimizer_for(model, cfg)
    rng = np.random.default_rng(cfg.train.seed)
    b = cfg.train.batch_size
    for step in range(cfg.train.steps + WARMUP):
        if step == WARMUP:
            started = time.perf_counter()
        idx = rng.choice(len(x), b, replace=False)
        train_step(model, optimizer, {"x": torch.from_numpy(x[idx]),
                                      "mask": torch.from_numpy(mask[idx])}, step, cfg)
    return cfg.train.steps / (time.perf_counter() - started)


def _ddp_rank(rank: int, world: int, port: int, cfg_dict: dict, x, mask, out) -> None:
    """One plain DDP process: `cfg.train.steps` steps on its own random batches."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from msvae.config import from_dict

    cfg = from_dict(cfg_dict)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    torch.manual_seed(cfg.train.seed)
    model = DistributedDataParallel(build_model(cfg))
    optimizer = optimizer_for(model, cfg)
    rng = np.random.default_rng(cfg.train.seed + rank)
    b = cfg.train.batch_size
    for step in range(cfg.train.steps + WARMUP):
        if step == WARMUP:
            dist.barrier()
            started = time.perf_counter()
        idx = rng.choice(len(x), b, replace=False)
        train_step(model, optimizer, {"x": torch.from_numpy(x[idx]),
                                      "mask": torch.from_numpy(mask[idx])}, step, cfg)
    dist.barrier()
    if rank == 0:
        out.put(cfg.train.steps / (time.perf_counter() - started))
    dist.destroy_process_group()


def plain_ddp_steps_per_s(cfg, x: np.ndarray, mask: np.ndarray, world: int = 2) -> float:
    """Steps/s of `world` plain DDP processes (spawned, gloo on loopback)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_ddp_rank, args=(r, world, port, cfg.to_dict(), x, mask, out))
             for r in range(world)]
    for p in procs:
        p.start()
    result = out.get()
    for p in procs:
        p.join()
    return result


def ray_steps_per_s(cfg, x: np.ndarray, mask: np.ndarray, blocks: int, workers: int) -> float:
    """Steps/s of `make_trainer` with `workers` workers, from rank 0's windows/s.

    The windows go in `blocks` Ray Data blocks, one per piece as the ingestion pipeline
    emits them (one block per window would cost an object fetch per window)."""
    import mlflow
    import ray

    from msvae.config import override
    from msvae.train.launch import make_trainer, resolved

    cfg = override(resolved(cfg), {"train.workers": workers})
    data = ray.data.from_items([{"x": xi, "mask": mi} for xi, mi in zip(x, mask)],
                               override_num_blocks=blocks)
    mlflow.set_experiment("benchmarks")
    with mlflow.start_run(run_name=f"train-overhead-{workers}w") as run:
        pass
    result = make_trainer(cfg, f"bench-{workers}w-{time.time_ns()}", run.info.run_id,
                          {"train": data, "valid": data.limit(cfg.train.batch_size)}).fit()
    return result.metrics["windows_per_s"] / cfg.train.batch_size  # rank 0's windows/s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--pieces", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    cfg = load(args.config, [f"corpus.pieces={args.pieces}", f"train.steps={args.steps}",
                             f"train.eval_every={args.steps}",
                             f"train.checkpoint_every={args.steps}",
                             "train.cpus_per_worker=1.0", "train.batch_size=8"])
    import ray

    from msvae.tracking.connect import connect

    connect(cfg)
    x, mask, pieces = windows(cfg)
    ray.init(num_cpus=2, include_dashboard=False)
    plain = statistics.median(plain_steps_per_s(cfg, x, mask) for _ in range(args.repeats))
    ddp = statistics.median(plain_ddp_steps_per_s(cfg, x, mask) for _ in range(args.repeats))
    one = statistics.median(ray_steps_per_s(cfg, x, mask, pieces, 1) for _ in range(args.repeats))
    two = statistics.median(ray_steps_per_s(cfg, x, mask, pieces, 2) for _ in range(args.repeats))
    emit({"windows": len(x), "model": cfg.model.kind, "steps": args.steps,
          "plain_steps_per_s": plain, "plain_ddp_2p_steps_per_s": ddp,
          "ray_1w_steps_per_s": one, "ray_2w_steps_per_s": two,
          "ratio_ray_vs_plain": one / plain, "ratio_2w_vs_plain_ddp": two / ddp,
          "ratio_2w_vs_1w": two / one,
          "windows_ratio_2w_vs_1w": 2 * two / one}, args.json)


if __name__ == "__main__":
    main()
