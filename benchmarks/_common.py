"""Shared helpers for benchmark scripts: timing medians and `name: value` output."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of `repeats` calls of `fn`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def manifest_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's parser, described by its docstring's first line, with --manifest,
    --config (default configs/demo.yaml), --set KEY=VALUE (repeatable) and --json PATH."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json")
    return ap


def emit(figures: dict, json_path: str | None = None) -> None:
    """Print `name: value` lines; also write the figures as JSON when `json_path` is set."""
    for name, value in figures.items():
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(figures, fh, indent=2)


def real_windows(cfg, manifest: str, cache: str | None) -> dict[str, tuple]:
    """{split: (x, mask)} of a manifest's real pieces, ingested without Ray
    (msvae.data.local), kept in the npz `cache` when given."""
    import numpy as np

    from msvae.data.local import SPLITS, split_windows

    if cache and Path(cache).exists():
        data = np.load(cache)
        return {s: (data[f"{s}_x"], data[f"{s}_mask"]) for s in SPLITS}
    out = split_windows(cfg, manifest)
    if cache:
        np.savez(cache, **{f"{s}_{k}": v for s, (x, m) in out.items()
                           for k, v in (("x", x), ("mask", m))})
    return out
