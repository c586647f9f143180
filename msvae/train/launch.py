"""The training driver: resolve endpoints, open the MLflow run, fit a TorchTrainer.

The driver owns the MLflow run (so a restarted or resumed run stays one MLflow run):
RUNNING while the trainer fits, then FINISHED, FAILED or KILLED. Rank 0 writes into it
during training; msvae.train.finish logs the model and artifacts afterwards. The same
code runs locally and under `ray job submit`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import secrets
import time

import ray
from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from msvae import storage
from msvae.config import Config, override
from msvae.errors import MsvaeError
from msvae.ray_start import init_ray
from msvae.services.state import state_dir
from msvae.tracking.connect import connect
from msvae.tracking.registry import SCORE_METRIC
from msvae.tracking.runs import announce, config_yaml, lifecycle, open_run, public_params
from msvae.train.datasets import training_inputs
from msvae.train.loop import STOP_TAG, train_loop_per_worker
from msvae.train.progress import TrainingProgress

log = logging.getLogger(__name__)
RUN_INFO = "msvae_run.json"  # beside Ray's run folder: the MLflow run id, for --resume


class TrainingError(MsvaeError):
    """Training stopped for a reason the user can act on; one line."""


@dataclasses.dataclass
class TrainResult:
    cfg: Config  # resolved: explicit endpoints
    run_name: str
    mlflow_run_id: str
    checkpoint: "ray.train.Checkpoint"  # the best by validation SCORE_METRIC
    metrics: dict  # reported with that checkpoint
    seconds: float
    valid: "ray.data.Dataset"


def resolved(cfg: Config) -> Config:
    """A copy whose storage endpoint and tracking URI are explicit, for remote workers."""
    from msvae.tracking.connect import tracking_uri

    return override(cfg, {"storage.endpoint_url": storage.endpoint_url(cfg),
                          "services.state_dir": str(state_dir(cfg)),
                          "tracking.uri": tracking_uri(cfg)})


def _run_info_uri(cfg: Config, run_name: str) -> str:
    return storage.join(cfg.storage.root, "runs", run_name, RUN_INFO)


def _open_mlflow_run(cfg: Config, run_name: str, resume: bool, tags: dict) -> str:
    """The MLflow run id: the recorded one on resume, else a new run with params."""
    from mlflow import MlflowClient

    info_uri = _run_info_uri(cfg, run_name)
    if resume:
        if not storage.exists(cfg, info_uri):
            raise TrainingError(f"--resume {run_name}: no such run under "
                                f"{storage.join(cfg.storage.root, 'runs')}")
        run_id = json.loads(storage.read_bytes(cfg, info_uri))["mlflow_run_id"]
        announce(cfg, run_name, run_id)
        return run_id
    run_id = open_run(cfg, run_name, params=public_params(cfg),
                      tags={"msvae.model": cfg.model.kind, **tags})
    MlflowClient().log_text(run_id, config_yaml(cfg), "config.yaml")
    storage.write_bytes(cfg, info_uri, json.dumps({"mlflow_run_id": run_id}).encode())
    return run_id


class _Trainer(TorchTrainer):
    """A TorchTrainer whose `fit` leaves SIGINT to msvae.interrupts: Ray Train's own
    handler aborts the controller and then calls sys.exit(0), so the run stayed RUNNING
    and the command ended without a word (tests/test_train.py sends SIGINT)."""

    def _register_sigint_handler(self, controller) -> None:
        pass


def make_trainer(cfg: Config, run_name: str, mlflow_run_id: str, datasets: dict,
                 callbacks: list | None = None) -> TorchTrainer:
    """The TorchTrainer for a resolved config; Tune builds its trials with this too."""
    fs, path = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "runs"))
    resources = {"CPU": cfg.train.cpus_per_worker}
    return _Trainer(
        train_loop_per_worker,
        train_loop_config={"config": cfg.to_dict(), "tracking_uri": cfg.tracking.uri,
                           "mlflow_run_id": mlflow_run_id},
        scaling_config=ScalingConfig(num_workers=cfg.train.workers, use_gpu=cfg.train.use_gpu,
                                     resources_per_worker=resources),
        datasets=datasets,
        dataset_config=DataConfig(datasets_to_split=["train"]),
        run_config=RunConfig(
            name=run_name, storage_path=path, storage_filesystem=fs,
            failure_config=FailureConfig(max_failures=cfg.train.max_failures),
            checkpoint_config=CheckpointConfig(  # the 2 best by validation, and the latest
                num_to_keep=2, checkpoint_score_attribute=SCORE_METRIC,
                checkpoint_score_order="max"),
            worker_runtime_env={"env_vars": storage.worker_env(cfg)},
            callbacks=callbacks))


def train(cfg: Config, run_name: str | None = None, resume: bool = False,
          parent_run_id: str | None = None) -> TrainResult:
    """Fit one training run end to end (no registration); raises TrainingError.

    `parent_run_id` nests a new MLflow run under a sweep's or comparison's run."""
    connect(cfg)
    init_ray()
    cfg = resolved(cfg)
    run_name = run_name or (f"{cfg.model.kind}-{time.strftime('%Y%m%d-%H%M%S')}-"
                            f"{secrets.token_hex(2)}")
    tags = {"mlflow.parentRunId": parent_run_id} if parent_run_id else {}
    mlflow_run_id = _open_mlflow_run(cfg, run_name, resume, tags)
    started = time.perf_counter()
    with lifecycle(mlflow_run_id):
        warn_if_data_starves(cfg)
        cfg, datasets = training_inputs(cfg)
        trainer = make_trainer(cfg, run_name, mlflow_run_id, datasets)
        try:
            with TrainingProgress(mlflow_run_id, cfg.train.steps):
                result = trainer.fit()
        except KeyboardInterrupt:
            ray.shutdown()  # ends the workers, and the local Ray instance init_ray started
            raise
        except Exception as exc:  # noqa: BLE001 - Ray wraps worker errors; keep the root cause
            raise TrainingError(f"run {run_name} failed: {_root_cause(exc)}") from exc
        check_stopped(cfg, mlflow_run_id, run_name)
        if result.checkpoint is None:
            raise TrainingError(f"run {run_name} ended without a checkpoint")
    checkpoint, metrics = best_checkpoint(result)
    return TrainResult(cfg, run_name, mlflow_run_id, checkpoint, metrics,
                       time.perf_counter() - started, datasets["valid"])


def best_checkpoint(result) -> tuple:
    """(checkpoint, its metrics) with the highest finite SCORE_METRIC; the latest when
    none has one."""
    scored = [(c, m) for c, m in result.best_checkpoints or []
              if isinstance(m.get(SCORE_METRIC), float) and math.isfinite(m[SCORE_METRIC])]
    if not scored:
        return result.checkpoint, result.metrics or {}
    return max(scored, key=lambda cm: cm[1][SCORE_METRIC])


def warn_if_data_starves(cfg: Config) -> None:
    """Ray Data budgets only what the training workers leave; under about one CPU its
    readers can stall for good (seen: 2 workers x 0.8 CPU on 2 cores), and reading prepared
    shards lists their files in a task that asks for one whole CPU on one node (Ray 2.60's
    read_parquet). Say so up front."""
    left = ray.cluster_resources().get("CPU", 0.0) - cfg.train.workers * cfg.train.cpus_per_worker
    if left < 1.0:
        log.warning("only %.2f CPU left for Ray Data beside %d workers x %.2f CPU: streaming "
                    "may stall, and prepared shards need one whole CPU free on a node to be "
                    "listed; lower train.cpus_per_worker or add CPUs", left,
                    cfg.train.workers, cfg.train.cpus_per_worker)


def check_stopped(cfg: Config, mlflow_run_id: str, run_name: str) -> None:
    """Raise the reason rank 0 left on the run when it stopped early."""
    from mlflow import MlflowClient

    reason = MlflowClient(cfg.tracking.uri).get_run(mlflow_run_id).data.tags.get(STOP_TAG)
    if reason:
        raise TrainingError(f"run {run_name} stopped: {reason}")


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"
