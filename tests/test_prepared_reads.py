"""Prepared shards stream in small read units: one block per shard file, not Ray Data
2.60's default V2 reader's packing of files into read tasks of up to 128 MB (a 512-piece
split in 13 blocks: 16 s to its first block, the object store spilling, memory growing
with the corpus; benchmarks/scale.py), and a new file order each pass; their executions run
msvae's wait in Ray Data's scheduling loop (msvae.data.idle_wait)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from msvae.config import load
from msvae.data import idle_wait
from msvae.data.pipeline import SPLIT_PREFIX, load_prepared

pytestmark = [pytest.mark.slow, pytest.mark.serial]
FILES, ROWS = 12, 6


@pytest.fixture
def ray_local():
    import ray

    ray.init(log_to_driver=False)  # the suite's shared head (tests/conftest.py)
    yield
    ray.shutdown()


def _shards(root) -> None:
    """FILES tiny shard files of ROWS rows, each row's x filled with its file's number."""
    folder = root / f"{SPLIT_PREFIX}train"
    folder.mkdir()
    for f in range(FILES):  # tiny shards: the V2 reader packs all of them into one block
        x = np.full((ROWS, 2 * 4 * 8), f, dtype=np.float32)
        pq.write_table(pa.table({"x": list(x), "mask": [[True, False]] * ROWS}),
                       folder / f"{f:03d}.parquet")


def test_each_shard_file_is_its_own_block_in_a_new_order_each_pass(ray_local, tmp_path):
    _shards(tmp_path)
    ds = load_prepared(load(), str(tmp_path), "train", order_seed=0, reorder_each_pass=True)
    assert ds.materialize().num_blocks() == FILES

    def file_order() -> list[int]:
        return [int(row["x"][0]) for row in ds.iter_rows()][::ROWS]

    first, second = file_order(), file_order()
    assert sorted(first) == sorted(second) == list(range(FILES))
    assert first != second


def test_the_reads_run_the_idle_wait_in_ray_datas_scheduling_loop(ray_local, tmp_path,
                                                                  monkeypatch):
    """Against Ray's own executor: the callback is called every step and reads the
    operators' metrics it compares (a Ray upgrade that renames them fails here)."""
    seen = []

    def record(self, executor):
        seen.append(idle_wait.progress(executor))

    monkeypatch.setattr(idle_wait.WaitWhenIdle, "on_execution_step", record)
    _shards(tmp_path)
    ds = load_prepared(load(), str(tmp_path), "train")
    assert idle_wait.WaitWhenIdle in ds.context.custom_execution_callback_classes
    assert len(ds.take_all()) == FILES * ROWS and seen
    assert all(isinstance(n, int) for step in seen for op in step for n in op)
    assert any(op[0] == FILES for op in seen[-1])  # the read operator: one task a file
