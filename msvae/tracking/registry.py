"""Log a trained model to its MLflow run, register it, and move the aliases.

Every new version becomes `challenger`; it becomes `champion` only when its validation
reconstruction error (dB, lower is better) beats the current champion's.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import torch
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from msvae.config import Config
from msvae.tracking.pyfunc import MsvaePyfunc, signature

SCORE_METRIC = "valid/recon_error_db"  # the validation figure the champion rule compares
SCORE_TAG = "valid_recon_error_db"  # where a version keeps it


@dataclass
class Registered:
    name: str
    version: str
    champion: bool
    score_db: float

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    @property
    def alias(self) -> str:
        return "champion" if self.champion else "challenger"

    def describe(self) -> str:
        """One line for people: name, version, alias and the URI that loads it."""
        return f"registered {self.name} version {self.version} as {self.alias}: {self.uri}"


def log_model(cfg: Config, run_id: str, model: torch.nn.Module, config_yaml: str) -> str:
    """Log the pyfunc model (weights + config as artifacts) into run `run_id`; its URI."""
    with tempfile.TemporaryDirectory() as tmp:
        weights, config = Path(tmp, "weights.pt"), Path(tmp, "config.yaml")
        torch.save(model.state_dict(), weights)
        config.write_text(config_yaml)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name="model", python_model=MsvaePyfunc(),
                artifacts={"weights": str(weights), "config": str(config)},
                signature=signature(cfg),
                pip_requirements=["msvae", "torch", "torchaudio", "numpy"])
    return info.model_uri


def _champion_score(client: MlflowClient, name: str) -> float | None:
    try:
        version = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    return float(version.tags.get(SCORE_TAG, math.inf))


def register(cfg: Config, model_uri: str, score_db: float) -> Registered:
    """Register `model_uri` as `challenger`, promoted to `champion` if it scores better."""
    client = MlflowClient()
    name = cfg.tracking.model_name
    version = mlflow.register_model(model_uri, name).version
    client.set_model_version_tag(name, version, SCORE_TAG, f"{score_db:.6f}")
    client.set_registered_model_alias(name, "challenger", version)
    previous = _champion_score(client, name)
    wins = previous is None or score_db < previous
    if wins:
        client.set_registered_model_alias(name, "champion", version)
    return Registered(name, str(version), wins, score_db)
