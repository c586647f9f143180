"""Rank 0's validation batches: read once and reused, streamed again when too large."""

import torch

from msvae.config import load
from msvae.train import loop


class CountingShard:
    """A stand-in for a Ray Data shard that counts how often it is read."""

    def __init__(self, batches: int):
        self.batches, self.reads = batches, 0

    def iter_torch_batches(self, **_):
        self.reads += 1
        for i in range(self.batches):
            yield {"x": torch.full((2, 3), float(i)), "mask": torch.ones(2, 1, dtype=torch.bool)}


def test_validation_is_read_once_then_served_from_memory():
    shard = CountingShard(batches=3)
    validation = loop._Validation(shard, load())
    first = [b["x"][0, 0].item() for b in validation]
    second = [b["x"][0, 0].item() for b in validation]
    assert first == second == [0.0, 1.0, 2.0]
    assert shard.reads == 1


def test_validation_over_the_cache_budget_is_streamed_each_time(monkeypatch):
    monkeypatch.setattr(loop._Validation, "CACHE_BYTES", 30)  # one batch is 26 bytes
    shard = CountingShard(batches=3)
    validation = loop._Validation(shard, load())
    assert len(list(validation)) == len(list(validation)) == 3
    assert shard.reads == 2
