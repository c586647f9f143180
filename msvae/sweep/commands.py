"""`msvae sweep`: a Ray Tune search (ASHA) whose trials are full training runs."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from msvae.cli import print_json


def _register_best(cfg, spec, outcome, dataset_uri):
    """Log and register the best trial's model with the champion rule."""
    import ray.train
    from mlflow import MlflowClient

    from msvae import storage
    from msvae.train.datasets import datasets_for
    from msvae.train.finish import finish
    from msvae.train.launch import TrainResult

    best = outcome.best
    trial_cfg = spec.trial_config(best["config"])
    runs = MlflowClient().search_runs(
        [outcome.experiment_id], f"tags.`msvae.trial_id` = '{best['trial_id']}' and "
        f"tags.`mlflow.parentRunId` = '{outcome.parent_run_id}'")
    fs, _ = storage.pyarrow_filesystem(cfg, storage.join(cfg.storage.root, "runs"))
    checkpoint = ray.train.Checkpoint(best["checkpoint_path"], filesystem=fs)
    result = TrainResult(trial_cfg, best["trial_id"], runs[0].info.run_id, checkpoint,
                         {cfg.tune.metric: best["metric"]}, 0.0,
                         datasets_for(trial_cfg, dataset_uri)["valid"])
    return finish(result)


def _sweep(args, cfg) -> int:
    import mlflow
    from mlflow import MlflowClient

    from msvae.cli import UserError
    from msvae.sweep import report
    from msvae.sweep.run import close_child_runs, load_sweep_info, save_sweep_info, sweep
    from msvae.sweep.space import SweepSpec
    from msvae.tracking.connect import TrackingError, connect
    from msvae.train.datasets import prepared_dataset
    from msvae.train.launch import TrainingError, init_ray, resolved

    try:
        connect(cfg)
        init_ray(cfg)
        cfg = resolved(cfg)
        # every report must carry the metric ASHA reads
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, checkpoint_every=cfg.train.eval_every))
        spec = SweepSpec(args.space, cfg)
        if args.samples:
            spec.num_samples = args.samples
        name = args.resume or args.name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
        if args.resume:
            info = load_sweep_info(cfg, name)
        else:
            experiment = mlflow.set_experiment(cfg.tracking.experiment)
            with mlflow.start_run(run_name=name) as parent:
                mlflow.log_params({"space": str(args.space), "num_samples": spec.num_samples})
                mlflow.log_artifact(str(args.space))
            info = {"parent_run_id": parent.info.run_id, "experiment_id": experiment.experiment_id,
                    "dataset": prepared_dataset(cfg)}
            save_sweep_info(cfg, name, info)
        outcome = sweep(cfg, spec, info["dataset"], name, bool(args.resume),
                        info["parent_run_id"], info["experiment_id"])
        close_child_runs(MlflowClient(), outcome)
        registered = _register_best(cfg, spec, outcome, info["dataset"]) if outcome.best else None
    except (TrainingError, TrackingError) as exc:
        raise UserError(str(exc)) from None

    saved = 1 - outcome.iterations_run / max(1, outcome.iterations_full)
    with mlflow.start_run(run_id=outcome.parent_run_id), tempfile.TemporaryDirectory() as tmp:
        mlflow.log_text(report.to_csv(outcome.trials), "results.csv")
        mlflow.log_artifact(str(report.plot(outcome.trials, cfg.tune.metric,
                                            Path(tmp, "metric_vs_dims.png"))))
        mlflow.log_metrics({"iterations_run": outcome.iterations_run,
                            "iterations_full": outcome.iterations_full,
                            "compute_saved_frac": saved})
        if outcome.best:
            mlflow.log_metric(f"best/{cfg.tune.metric}", outcome.best["metric"])
    summary = {"name": outcome.name, "trials": [{k: v for k, v in t.items()
                                                 if k != "checkpoint_path"}
                                                for t in outcome.trials],
               "best": outcome.best and {**{k: v for k, v in outcome.best.items()
                                            if k != "checkpoint_path"},
                                         "model": registered.uri,
                                         "version": registered.version},
               "iterations_run": outcome.iterations_run,
               "iterations_full": outcome.iterations_full,
               "compute_saved_pct": round(100 * saved, 1), "seconds": round(outcome.seconds, 1)}
    if args.json:
        print_json(summary)
    else:
        print(report.to_text(outcome.trials, cfg.tune.metric))
        print(f"ASHA ran {outcome.iterations_run} of {outcome.iterations_full} validation rounds "
              f"({100 * saved:.0f}% compute saved) in {outcome.seconds:.0f} s")
        if outcome.best:
            print(f"best trial {outcome.best['trial_id']}: {cfg.tune.metric} = "
                  f"{outcome.best['metric']:.3f}, {outcome.best['config']}")
            print(f"registered {registered.name} version {registered.version}: {registered.uri}")
    if not outcome.best:
        raise UserError(f"sweep {outcome.name}: every trial failed")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("sweep", parents=[common], help="search beta schedules, attention depth "
                       "and more with Ray Tune + ASHA", description=__doc__)
    p.add_argument("--space", required=True, metavar="YAML", help="search space, e.g. "
                   "tune/beta_attention.yaml")
    p.add_argument("--name", help="sweep name (default: sweep-<time>)")
    p.add_argument("--samples", type=int, metavar="N", help="trials to sample (default: the "
                   "space file's num_samples, else tune.num_samples)")
    p.add_argument("--resume", metavar="NAME", help="resume the interrupted sweep NAME")
    p.add_argument("--json", action="store_true", help="print trials and best as JSON")
    p.set_defaults(func=_sweep)
