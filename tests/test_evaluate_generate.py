"""A registered model scored on a fresh manifest and generating playable audio."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from msvae import storage
from msvae.manifest import load_manifest

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _msvae(services, *args):
    return subprocess.run([sys.executable, "-m", "msvae", *args, "--set",
                           f"services.state_dir={services.services.state_dir}"],
                          capture_output=True, text=True, timeout=600)


def _fresh_folder(services, smoke_manifest, folder):
    """One built piece laid out as <piece>/<source>.<ext>, plus a planted corrupt file."""
    rows = load_manifest(services, smoke_manifest)
    piece = rows[rows["split"] == "test"]["piece"].iloc[0]
    for row in rows[rows["piece"] == piece].itertuples():
        name = row.source.replace(":", "_")
        target = folder / "fresh" / f"{name}.{row.uri.rsplit('.', 1)[1]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(storage.read_bytes(services, row.uri))
    (folder / "broken").mkdir()
    (folder / "broken" / "mix.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    return folder


def test_evaluate_on_a_fresh_manifest(services, smoke_model, smoke_manifest, tmp_path):
    folder = _fresh_folder(services, smoke_manifest, tmp_path / "data")
    manifest = tmp_path / "manifest.csv"
    imported = _msvae(services, "corpus", "import", str(folder), "--out", str(manifest))
    assert imported.returncode == 0, imported.stderr
    proc = _msvae(services, "evaluate", "--model", "models:/smoke@champion",
                  "--manifest", str(manifest), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    # the generated-audio figures are scored against the model's own training data
    for key in ("recon_error_db", "lsd_db", "recon_similarity_pct", "similarity_pct",
                "frechet_distance"):
        assert np.isfinite(result[key]), key
    assert result["windows"] > 0
    assert [q["uri"].endswith("broken/mix.wav") for q in result["quarantined"]] == [True]
    assert "generated-audio figures and PCA floor against" in proc.stderr
    # the JSON names the model version and the manifest, and has the figures per split,
    # the windows they cover and the floors on the same windows
    registered = smoke_model[1]
    assert result["model"] == {"uri": "models:/smoke@champion", "name": "smoke",
                               "version": registered.version,
                               "run_id": smoke_model[0].mlflow_run_id}
    assert result["manifest"] == str(manifest)
    splits = result["splits"]
    assert splits["all"]["windows"] == result["windows"] == sum(
        v["windows"] for k, v in splits.items() if k != "all")
    assert 0 < result["fill_windows"] <= result["windows"]
    assert 0 <= result["fill/similarity_pct"] <= 100  # a percentage, never negative
    assert result["floors"]["time_mean"]["all"]["temporal_fidelity"] == 0
    assert np.isfinite(result["floors"]["pca"]["all"]["lsd_db"]) and result["pca_components"] > 0
    # progress on stderr, no library warning, Ray Data's progress logs quiet by default
    assert "ingesting: 100%" in proc.stderr and "scoring: 100%" in proc.stderr
    assert "not writable" not in proc.stderr
    assert "Starting execution of Dataset" not in proc.stdout + proc.stderr
    # for people: a table with units, direction, splits, window counts and floors
    loud = _msvae(services, "evaluate", "--model", "models:/smoke@champion",
                  "--manifest", str(manifest), "-v")
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert "Starting execution of Dataset" in loud.stdout + loud.stderr  # back with -v
    lines = loud.stdout.splitlines()
    assert f"models:/smoke@champion (version {registered.version}) on {manifest}" in loud.stdout
    header = next(line for line in lines if line.split()[:2] == ["unit", "better"])
    assert header.split()[2:] == [*(k for k in splits if k != "all"), "all"]
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines if line.strip()]
    rows = {row[0]: row[1:] for row in cells}  # a repeated label: its last row
    assert rows["windows scored (with a mix)"][-1] == str(result["windows"])
    assert rows["of them with stems (fill-in)"][-1] == str(result["fill_windows"])
    assert rows["reconstruction error"][:2] == ["dB", "lower"]
    assert rows["temporal fidelity"][:2] == ["none", "higher"]
    assert rows["floor: time mean"][-1] == "0.00"  # the last of its rows: temporal fidelity
    assert f"floor: frame PCA, {result['pca_components']} per frame" in rows
    assert "not writable" not in loud.stderr


def test_generate_writes_playable_wavs(services, smoke_model, smoke_manifest, tmp_path):
    rows = load_manifest(services, smoke_manifest)
    vocal = rows[(rows["kind"] == "vocal") & (rows["split"] == "test")]["uri"].iloc[0]
    out = tmp_path / "gen"
    proc = _msvae(services, "generate", "--model", "models:/smoke@champion", "--out", str(out),
                  "--n", "1", "--stem", f"vocal={vocal}", "--max-seconds", "5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = smoke_model[0].cfg
    wavs = sorted(out.glob("*.wav"))
    assert {p.name for p in wavs} == {f"conditioned_{s}.wav" for s in cfg.data.sources}
    for path in wavs:
        audio, rate = sf.read(path)
        assert rate == cfg.data.sample_rate and audio.ndim == 1
        assert len(audio) >= 2 * cfg.data.sample_rate and np.isfinite(audio).all()
    mix, _ = sf.read(out / "conditioned_mix.wav")
    assert np.abs(mix).max() > 1e-3  # the mix was generated, not left silent
    assert (out / "conditioned_mel.png").stat().st_size > 1000

    bad = _msvae(services, "generate", "--model", "models:/smoke@champion", "--out", str(out),
                 "--stem", "drums=x.wav")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("msvae: error: --stem drums:")
