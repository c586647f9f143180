"""The demo's model learns the music: a short training of configs/demo.yaml on a small
real corpus follows the reference over time (a flat, average-spectrum output scores 0)
and keeps every latent level above its free-bits floor."""

from __future__ import annotations

import pytest
import torch

from msvae.config import load
from msvae.data.local import split_windows
from msvae.evaluate.floors import floor_scores, latents_per_frame
from msvae.evaluate.score import evaluate
from msvae.train.local import train_local

pytestmark = pytest.mark.slow
STEPS = 150  # a quarter of the demo's budget in steps; the corpus is the smoke one (6 pieces)
MARGIN = 0.05  # temporal fidelity above the time-mean floor's 0


def test_demo_model_follows_the_reference_over_time(services, smoke_manifest):
    cfg = load("configs/demo.yaml", [f"services.state_dir={services.services.state_dir}",
                                     f"train.steps={STEPS}"])
    data = split_windows(cfg, smoke_manifest)
    model = train_local(cfg, *data["train"])
    x, mask = data["valid"]
    scores = evaluate(model, [{"x": x, "mask": mask}], cfg)
    mix = cfg.data.sources.index("mix")
    k = latents_per_frame(model, torch.from_numpy(x[:1]), torch.from_numpy(mask[:1]))
    train_x, train_mask = data["train"]
    floors = floor_scores(torch.from_numpy(train_x[train_mask[:, mix], mix]),
                          torch.from_numpy(x[mask[:, mix], mix]), k)
    assert floors["time_mean"]["temporal_fidelity"] == 0.0
    assert scores["temporal_fidelity"] > floors["time_mean"]["temporal_fidelity"] + MARGIN, (
        scores, floors)
    assert scores["fill/temporal_fidelity"] > MARGIN, scores
    floor_nats = cfg.objective.free_bits * cfg.model.latent_dim
    assert all(scores[f"kl_level{i}"] > floor_nats for i in range(cfg.model.levels)), scores
