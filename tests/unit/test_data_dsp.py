"""Stages 3, 4, 6 and 7 as pure functions: resample, channels, loudness, windows, redundancy."""

import numpy as np
import pytest

from msvae.audio import resample, to_channels
from msvae.config import load
from msvae.data.features import window_frames, window_samples
from msvae.data.loudness import integrated_lufs, normalise
from msvae.data.redundancy import near_duplicates, rms_dbfs, silent
from msvae.data.windows import cut, hop_samples, mel_features, window_starts

CFG = load().data


def _noise(samples, channels=1, scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, samples)) * scale).astype(np.float32)


def test_resample_changes_length_by_the_rate_ratio():
    out = resample(_noise(44100, 2), 44100, 16000)
    assert out.shape == (2, 16000) and out.dtype == np.float32
    same = _noise(100)
    assert resample(same, 16000, 16000) is same


def test_channel_policies():
    five = _noise(10, 5)
    assert to_channels(five, 1).shape == (1, 10)
    np.testing.assert_allclose(to_channels(five, 1)[0], five.mean(axis=0), atol=1e-7)
    assert to_channels(five, 2).shape == (2, 10)
    mono = _noise(10, 1)
    np.testing.assert_array_equal(to_channels(mono, 2), np.repeat(mono, 2, axis=0))


def test_loudness_hits_the_target():
    wave, before = normalise(_noise(16000 * 3, scale=0.01), 16000, -23.0, -60.0)
    assert before < -35.0
    assert integrated_lufs(wave, 16000) == pytest.approx(-23.0, abs=0.1)


def test_quiet_short_or_silent_sources_are_not_amplified():
    quiet = _noise(16000 * 3, scale=1e-5)
    for wave in (quiet, np.zeros((1, 16000 * 3), np.float32), _noise(1000)):
        out, lufs = normalise(wave, 16000, -23.0, -60.0)
        assert out is wave and lufs < -60.0


def test_windows_cover_the_signal_with_hop():
    win, hop = window_samples(CFG), hop_samples(CFG)
    starts = window_starts(win + 3 * hop + 5, CFG)
    np.testing.assert_array_equal(starts, np.arange(4) * hop)
    assert list(window_starts(win // 2, CFG)) == [0]
    windows = cut(np.ones((2, 1, win // 2), np.float32), np.array([0]), win)
    assert windows.shape == (1, 2, 1, win) and windows[0, 0, 0, -1] == 0.0


def test_mel_features_shape_mono_and_stereo():
    for channels in (1, 2):
        w = _noise(window_samples(CFG), channels)[None, None].repeat(3, axis=0)
        x = mel_features(w, CFG)
        assert x.shape == (3, 1, CFG.n_mels, window_frames(CFG)) and x.dtype == np.float32


def test_silent_means_every_present_source_is_quiet():
    loud, quiet = _noise(1000), _noise(1000, scale=1e-4)
    windows = np.stack([np.stack([loud, quiet]), np.stack([quiet, quiet])])
    assert rms_dbfs(windows).shape == (2, 2)
    np.testing.assert_array_equal(silent(windows, np.array([True, True]), -50.0), [False, True])
    np.testing.assert_array_equal(silent(windows, np.array([False, True]), -50.0), [True, True])


def test_near_duplicates_ignore_level_and_keep_the_first():
    a, b = _noise(4000, seed=1), _noise(4000, seed=2)
    prints = np.stack([a, b, a + 3.0, a * 2.0 + 1e-4 * _noise(4000, seed=3)])
    np.testing.assert_array_equal(near_duplicates(prints, 0.995), [False, False, True, True])
    assert near_duplicates(prints[:1], 0.995).tolist() == [False]


def test_repeated_sources_match_on_the_frames_where_both_sound():
    from msvae.data.redundancy import repeated_sources

    a, b = (np.random.default_rng(s).uniform(-40, 0, (8, 100)) for s in (1, 2))
    cut_take = a.copy()
    cut_take[:, :30] = -100.0  # a take cut shorter: padded with silence after alignment
    mels = np.stack([a, b, cut_take - 6.0])
    np.testing.assert_array_equal(repeated_sources(mels, 0.995, -50.0), [False, False, True])
