"""The training driver: resolve endpoints, open the MLflow run, fit a TorchTrainer, register.

The driver owns the MLflow run (so a restarted or resumed run stays one MLflow run),
rank 0 writes into it during training, and the driver logs the model and artifacts
at the end. The same code runs locally and under `ray job submit`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import time

import ray
from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from msvae import storage
from msvae.config import Config
from msvae.services.state import state_dir
from msvae.tracking.connect import connect
from msvae.train.datasets import training_datasets
from msvae.train.loop import STOP_TAG, train_loop_per_worker

log = logging.getLogger(__name__)
RUN_INFO = "msvae_run.json"  # beside Ray's run folder: the MLflow run id, for --resume


class TrainingError(RuntimeError):
    """Training stopped for a reason the user can act on; one line."""


@dataclasses.dataclass
class TrainResult:
    cfg: Config  # resolved: explicit endpoints
    run_name: str
    mlflow_run_id: str
    checkpoint: "ray.train.Checkpoint"
    metrics: dict
    seconds: float
    valid: "ray.data.Dataset"


def resolved(cfg: Config) -> Config:
    """A copy whose storage endpoint and tracking URI are explicit, for remote workers."""
    from msvae.tracking.connect import tracking_uri

    return dataclasses.replace(
        cfg,
        storage=dataclasses.replace(cfg.storage, endpoint_url=storage.endpoint_url(cfg)),
        services=dataclasses.replace(cfg.services, state_dir=str(state_dir(cfg))),
        tracking=dataclasses.replace(cfg.tracking, uri=tracking_uri(cfg)))


def init_ray(cfg: Config) -> None:
    """Join the cluster in RAY_ADDRESS (as under `ray job submit`) or start a local one."""
    if ray.is_initialized():
        return
    ray.init(address=os.environ.get("RAY_ADDRESS"))


def _run_info_uri(cfg: Config, run_name: str) -> str:
    return storage.join(cfg.storage.root, "runs", run_name, RUN_INFO)


def _open_mlflow_run(cfg: Config, run_name: str, resume: bool, tags: dict) -> str:
    """The MLflow run id: the recorded one on resume, else a new run with params."""
    import mlflow

    info_uri = _run_info_uri(cfg, run_name)
    if resume:
        if not storage.exists(cfg, info_uri):
            raise TrainingError(f"--resume {run_name}: no such run under "
                                f"{storage.join(cfg.storage.root, 'runs')}")
        return json.loads(storage.read_bytes(cfg, info_uri))["mlflow_run_id"]
    mlflow.set_experiment(cfg.tracking.experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(public_params(cfg))
        mlflow.set_tags({"msvae.model": cfg.model.kind, "msvae.run_name": run_name, **tags})
        mlflow.log_text(config_yaml(cfg), "config.yaml")
    storage.write_bytes(cfg, info_uri, json.dumps({"mlflow_run_id": run.info.run_id}).encode())
    return run.info.run_id


def public_params(cfg: Config) -> dict:
    """The flattened config for MLflow params, with endpoints stripped of any userinfo."""
    from urllib.parse import urlsplit, urlunsplit

    params = {}
    for key, value in cfg.flat().items():
        if isinstance(value, str) and "@" in value and "://" in value:
            parts = urlsplit(value)
            value = urlunsplit(parts._replace(netloc=parts.hostname + (
                f":{parts.port}" if parts.port else "")))
        params[key] = value
    return params


def config_yaml(cfg: Config) -> str:
    import yaml

    raw = cfg.to_dict()
    raw["storage"]["endpoint_url"] = public_params(cfg)["storage.endpoint_url"]
    return yaml.safe_dump(raw, sort_keys=False)


def make_trainer(cfg: Config, run_name: str, mlflow_run_id: str, datasets: dict,
                 callbacks: list | None = None) -> TorchTrainer:
    """The TorchTrainer for a resolved config; Tune builds its trials with this too."""
    fs, path = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "runs"))
    resources = {"CPU": cfg.train.cpus_per_worker}
    return TorchTrainer(
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
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            worker_runtime_env={"env_vars": storage.worker_env(cfg)},
            callbacks=callbacks))


def train(cfg: Config, run_name: str | None = None, resume: bool = False,
          tags: dict | None = None) -> TrainResult:
    """Fit one training run end to end (no registration); raises TrainingError.

    `tags` go on a new MLflow run (e.g. `mlflow.parentRunId` to nest it)."""
    connect(cfg)
    init_ray(cfg)
    cfg = resolved(cfg)
    run_name = run_name or (f"{cfg.model.kind}-{time.strftime('%Y%m%d-%H%M%S')}-"
                            f"{secrets.token_hex(2)}")
    mlflow_run_id = _open_mlflow_run(cfg, run_name, resume, tags or {})
    started = time.perf_counter()
    warn_if_data_starves(cfg)
    datasets = training_datasets(cfg)
    trainer = make_trainer(cfg, run_name, mlflow_run_id, datasets)
    try:
        result = trainer.fit()
    except Exception as exc:  # noqa: BLE001 - Ray wraps worker errors; keep the root cause
        raise TrainingError(f"run {run_name} failed: {_root_cause(exc)}") from exc
    check_stopped(cfg, mlflow_run_id, run_name)
    if result.checkpoint is None:
        raise TrainingError(f"run {run_name} ended without a checkpoint")
    return TrainResult(cfg, run_name, mlflow_run_id, result.checkpoint, result.metrics or {},
                       time.perf_counter() - started, datasets["valid"])


def warn_if_data_starves(cfg: Config) -> None:
    """Ray Data budgets only what the training workers leave; under about one CPU its
    readers can stall for good (seen: 2 workers x 0.8 CPU on 2 cores). Say so up front."""
    left = ray.cluster_resources().get("CPU", 0.0) - cfg.train.workers * cfg.train.cpus_per_worker
    if left < 1.0:
        log.warning("only %.2f CPU left for Ray Data beside %d workers x %.2f CPU: streaming "
                    "may stall; lower train.cpus_per_worker or add CPUs", left,
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
