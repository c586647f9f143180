"""Training state on disk: model, optimiser, step and RNG, with a completion marker.

`save` writes `state.pt` and only then the `COMPLETE` marker, so a directory cut off
mid-write is recognisable; `load` refuses one without the marker. Ray Train registers
a checkpoint only after its upload finishes; the marker guards local copies and
`--resume` from a folder as well. Everything is stored as tensors and plain numbers and
loaded with `weights_only=True`, so a checkpoint cannot run code when it is opened; one
that does not load so fails with BadCheckpoint.
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


class BadCheckpoint(MsvaeError):
    """A checkpoint file that does not load as plain tensors (corrupt or tampered)."""


def rng_state() -> dict:
    """Every RNG the loop draws from, as tensors and numbers (CUDA's when present)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": int(version), "internal": torch.tensor(internal),
                        "gauss_next": gauss_next}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    """The saved state; IncompleteCheckpoint when the marker is missing, BadCheckpoint
    when the file holds anything but tensors and plain data."""
    directory = Path(directory)
    if not (directory / MARKER).is_file():
        raise IncompleteCheckpoint(f"{directory}: checkpoint incomplete (no {MARKER} marker)")
    return safe_load(directory / STATE)


def complete_in(fs, folder: str) -> dict[str, int]:
    """{checkpoint folder: its step} for each `checkpoint_*` folder in `folder` (a pyarrow
    filesystem and a path in it) whose marker is there; {} when `folder` does not exist."""
    import pyarrow.fs as pafs

    steps = {}
    for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        marker = f"{info.path}/{MARKER}"
        if (info.type == pafs.FileType.Directory and info.base_name.startswith("checkpoint_")
                and fs.get_file_info(marker).type == pafs.FileType.File):
            with fs.open_input_stream(marker) as stream:
                steps[info.path] = int(stream.read() or 0)  # `save` writes the step there
    return steps


def safe_load(path: str | Path):
    """torch.load with weights_only=True, on CPU; BadCheckpoint names the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, EOFError, RuntimeError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadCheckpoint(f"{path}: not a loadable checkpoint ({first[:200]})") from exc
