"""The entries of compare.models: a model kind (msvae.config.MODEL_KINDS), trained without
remixes, or KIND+remixes, the same kind trained with train.remix_share =
compare.remix_share: `single+remixes` is the multi-source data without the multi-source
model, so the comparison shows how much of a gain is the data and how much the model."""

from __future__ import annotations

from msvae.config import Config, override

REMIXES = "+remixes"  # the suffix of a variant trained on remixed mixes


def kind_of(entry: str) -> str:
    """'single+remixes' -> 'single'; a plain kind is itself."""
    return entry.removesuffix(REMIXES)


def label(entry: str) -> str:
    """The name a variant's rows carry in the tables: 'single+remixes' -> 'single + remixes'."""
    return f"{kind_of(entry)} + remixes" if entry.endswith(REMIXES) else entry


def slug(entry: str) -> str:
    """The entry in run names and storage paths: 'single+remixes' -> 'single-remixes'."""
    return entry.replace("+", "-")


def configured(cfg: Config, entry: str) -> Config:
    """`cfg` set up to train `entry`: its model kind and its share of remixed rows."""
    share = cfg.compare.remix_share if entry.endswith(REMIXES) else 0.0
    return override(cfg, {"model.kind": kind_of(entry), "train.remix_share": share})
