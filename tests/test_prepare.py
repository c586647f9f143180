"""`msvae prepare` end to end on a real S3 server (moto standalone) with planted bad files."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from msvae import storage
from msvae.cli import main
from msvae.config import load
from tests.unit.test_data_piece import OFFSETS_S, RATE, delayed, render_chorale

# a local Ray: its readers need the keys this test sets in the environment
pytestmark = [pytest.mark.slow, pytest.mark.serial, pytest.mark.own_ray]
BUCKET = "corpus"


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    return s3_endpoint


@pytest.fixture(scope="module")
def ray_local():
    import ray

    yield
    ray.shutdown()


def _encode(x: np.ndarray, ext: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, RATE, format={"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}[ext],
             subtype=subtype)
    return buf.getvalue()


def _corpus(chorale) -> tuple[dict[str, bytes], list[tuple], dict[str, str]]:
    """(objects by key, manifest rows (piece, source, key, split), planted key -> reason)."""
    mix = sum(chorale)
    objects = {"a/mix.wav": _encode(mix, "wav"), "b/mix.flac": _encode(mix[: RATE * 8], "flac")}
    rows = [("a", "mix", "a/mix.wav", "train"), ("b", "mix", "b/mix.flac", "valid")]
    for i, kind in enumerate(["instrument:violin", "instrument:flute", "vocal"]):
        key = f"a/{i}.ogg"
        objects[key] = _encode(delayed(chorale[i], OFFSETS_S[i]), "ogg")
        rows.append(("a", kind, key, "train"))
    nan = chorale[3].copy()
    nan[1000] = np.nan
    planted = {"b/empty.wav": (b"", "empty"),
               "b/truncated.wav": (_encode(chorale[3], "wav")[:30000], "truncated"),
               "b/nan.wav": (_encode(nan, "wav", "FLOAT"), "NaN"),
               "b/mislabelled.ogg": (_encode(chorale[3], "flac"), "mislabelled"),
               "b/song.m4a": (b"\0\0\0\x18ftypM4A ", "unsupported"),
               "b/missing.wav": (None, "unreadable")}
    for i, (key, (data, _)) in enumerate(planted.items()):
        if data is not None:
            objects[key] = data
        rows.append(("b", f"instrument:bad{i}", key, "valid"))
    planted["c/gone.wav"] = (None, "unreadable")  # the only piece of test: an empty split
    rows.append(("c", "mix", "c/gone.wav", "test"))
    return objects, rows, {k: reason for k, (_, reason) in planted.items()}


def test_prepare_quarantines_planted_files_and_shards_load_back(s3, ray_local, tmp_path,
                                                                monkeypatch, capsys, caplog):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sets = ["--set", f"storage.endpoint_url={s3}", "--set", f"services.state_dir={tmp_path}"]
    cfg = load(overrides=sets[1::2])
    storage.ensure_bucket(cfg, f"s3://{BUCKET}")
    objects, rows, planted = _corpus(render_chorale(seconds=12.0))
    for key, data in objects.items():
        storage.write_bytes(cfg, f"s3://{BUCKET}/{key}", data)
    manifest = "piece,source,uri,split\n" + "".join(f"{','.join(r)}\n" for r in rows)
    storage.write_bytes(cfg, f"s3://{BUCKET}/manifest.csv", manifest.encode())

    out = f"s3://{BUCKET}/prepared"
    assert main(["prepare", "--manifest", f"s3://{BUCKET}", "--out", out, *sets]) == 0
    printed = capsys.readouterr().out
    report = json.loads(storage.read_bytes(cfg, f"{out}/report.json"))
    assert report["files_in"] == len(rows)
    assert report["files_ok"] + len(report["quarantined"]) == report["files_in"]
    reasons = {q["uri"].removeprefix(f"s3://{BUCKET}/"): q["reason"]
               for q in report["quarantined"]}
    assert set(reasons) == set(planted)
    for key, reason in planted.items():
        assert reason in reasons[key], (key, reasons[key])
    named = {(piece, source) for piece, source, key, _ in rows if key in planted}
    assert {(q["piece"], q["source"]) for q in report["quarantined"]} == named
    assert [r.getMessage() for r in caplog.records if r.name == "msvae.data.prepare"] == [
        "split 'test' gave no window: its 1 file(s) of 1 piece(s) were all quarantined or "
        "dropped every window; a run that reads it will fail"]
    # `corpus stats` finds exactly the files prepare quarantined (NaN and truncated too)
    assert main(["corpus", "stats", f"s3://{BUCKET}", "--json", *sets]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert sorted(stats["unreadable"], key=lambda q: q["uri"]) == report["quarantined"]
    offsets = {(o["piece"], o["source"]): o["offset_s"] for o in report["offsets"]}
    for i, kind in enumerate(["instrument:violin", "instrument:flute", "vocal"]):
        assert abs(offsets[("a", kind)] - OFFSETS_S[i]) < 0.010

    from msvae.data.pipeline import load_prepared

    counts = {}
    for split in ("train", "valid"):
        batches = list(load_prepared(cfg, out, split).iter_torch_batches(batch_size=4))
        counts[split] = sum(len(b["x"]) for b in batches)
        assert batches[0]["x"].shape[1:] == (4, cfg.data.n_mels, 128)
        assert batches[0]["mask"].dtype.is_floating_point is False
    assert counts["train"] + counts["valid"] == report["windows_out"] > 0
    assert report["windows_per_split"] == {"train": counts["train"],
                                           "valid": counts["valid"], "test": 0}
    assert report["windows_per_piece"] == {"a": counts["train"], "b": counts["valid"], "c": 0}
    assert f"windows per split: train {counts['train']}, valid {counts['valid']}, test 0\n" \
           f"windows per piece: a {counts['train']}, b {counts['valid']}, c 0\n" in printed
    assert f"quarantined s3://{BUCKET}/c/gone.wav (c, mix): unreadable" in printed


def test_prepare_fails_clearly_when_nothing_is_usable(s3, ray_local, tmp_path, monkeypatch,
                                                      capsys):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    sets = ["--set", f"storage.endpoint_url={s3}", "--set", f"services.state_dir={tmp_path}"]
    cfg = load(overrides=sets[1::2])
    storage.ensure_bucket(cfg, "s3://empty")
    storage.write_bytes(cfg, "s3://empty/bad.wav", b"junk")
    storage.write_bytes(cfg, "s3://empty/m.csv", b"piece,source,uri,split\nx,mix,bad.wav,train\n")
    assert main(["prepare", "--manifest", "s3://empty/m.csv", "--out", "s3://empty/o",
                 *sets]) == 2
    assert "nothing usable" in capsys.readouterr().err
    assert main(["prepare", "--manifest", "s3://empty/none.csv", "--out", "s3://empty/o",
                 *sets]) == 2
    assert "no such object" in capsys.readouterr().err
