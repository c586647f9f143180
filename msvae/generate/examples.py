"""Listening examples: one mel figure and WAVs of what a model made, for people to look
at and listen to. Training, the demo and `msvae generate` all write them here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from msvae.audio import write_wav
from msvae.config import Config
from msvae.data.features import band_centres_hz
from msvae.evaluate.plots import mel_grid
from msvae.generate.vocoder import mel_to_wave

REFERENCE = "reference"  # panels named so (or "reference: ...") are drawn, not rendered


def _slug(name: str) -> str:
    return name.replace(" ", "_").replace(":", "_")


def write_examples(cfg: Config, panels: dict[str, torch.Tensor], folder: str | Path,
                   name: str, title: str = "", sources: list[str] | None = None) -> list[Path]:
    """Panels of [S, M, T] dB (e.g. reference, reconstructed, prior sample) -> one figure
    `<name>.png` with a row per panel, and `<panel>_<source>.wav` for every panel but the
    reference and every source in `sources` (default: all). Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slots = [cfg.data.sources.index(s) for s in (sources or cfg.data.sources)]
    files = []
    for panel, mel in panels.items():
        if panel.startswith(REFERENCE):
            continue
        waves = mel_to_wave(torch.as_tensor(mel)[slots], cfg.data)  # one batched inversion
        files += [write_wav(folder / f"{_slug(panel)}_{_slug(cfg.data.sources[slot])}.wav",
                            wave, cfg.data.sample_rate) for slot, wave in zip(slots, waves)]
    figure = {k: np.asarray(torch.as_tensor(v).detach().cpu()) for k, v in panels.items()}
    files.append(mel_grid(figure, cfg.data.sources, folder / f"{name}.png", title,
                          frame_s=cfg.data.hop_length / cfg.data.sample_rate,
                          band_hz=band_centres_hz(cfg.data).numpy()))
    return files
