"""`msvae corpus build`: plan the pieces, render them in a process pool, upload with a manifest.

Deterministic for (seed, pieces): the plan is drawn from a generator seeded by `seed`, each
piece from one seeded by (seed, index); splits come from a seeded hash of each piece id at
`corpus.valid_share` and `corpus.test_share`. Cached twice over:
- at the destination: `build.json` records the build key, a hash of the render key and the
  split shares; a build whose key matches does nothing;
- locally: pieces render into `<cache_dir>/corpus/<render key>/`, the render key a hash of
  (seed, pieces, the corpus settings that shape audio, this package's source code, music21's
  version), and each finished piece leaves a marker, so a build to another destination, one
  resumed after a failure or one with other split shares only uploads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from msvae import audio, storage
from msvae.console import progress_bar
from msvae.corpus import material, scores
from msvae.corpus.make_piece import PieceJob, build_piece
from msvae.errors import MsvaeError
from msvae.manifest import MANIFEST_NAME, assign_split, fill_stem_splits, save_manifest

log = logging.getLogger(__name__)
BUILD_FILE = "build.json"
TRIES = 8  # candidate scores per piece, tried in order until one is long enough
LOSSLESS_EVERY = 3  # every third piece is all wav/flac, so mix = sum of stems is checkable


class BuildError(MsvaeError):
    """Some pieces failed; one line naming the first."""


@dataclass(frozen=True)
class BuildResult:
    manifest: str  # URI
    key: str
    cached: bool  # the destination already held this build
    seconds: float  # wall-clock time of this call


def code_version() -> str:
    """A hash of the corpus code and the audio module it renders with: any change to
    either is a new build."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(__file__).parent.glob("*.py")), Path(audio.__file__)]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _digest(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def render_key(cfg, pieces: int, seed: int) -> str:
    """What the rendered files depend on: the local render cache's folder name."""
    c = cfg.corpus
    return _digest({"pieces": pieces, "seed": seed, "min_s": c.min_seconds,
                    "max_s": c.max_seconds, "mix_only": c.mix_only_pieces,
                    "code": code_version(),
                    "music21": importlib.metadata.version("music21")})  # its corpus: our scores


def build_key(cfg, pieces: int, seed: int) -> str:
    """What the built corpus depends on: the render key and the split shares."""
    c = cfg.corpus
    return _digest({"render": render_key(cfg, pieces, seed), "valid_share": c.valid_share,
                    "test_share": c.test_share})


def with_splits(cfg, rows: list[dict], seed: int) -> list[dict]:
    """Rendered rows with each piece's split (`assign_split` at the configured shares)."""
    c = cfg.corpus
    return [{**row, "split": assign_split(row["piece"], seed, c.valid_share, c.test_share)}
            for row in rows]


def cache_root(cfg, key: str) -> Path:
    base = os.environ.get("MSVAE_CACHE_DIR") or cfg.corpus.cache_dir
    return Path(base).expanduser() / "corpus" / key


@contextlib.contextmanager
def _render_lock(root: Path):
    """An exclusive lock on one render cache folder, held while it renders: two builds of
    one corpus at once (two shells, two test processes) would write the same files."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{root}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def plan(cfg, pieces: int, seed: int, root: Path) -> list[PieceJob]:
    """The jobs for `pieces` pieces: score excerpts, then real mix-only recordings."""
    rng = np.random.default_rng(seed)
    tracks = material.music_tracks()
    n_mix = min(cfg.corpus.mix_only_pieces, pieces // 8, len(tracks))
    n_multi = pieces - n_mix
    by_composer = {}
    for composer, path in scores.candidates():
        by_composer.setdefault(composer, []).append((composer, path))
    pools = [[by_composer[c][k] for k in rng.permutation(len(by_composer[c]))]
             for c, _, _ in scores.COLLECTIONS]
    common = {"seed": seed, "root": str(root), "min_s": cfg.corpus.min_seconds,
              "max_s": cfg.corpus.max_seconds, "timeout_s": cfg.corpus.render_timeout_s,
              "max_bytes": cfg.corpus.render_max_mb << 20}
    jobs = []
    for i in range(n_multi):
        pool = pools[i % len(pools)]
        stride = len(range(i % len(pools), n_multi, len(pools)))  # pieces drawing from pool
        picks = pool[i // len(pools)::stride][:TRIES]  # disjoint across pieces
        jobs.append(PieceJob(i, lossless=i % LOSSLESS_EVERY == 0, complete=i == 0,
                             candidates=tuple(picks), **common))
    for k, t in enumerate(rng.permutation(len(tracks))[:n_mix]):
        i = n_multi + k
        jobs.append(PieceJob(i, lossless=i % LOSSLESS_EVERY == 0, complete=False,
                             recording=tracks[int(t)], **common))
    return jobs


def _done_rows(root: Path, index: int) -> list[dict] | None:
    marker = root / "rows" / f"{index:05d}.json"
    return json.loads(marker.read_text()) if marker.is_file() else None


def render_all(cfg, jobs: list[PieceJob], root: Path) -> list[dict]:
    """Build every job not already cached, `cfg.corpus.workers` at a time; rows in order."""
    rows = {j.index: _done_rows(root, j.index) for j in jobs}
    todo = [j for j in jobs if rows[j.index] is None]
    failures = []
    if todo:
        ctx = get_context("spawn")  # no fork of a parent that may hold s3fs threads
        with ProcessPoolExecutor(max_workers=cfg.corpus.workers, mp_context=ctx) as pool:
            futures = {pool.submit(build_piece, j): j.index for j in todo}
            for fut in progress_bar(as_completed(futures), total=len(futures),
                                    desc="rendering pieces", unit="piece"):
                try:
                    rows[futures[fut]] = fut.result()
                except Exception as exc:  # noqa: BLE001 - report, keep the other pieces
                    failures.append(f"piece {futures[fut]}: {exc}")
                    log.warning("piece %s failed: %s", futures[fut], exc)
    if failures:
        raise BuildError(f"{len(failures)} of {len(jobs)} pieces failed ({failures[0]}); "
                         f"the others are cached in {root}, run again to retry")
    return [r for j in jobs for r in rows[j.index]]


def upload(cfg, root: Path, rel_paths: list[str], out: str) -> None:
    """Copy the built files under `root` to `out` (a no-op when `out` is `root`)."""
    if not storage.is_s3(out) and Path(out).expanduser().resolve() == root.resolve():
        return
    for rel in progress_bar(rel_paths, desc=f"uploading to {out}", unit="file"):
        storage.write_bytes(cfg, storage.join(out, rel), (root / rel).read_bytes())


def _recorded_key(cfg, out: str) -> str | None:
    uri = storage.join(out, BUILD_FILE)
    if not (storage.exists(cfg, uri) and storage.exists(cfg, storage.join(out, MANIFEST_NAME))):
        return None
    try:
        return json.loads(storage.read_bytes(cfg, uri)).get("key")
    except (ValueError, AttributeError):
        return None


def build(cfg, out: str, pieces: int, seed: int) -> BuildResult:
    """Build the corpus at `out` (a folder or `s3://` prefix); see the module docstring."""
    started = time.monotonic()
    key = build_key(cfg, pieces, seed)
    manifest = storage.join(out, MANIFEST_NAME)
    storage.ensure_bucket(cfg, out)  # fails fast, one line, when storage is unreachable
    if _recorded_key(cfg, out) == key:
        return BuildResult(manifest, key, True, time.monotonic() - started)
    root = cache_root(cfg, render_key(cfg, pieces, seed))
    with _render_lock(root):  # a second build of the same corpus waits, then finds it cached
        rows = with_splits(cfg, render_all(cfg, plan(cfg, pieces, seed, root), root), seed)
        save_manifest(cfg, fill_stem_splits(pd.DataFrame(rows)), str(root / MANIFEST_NAME))
    upload(cfg, root, [r["uri"] for r in rows] + [MANIFEST_NAME], out)
    elapsed = time.monotonic() - started
    record = {"key": key, "seed": seed, "pieces": pieces, "code": code_version(),
              "rows": len(rows), "build_seconds": round(elapsed, 1)}
    storage.write_bytes(cfg, storage.join(out, BUILD_FILE), json.dumps(record, indent=2).encode())
    return BuildResult(manifest, key, False, elapsed)
