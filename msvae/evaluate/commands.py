"""`msvae evaluate`: the indicators of a registered model on any manifest.

Every piece of the manifest (all splits) goes through the same ingestion pipeline as
training, with the model's own data settings; files the pipeline quarantines are
listed, the rest are scored. A table gives each indicator with its unit and which way is
better, per split and over all windows, beside the time-mean and frame-PCA floors on the
same windows. The generated-audio figures (similarity, Fréchet distance) and the PCA
floor's fit come from the model's own training data when it can be read, else they are
reported NaN.
"""

from __future__ import annotations

from msvae.console import add_json_flag, print_json
from msvae.errors import MsvaeError


def model_identity(uri: str) -> dict:
    """{"uri", "name", "version", "run_id"} of an MLflow model URI: the registered name and
    version an alias points at now (None for a model that is not registered)."""
    from mlflow import MlflowClient
    from mlflow.store.artifact.utils.models import get_model_name_and_version

    if not uri.startswith("models:/"):
        return {"uri": uri, "name": None, "version": None, "run_id": None}
    client = MlflowClient()
    name, version = get_model_name_and_version(client, uri)
    return {"uri": uri, "name": name, "version": str(version),
            "run_id": client.get_model_version(name, version).run_id}


def _evaluate(args, cfg) -> int:
    from msvae.evaluate.on_manifest import evaluate_manifest
    from msvae.evaluate.report import table
    from msvae.manifest import default_manifest, manifest_uri
    from msvae.ray_start import init_ray
    from msvae.tracking.connect import connect
    from msvae.tracking.load import load_registered, with_model_settings

    connect(cfg)
    model, trained = load_registered(args.model)  # a bad URI fails before Ray starts
    identity = model_identity(args.model)
    init_ray()
    cfg = with_model_settings(cfg, trained)
    result = {"model": identity, "manifest": manifest_uri(args.manifest),
              **evaluate_manifest(cfg, model, args.manifest,
                                  trained.train.dataset or default_manifest(trained))}
    if args.json:
        print_json(result)
    else:
        seconds = result["seconds"]
        version = f" (version {identity['version']})" if identity["version"] else ""
        print(f"\n{args.model}{version} on {result['manifest']}: "
              + ", ".join(f"{stage.replace('_', ' ')} {s:.0f} s"
                          for stage, s in seconds.items()) + "\n")
        print(table(result))
        for item in result["quarantined"]:
            print(f"quarantined  {item['uri']}: {item['reason']}")
    if result["windows"] == 0:
        raise MsvaeError(f"{args.manifest}: no window could be scored")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common], help="score a registered model on a "
                       "manifest: reconstruction error, LSD, similarity, temporal fidelity, "
                       "Fréchet distance",
                       description=__doc__)
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/msvae@champion")
    p.add_argument("--manifest", required=True, help="manifest URI (CSV, JSONL or Parquet)")
    add_json_flag(p, "the result")
    p.set_defaults(func=_evaluate)
