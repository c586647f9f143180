"""A rank's splits: read once and served from memory (train epochs reshuffled), streamed
again when too large or when train.cache_split says so."""

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


CFG = load(overrides=["train.batch_size=2"])
CPU = torch.device("cpu")


def test_validation_is_read_once_then_served_from_memory():
    shard = CountingShard(batches=3)
    validation = loop._Split(shard, CFG, CPU)
    first = [b["x"][0, 0].item() for b in validation]
    second = [b["x"][0, 0].item() for b in validation]
    assert first == second == [0.0, 1.0, 2.0]
    assert shard.reads == 1


def test_validation_over_the_cache_budget_is_streamed_each_time(monkeypatch):
    monkeypatch.setattr(loop, "CACHE_BYTES", 30)  # one batch is 26 bytes
    shard = CountingShard(batches=3)
    validation = loop._Split(shard, CFG, CPU)
    assert len(list(validation)) == len(list(validation)) == 3
    assert shard.reads == 2


def _rows(batches) -> list[float]:
    return [float(v) for b in batches for v in b["x"][:, 0]]


def test_train_epochs_after_the_first_come_from_memory_in_a_new_order():
    shard = CountingShard(batches=4)
    split = loop._Split(shard, CFG, CPU)
    epochs = [_rows(split.epoch(e)) for e in range(3)]
    assert shard.reads == 1
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(epochs[2])  # the same windows
    assert epochs[1] != epochs[2]  # reshuffled every epoch
    assert all(len(b["x"]) == 2 for b in split.epoch(3))  # whole batches only


def test_cache_split_stream_reads_the_shard_every_epoch():
    shard = CountingShard(batches=2)
    split = loop._Split(shard, load(overrides=["train.batch_size=2",
                                               "train.cache_split=stream"]), CPU)
    for e in range(3):
        list(split.epoch(e))
    assert shard.reads == 3


def test_the_best_checkpoint_is_the_highest_finite_validation_score():
    from types import SimpleNamespace

    from msvae.tracking.registry import SCORE_METRIC
    from msvae.train.launch import best_checkpoint

    result = SimpleNamespace(
        checkpoint="latest", metrics={"step": 30},
        best_checkpoints=[("a", {SCORE_METRIC: 0.1}), ("b", {SCORE_METRIC: 0.3}),
                          ("c", {SCORE_METRIC: float("nan")}), ("latest", {"step": 30})])
    assert best_checkpoint(result) == ("b", {SCORE_METRIC: 0.3})
    result.best_checkpoints = [("latest", {SCORE_METRIC: float("nan")})]
    assert best_checkpoint(result) == ("latest", {"step": 30})


class RecordingLogger:
    """A stand-in for rank 0's RunLogger that records the order of its calls."""

    def __init__(self, calls: list):
        self.calls = calls

    def metrics(self, values: dict, step: int) -> None:
        self.calls.append(("metrics", step))

    def flush(self) -> None:
        self.calls.append(("flush",))


def test_rank_0_sends_its_metrics_before_ray_has_the_report(monkeypatch):
    """Tune may stop a trial on a report, so what the report carries is in MLflow first."""
    import ray.train.torch

    calls: list = []
    monkeypatch.setattr(loop, "_report", lambda step, *_, **__: calls.append(("report", step)))
    monkeypatch.setattr(loop, "evaluate", lambda *_: {"recon_error_db": -1.0})
    monkeypatch.setattr(ray.train.torch, "get_device", lambda: CPU)
    cfg = load(overrides=["train.eval_every=10", "train.checkpoint_every=10",
                          "train.steps=100"])
    for step in (5, 10):
        loop._report_step(step, {"loss": torch.tensor(1.0)}, {}, torch.nn.Linear(1, 1), None,
                          0, None, RecordingLogger(calls), cfg)
    assert calls == [("metrics", 10), ("flush",), ("report", 10)]
