"""Run a sweep: a Tuner over a driver function that fits one TorchTrainer per trial.

The sweep is a parent MLflow run (RUNNING until it ends); each trial reports through
`TuneReportCallback` (one validation = one iteration for ASHA), writes into its own child
run, and fails alone: a non-finite loss, a bad combination or a killed worker marks that
trial ERROR with its reason while the others go on. The best trial's model is registered
with the champion rule, and the results table and plot go to the parent run.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ray
from mlflow import MlflowClient
from ray import tune
from ray.tune.integration.ray_train import CHECKPOINT_PATH_KEY, TuneReportCallback
from ray.tune.schedulers import ASHAScheduler

from msvae import storage
from msvae.config import Config
from msvae.sweep import report
from msvae.sweep.space import SweepSpec
from msvae.tracking.registry import SCORE_METRIC, Registered
from msvae.tracking.runs import lifecycle, open_run, public_params
from msvae.train.launch import TrainingError, check_stopped, make_trainer

SWEEP_INFO = "msvae_sweep.json"
RUN_STATUS = {"completed": "FINISHED", "stopped_early": "KILLED", "error": "FAILED"}


@dataclass
class SweepOutcome:
    name: str
    parent_run_id: str
    trials: list[dict]
    best: dict | None
    registered: Registered | None
    iterations_run: int
    iterations_full: int
    seconds: float

    @property
    def compute_saved(self) -> float:
        """Share of the validation rounds that running every trial to the end would take
        and ASHA saved."""
        return 1 - self.iterations_run / max(1, self.iterations_full)


def _trial(values: dict, *, spec: SweepSpec, parent_run_id: str, dataset_uri: str,
           sweep_name: str) -> None:
    """One trial: a child MLflow run and a full TorchTrainer fit on the sampled config.

    The sweep driver sets each child run's final status from the trial's outcome (a
    trial ASHA stops is interrupted here, so this function cannot tell)."""
    from msvae.train.datasets import training_inputs

    trial_id = tune.get_context().get_trial_id()
    cfg = spec.trial_config({k: values.get(k) for k in spec.space})
    child = open_run(cfg, f"{sweep_name}-{trial_id}", params=public_params(cfg),
                     tags={"msvae.trial_id": trial_id}, parent_run_id=parent_run_id)
    cfg, datasets = training_inputs(cfg, dataset_uri)
    trainer = make_trainer(cfg, f"{sweep_name}-{trial_id}", child, datasets,
                           callbacks=[TuneReportCallback()])
    trainer.fit()
    check_stopped(cfg, child, trial_id)


def concurrency(cfg: Config) -> int:
    """Trials that fit at once on this cluster, leaving a core's share for Ray Data."""
    per_trial = cfg.tune.trial_cpus + cfg.train.workers * cfg.train.cpus_per_worker
    cpus = ray.cluster_resources().get("CPU", 1.0)
    if cfg.train.use_gpu:
        gpus = ray.cluster_resources().get("GPU", 0.0)
        return max(1, int(min(gpus // max(1, cfg.train.workers), cpus // per_trial)))
    return max(1, int((cpus - 0.5) // per_trial))


def _tuner(cfg: Config, spec: SweepSpec, name: str, parent_run_id: str, dataset_uri: str,
           restore: bool):
    fs, path = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "sweeps"))
    trainable = tune.with_resources(
        tune.with_parameters(_trial, spec=spec, parent_run_id=parent_run_id,
                             dataset_uri=dataset_uri, sweep_name=name),
        {"cpu": cfg.tune.trial_cpus})
    if restore:
        return tune.Tuner.restore(f"{path}/{name}", trainable=trainable, storage_filesystem=fs,
                                  resume_errored=False, restart_errored=False)
    reports = max(1, math.ceil(cfg.train.steps / cfg.train.eval_every))
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=reports,
                              grace_period=min(cfg.tune.grace_period, reports),
                              reduction_factor=cfg.tune.reduction_factor)
    searcher, space = None, spec.space
    if spec.base.tune.search == "optuna":
        from optuna.samplers import TPESampler
        from ray.tune.search.optuna import OptunaSearch

        searcher = OptunaSearch(space=spec.define_by_run, metric=cfg.tune.metric,
                                mode=cfg.tune.mode,
                                sampler=TPESampler(seed=cfg.train.seed))
        space = None  # the searcher owns the space
    return tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(metric=cfg.tune.metric, mode=cfg.tune.mode,
                                    search_alg=searcher, scheduler=scheduler,
                                    num_samples=spec.num_samples,
                                    max_concurrent_trials=concurrency(cfg)),
        run_config=tune.RunConfig(name=name, storage_path=path, storage_filesystem=fs,
                                  failure_config=tune.FailureConfig(max_failures=0)))


def trial_rows(results, space_keys: list, metric: str, max_iterations: int) -> list[dict]:
    """One row per trial: its values, status, metric, registry score, iterations, error."""
    rows = []
    for result in results:
        metrics = result.metrics or {}
        iterations = int(metrics.get("training_iteration", 0))
        status = "error" if result.error else (
            "stopped_early" if iterations < max_iterations else "completed")
        rows.append({
            "trial_id": metrics["trial_id"],  # Tune fills it in even before any report
            "config": {k: result.config.get(k) for k in space_keys},
            "status": status, "metric": metrics.get(metric),
            "score": metrics.get(SCORE_METRIC), "iterations": iterations,
            "error": str(result.error).strip().splitlines()[-1][:300] if result.error else None,
            "checkpoint_path": metrics.get(CHECKPOINT_PATH_KEY)})
    return rows


def best_trial(rows: list[dict], mode: str) -> dict | None:
    """The trial with the best finite metric among those that did not fail."""
    finished = [r for r in rows if r["status"] != "error" and r["metric"] is not None
                and math.isfinite(r["metric"])]
    pick = min if mode == "min" else max
    return pick(finished, key=lambda r: r["metric"]) if finished else None


def close_child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str,
                     trials: list[dict]) -> None:
    """Each trial's MLflow child run: final status, `msvae.status`, and its error."""
    children = client.search_runs([experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent_run_id}'")
    by_trial = {r.data.tags.get("msvae.trial_id"): r.info.run_id for r in children}
    for row in trials:
        run_id = by_trial.get(row["trial_id"])
        if run_id is None:  # failed before its run was created
            continue
        client.set_tag(run_id, "msvae.status", row["status"])
        if row["error"]:
            client.set_tag(run_id, "msvae.error", row["error"])
        client.set_terminated(run_id, status=RUN_STATUS[row["status"]])


def _register_best(cfg: Config, spec: SweepSpec, best: dict, parent_run_id: str,
                   experiment_id: str, dataset_uri: str) -> Registered:
    """Log and register the best trial's model into its child run (champion rule)."""
    from msvae.train.datasets import datasets_for
    from msvae.train.finish import publish

    trial_cfg = spec.trial_config(best["config"])
    child = MlflowClient().search_runs(
        [experiment_id], f"tags.`msvae.trial_id` = '{best['trial_id']}' and "
        f"tags.`mlflow.parentRunId` = '{parent_run_id}'")[0].info.run_id
    fs, _ = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "runs"))
    checkpoint = ray.train.Checkpoint(best["checkpoint_path"], filesystem=fs)
    valid = datasets_for(trial_cfg, dataset_uri)["valid"].take_batch(1)
    return publish(trial_cfg, child, checkpoint, valid, best["score"])


def _log_results(cfg: Config, outcome: SweepOutcome) -> None:
    """The results table, the metric-per-dimension plot and the counts on the parent run."""
    client = MlflowClient()
    run_id = outcome.parent_run_id
    with tempfile.TemporaryDirectory() as tmp:
        client.log_text(run_id, report.to_csv(outcome.trials), "results.csv")
        client.log_artifact(run_id, str(report.plot(outcome.trials, cfg.tune.metric,
                                                    Path(tmp, "metric_vs_dims.png"))))
    metrics = {"iterations_run": outcome.iterations_run,
               "iterations_full": outcome.iterations_full,
               "compute_saved_frac": outcome.compute_saved}
    if outcome.best:
        metrics[f"best/{cfg.tune.metric}"] = outcome.best["metric"]
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)


def _open_sweep(cfg: Config, spec: SweepSpec, name: str, resume: bool) -> dict:
    """The sweep's record: a new parent run and prepared data, or the one `--resume` names."""
    from msvae.train.datasets import ensure_prepared

    uri = storage.join(cfg.storage.root, "sweeps", name, SWEEP_INFO)
    if resume:
        if not storage.exists(cfg, uri):
            raise TrainingError(f"--resume {name}: no such sweep under "
                                f"{storage.join(cfg.storage.root, 'sweeps')}")
        return json.loads(storage.read_bytes(cfg, uri))
    parent = open_run(cfg, name, params={"space": str(spec.path),
                                         "num_samples": spec.num_samples})
    MlflowClient().log_artifact(parent, str(spec.path))
    prepared, _ = ensure_prepared(cfg)
    info = {"parent_run_id": parent, "dataset": prepared.train.dataset,
            "experiment_id": MlflowClient().get_run(parent).info.experiment_id}
    storage.write_bytes(cfg, uri, json.dumps(info).encode())
    return info


def run_sweep(cfg: Config, spec: SweepSpec, name: str, resume: bool = False) -> SweepOutcome:
    """Fit the sweep (or resume it), close every trial's run, register the best model."""
    started = time.perf_counter()
    info = _open_sweep(cfg, spec, name, resume)
    parent, dataset = info["parent_run_id"], info["dataset"]
    with lifecycle(parent):
        results = _tuner(cfg, spec, name, parent, dataset, resume).fit()
        max_iterations = max(1, math.ceil(cfg.train.steps / cfg.train.eval_every))
        rows = trial_rows(results, list(spec.space), cfg.tune.metric, max_iterations)
        close_child_runs(MlflowClient(), info["experiment_id"], parent, rows)
        best = best_trial(rows, cfg.tune.mode)
        registered = (_register_best(cfg, spec, best, parent, info["experiment_id"], dataset)
                      if best else None)
        outcome = SweepOutcome(name, parent, rows, best, registered,
                               sum(r["iterations"] for r in rows), max_iterations * len(rows),
                               time.perf_counter() - started)
        _log_results(cfg, outcome)
        if not best:
            raise TrainingError(f"sweep {name}: every trial failed")
    return outcome
