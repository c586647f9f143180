"""The Ray Train worker loop: DDP steps (msvae.train.step) over the streamed shard,
validation, checkpoints.

Every rank calls `ray.train.report` at the same steps (it is a barrier); rank 0 alone
validates, writes checkpoints and logs to MLflow (the loss parts every train.log_every
steps: each read of them is a host synchronisation on a GPU). A non-finite loss on any rank stops
every rank at the same step and leaves the reason on the MLflow run for the driver.
"""

from __future__ import annotations

import logging
import tempfile
import time

import ray
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist

from msvae.config import Config, from_dict
from msvae.evaluate.score import evaluate
from msvae.model import build_model
from msvae.model.objective import as_floats
from msvae.tracking.run_logger import RunLogger
from msvae.train import checkpoint as ckpt
from msvae.train.datasets import CACHE_BYTES
from msvae.train.step import NonFiniteLoss, autocast, optimizer_for, train_step

log = logging.getLogger(__name__)

STOP_TAG = "msvae.stopped"
RESUMED_TAG = "msvae.resumed_from_step"
NODES_TAG = "msvae.nodes"  # how many distinct Ray nodes the workers run on


def _node_ids() -> list[str]:
    """Every rank's Ray node id, gathered to all ranks."""
    node = ray.get_runtime_context().get_node_id()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [node]
    nodes = [None] * dist.get_world_size()
    dist.all_gather_object(nodes, node)
    return nodes


def _batches(shard, cfg: Config, device: torch.device, epoch: int | None):
    """Batches of the shard; shuffled through a train.shuffle_windows buffer for an epoch,
    in order when `epoch` is None (validation)."""
    shuffle = {} if epoch is None else {
        "local_shuffle_buffer_size": max(cfg.train.shuffle_windows, cfg.train.batch_size),
        "local_shuffle_seed": cfg.train.seed + epoch}
    return shard.iter_torch_batches(batch_size=cfg.train.batch_size, drop_last=True,
                                    device=device, **shuffle)


class _Split:
    """A rank's split, streamed on its first pass and kept on the CPU when
    train.cache_split says so (the driver decides "auto" from the shards' size before
    training, msvae.train.datasets; a manifest's first pass is kept while it fits), then
    served from memory: each re-read of a streaming split is a fresh Ray Data execution,
    seconds on a small set. `epoch(e)` gives shuffled training batches (the first pass
    through the train.shuffle_windows buffer, later ones in a permutation seeded by e);
    iterating gives the batches in order (validation)."""

    def __init__(self, shard, cfg: Config, device: torch.device):
        self.shard, self.cfg, self.device, self.kept = shard, cfg, device, None
        self.limit = {"auto": CACHE_BYTES, "memory": float("inf"),
                      "stream": -1}[cfg.train.cache_split]

    def __iter__(self):
        return self.epoch(None)

    def epoch(self, epoch: int | None):
        if self.kept is not None:
            yield from self._from_memory(epoch)
            return
        kept, size = [], 0
        for batch in _batches(self.shard, self.cfg, torch.device("cpu"), epoch):
            if kept is not None:
                size += sum(t.numel() * t.element_size() for t in batch.values())
                kept = kept + [batch] if size <= self.limit else None
            yield {k: t.to(self.device) for k, t in batch.items()}
        if kept:
            self.kept = {k: torch.cat([b[k] for b in kept]) for k in kept[0]}

    def _from_memory(self, epoch: int | None):
        n, size = len(self.kept["x"]), self.cfg.train.batch_size
        order = (torch.arange(n) if epoch is None else torch.randperm(
            n, generator=torch.Generator().manual_seed(self.cfg.train.seed + epoch)))
        for start in range(0, n - size + 1, size):
            rows = order[start:start + size]
            yield {k: t[rows].to(self.device) for k, t in self.kept.items()}


def _restore(model, optimizer) -> int:
    """Load the latest reported checkpoint, if any; returns the step to start from."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0
    with _complete(checkpoint).as_directory() as directory:
        return ckpt.restore(directory, _unwrap(model), optimizer)


def _report(step: int, metrics: dict, model, optimizer, rank: int, save: bool) -> None:
    """Report at a barrier; rank 0 attaches the checkpoint when `save`."""
    if save and rank == 0:
        with tempfile.TemporaryDirectory() as directory:
            ckpt.save(directory, _unwrap(model), optimizer, step)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))
    else:
        ray.train.report(metrics)


def _complete(checkpoint: ray.train.Checkpoint) -> ray.train.Checkpoint:
    """The checkpoint, or, when it lacks its marker (a storage server that crashed while it
    was uploaded kept only part of it), the newest complete one beside it in the run's
    folder, with a warning naming both; IncompleteCheckpoint's error when there is none."""
    import pyarrow.fs as pafs

    fs, path = checkpoint.filesystem, checkpoint.path
    if fs.get_file_info(f"{path}/{ckpt.MARKER}").type == pafs.FileType.File:
        return checkpoint
    steps = ckpt.complete_in(fs, path.rstrip("/").rsplit("/", 1)[0])
    if not steps:
        raise ckpt.IncompleteCheckpoint(f"{path}: checkpoint incomplete (no {ckpt.MARKER} "
                                        "marker), and no complete one beside it")
    newest = max(steps, key=steps.get)
    log.warning("checkpoint %s is incomplete (no %s marker): resuming from %s (step %d)",
                path, ckpt.MARKER, newest, steps[newest])
    return ray.train.Checkpoint(newest, filesystem=fs)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _log_start(logger: RunLogger | None, step: int) -> None:
    """Rank 0 tags how many nodes the workers span and, on resume, the step it resumed at.
    Every rank takes part in gathering the node ids."""
    nodes = _node_ids()
    if logger:
        logger.tag(NODES_TAG, str(len(set(nodes))))
        if step:
            logger.tag(RESUMED_TAG, str(step))


def _report_step(step: int, parts: dict, speed: dict, model, optimizer, rank: int,
                 validation, logger, cfg: Config) -> None:
    """At checkpoint and validation steps: validate on rank 0, then report at the barrier.
    `speed`: windows_per_s and data_wait_share since the first batch."""
    checkpoint_now = step % cfg.train.checkpoint_every == 0 or step == cfg.train.steps
    evaluate_now = (step % cfg.train.eval_every == 0 or step == cfg.train.steps
                    or checkpoint_now)  # checkpoints are kept by their validation score
    if not (checkpoint_now or evaluate_now):
        return
    metrics = {"step": step, "train/loss": float(parts["loss"]), **speed}
    if evaluate_now and rank == 0:
        model.eval()
        started = time.perf_counter()
        with torch.no_grad(), autocast(ray.train.torch.get_device()):
            scores = evaluate(_unwrap(model), validation, cfg)
        metrics.update({f"valid/{k}": v for k, v in scores.items()})
        # the other ranks wait this long at the report barrier
        metrics["valid_seconds"] = time.perf_counter() - started
        logger.metrics({k: v for k, v in metrics.items() if k != "step"}, step)
    if logger:  # in MLflow before Ray has the report, as Tune may stop the trial on it
        logger.flush()
    _report(step, metrics, model, optimizer, rank, save=checkpoint_now)


def train_loop_per_worker(loop_config: dict) -> None:
    """Entry point for each Ray Train worker; `loop_config` carries the config and run ids."""
    cfg = from_dict(loop_config["config"])
    rank = ray.train.get_context().get_world_rank()
    ckpt.seed_everything(cfg.train.seed)  # same init on every rank; DDP also broadcasts
    torch.set_num_threads(max(1, int(cfg.train.cpus_per_worker)))
    device = ray.train.torch.get_device()
    model = ray.train.torch.prepare_model(build_model(cfg))
    optimizer = optimizer_for(model, cfg)
    step = _restore(model, optimizer)
    ckpt.seed_everything(cfg.train.seed * 1000 + rank + step)
    logger = (RunLogger(loop_config["tracking_uri"], loop_config["mlflow_run_id"])
              if rank == 0 else None)
    _log_start(logger, step)
    loop_started = time.perf_counter()
    train_shard = ray.train.get_dataset_shard("train")
    train_split = _Split(train_shard, cfg, device)
    validation = (_Split(ray.train.get_dataset_shard("valid"), cfg, torch.device("cpu"))
                  if rank == 0 else None)
    # throughput clock starts at the first batch; `waited`: seconds since then spent waiting
    # for the next batch (the input pipeline's share of the steps, epoch restarts included)
    epoch, started, seen, waited, resumed = step, None, 0, 0.0, None
    while step < cfg.train.steps:
        epoch_start = step
        for batch in train_split.epoch(epoch):
            arrived = time.perf_counter()
            if started is None:
                started = arrived
                if logger:  # how long the first batch took to stream in, seconds
                    logger.metrics({"first_batch_seconds": started - loop_started}, step)
            else:
                waited += arrived - resumed
            try:
                parts = train_step(model, optimizer, batch, step, cfg, rank)
            except NonFiniteLoss as exc:
                if logger:
                    logger.tag(STOP_TAG, str(exc))
                return
            step += 1
            seen += batch["x"].shape[0]
            if logger and (step % cfg.train.log_every == 0 or step == cfg.train.steps):
                logger.metrics({f"train/{k}": v for k, v in as_floats(parts).items()}, step)
            elapsed = time.perf_counter() - started
            _report_step(step, parts, {"windows_per_s": seen / elapsed,
                                       "data_wait_share": waited / elapsed},
                         model, optimizer, rank, validation, logger, cfg)
            resumed = time.perf_counter()  # validation and checkpoints are not waits
            if step >= cfg.train.steps:
                break
        if step == epoch_start:
            raise RuntimeError(f"rank {rank}: the train split yields no full batch of "
                               f"{cfg.train.batch_size} windows; lower train.batch_size")
        epoch += 1
    if logger:
        logger.flush()
