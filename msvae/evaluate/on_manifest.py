"""A model scored on every window of a manifest (`msvae evaluate`).

The pieces go once through the training ingestion on Ray Data (a progress bar over
pieces; the blocks wait in Ray's object store, as a materialised dataset's would), then
are scored (a second bar). Each window's figures and its floors' (time mean, frame PCA:
msvae.evaluate.floors) are kept with its split, so every figure is reported per split and
over all windows, the floors on the same windows. The training windows that standardise
the generated-audio figures and fit the PCA floor are read from the model's training
data, or taken from the first pass when the manifest's train split is that data, so it is
not ingested twice (that was a third of the time on a model trained on the manifest).
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from msvae.config import Config
from msvae.console import progress_bar
from msvae.evaluate.floors import FramePCA, fitted_floor_windows, pca_floor
from msvae.evaluate.reference import REFERENCE_WINDOWS, FeatureReference
from msvae.evaluate.score import (
    EVAL_BATCH,
    WINDOW_KEYS,
    WindowScores,
    real_frechet,
    scatter_rows,
    score_windows,
    summary,
    window_means,
)
from msvae.manifest import SPLITS

WINDOW_COLUMNS = ["x", "mask", "split"]


@dataclass
class _Kept:
    """What the stream of batches leaves beside the model's scores, per window in order."""

    split: list[np.ndarray] = field(default_factory=list)
    mix: list[np.ndarray] = field(default_factory=list)  # the window has a mix (is scored)
    floors: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    reports: list[dict] = field(default_factory=list)  # one per piece


def _piece_rows(block: dict) -> list[dict]:
    """A batch of piece rows (piece_dataset's columns) -> one dict per piece."""
    return [dict(zip(block, row)) for row in zip(*block.values())]


def _batches(blocks: Iterable[dict], cfg: Config, pca: FramePCA | None, kept: _Kept,
             total: int) -> Iterator[dict]:
    """The windows of `blocks` (batches of piece rows, msvae.data.pipeline.piece_dataset) in
    batches of EVAL_BATCH for score_windows, keeping each window's split, mix presence and
    floors and each piece's report in `kept`; a progress bar over the `total` pieces."""
    from msvae.data.pipeline import window_rows

    mix = cfg.data.sources.index("mix")
    with progress_bar(total=total, desc="scoring", unit="piece") as bar:
        for block in blocks:
            rows = _piece_rows(block)
            kept.reports += [json.loads(row["report"]) for row in rows]
            windows = window_rows(rows, WINDOW_COLUMNS)
            for start in range(0, len(windows["x"]), EVAL_BATCH):
                batch = {k: v[start:start + EVAL_BATCH] for k, v in windows.items()}
                has_mix = batch["mask"][:, mix]
                kept.split.append(batch["split"])
                kept.mix.append(has_mix)
                floors = fitted_floor_windows(torch.from_numpy(batch["x"][has_mix, mix]), pca)
                for name, values in floors.items():
                    for key, per_window in values.items():
                        kept.floors[name][key].append(
                            scatter_rows(len(has_mix), torch.from_numpy(has_mix), per_window))
                yield batch
            bar.update(len(rows))


def _by_split(scores: WindowScores, kept: _Kept) -> tuple[dict, dict]:
    """({split: its windows, fill-in windows and figures}, {floor: {split: figures}}) for the
    splits the manifest has, in SPLITS order, and "all"."""
    split = np.concatenate(kept.split) if kept.split else np.empty(0, dtype=str)
    mix = np.concatenate(kept.mix) if kept.mix else np.empty(0, dtype=bool)
    fill = np.isfinite(scores.windows.get("fill/temporal_fidelity", np.full(len(split), np.nan)))
    rows = {**{s: split == s for s in SPLITS if (split == s).any()},
            "all": np.ones(len(split), dtype=bool)}
    splits = {s: {"windows": int((mix & where).sum()), "fill_windows": int((fill & where).sum()),
                  **window_means(scores.windows, where, WINDOW_KEYS)}
              for s, where in rows.items()}
    floors = {name: {k: np.concatenate(v) for k, v in values.items()}
              for name, values in kept.floors.items()}
    return splits, {name: {s: window_means(values, where) for s, where in rows.items()}
                    for name, values in floors.items()}


def score_pieces(model, blocks: Iterable[dict], cfg: Config, total: int,
                 reference: FeatureReference | None = None,
                 pca: FramePCA | None = None) -> dict:
    """Every indicator over every window of `blocks` (batches of `total` pieces' rows, as
    piece_dataset gives them): over all windows at the top level (with the generated-audio
    figures and the collapse monitors), per split and "all" under "splits", the floors
    under "floors" (the PCA floor only given `pca`), and the files ingestion quarantined."""
    from msvae.data.report import merge

    kept = _Kept()
    scores = score_windows(model, _batches(blocks, cfg, pca, kept, total), cfg, reference)
    splits, floors = _by_split(scores, kept)
    split = np.concatenate(kept.split) if kept.split else np.empty(0, dtype=str)
    held_out = split != "train"  # the training windows are where the bank comes from
    real = {"real/frechet_distance": real_frechet(reference.bank, scores.real, held_out)
            if reference is not None and held_out.any() else math.nan}
    return {**summary(scores), **real, "fill_windows": splits["all"]["fill_windows"],
            "splits": splits, "floors": floors,
            "pca_components": None if pca is None else int(pca.basis.shape[0]),
            "quarantined": merge(kept.reports)["quarantined"]}


def _is_training_data(cfg: Config, manifest, training_uri: str) -> bool:
    """Whether `manifest`'s train split holds exactly the rows of the training manifest's."""
    from msvae.manifest import is_manifest, load_manifest

    if not is_manifest(training_uri):
        return False
    try:
        training = load_manifest(cfg, training_uri)
    except Exception:  # noqa: BLE001 - unreadable: read (and reported) as separate data
        return False
    ours, theirs = (m[m["split"] == "train"].reset_index(drop=True) for m in (manifest, training))
    return len(ours) > 0 and ours.equals(theirs)


def _ingest(cfg: Config, manifest, keep_train: bool) -> tuple[list, torch.Tensor]:
    """Every piece of `manifest` through ingestion under a progress bar -> (object-store
    refs of the piece-row blocks, the mix windows among its first REFERENCE_WINDOWS train
    windows when `keep_train`, else empty)."""
    import ray

    from msvae.data.pipeline import piece_dataset

    mix, refs, train, seen = cfg.data.sources.index("mix"), [], [], 0
    blocks = piece_dataset(cfg, manifest).iter_batches(batch_size=None, batch_format="numpy")
    with progress_bar(total=manifest["piece"].nunique(), desc="ingesting",
                      unit="piece") as bar:
        for block in blocks:
            refs.append(ray.put(block))
            for row in _piece_rows(block):
                if keep_train and row["split"] == "train" and seen < REFERENCE_WINDOWS:
                    x = row["x"][:REFERENCE_WINDOWS - seen]
                    seen += len(x)
                    if row["mask"][mix]:
                        train.append(torch.from_numpy(np.array(x[:, mix])))
            bar.update(len(block["piece"]))
    return refs, torch.cat(train) if train else torch.empty(0)


def _training_mixes(cfg: Config, uri: str, log) -> torch.Tensor | None:
    """Up to REFERENCE_WINDOWS training mix windows of `uri`, or None, saying why, when it
    cannot be read."""
    from msvae.evaluate.training_set import training_mixes

    try:
        return training_mixes(cfg, uri)
    except Exception as exc:  # noqa: BLE001 - unreadable training data skips, never fails
        log(f"generated-audio figures and PCA floor skipped (NaN): training data {uri}: "
            f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")
        return None


def evaluate_manifest(cfg: Config, model, manifest_uri: str, training_uri: str,
                      log=print) -> dict:
    """score_pieces over every piece of `manifest_uri` (all splits), the generated-audio
    figures and the PCA floor against the training data at `training_uri` (up to
    REFERENCE_WINDOWS mix windows of its train split), plus what was read and how long
    each stage took (s)."""
    import ray

    from msvae.manifest import load_manifest

    manifest = load_manifest(cfg, manifest_uri)
    started = time.perf_counter()
    from_manifest = _is_training_data(cfg, manifest, training_uri)
    mixes = None if from_manifest else _training_mixes(cfg, training_uri, log)
    read = time.perf_counter()
    refs, kept_train = _ingest(cfg, manifest, keep_train=from_manifest)
    ingested = time.perf_counter()
    if from_manifest:
        mixes = kept_train if len(kept_train) else None
        if mixes is None:
            log(f"generated-audio figures and PCA floor skipped (NaN): training data "
                f"{training_uri}: no training window with a mix")
    if mixes is not None:
        log(f"generated-audio figures and PCA floor against {len(mixes)} training windows of "
            f"{training_uri}" + (" (its train split, read once)" if from_manifest else ""))
    reference = None if mixes is None else FeatureReference.from_windows(mixes)
    pca = None if mixes is None else pca_floor(model, mixes)
    result = score_pieces(model, (ray.get(ref) for ref in refs), cfg,
                          manifest["piece"].nunique(), reference, pca)
    return {**result, "training_data": {"uri": training_uri,
                                        "windows": 0 if mixes is None else len(mixes),
                                        "from_manifest": from_manifest},
            "seconds": {"training_data": round(read - started, 1),
                        "ingestion": round(ingested - read, 1),
                        "scoring": round(time.perf_counter() - ingested, 1)}}
