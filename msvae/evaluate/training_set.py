"""Mix windows read from one split of a dataset (Ray Data) for scoring: the training
reference of the generated-audio figures, and the frame-PCA floor's fit."""

from __future__ import annotations

import numpy as np
import torch

from msvae.config import Config
from msvae.errors import MsvaeError
from msvae.evaluate.reference import REFERENCE_WINDOWS, FeatureReference
from msvae.manifest import is_manifest

READ_BATCH = 256  # windows per batch read back to the driver
ORDER_SEED = 0  # the order prepared shard files are read in


class NoTrainingMix(MsvaeError):
    """The training split has no window with a mix to build the reference from."""


def split_windows(cfg: Config, uri: str, split: str,
                  limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [n, S, M, T] dB, mask [n, S]) of up to `limit` rows of `split` of `uri`: from
    prepared shards in a seeded random block order (so a large split is not represented by
    its first pieces alone; streamed, so only what is read is held), from a manifest the
    first through ingestion."""
    from msvae.data.pipeline import build_dataset, load_prepared

    data = (build_dataset(cfg, uri, split) if is_manifest(uri) else
            load_prepared(cfg, uri, split, order_seed=ORDER_SEED))
    batches = list(data.limit(limit).iter_batches(batch_size=READ_BATCH, batch_format="numpy"))
    if not batches:
        shape = (0, len(cfg.data.sources))
        return torch.empty(shape + (cfg.data.n_mels, 0)), torch.zeros(shape, dtype=torch.bool)
    return (torch.from_numpy(np.concatenate([b["x"] for b in batches])),
            torch.from_numpy(np.concatenate([b["mask"] for b in batches])))


def split_mixes(cfg: Config, uri: str, split: str, limit: int) -> torch.Tensor:
    """The mix windows [n, M, T] dB among `limit` rows of `split_windows`, rows without a
    mix left out."""
    x, mask = split_windows(cfg, uri, split, limit)
    mix = cfg.data.sources.index("mix")
    return x[mask[:, mix], mix]


def training_mixes(cfg: Config, uri: str) -> torch.Tensor:
    """Up to REFERENCE_WINDOWS training mix windows of `uri` [n, M, T] dB (n >= 1): what the
    training reference and `msvae evaluate`'s PCA floor are built from."""
    mixes = split_mixes(cfg, uri, "train", REFERENCE_WINDOWS)
    if not len(mixes):
        raise NoTrainingMix(f"{uri}: no training window with a mix to build the reference from")
    return mixes


def training_reference(cfg: Config, uri: str) -> FeatureReference:
    """The FeatureReference of up to REFERENCE_WINDOWS training mix windows of `uri`."""
    return FeatureReference.from_windows(training_mixes(cfg, uri))
