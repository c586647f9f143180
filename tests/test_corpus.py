"""The corpus: a real 2-piece build (local and s3://), its manifest, import and stats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msvae import audio
from msvae.cli import main
from msvae.config import SOURCE_KINDS, load
from msvae.corpus import heterogenise
from msvae.corpus.build import build
from msvae.corpus.importer import import_folder
from msvae.manifest import SPLITS, assign_split, load_manifest

COMMON_RATE = 16000  # Hz, the lowest file rate: every file is compared at this rate


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load(overrides=[f"corpus.cache_dir={cache}", "corpus.workers=2"])


@pytest.fixture(scope="module")
def corpus(cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    result = build(cfg, str(out), pieces=2, seed=0)
    return result, load_manifest(cfg, result.manifest)


@pytest.fixture(scope="module")
def moto_cfg(cfg, s3_endpoint):
    """cfg pointing at moto's standalone S3 server, keys from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        yield load(overrides=[f"corpus.cache_dir={cfg.corpus.cache_dir}",
                              f"storage.endpoint_url={s3_endpoint}"])


def _aligned_mono(row) -> np.ndarray:
    """A file decoded, its offset and gain undone, as mono at COMMON_RATE."""
    x, sr = audio.decode(Path(row["uri"]).read_bytes())
    y = heterogenise.undo(x, sr, row["offset_s"], row["gain_db"])
    return audio.resample(audio.to_channels(y, 1), sr, COMMON_RATE)[0]


def test_build_has_every_kind_and_heterogeneous_files(corpus):
    result, df = corpus
    assert not result.cached and df["piece"].nunique() == 2
    assert set(df["kind"]) == set(SOURCE_KINDS)
    exts = {Path(u).suffix for u in df["uri"]}
    rates = {audio.decode(Path(u).read_bytes())[1] for u in df["uri"]}
    assert len(exts) > 1 and len(rates) > 1
    assert df["offset_s"].notna().all() and df["gain_db"].notna().all()
    assert (df["offset_s"].abs() <= 0.5).all()
    assert (df.loc[df["kind"] == "mix", "offset_s"] == 0).all()
    assert (df.loc[df["kind"] != "mix", "offset_s"] != 0).any()
    assert df.groupby("piece")["split"].nunique().max() == 1


def test_stems_sum_to_the_mix_where_files_are_lossless(corpus):
    _, df = corpus
    checked = 0
    for _, rows in df.groupby("piece"):
        if not all(Path(u).suffix in (".wav", ".flac") for u in rows["uri"]):
            continue
        signals = {r["source"]: _aligned_mono(r) for r in rows.to_dict("records")
                   if not r["duplicate_of"]}
        n = min(len(s) for s in signals.values())
        edge = int(0.5 * COMMON_RATE) + 1  # offsets cut up to 0.5 s at either end
        mix = signals.pop("mix")[edge:n - edge]
        total = sum(s[edge:n - edge] for s in signals.values())
        assert np.sum((mix - total) ** 2) < 0.01 * np.sum(mix ** 2)
        assert len(mix) > 19 * COMMON_RATE
        checked += 1
    assert checked >= 1


def test_second_build_is_instant(cfg, corpus):
    result, _ = corpus
    again = build(cfg, str(Path(result.manifest).parent), pieces=2, seed=0)
    assert again.cached and again.key == result.key and again.seconds < 2


@pytest.mark.slow
def test_a_fresh_build_gives_the_same_bytes(cfg, corpus, tmp_path):
    result, df = corpus
    fresh = load(overrides=[f"corpus.cache_dir={tmp_path / 'cache'}"])
    other = build(fresh, str(tmp_path / "out"), pieces=2, seed=0)
    assert not other.cached and other.key == result.key
    copy = load_manifest(fresh, other.manifest)
    assert list(copy["source"]) == list(df["source"])
    for a, b in zip(df["uri"], copy["uri"]):
        assert Path(a).read_bytes() == Path(b).read_bytes(), a


def test_build_to_s3_and_read_back(moto_cfg, corpus):
    _, df = corpus
    result = build(moto_cfg, "s3://corpus-test/c2", pieces=2, seed=0)
    assert not result.cached and result.seconds < 10  # rendered pieces come from the cache
    remote = load_manifest(moto_cfg, result.manifest)
    assert remote["uri"].str.startswith("s3://corpus-test/c2/audio/").all()
    assert list(remote["source"]) == list(df["source"])
    from msvae.corpus.stats import summarise

    stats = summarise(moto_cfg, remote)
    assert stats["files"] == len(df) and not stats["unreadable"]
    imported = import_folder(moto_cfg, "s3://corpus-test/c2/audio", seed=0)
    assert sorted(imported["uri"]) == sorted(remote["uri"])


def test_stats_command_prints_a_table_and_json(cfg, corpus, capsys):
    result, df = corpus
    assert main(["corpus", "stats", result.manifest, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["pieces"] == 2 and stats["files"] == len(df)
    assert set(stats["files_per_kind"]) == set(SOURCE_KINDS)
    assert len(stats["formats"]) > 1 and len(stats["sample_rates"]) > 1
    assert stats["hours"] > 2 * 20 / 3600
    assert main(["corpus", "stats", str(Path(result.manifest).parent)]) == 0
    assert "sample rates" in capsys.readouterr().out


def test_import_gives_one_row_per_well_laid_out_file(cfg, tmp_path, capsys):
    tone = audio.encode(np.zeros((1, 1600), np.float32), 16000, "wav")
    for rel in ["song1/mix.wav", "song1/instrument_guitar.wav", "song1/vocal.wav",
                "song2/mix.wav", "song2/ambience_rain.wav", "song2/drums.wav",
                "song2/notes.txt", "loose.wav"]:
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(tone)
    out = tmp_path / "m.parquet"
    assert main(["corpus", "import", str(tmp_path / "in"), "--out", str(out)]) == 0
    df = load_manifest(cfg, str(out))
    assert sorted(zip(df["piece"], df["source"])) == [
        ("song1", "instrument:guitar"), ("song1", "mix"), ("song1", "vocal"),
        ("song2", "ambience:rain"), ("song2", "mix")]
    assert df.loc[df["source"] == "vocal", "uri"].item() == str(tmp_path / "in/song1/vocal.wav")
    assert df.groupby("piece")["split"].nunique().max() == 1
    assert df["offset_s"].isna().all()
    assert main(["corpus", "import", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_import_warns_when_a_split_gets_no_piece_with_stems(cfg, tmp_path):
    """The hash puts a mix-only piece alone in test and the only stemmed train piece must
    stay in train: the real command says so, naming the split and the piece."""
    by_split = {s: [f"song{i}" for i in range(200) if assign_split(
        f"song{i}", 0, cfg.corpus.valid_share, cfg.corpus.test_share) == s] for s in SPLITS}
    lone, stemmed = by_split["test"][0], [by_split["train"][0], *by_split["valid"][:2]]
    tone = audio.encode(np.zeros((1, 1600), np.float32), 16000, "wav")
    for piece in [lone, *stemmed]:
        (tmp_path / "in" / piece).mkdir(parents=True)
        for source in ["mix"] if piece == lone else ["mix", "vocal"]:
            (tmp_path / "in" / piece / f"{source}.wav").write_bytes(tone)
    out = tmp_path / "m.csv"
    run = subprocess.run([sys.executable, "-m", "msvae", "corpus", "import",
                          str(tmp_path / "in"), "--out", str(out), "--seed", "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"split 'test' has no piece with stems, only mix-only {lone} (pieces with stems: " \
           "train 1, valid 2, test 0)" in run.stderr
    assert run.stderr.count("WARNING") == 1
    splits = load_manifest(cfg, str(out)).groupby("piece")["split"].first()
    assert splits[lone] == "test" and (splits[stemmed] == ["train", "valid", "valid"]).all()


def test_import_of_a_built_corpus_finds_its_sources(cfg, corpus):
    result, df = corpus
    imported = import_folder(cfg, str(Path(result.manifest).parent / "audio"), seed=0)
    assert sorted(zip(imported["piece"], imported["source"])) == \
        sorted(zip(df["piece"], df["source"]))
    assert list(imported.drop_duplicates("piece")["split"]) == \
        list(df.drop_duplicates("piece")["split"])
