"""Stages 5-8 on real music: the corpus renderer's FluidSynth render of a Bach chorale's
four parts, shifted by known offsets, stored in mixed formats and rates, goes through
`process_piece`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from msvae.audio import resample, shift
from msvae.config import load
from msvae.corpus import render, scores
from msvae.data.align import align
from msvae.data.balance import stem_gains
from msvae.data.features import FLOOR_DB
from msvae.data.ingest_piece import process_piece
from msvae.data.report import merge, reconciles

SOUNDFONT = render.SOUNDFONTS["fluidr3"]
RATE = 16000
INSTRUMENTS = ("violin", "flute", "viola", "cello")  # top part to bottom
BPM = 100.0
OFFSETS_S = (0.137, -0.25, 0.0213, 0.6)  # file[t] = stem[t - offset]


def render_chorale(seconds: float = 20.0) -> list[np.ndarray]:
    """The four parts of BWV 66.6 rendered by the corpus renderer (FluidSynth, FluidR3):
    float32 [samples] each, mono at 16 kHz, `seconds` long."""
    # `make test` installs both; a missing one is a broken install, not a reason to skip
    assert shutil.which("fluidsynth") and Path(SOUNDFONT).is_file(), \
        "fluidsynth or the FluidR3 soundfont is missing: run `make install`"
    import music21

    score = scores.parse("bach", str(music21.corpus.getWork("bach/bwv66.6")))
    return [resample(render.render(scores.to_seconds(notes, BPM, seconds),
                                   render.INSTRUMENTS[name], SOUNDFONT, seconds,
                                   timeout_s=60, max_bytes=100 << 20),
                     render.RENDER_RATE, RATE).mean(axis=0)
            for notes, name in zip(score.parts, INSTRUMENTS)]


def delayed(x: np.ndarray, offset_s: float) -> np.ndarray:
    """file[t] = x[t - offset]: zeros prepended for a delay, the start cut for an advance."""
    lag = round(offset_s * RATE)
    return np.concatenate([np.zeros(lag, np.float32), x]) if lag >= 0 else x[-lag:]


def write(path: Path, x: np.ndarray, rate: int = RATE) -> str:
    kw = {"subtype": "MPEG_LAYER_III"} if path.suffix == ".mp3" else {}
    sf.write(path, resample(x[None], RATE, rate)[0], rate, **kw)
    return str(path)


@pytest.fixture(scope="module")
def chorale():
    return render_chorale()


def test_gcc_phat_recovers_known_offsets_of_real_stems(chorale):
    mix = sum(chorale)[None]
    for part, offset in zip(chorale, OFFSETS_S):
        aligned, estimate = align(mix, delayed(part, offset)[None], RATE, max_offset_s=1.0)
        assert abs(estimate - offset) < 0.010
        assert aligned.shape == mix.shape


def test_shift_reads_later_and_pads():
    x = np.arange(6, dtype=np.float32)[None]
    np.testing.assert_array_equal(shift(x, -2, 6), [[2, 3, 4, 5, 0, 0]])
    np.testing.assert_array_equal(shift(x, 2, 4), [[0, 0, 0, 1]])


def _row(piece, source, uri):
    return {"piece": piece, "source": source, "kind": source.split(":")[0], "uri": uri,
            "split": "train"}


def test_piece_is_aligned_summed_windowed_and_reported(chorale, tmp_path):
    cfg = load()
    mix = sum(chorale)
    rows = [_row("p", "mix", write(tmp_path / "mix.wav", mix, 44100))]
    for i, (ext, rate) in enumerate([("flac", 22050), ("ogg", 48000), ("mp3", 44100)]):
        name = f"instrument:{INSTRUMENTS[i]}"
        rows.append(_row("p", name, write(tmp_path / f"{i}.{ext}", delayed(chorale[i],
                                                                          OFFSETS_S[i]), rate)))
    take2 = write(tmp_path / "take2.wav", delayed(chorale[0] * 0.5, OFFSETS_S[0]))
    rows.append(_row("p", "instrument:take2", take2))
    rows.append(_row("p", "vocal", str(tmp_path / "missing.wav")))
    result = process_piece(cfg, rows)
    rep = result.report
    assert reconciles(rep) and rep["files_in"] == 6 and rep["files_ok"] == 4
    reasons = {q["uri"]: q["reason"] for q in rep["quarantined"]}
    assert reasons[take2].startswith("redundant") and "unreadable" in reasons[rows[-1]["uri"]]
    estimated = {o["source"]: o["offset_s"] for o in rep["offsets"]}
    for i in range(3):
        assert abs(estimated[f"instrument:{INSTRUMENTS[i]}"] - OFFSETS_S[i]) < 0.010
    assert result.mask.tolist() == [True, True, False, False]
    frames = result.x.shape[-1]
    assert result.x.shape == (rep["windows_out"], 4, cfg.data.n_mels, frames)
    assert (result.x[:, 2:] == FLOOR_DB).all() and (result.x[:, :2] > FLOOR_DB).any()
    assert np.all(np.diff(result.start_s) > 0)


def test_silent_and_repeated_windows_are_dropped_and_counted(chorale, tmp_path):
    cfg = load(overrides=["data.window_s=1.024", "data.hop_s=1.024"])
    win = 16384
    phrase = chorale[0][:4 * win]
    x = np.concatenate([phrase, np.zeros(2 * win, np.float32), phrase[:win], phrase[:win]])
    result = process_piece(cfg, [_row("s", "mix", write(tmp_path / "s.wav", x))])
    rep = result.report
    assert rep["windows_dropped"] == {"silent": 2, "duplicate": 2}
    assert rep["windows_out"] == 4 == len(result.x)


def test_missing_reference_falls_back_and_nothing_usable_is_empty(chorale, tmp_path):
    cfg = load()
    result = process_piece(cfg, [_row("v", "vocal", write(tmp_path / "v.flac", chorale[1])),
                                 _row("v", "ambience", write(tmp_path / "a.wav",
                                                             delayed(chorale[2], 0.3)))])
    assert result.mask.tolist() == [False, False, True, True] and len(result.x) > 0
    bad = process_piece(cfg, [_row("b", "mix", str(tmp_path / "nope.wav"))])
    assert bad.x.shape[0] == 0 and bad.report["files_ok"] == 0
    total = merge([result.report, bad.report])
    assert reconciles(total) and total["files_in"] == 3
    assert total["windows_out"] == len(result.x)


def test_stem_gains_undo_arbitrary_stem_levels(chorale):
    cfg = load()
    scales = (0.1, 3.0, 0.7, 1.5)  # amplitude each stem file arrived at
    stems = [(part * k)[None] for part, k in zip(chorale, scales)]
    gains = stem_gains(sum(chorale)[None], stems, cfg.data)
    # power gains 1 / k^2 bring every stem back to its level in the mix
    np.testing.assert_allclose(np.sqrt(gains) * np.array(scales), 1.0, rtol=0.15)


@pytest.mark.parametrize("balance", [True, False])
def test_balanced_stems_add_up_to_the_mix(chorale, tmp_path, balance):
    cfg = load(overrides=[f"data.balance_stems={str(balance).lower()}",
                          "data.sources=[mix, instrument]"])
    rows = [_row("b", "mix", write(tmp_path / "mix.wav", sum(chorale)))]
    for i, k in enumerate((0.05, 0.9, 0.3, 0.6)):  # each file at its own level
        rows.append(_row("b", f"instrument:{INSTRUMENTS[i]}",
                         write(tmp_path / f"{i}.wav", chorale[i] * k)))
    x = process_piece(cfg, rows).x  # [W, 2, M, T]: the mix and the summed instruments
    loud = x[:, 0] > x[:, 0].max() - 40  # bins within 40 dB of the loudest
    apart = float(np.median(np.abs(x[:, 0] - x[:, 1])[loud]))
    assert (apart < 1.0) if balance else (apart > 3.0), apart
