"""`msvae train`: one distributed training run, tracked and registered in MLflow."""

from __future__ import annotations

from msvae.console import add_json_flag, print_json


def _train(args, cfg) -> int:
    from msvae.tracking.runs import run_url
    from msvae.train.finish import finish
    from msvae.train.launch import train

    result = train(cfg, run_name=args.resume or args.run_name, resume=bool(args.resume))
    registered = finish(result)
    summary = {"run_name": result.run_name, "mlflow_run_id": result.mlflow_run_id,
               "mlflow_run": run_url(result.cfg, result.mlflow_run_id),
               "steps": result.metrics.get("step"), "seconds": round(result.seconds, 1),
               "valid": {k.split("/", 1)[1]: v for k, v in result.metrics.items()
                         if k.startswith("valid/")},
               "model": registered.uri, "version": registered.version,
               "champion": registered.champion}
    if args.json:
        print_json(summary)
    else:
        print(f"run {result.run_name}: {summary['steps']} steps in {summary['seconds']} s, "
              f"valid temporal fidelity {registered.score:.3f} (best checkpoint)")
        print(registered.describe())
        print(f"MLflow run {summary['mlflow_run']}")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("train", parents=[common], help="train a model on Ray Train and "
                       "register it in MLflow", description=__doc__)
    p.add_argument("--run-name", help="name of the run (default: <model>-<time>-<random>)")
    p.add_argument("--resume", metavar="RUN", help="continue the stopped run RUN from its "
                   "latest checkpoint, into the same MLflow run")
    add_json_flag(p, "the summary")
    p.set_defaults(func=_train)
