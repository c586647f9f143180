"""After training: load the final checkpoint, log figures and audio, register the model."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from mlflow import MlflowClient

from msvae.config import Config
from msvae.generate import complete
from msvae.listen import mel_to_wave, write_wav
from msvae.model import build_model
from msvae.plots import curves, mel_grid
from msvae.tracking.registry import Registered, log_model, register
from msvae.train import checkpoint as ckpt
from msvae.train.launch import TrainResult, config_yaml

CURVE_PREFIXES = ("train/loss", "train/recon", "train/kl", "valid/recon_error_db")


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


def write_listening(cfg: Config, model, batch: dict, folder: Path, count: int = 3) -> list[Path]:
    """Mel figures (reference vs reconstruction, generated) and `count` generated WAVs."""
    x = torch.as_tensor(np.asarray(batch["x"]), dtype=torch.float32)
    mask = torch.as_tensor(np.asarray(batch["mask"]), dtype=torch.bool)
    recon = complete(model, x, mask, cfg)
    generated = complete(model, x[:count], torch.zeros_like(mask[:count]), cfg, seed=cfg.train.seed)
    files = [mel_grid({"reference": x[0].numpy(), "reconstruction": recon[0].numpy()},
                      cfg.data.sources, folder / "mel_reconstruction.png",
                      f"{cfg.model.kind}: validation window"),
             mel_grid({f"sample {i}": g.numpy() for i, g in enumerate(generated)},
                      cfg.data.sources, folder / "mel_generated.png",
                      f"{cfg.model.kind}: samples from the prior")]
    mix = cfg.data.sources.index("mix")
    waves = mel_to_wave(generated[:, mix], cfg.data)
    for i, wave in enumerate(waves):
        files.append(write_wav(folder / f"generated_{i}.wav", wave, cfg.data.sample_rate))
    return files


def finish(result: TrainResult) -> Registered:
    """Log figures, WAVs and the model into the run; register with the champion rule."""
    cfg = result.cfg
    valid_batch = result.valid.take_batch(4)
    model = load_checkpoint_model(cfg, result.checkpoint)
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_listening(cfg, model, valid_batch, folder)
        files.append(curves(_history(client, result.mlflow_run_id), folder / "curves.png",
                            f"{cfg.model.kind}: training curves"))
        for path in files:
            client.log_artifact(result.mlflow_run_id, str(path),
                                "audio" if path.suffix == ".wav" else "plots")
    model_uri = log_model(cfg, result.mlflow_run_id, model, config_yaml(cfg))
    score = float(result.metrics.get("valid/recon_error_db", math.nan))
    return register(cfg, model_uri, score)
