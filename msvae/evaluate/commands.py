"""`msvae evaluate`: the indicators of a registered model on any manifest.

Every piece of the manifest (all splits) goes through the same ingestion pipeline as
training, with the model's own data settings; files the pipeline quarantines are
listed, the rest are scored. The generated-audio figures (similarity, Fréchet distance)
are scored against the model's own training data when it can be read, else reported NaN.
"""

from __future__ import annotations

import math

from msvae.console import add_json_flag, print_json
from msvae.errors import MsvaeError

KEYS = ("recon_error_db", "lsd_db", "recon_similarity_pct", "similarity_pct",
        "temporal_fidelity", "fill/temporal_fidelity", "fill/recon_error_db",
        "fill/similarity_pct", "frechet_distance", "active_units", "windows")


def _reference(cfg, trained):
    """The training reference from the model's own training data (`train.dataset` of the
    config it was trained with), or None, saying in one line that the generated-audio
    figures are skipped, when that data cannot be read."""
    from msvae.evaluate.training_set import training_reference
    from msvae.manifest import default_manifest

    uri = trained.train.dataset or default_manifest(trained)
    try:
        reference = training_reference(cfg, uri)
    except Exception as exc:  # noqa: BLE001 - unreadable training data skips, never fails
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"generated-audio figures skipped (NaN): training data {uri}: {reason}")
        return None
    print(f"generated-audio figures against {len(reference.bank)} training windows of {uri}")
    return reference


def _evaluate(args, cfg) -> int:
    from msvae.evaluate.score import evaluate_manifest
    from msvae.ray_start import init_ray
    from msvae.tracking.connect import connect
    from msvae.tracking.load import load_registered, with_model_settings

    connect(cfg)
    init_ray()
    model, trained = load_registered(args.model)
    cfg = with_model_settings(cfg, trained)
    result = evaluate_manifest(cfg, model, args.manifest, _reference(cfg, trained))
    if args.json:
        print_json(result)
    else:
        for key in KEYS:
            value = result[key]
            print(f"{key:24s} {value:.3f}" if isinstance(value, float) and math.isfinite(value)
                  else f"{key:24s} {value}")
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
