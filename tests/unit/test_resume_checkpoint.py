"""Resuming after a storage crash: a reported checkpoint the server kept only part of gives
way to the newest complete one in the run's folder."""

import pyarrow.fs as pafs
import pytest
import ray.train
import torch

from msvae.train import checkpoint as ckpt
from msvae.train import loop


def _saved(folder, name: str, step: int | None) -> str:
    """A checkpoint folder at `step`; None: cut off before its marker."""
    path = folder / name
    model = torch.nn.Linear(2, 2)
    ckpt.save(path, model, torch.optim.SGD(model.parameters(), lr=0.1), step or 0)
    if step is None:
        (path / ckpt.MARKER).unlink()
    return str(path)


def test_an_incomplete_checkpoint_gives_way_to_the_newest_complete_one(tmp_path):
    fs = pafs.LocalFileSystem()
    _saved(tmp_path, "checkpoint_2026-01-01_00-00-01", 5)
    newest = _saved(tmp_path, "checkpoint_2026-01-01_00-00-02", 10)
    cut = _saved(tmp_path, "checkpoint_2026-01-01_00-00-03", None)
    assert loop._complete(ray.train.Checkpoint(newest, filesystem=fs)).path == newest
    chosen = loop._complete(ray.train.Checkpoint(cut, filesystem=fs))
    assert chosen.path == newest and ckpt.load(chosen.path)["step"] == 10


def test_no_complete_checkpoint_is_one_line_naming_it(tmp_path):
    cut = _saved(tmp_path, "checkpoint_2026-01-01_00-00-03", None)
    with pytest.raises(ckpt.IncompleteCheckpoint, match="no complete one beside it"):
        loop._complete(ray.train.Checkpoint(cut, filesystem=pafs.LocalFileSystem()))
