"""Larger corpora from a built one: its real stems recombined into new pieces, cheaply.

Rendering scores is the costly part of `msvae corpus build` (about 3 s of CPU a piece);
scale benchmarks need hundreds of pieces. A recombined piece takes one built piece's clean
stems back (each file decoded and `heterogenise.undo`ne with its recorded offset and
gain), an excerpt of `seconds` from another start, a subset of its instrument stems (at
least one), its vocal or not, the ambience of another built piece or none, new gains, and
the mix as the sum of those stems (the builder's definition); then every file gets a new
format, rate, channel count, level and offset (`heterogenise`). A mix-only piece gives a
new excerpt of its recording. Piece `index` depends only on (seed, index) and the source
corpus, so the first N pieces of a larger set are the N-piece corpus, and each finished
piece leaves a marker: corpora of 32, 128 and 512 pieces cost 512 pieces once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from msvae import audio, storage
from msvae.console import progress_bar
from msvae.corpus import heterogenise
from msvae.corpus.make_piece import AMBIENCE_BELOW_DB
from msvae.corpus.render import RENDER_RATE
from msvae.errors import MsvaeError
from msvae.manifest import assign_split, fill_stem_splits, load_manifest, save_manifest

log = logging.getLogger(__name__)
STEM_GAIN_DB = (-6.0, 6.0)  # each kept stem's new level against its built one, dB
KEEP_INSTRUMENT = 0.7  # chance each instrument stem is kept (at least one always is)
KEEP_VOCAL = 0.85
AMBIENCE_SHARE = 0.85  # share of pieces given another piece's ambience
LOSSLESS_EVERY = 3  # as the builder: every third piece all wav/flac, mix = sum checkable


class RecombineError(MsvaeError):
    """A piece failed or the pool ran past its time bound; one line naming it."""


@dataclass(frozen=True)
class SourcePiece:
    """One built piece: {source: (file uri, offset_s, gain_db)}, duplicates left out."""

    piece: str
    files: dict = field(hash=False)

    @property
    def mix_only(self) -> bool:
        return set(self.files) == {"mix"}


@dataclass(frozen=True)
class RecombineJob:
    """Everything a pool process needs to write recombined piece `index` into `root`."""

    index: int
    seed: int
    root: str
    seconds: float
    base: SourcePiece  # whose music (or recording) the piece is cut from
    ambience: SourcePiece | None  # whose ambience it gets; None: none


def source_pieces(cfg, manifest_uri: str) -> list[SourcePiece]:
    """The built pieces of a manifest with known offsets and gains (so every stem can be
    recovered), sorted by id; duplicate takes are left out."""
    df = load_manifest(cfg, manifest_uri)
    df = df[(df["duplicate_of"] == "") & df["offset_s"].notna() & df["gain_db"].notna()]
    return [SourcePiece(str(piece), {r.source: (r.uri, float(r.offset_s), float(r.gain_db))
                                     for r in group.itertuples()})
            for piece, group in df.groupby("piece", sort=True) if "mix" in set(group.source)]


def plan(sources: list[SourcePiece], pieces: int, seed: int, root: str,
         seconds: float) -> list[RecombineJob]:
    """Jobs for the first `pieces` recombined pieces: bases cycle through the built pieces
    in a seeded order, so every built piece is used before any is used twice."""
    order = np.random.default_rng(seed).permutation(len(sources))
    donors = [s for s in sources if "ambience" in s.files]
    jobs = []
    for index in range(pieces):
        rng = np.random.default_rng([seed, index, 0])
        base = sources[int(order[index % len(sources)])]
        ambience = (donors[int(rng.integers(len(donors)))]
                    if donors and not base.mix_only and rng.random() < AMBIENCE_SHARE else None)
        jobs.append(RecombineJob(index, seed, root, seconds, base, ambience))
    return jobs


def _clean(cfg, uri: str, offset_s: float, gain_db: float) -> np.ndarray:
    """A built file back on its stem's time base and level, [channels, samples] at
    RENDER_RATE."""
    x, sr = audio.decode(storage.read_bytes(cfg, uri))
    return heterogenise.undo(audio.resample(x, sr, RENDER_RATE), RENDER_RATE, offset_s, gain_db)


def _excerpt(x: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` samples of `x` from a random start (zero-padded when `x` is shorter)."""
    start = int(rng.integers(max(x.shape[-1] - n, 0) + 1))
    return audio.fit_length(x[:, start:], n)


def _stems(cfg, rng: np.random.Generator, job: RecombineJob) -> dict[str, np.ndarray]:
    """{source: [channels, samples] stem} of the new piece, the mix their sum."""
    n = round(job.seconds * RENDER_RATE)
    files = job.base.files
    if job.base.mix_only:  # its level is the file's peak, set by heterogenise
        return {"mix": _excerpt(_clean(cfg, *files["mix"]), rng, n)}
    instruments = sorted(s for s in files if s.startswith("instrument:"))
    keep = [s for s in instruments if rng.random() < KEEP_INSTRUMENT]
    if instruments and not keep:
        keep = [instruments[int(rng.integers(len(instruments)))]]
    if "vocal" in files and (rng.random() < KEEP_VOCAL or not keep):
        keep.append("vocal")
    music = [_clean(cfg, *files[s]) for s in keep]
    start = int(rng.integers(max(min(x.shape[-1] for x in music) - n, 0) + 1))  # one cut
    stems = {s: audio.fit_length(x[:, start:], n) * audio.db_to_gain(rng.uniform(*STEM_GAIN_DB))
             for s, x in zip(keep, music)}
    if job.ambience is not None:
        music_db = audio.rms_db(sum(audio.to_channels(x, 2) for x in stems.values()))
        bed = _excerpt(_clean(cfg, *job.ambience.files["ambience"]), rng, n)
        target = music_db - rng.uniform(*AMBIENCE_BELOW_DB)
        stems["ambience"] = bed * audio.db_to_gain(target - audio.rms_db(bed))
    return {"mix": sum(audio.to_channels(x, 2) for x in stems.values()), **stems}


def piece_id(job: RecombineJob) -> str:
    return f"r{job.index:05d}-{job.base.piece}"


def write_piece(cfg, job: RecombineJob) -> list[dict]:
    """Recombine, write and record one piece; its manifest rows (uris relative to root,
    no split). Deterministic for (job, source files)."""
    import torch

    torch.set_num_threads(1)  # one pool process per core
    rng = np.random.default_rng([job.seed, job.index, 1])
    piece = piece_id(job)
    stems = _stems(cfg, rng, job)
    lossless = job.index % LOSSLESS_EVERY == 0
    rows = []
    for source, stem in stems.items():
        spec = heterogenise.choose(rng, reference=source == "mix", lossless=lossless,
                                   stereo_share=0.5 if stem.shape[0] == 2 else 0.2)
        y, gain_db = heterogenise.apply(stem.astype(np.float32), RENDER_RATE, spec)
        rel = f"audio/{piece}/{source.replace(':', '_')}.{spec.ext}"
        path = Path(job.root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio.encode(y, spec.rate, spec.ext))
        rows.append({"piece": piece, "source": source, "uri": rel, "offset_s": spec.offset_s,
                     "gain_db": gain_db, "duplicate_of": ""})
    marker = _marker(job.root, job.index)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.with_suffix(".tmp").write_text(json.dumps(rows))
    marker.with_suffix(".tmp").replace(marker)  # written last: the piece is complete
    return rows


def _marker(root: str, index: int) -> Path:
    return Path(root, "rows", f"{index:05d}.json")


def write_all(cfg, jobs: list[RecombineJob], workers: int, timeout_s: float) -> list[dict]:
    """Every job not already written, in `workers` spawned processes; rows in job order.
    RecombineError when a piece fails or no piece finishes for `timeout_s` (the pool is
    then terminated; finished pieces stay, so a rerun continues)."""
    rows = {j.index: json.loads(_marker(j.root, j.index).read_text())
            for j in jobs if _marker(j.root, j.index).is_file()}
    todo = [j for j in jobs if j.index not in rows]
    if todo:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.imap_unordered(partial(_write_indexed, cfg), todo)
            for _ in progress_bar(range(len(todo)), desc="recombining pieces", unit="piece"):
                try:
                    index, piece_rows = results.next(timeout=timeout_s)
                except multiprocessing.TimeoutError:
                    pool.terminate()
                    raise RecombineError(
                        f"no recombined piece finished within {timeout_s:g} s "
                        f"({len(rows)} of {len(jobs)} done; run again to continue)") from None
                rows[index] = piece_rows
    return [r for j in jobs for r in rows[j.index]]


def _write_indexed(cfg, job: RecombineJob) -> tuple[int, list[dict]]:
    try:
        return job.index, write_piece(cfg, job)
    except Exception as exc:  # noqa: BLE001 - one line naming the piece crosses the pool
        raise RecombineError(f"recombined piece {job.index} ({job.base.piece}): "
                             f"{type(exc).__name__}: {exc}") from None


def recombine_key(cfg, source_manifest: str, seed: int, seconds: float) -> str:
    """What recombined pieces depend on: the source manifest's bytes, seed, length and
    this module's code; the name of the folder they are written in."""
    digest = hashlib.sha256(storage.read_bytes(cfg, source_manifest))
    digest.update(json.dumps([seed, seconds]).encode() + Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def recombined_manifest(cfg, source_manifest: str, folder: str, pieces: int, seed: int,
                        seconds: float) -> str:
    """The manifest of `pieces` recombined pieces of `seconds` each under the local
    `folder`/<recombine key> (`manifest-<pieces>.csv`, audio in `audio/`), writing the
    pieces it lacks in cfg.corpus.workers processes (RecombineError when none finishes
    for cfg.corpus.render_timeout_s). Splits by the seeded hash of each piece id at
    cfg.corpus's shares, as `msvae corpus build` assigns them."""
    started = time.monotonic()
    sources = source_pieces(cfg, source_manifest)
    if not sources:
        raise RecombineError(f"{source_manifest}: no piece with a mix and known offsets")
    root = str(Path(folder, recombine_key(cfg, source_manifest, seed, seconds)))
    jobs = plan(sources, pieces, seed, root, seconds)
    rows = write_all(cfg, jobs, cfg.corpus.workers, cfg.corpus.render_timeout_s)
    c = cfg.corpus
    df = pd.DataFrame([{**r, "split": assign_split(r["piece"], seed, c.valid_share,
                                                   c.test_share)} for r in rows])
    out = str(Path(root, f"manifest-{pieces}.csv"))
    save_manifest(cfg, fill_stem_splits(df), out)
    log.info("%d recombined pieces in %s (%.0f s)", pieces, root, time.monotonic() - started)
    return out
