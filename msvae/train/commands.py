"""`msvae train`: one distributed training run, tracked and registered in MLflow."""

from __future__ import annotations

from msvae.config import dataset_model_name
from msvae.console import add_json_flag, print_json


def summary(result, registered, url: str) -> dict:
    """The run's summary: its length (train.steps, since a run that stops early raises),
    the registered checkpoint (the best by validation, often an earlier step) and its
    validation figures, and the version registered."""
    return {"run_name": result.run_name, "mlflow_run_id": result.mlflow_run_id,
            "mlflow_run": url, "steps": result.cfg.train.steps,
            "best_step": result.metrics.get("step"), "seconds": round(result.seconds, 1),
            "valid": {k.split("/", 1)[1]: v for k, v in result.metrics.items()
                      if k.startswith("valid/")},
            "model": registered.uri, "version": registered.version,
            "champion": registered.champion, "why": registered.why}


def summary_lines(result, registered) -> list[str]:
    """The summary for people (the run's URL was printed when it opened)."""
    s = summary(result, registered, "")
    lines = [f"run {s['run_name']}: {s['steps']} steps in {s['seconds']} s; registered the "
             f"best checkpoint (step {s['best_step']})", registered.describe()]
    dataset = result.cfg.train.dataset
    if dataset and registered.name == dataset_model_name(dataset):
        lines.append(f"(the model is named after train.dataset {dataset}; choose the name "
                     "with --set tracking.model_name=NAME)")
    return lines


def _train(args, cfg) -> int:
    from msvae.tracking.runs import run_url
    from msvae.train.finish import finish
    from msvae.train.launch import train

    result = train(cfg, run_name=args.resume or args.run_name, resume=bool(args.resume))
    registered = finish(result)
    if args.json:
        print_json(summary(result, registered, run_url(result.cfg, result.mlflow_run_id)))
    else:
        print("\n".join(summary_lines(result, registered)))
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("train", parents=[common], help="train a model on Ray Train and "
                       "register it in MLflow", description=__doc__)
    p.add_argument("--run-name", help="name of the run (default: <model>-<time>-<random>)")
    p.add_argument("--resume", metavar="RUN", help="continue the stopped run RUN from its "
                   "latest checkpoint, into the same MLflow run")
    add_json_flag(p, "the summary")
    p.set_defaults(func=_train)
