"""After training: load a checkpoint, log figures and audio, log and register the model.

`publish` takes explicit arguments (config, MLflow run, checkpoint, validation windows,
score), so `msvae train`, the sweep's best trial and the demo register the same way.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from mlflow import MlflowClient

from msvae.config import Config
from msvae.evaluate.plots import curves
from msvae.generate.complete import complete
from msvae.generate.examples import REFERENCE, write_examples
from msvae.model import build_model
from msvae.tracking.registry import SCORE_METRIC, Registered, log_model, register
from msvae.tracking.runs import config_yaml
from msvae.train import checkpoint as ckpt
from msvae.train.launch import TrainResult
from msvae.train.prior_fit import fit_on_training_data

CURVE_PREFIXES = ("train/loss", "train/recon", "train/kl", "valid/recon_error_db")
SAMPLES = 3  # prior samples written per run


def load_checkpoint_model(cfg: Config, checkpoint) -> torch.nn.Module:
    """The model in a Ray checkpoint, on CPU, in eval mode."""
    with checkpoint.as_directory() as directory:
        state = ckpt.load(directory)
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    return model.eval()


def _history(client: MlflowClient, run_id: str) -> dict[str, list[tuple[int, float]]]:
    keys = [k for k in client.get_run(run_id).data.metrics if k.startswith(CURVE_PREFIXES)]
    return {k: [(m.step, m.value) for m in client.get_metric_history(run_id, k)] for k in keys}


def _examples(cfg: Config, model, batch: dict, folder: Path) -> list[Path]:
    """A validation window and its reconstruction, and SAMPLES mixes from the prior."""
    x = torch.tensor(np.asarray(batch["x"][:1]), dtype=torch.float32)
    mask = torch.as_tensor(np.asarray(batch["mask"][:1]), dtype=torch.bool)
    samples = complete(model, x.expand(SAMPLES, -1, -1, -1),
                       torch.zeros(SAMPLES, mask.shape[1], dtype=torch.bool), cfg,
                       seed=cfg.train.seed)
    panels = {REFERENCE: x[0], "reconstruction": complete(model, x, mask, cfg)[0],
              **{f"sample {i}": s for i, s in enumerate(samples)}}
    return write_examples(cfg, panels, folder, "mel_examples",
                          f"{cfg.model.kind}: a validation window and prior samples",
                          sources=["mix"])


def publish(cfg: Config, run_id: str, checkpoint, valid_batch: dict,
            score: float) -> Registered:
    """Log figures, WAVs and the model of `checkpoint` into MLflow run `run_id` and register
    it with the champion rule, scored by `score` (its validation SCORE_METRIC)."""
    model = load_checkpoint_model(cfg, checkpoint)
    client = MlflowClient()
    if getattr(model, "latent_prior", None) is not None:  # fitted on the finished VAE
        for key, value in fit_on_training_data(cfg, model).items():
            client.log_metric(run_id, key, float(value))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = _examples(cfg, model, valid_batch, folder)
        files.append(curves(_history(client, run_id), folder / "curves.png",
                            f"{cfg.model.kind}: training curves"))
        for path in files:
            client.log_artifact(run_id, str(path), "audio" if path.suffix == ".wav" else "plots")
    example = {"x": np.asarray(valid_batch["x"][:1], np.float32),
               "mask": np.asarray(valid_batch["mask"][:1], bool)}
    model_uri = log_model(cfg, run_id, model, config_yaml(cfg), example)
    return register(cfg, model_uri, score)


def finish(result: TrainResult) -> Registered:
    """`publish` a finished training run: its best checkpoint and that one's score."""
    return publish(result.cfg, result.mlflow_run_id, result.checkpoint,
                   result.valid.take_batch(1), float(result.metrics.get(SCORE_METRIC, math.nan)))
