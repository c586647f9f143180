"""Run a sweep: a Tuner over a driver function that fits one TorchTrainer per trial.

Each trial reports through `TuneReportCallback` (one validation = one iteration for
ASHA), writes into its own MLflow child run under the sweep's parent run, and fails
alone: a non-finite loss, a bad combination or a killed worker marks that trial
ERROR with its reason while the others go on.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import ray
from mlflow import MlflowClient
from ray import tune
from ray.tune.integration.ray_train import CHECKPOINT_PATH_KEY, TuneReportCallback
from ray.tune.schedulers import ASHAScheduler

from msvae import storage
from msvae.config import Config
from msvae.sweep.space import SweepSpec
from msvae.train.launch import TrainingError, check_stopped, make_trainer, public_params

SWEEP_INFO = "msvae_sweep.json"


@dataclass
class SweepOutcome:
    name: str
    parent_run_id: str
    experiment_id: str
    trials: list[dict]
    best: dict | None
    iterations_run: int
    iterations_full: int
    seconds: float
    results: object = field(repr=False, default=None)


def _trial(values: dict, *, base: dict, space_keys: list, parent_run_id: str,
           experiment_id: str, dataset_uri: str, sweep_name: str) -> None:
    """One trial: a child MLflow run and a full TorchTrainer fit on the sampled config.

    The sweep driver sets each child run's final status from the trial's outcome (a
    trial ASHA stops is interrupted here, so this function cannot tell)."""
    from msvae.sweep.space import apply
    from msvae.train.datasets import datasets_for

    trial_id = tune.get_context().get_trial_id()
    client = MlflowClient(base["tracking"]["uri"])
    child = client.create_run(experiment_id, run_name=f"{sweep_name}-{trial_id}",
                              tags={"mlflow.parentRunId": parent_run_id,
                                    "msvae.trial_id": trial_id}).info.run_id
    cfg = apply(base, {k: values[k] for k in space_keys})
    for key, value in public_params(cfg).items():
        client.log_param(child, key, value)
    trainer = make_trainer(cfg, f"{sweep_name}-{trial_id}", child,
                           datasets_for(cfg, dataset_uri), callbacks=[TuneReportCallback()])
    trainer.fit()
    check_stopped(cfg, child, trial_id)


RUN_STATUS = {"completed": "FINISHED", "stopped_early": "KILLED", "error": "FAILED"}


def close_child_runs(client: MlflowClient, outcome: "SweepOutcome") -> None:
    """Each trial's MLflow child run: final status, `msvae.status`, and its error."""
    children = client.search_runs([outcome.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    by_trial = {r.data.tags.get("msvae.trial_id"): r.info.run_id for r in children}
    for row in outcome.trials:
        run_id = by_trial.get(row["trial_id"])
        if run_id is None:  # failed before its run was created
            continue
        client.set_tag(run_id, "msvae.status", row["status"])
        if row["error"]:
            client.set_tag(run_id, "msvae.error", row["error"])
        client.set_terminated(run_id, status=RUN_STATUS[row["status"]])


def concurrency(cfg: Config) -> int:
    """Trials that fit at once on this cluster, leaving a core's share for Ray Data."""
    per_trial = cfg.tune.trial_cpus + cfg.train.workers * cfg.train.cpus_per_worker
    cpus = ray.cluster_resources().get("CPU", 1.0)
    if cfg.train.use_gpu:
        gpus = ray.cluster_resources().get("GPU", 0.0)
        return max(1, int(min(gpus // max(1, cfg.train.workers), cpus // per_trial)))
    return max(1, int((cpus - 0.5) // per_trial))


def _tuner(cfg: Config, spec: SweepSpec, name: str, parent_run_id: str, experiment_id: str,
           dataset_uri: str, restore: bool):
    fs, path = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "sweeps"))
    trainable = tune.with_resources(
        tune.with_parameters(_trial, base=spec.base, space_keys=list(spec.space),
                             parent_run_id=parent_run_id, experiment_id=experiment_id,
                             dataset_uri=dataset_uri, sweep_name=name),
        {"cpu": cfg.tune.trial_cpus})
    if restore:
        return tune.Tuner.restore(f"{path}/{name}", trainable=trainable, storage_filesystem=fs,
                                  resume_errored=False, restart_errored=False)
    reports = max(1, math.ceil(cfg.train.steps / cfg.train.eval_every))
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=reports,
                              grace_period=min(cfg.tune.grace_period, reports),
                              reduction_factor=cfg.tune.reduction_factor)
    return tune.Tuner(
        trainable, param_space=spec.space,
        tune_config=tune.TuneConfig(metric=cfg.tune.metric, mode=cfg.tune.mode,
                                    scheduler=scheduler, num_samples=spec.num_samples,
                                    max_concurrent_trials=concurrency(cfg)),
        run_config=tune.RunConfig(name=name, storage_path=path, storage_filesystem=fs,
                                  failure_config=tune.FailureConfig(max_failures=0)))


def trial_rows(results, space_keys: list, metric: str, max_iterations: int) -> list[dict]:
    """One row per trial: its values, status, metric, iterations and error, if any."""
    rows = []
    for result in results:
        metrics = result.metrics or {}
        iterations = int(metrics.get("training_iteration", 0))
        status = "error" if result.error else (
            "stopped_early" if iterations < max_iterations else "completed")
        rows.append({
            "trial_id": metrics["trial_id"],  # Tune fills it in even before any report
            "config": {k: result.config.get(k) for k in space_keys},
            "status": status, "metric": metrics.get(metric), "iterations": iterations,
            "error": str(result.error).strip().splitlines()[-1][:300] if result.error else None,
            "checkpoint_path": metrics.get(CHECKPOINT_PATH_KEY)})
    return rows


def sweep(cfg: Config, spec: SweepSpec, dataset_uri: str, name: str, resume: bool,
          parent_run_id: str, experiment_id: str) -> SweepOutcome:
    """Fit the sweep (or resume it) and summarise every trial."""
    started = time.perf_counter()
    results = _tuner(cfg, spec, name, parent_run_id, experiment_id, dataset_uri, resume).fit()
    max_iterations = max(1, math.ceil(cfg.train.steps / cfg.train.eval_every))
    rows = trial_rows(results, list(spec.space), cfg.tune.metric, max_iterations)
    finished = [r for r in rows if r["status"] != "error" and r["metric"] is not None
                and math.isfinite(r["metric"])]
    pick = min if cfg.tune.mode == "min" else max
    best = pick(finished, key=lambda r: r["metric"]) if finished else None
    return SweepOutcome(name, parent_run_id, experiment_id, rows, best,
                        sum(r["iterations"] for r in rows), max_iterations * len(rows),
                        time.perf_counter() - started, results)


def sweep_info_uri(cfg: Config, name: str) -> str:
    return storage.join(cfg.storage.root, "sweeps", name, SWEEP_INFO)


def save_sweep_info(cfg: Config, name: str, info: dict) -> None:
    storage.write_bytes(cfg, sweep_info_uri(cfg, name), json.dumps(info).encode())


def load_sweep_info(cfg: Config, name: str) -> dict:
    uri = sweep_info_uri(cfg, name)
    if not storage.exists(cfg, uri):
        raise TrainingError(f"--resume {name}: no such sweep under "
                            f"{storage.join(cfg.storage.root, 'sweeps')}")
    return json.loads(storage.read_bytes(cfg, uri))

