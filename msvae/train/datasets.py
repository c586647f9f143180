"""The Ray datasets a training run reads: a manifest streamed through ingestion, or
Parquet shards that `msvae prepare` materialised."""

from __future__ import annotations

from msvae import storage
from msvae.config import Config

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".parquet")


def default_dataset(cfg: Config) -> str:
    """The demo corpus manifest that `msvae corpus build` writes by default."""
    from msvae.corpus.build import MANIFEST_NAME, default_out

    return storage.join(default_out(cfg), MANIFEST_NAME)


def training_datasets(cfg: Config) -> dict:
    """{"train": ..., "valid": ...} for `train.dataset` (the demo corpus when unset)."""
    return datasets_for(cfg, cfg.train.dataset or default_dataset(cfg))


def datasets_for(cfg: Config, uri: str) -> dict:
    """{"train": ..., "valid": ...} from a manifest (streamed) or prepared shards."""
    from msvae.data.pipeline import build_dataset, load_prepared

    if uri.endswith(MANIFEST_SUFFIXES):
        return {split: build_dataset(cfg, uri, split) for split in ("train", "valid")}
    return {split: load_prepared(cfg, uri, split) for split in ("train", "valid")}


def prepared_dataset(cfg: Config) -> str:
    """Shards for `train.dataset` (prepared once and cached when it is a manifest), so
    runs that share data (sweep trials, comparison runs) do not redo ingestion."""
    from msvae.data.prepare import prepared_for

    uri = cfg.train.dataset or default_dataset(cfg)
    return prepared_for(cfg, uri)[0] if uri.endswith(MANIFEST_SUFFIXES) else uri
