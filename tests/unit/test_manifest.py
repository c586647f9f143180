"""The manifest: formats by extension, relative uris, and one-line errors naming the row."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from msvae.config import SOURCE_KINDS, load
from msvae.manifest import (
    ManifestError,
    assign_split,
    load_manifest,
    save_manifest,
)

GOOD = """piece,source,uri,split,offset_s
p1,mix,p1/mix.wav,train,0
p1,instrument:organ,p1/organ.flac,train,0.25
p1,vocal,s3://bucket/p1/vocal.mp3,train,
p2,ambience,/abs/p2/amb.ogg,test,-0.5
"""


@pytest.fixture()
def cfg():
    return load()


def _write(tmp_path, text, name="manifest.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_loads_csv_with_kinds_names_and_resolved_uris(cfg, tmp_path):
    df = load_manifest(cfg, _write(tmp_path, GOOD))
    assert list(df.columns[:7]) == ["piece", "source", "kind", "name", "uri", "split",
                                    "offset_s"]
    assert set(df["kind"]) <= set(SOURCE_KINDS)
    assert df.loc[1, "kind"] == "instrument" and df.loc[1, "name"] == "organ"
    assert df.loc[0, "name"] == ""
    assert df.loc[0, "uri"] == str(tmp_path / "p1" / "mix.wav")
    assert df.loc[2, "uri"] == "s3://bucket/p1/vocal.mp3"
    assert df.loc[3, "uri"] == "/abs/p2/amb.ogg"
    assert df.loc[1, "offset_s"] == 0.25 and math.isnan(df.loc[2, "offset_s"])
    assert df["offset_s"].dtype == float


def test_folder_means_its_manifest_csv(cfg, tmp_path):
    _write(tmp_path, GOOD)
    assert len(load_manifest(cfg, str(tmp_path))) == 4


@pytest.mark.parametrize("name", ["m.csv", "m.jsonl", "m.parquet"])
def test_round_trip_every_format(cfg, tmp_path, name):
    df = load_manifest(cfg, _write(tmp_path, GOOD))
    df["uri"] = ["a/mix.wav", "a/organ.flac", "s3://b/v.mp3", "/abs/amb.ogg"]
    save_manifest(cfg, df, str(tmp_path / name))
    back = load_manifest(cfg, str(tmp_path / name))
    assert list(back["source"]) == list(df["source"])
    assert back.loc[0, "uri"] == str(tmp_path / "a" / "mix.wav")
    assert back.loc[3, "offset_s"] == -0.5 and math.isnan(back.loc[2, "offset_s"])


def test_relative_uris_resolve_against_an_s3_manifest():
    from msvae.manifest import resolve_uri

    assert resolve_uri("p1/../p2/mix.wav", "s3://b/corpus/manifest.csv") == \
        "s3://b/corpus/p2/mix.wav"


@pytest.mark.parametrize("text, message", [
    ("piece,source,uri\np1,mix,a.wav\n", "manifest.csv: missing column(s) split"),
    ("piece,source,uri,split\n", "manifest.csv: empty manifest (no rows)"),
    ("", "manifest.csv: empty manifest (no rows)"),
    ("piece,source,uri,split\np1,mix,a.wav,train\np1,vocal,b.wav,train\np1,drums,c.wav,train\n",
     "manifest.csv row 3: unknown source kind 'drums'"),
    ("piece,source,uri,split\np1,mix,a.wav,train\np1,mix,b.wav,train\n",
     "manifest.csv row 2: piece 'p1' has source 'mix' twice (also row 1)"),
    ("piece,source,uri,split\np1,mix,a.wav,train\np2,mix,b.wav,test\np1,vocal,c.wav,valid\n",
     "manifest.csv row 3: piece 'p1' is in split 'valid' but row 1 puts it in 'train'"),
    ("piece,source,uri,split\np1,mix,a.wav,holdout\n",
     "manifest.csv row 1: unknown split 'holdout'"),
    ("piece,source,uri,split\np1,mix,,train\n", "manifest.csv row 1: empty uri"),
    ("piece,source,uri,split,offset_s\np1,mix,a.wav,train,soon\n",
     "manifest.csv row 1: offset_s 'soon' is not a number"),
])
def test_each_error_is_one_line_naming_the_row(cfg, tmp_path, text, message):
    with pytest.raises(ManifestError) as err:
        load_manifest(cfg, _write(tmp_path, text))
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_jsonl_errors_name_the_row(cfg, tmp_path):
    text = ('{"piece": "p", "source": "mix", "uri": "a.wav", "split": "train"}\n'
            '{"piece": "p", "source": "noise", "uri": "b.wav", "split": "train"}\n')
    with pytest.raises(ManifestError, match=r"^m.jsonl row 2: unknown source kind 'noise'"):
        load_manifest(cfg, _write(tmp_path, text, "m.jsonl"))


def test_unreadable_and_unknown_files(cfg, tmp_path):
    with pytest.raises(ManifestError, match="no such object"):
        load_manifest(cfg, str(tmp_path / "absent.csv"))
    with pytest.raises(ManifestError, match="must end in"):
        save_manifest(cfg, pd.DataFrame(), str(tmp_path / "m.txt"))


def test_save_refuses_an_invalid_table(cfg, tmp_path):
    bad = pd.DataFrame([{"piece": "p", "source": "drums", "uri": "a", "split": "train"}])
    with pytest.raises(ManifestError, match="row 1: unknown source kind 'drums'"):
        save_manifest(cfg, bad, str(tmp_path / "m.csv"))
    assert not (tmp_path / "m.csv").exists()


def test_splits_are_stable_seeded_and_follow_the_shares():
    pieces = [f"piece{i}" for i in range(2000)]
    splits = [assign_split(p, 0, 0.1, 0.1) for p in pieces]
    assert splits == [assign_split(p, 0, 0.1, 0.1) for p in pieces]
    assert splits != [assign_split(p, 1, 0.1, 0.1) for p in pieces]
    share = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert 0.75 < share["train"] < 0.85 and 0.07 < share["valid"] < 0.13
    wider = [assign_split(p, 0, 0.1, 0.2) for p in pieces]
    assert 0.17 < wider.count("test") / len(wider) < 0.23
    assert 0.07 < wider.count("valid") / len(wider) < 0.13
    assert {assign_split(p, 0, 0.0, 0.0) for p in pieces} == {"train"}


def _pieces(splits: dict[str, str], mix_only: str = ""):
    """A table of pieces in `splits` ({piece: split}), each a mix plus a vocal unless its
    id is in `mix_only`."""
    import pandas as pd

    return pd.DataFrame([{"piece": p, "source": s, "split": split}
                         for p, split in splits.items()
                         for s in (("mix",) if p in mix_only else ("mix", "vocal"))])


def test_fill_stem_splits_gives_valid_and_test_a_piece_with_stems(caplog):
    from msvae.manifest import fill_stem_splits

    # valid empty, test holding only a mix-only piece: the last stemmed train pieces move
    out = fill_stem_splits(_pieces({p: "train" for p in "abcd"} | {"e": "test"}, "e"))
    assert out.groupby("piece")["split"].first().to_dict() == {
        "a": "train", "b": "train", "c": "test", "d": "valid", "e": "test"}
    assert out.groupby("piece")["split"].nunique().max() == 1 and not caplog.records
    # a split already holding stems keeps its pieces and gets none
    kept = fill_stem_splits(_pieces({"a": "train", "b": "train", "c": "valid", "d": "test"}))
    assert list(kept.drop_duplicates("piece")["split"]) == ["train", "train", "valid", "test"]


def test_fill_stem_splits_names_each_split_left_empty_or_without_stems(caplog):
    from msvae.manifest import fill_stem_splits

    few = _pieces({"a": "train", "b": "train", "e": "test"}, "e")
    assert (fill_stem_splits(few)["split"] == few["split"]).all()  # 2 with stems: none moves
    assert [r.getMessage() for r in caplog.records] == [
        "split 'valid' is empty: none of the 3 pieces is in it (pieces with stems: train 2, "
        "valid 0, test 0; 3 would give every split one)",
        "split 'test' has no piece with stems, only mix-only e (pieces with stems: train 2, "
        "valid 0, test 0; 3 would give every split one)"]
    caplog.clear()
    fill_stem_splits(_pieces({"a": "train", "b": "train"}, "ab"))  # mix only: no stems asked
    assert [r.getMessage() for r in caplog.records] == [
        "split 'valid' is empty: none of the 2 pieces is in it",
        "split 'test' is empty: none of the 2 pieces is in it"]


def test_split_shares_change_the_build_key_not_the_render_key():
    from msvae.config import load
    from msvae.corpus.build import build_key, render_key, with_splits

    cfg, wider = load(), load(overrides=["corpus.test_share=0.2"])
    assert build_key(cfg, 8, 0) != build_key(wider, 8, 0)
    assert render_key(cfg, 8, 0) == render_key(wider, 8, 0)  # the rendered audio is reused
    rows = [{"piece": f"piece{i}", "source": "mix"} for i in range(200)]
    assert [r["split"] for r in with_splits(wider, rows, 0)] == [
        assign_split(f"piece{i}", 0, 0.1, 0.2) for i in range(200)]


def test_default_corpus_is_one_folder_per_piece_count_and_seed():
    from msvae.manifest import default_corpus, default_manifest

    demo, paper = load("configs/demo.yaml"), load("configs/paper.yaml")
    assert default_corpus(demo) == "s3://msvae/corpus/32-pieces-seed0"
    assert default_corpus(paper) == "s3://msvae/corpus/64-pieces-seed0"
    assert default_manifest(demo) == "s3://msvae/corpus/32-pieces-seed0/manifest.csv"
