"""Recombined pieces: stems recovered from built files, the mix the sum of the new stems,
the same bytes for the same seed, and the N-piece corpus the first N of a larger one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msvae import audio
from msvae.config import load
from msvae.corpus import heterogenise, recombine
from msvae.corpus.render import RENDER_RATE
from msvae.manifest import load_manifest, save_manifest

SECONDS = 3.0


def _tone(freq: float, seconds: float, rng) -> np.ndarray:
    t = np.arange(round(seconds * RENDER_RATE)) / RENDER_RATE
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    return (wave * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rng.standard_normal(t.size)
            ).astype(np.float32)[None]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A built-like corpus: two pieces with stems (files offset and scaled as the builder
    does, the mix their sum) and one mix-only piece."""
    root = tmp_path_factory.mktemp("built")
    rng = np.random.default_rng(0)
    rows = []
    for piece, freqs in (("p1", (220.0, 330.0, 440.0)), ("p2", (196.0, 262.0, 392.0)),
                         ("p3", (147.0,))):
        stems = {"vocal": _tone(freqs[0], 4.0, rng)} if len(freqs) > 1 else {}
        stems.update({f"instrument:i{k}": _tone(f, 4.0, rng) for k, f in enumerate(freqs[1:])})
        if stems:
            stems["ambience"] = 0.1 * rng.standard_normal((2, 4 * RENDER_RATE)).astype(np.float32)
        stems = {"mix": sum(audio.to_channels(x, 2) for x in stems.values())
                 if stems else _tone(freqs[0], 4.0, rng), **stems}
        for source, stem in stems.items():
            spec = heterogenise.choose(rng, reference=source == "mix", lossless=True)
            y, gain_db = heterogenise.apply(stem, RENDER_RATE, spec)
            rel = f"{piece}/{source.replace(':', '_')}.{spec.ext}"
            (root / piece).mkdir(exist_ok=True)
            (root / rel).write_bytes(audio.encode(y, spec.rate, spec.ext))
            rows.append({"piece": piece, "source": source, "uri": rel, "split": "train",
                         "offset_s": spec.offset_s, "gain_db": gain_db, "duplicate_of": ""})
    save_manifest(load(), pd.DataFrame(rows), str(root / "manifest.csv"))
    return str(root / "manifest.csv")


def _aligned(path: str, row) -> np.ndarray:
    """A written file decoded, undone onto its stem's time base and level, mono 16 kHz."""
    x, sr = audio.decode(open(path, "rb").read())
    x = heterogenise.undo(x, sr, row.offset_s, row.gain_db)
    return audio.to_channels(audio.resample(x, sr, 16000), 1)[0]


def test_the_mix_is_the_sum_of_the_new_stems_and_seeds_repeat(built, tmp_path):
    cfg = load()
    sources = recombine.source_pieces(cfg, built)
    assert [s.piece for s in sources] == ["p1", "p2", "p3"] and sources[2].mix_only
    jobs = recombine.plan(sources, 6, seed=1, root=str(tmp_path / "a"), seconds=SECONDS)
    assert sorted(j.base.piece for j in jobs[:3]) == ["p1", "p2", "p3"]  # each before any twice
    job = next(j for j in jobs if j.index % recombine.LOSSLESS_EVERY == 0
               and not j.base.mix_only)
    rows = pd.DataFrame(recombine.write_piece(cfg, job))
    assert rows["source"].iloc[0] == "mix" and len(rows) >= 2
    assert rows["source"].str.startswith("instrument:").any() or "vocal" in set(rows["source"])
    n = round(SECONDS * 16000)
    waves = {r.source: _aligned(f"{job.root}/{r.uri}", r) for r in rows.itertuples()}
    assert all(abs(len(w) - n) <= 1 for w in waves.values())
    inner = slice(8000, n - 8000)  # clear of the edges the offsets cut
    mix = waves.pop("mix")[inner]
    error = mix - sum(w[inner] for w in waves.values())
    assert np.sum(error ** 2) < 0.01 * np.sum(mix ** 2)
    again = recombine.write_piece(cfg, recombine.plan(sources, 6, 1, str(tmp_path / "b"),
                                                      SECONDS)[job.index])
    for row in again:
        assert (tmp_path / "b" / row["uri"]).read_bytes() == \
            (tmp_path / "a" / row["uri"]).read_bytes()


def test_a_corpus_of_n_is_the_first_n_pieces_of_a_larger_one(built, tmp_path):
    cfg = load()
    sources = recombine.source_pieces(cfg, built)
    key = recombine.recombine_key(cfg, built, seed=2, seconds=SECONDS)
    jobs = recombine.plan(sources, 4, 2, str(tmp_path / key), SECONDS)
    assert jobs[:2] == recombine.plan(sources, 2, 2, str(tmp_path / key), SECONDS)
    for job in jobs:  # in this process: the manifest below finds every piece written
        recombine.write_piece(cfg, job)
    big = load_manifest(cfg, recombine.recombined_manifest(cfg, built, str(tmp_path), 4, 2,
                                                           SECONDS))
    small = load_manifest(cfg, recombine.recombined_manifest(cfg, built, str(tmp_path), 2, 2,
                                                             SECONDS))
    assert big["piece"].nunique() == 4 and small["piece"].nunique() == 2
    assert set(small["uri"]) <= set(big["uri"])
    assert set(big["split"]) <= {"train", "valid", "test"}
