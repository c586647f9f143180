"""The MLflow model: a pyfunc whose `predict` turns log-mel windows into audio.

Input: `x` float32 [n, sources, mels, frames] in dB and `mask` bool [n, sources]; all
slots given -> reconstruction, none -> unconditional generation, some -> the given slots
kept and the rest generated conditioned on them; with params {"mode": "reconstruct"}
every slot is reconstructed from the given ones (see msvae.generate.complete); with
{"seconds": S} and no slot given, the prior samples are S seconds long. Output:
{"audio": float32 waveforms [n, sources, samples], "sample_rate": their rate in Hz}, so a
served answer (`{"predictions": {...}}` from MLflow's scoring server) says how to play
itself. Weights and config are artifacts, so the model loads back as this class, not a
traced graph.
"""

from __future__ import annotations

import warnings

import mlflow.pyfunc
import numpy as np


def _silent(*args, **kwargs) -> None:
    """Drops MLflow's advice to add type hints to `predict`, given when the class below is
    defined (in every process that imports it, a fresh venv's included) under MLflow's own
    'once' filter, which no ignore filter outranks; the signature comes from the input
    example instead."""


with warnings.catch_warnings():
    warnings.showwarning = _silent

    class MsvaePyfunc(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            import yaml

            from msvae.config import from_dict, override
            from msvae.model import build_model
            from msvae.train.checkpoint import safe_load

            with open(context.artifacts["config"]) as fh:
                self.cfg = from_dict(yaml.safe_load(fh))
            state = safe_load(context.artifacts["weights"])
            if any(k.startswith("latent_prior.") for k in state) and \
                    "latent_prior.null" not in state:  # registered before the prior arranged
                self.cfg = override(self.cfg, {"prior.conditioned": 0.0})
            self.model = build_model(self.cfg)
            # a model registered before the prior arranged lacks the condition's (unused) parts
            self.model.load_state_dict({**self.model.state_dict(), **state})
            self.model.eval()

        def predict(self, context, model_input, params=None):
            import torch

            from msvae.data.features import frames_for
            from msvae.generate.complete import complete
            from msvae.generate.vocoder import mel_to_wave

            x = torch.as_tensor(np.asarray(model_input["x"], dtype=np.float32))
            mask = torch.as_tensor(np.asarray(model_input["mask"], dtype=bool))
            params = params or {}
            seconds = float(params.get("seconds", 0.0))
            if seconds > 0 and not bool(mask.any()):  # prior samples of that length
                x = x.new_zeros(*x.shape[:-1], frames_for(self.cfg.data, seconds))
            mel = complete(self.model, x, mask, self.cfg, seed=int(params.get("seed", 0)),
                           mode=str(params.get("mode", "fill")))
            return {"audio": mel_to_wave(mel, self.cfg.data).numpy().astype(np.float32),
                    "sample_rate": int(self.cfg.data.sample_rate)}


def signature(cfg):
    """Input and output schema for `cfg`'s window shape."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec, Schema, TensorSpec

    from msvae.data.features import window_frames

    s, m, t = len(cfg.data.sources), cfg.data.n_mels, window_frames(cfg.data)
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, s, m, t), "x"),
                       TensorSpec(np.dtype(bool), (-1, s), "mask")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, s, -1), "audio"),
                        TensorSpec(np.dtype(np.int64), (), "sample_rate")]),
        params=ParamSchema([ParamSpec("seed", "long", 0), ParamSpec("mode", "string", "fill"),
                            ParamSpec("seconds", "double", 0.0)]))
