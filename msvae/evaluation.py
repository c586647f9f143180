"""`msvae evaluate`: the indicators of a registered model on any manifest.

Every piece of the manifest (all splits) goes through the same ingestion pipeline as
training, with the model's own data settings; files the pipeline quarantines are
listed, the rest are scored.
"""

from __future__ import annotations

import json
import math

from msvae.cli import print_json
from msvae.config import Config

KEYS = ("reconstruction_error_db", "lsd_db", "similarity_pct", "frechet_distance", "windows")


def evaluate_manifest(cfg: Config, model, manifest_uri: str, batch_size: int = 16) -> dict:
    """Indicators over every window of `manifest_uri` plus the quarantined files."""
    from msvae.corpus.manifest import load_manifest
    from msvae.data.pipeline import piece_dataset, windows
    from msvae.data.report import merge
    from msvae.metrics import evaluate

    pieces = piece_dataset(cfg, load_manifest(cfg, manifest_uri)).materialize()
    report = merge(json.loads(r["report"]) for r in pieces.select_columns(["report"]).iter_rows())
    batches = windows(pieces, cfg).iter_batches(batch_size=batch_size, batch_format="numpy")
    scores = evaluate(model, batches, cfg)
    return {"reconstruction_error_db": scores["recon_error_db"], "lsd_db": scores["lsd_db"],
            "similarity_pct": scores["similarity_pct"],
            "frechet_distance": scores["frechet_distance"], "windows": scores["windows"],
            "active_units": scores["active_units"],
            **{k: v for k, v in scores.items() if k.startswith("kl_level")},
            "quarantined": report["quarantined"]}


def _evaluate(args, cfg) -> int:
    from msvae.cli import UserError
    from msvae.corpus.manifest import ManifestError
    from msvae.storage import StorageError
    from msvae.tracking.connect import TrackingError, connect
    from msvae.tracking.load import load_registered, with_model_settings

    try:
        connect(cfg)
        model, trained = load_registered(args.model)
        result = evaluate_manifest(with_model_settings(cfg, trained), model, args.manifest)
    except (ManifestError, StorageError, TrackingError) as exc:
        raise UserError(str(exc)) from None
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
        raise UserError(f"{args.manifest}: no window could be scored")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common], help="score a registered model on a "
                       "manifest: reconstruction error, LSD, similarity, Fréchet distance",
                       description=__doc__)
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/msvae@champion")
    p.add_argument("--manifest", required=True, help="manifest URI (CSV, JSONL or Parquet)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_evaluate)
