"""Log a trained model to its MLflow run, register it, and move the aliases.

Every new version becomes `challenger`; it becomes `champion` only when its validation
temporal fidelity (higher is better) reaches tracking.champion_min_score and beats the
current champion's (`promotion`), so a first version that barely moves (a smoke run at
0.009, where a time-mean output scores 0) does not become champion by being first.
Reconstruction error was the rule before; it always favoured the run with the smallest KL
weight, however flat its output (README, "Does it learn the music?").

The logged model loads without this repository: the package's code travels with it
(`code_paths`), its requirements are what the pyfunc imports pinned at the versions it
was trained with, and an input example (one validation window) is logged beside it.
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

import msvae
from msvae.config import Config
from msvae.console import mlflow_quiet
from msvae.tracking.pyfunc import MsvaePyfunc, signature

INFERENCE_PACKAGES = ("torch", "torchaudio", "numpy", "pyyaml", "mlflow")  # what predict imports

SCORE_METRIC = "valid/temporal_fidelity"  # the validation figure the champion rule compares
SCORE_TAG = "valid_temporal_fidelity"  # where a version keeps it


@dataclass
class Registered:
    name: str
    version: str
    champion: bool
    score: float  # SCORE_METRIC of the registered checkpoint
    why: str  # why it is champion or not, for people

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"

    @property
    def alias(self) -> str:
        return "champion" if self.champion else "challenger"

    def describe(self) -> str:
        """One line for people: name, version, alias, why, and the URI that loads it."""
        return (f"registered {self.name} version {self.version} as {self.alias} "
                f"({self.why}): {self.uri}")


def pinned_requirements() -> list[str]:
    """INFERENCE_PACKAGES at the versions this process runs; public versions (a local label
    such as +cu130 is left to the package index)."""
    from importlib.metadata import version

    return [f"{name}=={version(name).split('+')[0]}" for name in INFERENCE_PACKAGES]


def log_model(cfg: Config, run_id: str, model: torch.nn.Module, config_yaml: str,
              example: dict) -> str:
    """Log the pyfunc model (weights + config as artifacts, the msvae package as code,
    `example` {"x", "mask"} as its input example) into run `run_id`; its URI."""
    with tempfile.TemporaryDirectory() as tmp:
        weights, config = Path(tmp, "weights.pt"), Path(tmp, "config.yaml")
        torch.save(model.state_dict(), weights)
        config.write_text(config_yaml)
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name="model", python_model=MsvaePyfunc(),
                artifacts={"weights": str(weights), "config": str(config)},
                signature=signature(cfg), input_example=example,
                code_paths=[str(Path(msvae.__file__).parent)],
                pip_requirements=pinned_requirements())
    return info.model_uri


def _champion_score(client: MlflowClient, name: str) -> float | None:
    try:
        version = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    return float(version.tags.get(SCORE_TAG, -math.inf))  # a pre-rule champion loses


def promotion(score: float, champion: float | None, floor: float) -> tuple[bool, str]:
    """(champion or not, why) for a version scoring `score` (SCORE_METRIC) against the
    current champion's score (None: there is none) and the floor
    tracking.champion_min_score. A NaN score never wins."""
    if not math.isfinite(score):
        return False, f"no finite {SCORE_METRIC}"
    if score < floor:
        return False, (f"validation temporal fidelity {score:.3f} is below "
                       f"tracking.champion_min_score {floor:g}")
    if champion is None:
        return True, (f"validation temporal fidelity {score:.3f}, the first version to reach "
                      f"tracking.champion_min_score {floor:g}")
    if score > champion:
        return True, f"validation temporal fidelity {score:.3f} beats the champion's {champion:.3f}"
    return False, (f"validation temporal fidelity {score:.3f} does not beat the champion's "
                   f"{champion:.3f}")


def register(cfg: Config, model_uri: str, score: float) -> Registered:
    """Register `model_uri` under tracking.model_name as `challenger`, and as `champion`
    too when `promotion` says so."""
    client = MlflowClient()
    name = cfg.tracking.model_name
    with mlflow_quiet():
        version = mlflow.register_model(model_uri, name).version
    client.set_model_version_tag(name, version, SCORE_TAG, f"{score:.6f}")
    client.set_registered_model_alias(name, "challenger", version)
    wins, why = promotion(score, _champion_score(client, name), cfg.tracking.champion_min_score)
    if wins:
        client.set_registered_model_alias(name, "champion", version)
    return Registered(name, str(version), wins, score, why)
