"""`msvae demo`: the README's main command, run end to end on the embedded services."""

from __future__ import annotations

import time

from msvae import storage
from msvae.services import embedded
from msvae.tracking.connect import connect


def smoke_check(cfg) -> str:
    """Round-trip one object through s3fs and boto3 and reach MLflow; returns the UI URL."""
    uri = storage.join(cfg.storage.root, "smoke", "check.txt")
    payload = f"msvae smoke check {time.time()}".encode()
    storage.write_bytes(cfg, uri, payload)
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        got = storage.boto3_client(cfg).get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        got = storage.read_bytes(cfg, uri)
    if got != payload:
        raise RuntimeError(f"{uri}: read back different bytes")
    import mlflow

    url = connect(cfg)
    mlflow.set_experiment(cfg.tracking.experiment)
    return url


def _demo(args, cfg) -> int:
    from msvae.cli import UserError

    try:
        embedded.up(cfg)
    except embedded.ServiceError as exc:
        raise UserError(str(exc)) from None
    ui = smoke_check(cfg)
    print(f"smoke check passed: storage {cfg.storage.root} round-trips, MLflow UI at {ui}")
    return 0


def register(sub, common) -> None:
    sub.add_parser("demo", parents=[common], help="bring up the embedded services and run the "
                   "demo end to end", description=__doc__).set_defaults(func=_demo)
