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
CACHE_BYTES = 1 << 30  # train.cache_split "auto": the most one worker keeps in memory


def training_inputs(cfg: Config, uri: str | None = None) -> tuple[Config, dict]:
    """(`cfg` with train.cache_split decided, {"train": ..., "valid": ...}) for `uri`, by
    default `train.dataset` (the default corpus when unset)."""
    uri = uri or cfg.train.dataset or default_manifest(cfg)
    cfg = with_cache_decided(cfg, uri)
    return cfg, datasets_for(cfg, uri)


def datasets_for(cfg: Config, uri: str) -> dict:
    """{"train": ..., "valid": ...} from a manifest (streamed in manifest order) or prepared
    shards (train files in a new seeded random order every epoch)."""
    from msvae.data.pipeline import build_dataset, load_prepared

    if is_manifest(uri):
        return {split: build_dataset(cfg, uri, split) for split in SPLITS}
    # Shards hold whole pieces in order: a new file order every epoch plus each worker's
    # shuffle buffer (train.shuffle_windows) streams the split, where piece order and a
    # 64-window buffer cost a third of the temporal fidelity (docs/ablations.md).
    return {"train": load_prepared(cfg, uri, "train", order_seed=cfg.train.seed,
                                   reorder_each_pass=True),
            "valid": load_prepared(cfg, uri, "valid")}


def with_cache_decided(cfg: Config, uri: str) -> Config:
    """`cfg` with train.cache_split "auto" decided before reading: "memory" when a worker's
    share of the prepared train split and the whole valid split (rank 0 validates) each fit
    in CACHE_BYTES, by the row counts in the shards' Parquet footers, else "stream". A
    manifest's size is known only once decoded: there "auto" stays, and each worker keeps
    its first pass while it fits."""
    from msvae.data.features import window_frames
    from msvae.data.pipeline import prepared_rows

    if cfg.train.cache_split != "auto" or is_manifest(uri):
        return cfg
    sources = len(cfg.data.sources)
    row_bytes = sources * cfg.data.n_mels * window_frames(cfg.data) * 4 + sources
    largest = max(prepared_rows(cfg, uri, "train") / cfg.train.workers,
                  prepared_rows(cfg, uri, "valid")) * row_bytes
    return override(cfg, {"train.cache_split": "memory" if largest <= CACHE_BYTES
                          else "stream"})


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
