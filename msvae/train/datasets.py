"""The Ray datasets a training run reads, and making sure they exist.

`train.dataset` is a manifest (streamed through ingestion) or Parquet shards that
`msvae prepare` materialised; unset, it is the default corpus's manifest. Runs that share
data (sweep trials, comparison runs, the demo) call `ensure_prepared` once, so ingestion
runs once and the default corpus is built (or reused) first.
"""

from __future__ import annotations

from msvae.config import Config, override
from msvae.manifest import default_corpus, default_manifest, is_manifest

SPLITS = ("train", "valid")


def training_datasets(cfg: Config) -> dict:
    """{"train": ..., "valid": ...} for `train.dataset` (the default corpus when unset)."""
    return datasets_for(cfg, cfg.train.dataset or default_manifest(cfg))


def datasets_for(cfg: Config, uri: str) -> dict:
    """{"train": ..., "valid": ...} from a manifest (streamed in manifest order) or prepared
    shards (train blocks in a new random order every epoch)."""
    from msvae.data.pipeline import build_dataset, load_prepared

    if is_manifest(uri):
        return {split: build_dataset(cfg, uri, split) for split in SPLITS}
    data = {split: load_prepared(cfg, uri, split) for split in SPLITS}
    # Shards hold whole pieces in order: a new block order every epoch plus each worker's
    # shuffle buffer (train.shuffle_windows) measured as good as a full shuffle, where
    # piece order and a 64-window buffer cost a third of the temporal fidelity (README).
    data["train"] = data["train"].randomize_block_order()
    return data


def ensure_prepared(cfg: Config, log=print) -> tuple[Config, dict | None]:
    """(`cfg` with train.dataset set to prepared shards, the ingestion report or None when
    the shards were given). Builds the default corpus first when train.dataset is unset."""
    from msvae.data.prepare import prepared_for

    uri = cfg.train.dataset
    if not uri:
        from msvae.corpus.build import build

        built = build(cfg, default_corpus(cfg), cfg.corpus.pieces, cfg.corpus.seed)
        log(f"corpus {built.manifest} ({'reused' if built.cached else 'built'} in "
            f"{built.seconds:.0f} s)")
        uri = built.manifest
    if not is_manifest(uri):
        return cfg, None
    prepared, report = prepared_for(cfg, uri)
    return override(cfg, {"train.dataset": prepared}), report
