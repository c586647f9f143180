"""train.cache_split "auto" decided before reading, from the prepared shards' Parquet
footers: memory when a worker's share fits, stream when it does not."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from msvae.config import load
from msvae.data.features import window_frames
from msvae.data.pipeline import prepared_rows
from msvae.train import datasets

CFG = load(overrides=["train.workers=2"])


def _shards(root, rows_by_split: dict[str, list[int]]) -> str:
    """Parquet files of `rows` windows each under <root>/split=<split>/ (x as a flat list:
    only the row counts matter here)."""
    for split, files in rows_by_split.items():
        folder = root / f"split={split}"
        folder.mkdir(parents=True)
        for i, rows in enumerate(files):
            pq.write_table(pa.table({"x": np.zeros(rows, np.float32)}), folder / f"{i}.parquet")
    return str(root)


def test_prepared_rows_counts_every_file_of_a_split(tmp_path):
    uri = _shards(tmp_path, {"train": [3, 5, 7], "valid": [2]})
    assert prepared_rows(CFG, uri, "train") == 15
    assert prepared_rows(CFG, uri, "valid") == 2


def test_auto_keeps_a_split_in_memory_only_when_a_workers_share_fits(tmp_path, monkeypatch):
    uri = _shards(tmp_path, {"train": [40, 40], "valid": [10]})
    sources = len(CFG.data.sources)  # x float32 [sources, mels, frames] + mask [sources]
    row = sources * CFG.data.n_mels * window_frames(CFG.data) * 4 + sources
    monkeypatch.setattr(datasets, "CACHE_BYTES", 40 * row)  # 80 rows / 2 workers fit
    assert datasets.with_cache_decided(CFG, uri).train.cache_split == "memory"
    monkeypatch.setattr(datasets, "CACHE_BYTES", 39 * row)
    assert datasets.with_cache_decided(CFG, uri).train.cache_split == "stream"


@pytest.mark.parametrize("setting", ["memory", "stream"])
def test_an_explicit_setting_is_kept(tmp_path, setting):
    uri = _shards(tmp_path, {"train": [1], "valid": [1]})
    cfg = load(overrides=[f"train.cache_split={setting}"])
    assert datasets.with_cache_decided(cfg, uri).train.cache_split == setting


def test_a_manifest_stays_auto():
    assert datasets.with_cache_decided(CFG, "s3://msvae/corpus/manifest.csv"
                                       ).train.cache_split == "auto"
