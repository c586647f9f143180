"""Training state on disk: model, optimiser, step and RNG, with a completion marker.

`save` writes `state.pt` and only then the `COMPLETE` marker, so a directory cut off
mid-write is recognisable; `load` refuses one without the marker. Ray Train registers
a checkpoint only after its upload finishes; the marker guards local copies and
`--resume` from a folder as well.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from msvae.errors import MsvaeError

STATE = "state.pt"
MARKER = "COMPLETE"


class IncompleteCheckpoint(MsvaeError):
    """A checkpoint directory without its completion marker."""


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and random so a run repeats."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def save(directory: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         step: int, extra: dict | None = None) -> None:
    """Write the training state, then the marker."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "rng": rng_state(), "extra": extra or {}}, directory / STATE)
    (directory / MARKER).write_text(str(step))


def restore(directory: str | Path, model: torch.nn.Module,
            optimizer: torch.optim.Optimizer) -> int:
    """Load a saved state into `model` and `optimizer` and the RNGs; returns its step."""
    state = load(directory)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    return int(state["step"])


def load(directory: str | Path) -> dict:
    """The saved state; IncompleteCheckpoint when the marker is missing."""
    directory = Path(directory)
    if not (directory / MARKER).is_file():
        raise IncompleteCheckpoint(f"{directory}: checkpoint incomplete (no {MARKER} marker)")
    return torch.load(directory / STATE, map_location="cpu", weights_only=False)
