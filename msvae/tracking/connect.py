"""Find the MLflow tracking server and fail fast, in one line, when it does not answer."""

from __future__ import annotations

import os

import requests

from msvae.config import Config
from msvae.errors import MsvaeError
from msvae.services.state import read_state


class TrackingError(MsvaeError):
    """The tracking server is missing or unreachable."""


def tracking_uri(cfg: Config) -> str:
    """The configured URI, else MLFLOW_TRACKING_URI, else the embedded server's."""
    if cfg.tracking.uri:
        return cfg.tracking.uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    state = read_state(cfg)
    if not state or "mlflow" not in state:
        raise TrackingError("no MLflow tracking server: run `msvae services up` "
                            "or set tracking.uri")
    return state["mlflow"]["endpoint"]


def connect(cfg: Config) -> str:
    """Point mlflow at the tracking server after checking that it answers; returns the URI."""
    import mlflow

    uri = tracking_uri(cfg)
    if uri.startswith(("http://", "https://")):
        try:
            requests.get(uri.rstrip("/") + "/health", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            raise TrackingError(f"MLflow tracking server {uri} unreachable "
                                f"({type(exc).__name__})") from None
    mlflow.set_tracking_uri(uri)
    return uri
