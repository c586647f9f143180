"""The indicators against hand-computed values, and `evaluate` end to end on a tiny model."""

import math
import warnings

import numpy as np
import pytest
import torch

from msvae.config import load
from msvae.evaluate.indicators import (
    cepstral_features,
    frechet_distance,
    lsd_db,
    recon_error_db,
    recon_similarity_pct,
)
from msvae.evaluate.reference import FRECHET_WINDOWS, FeatureReference
from msvae.evaluate.score import evaluate, prior_mixes, score_windows, summary
from msvae.model import build_model

torch.set_num_threads(1)


def test_recon_error_db_hand_value():
    ref = torch.zeros(4, 5)  # 0 dB: magnitude 1 everywhere
    est = torch.full((4, 5), 20 * math.log10(0.5))  # magnitude 0.5: error power 0.25
    assert float(recon_error_db(ref, est)) == pytest.approx(10 * math.log10(0.25))
    assert float(recon_error_db(ref, ref + 1e-9)) < -150


def test_lsd_db_hand_value():
    ref = torch.zeros(2, 2)  # [M=2, T=2]
    est = torch.tensor([[3.0, 1.0], [4.0, 1.0]])  # frame 0: sqrt((9+16)/2), frame 1: 1
    assert float(lsd_db(ref, est)) == pytest.approx((math.sqrt(12.5) + 1.0) / 2)


def _dct_row(k, m=32):
    n = torch.arange(m, dtype=torch.float64)
    return math.sqrt(2.0 / m) * torch.cos(math.pi * k * (2 * n + 1) / (2 * m))


def _window(spectrum, t=6):
    """A [M, T] window whose frames alternate between +spectrum and -spectrum, offset -40 dB."""
    signs = torch.tensor([1.0, -1.0] * (t // 2), dtype=torch.float64)
    return -40 + spectrum[:, None] * signs[None, :]


def test_cepstral_features_hand_value():
    feats = cepstral_features(_window(10 * _dct_row(1)))
    expected = torch.zeros(38, dtype=torch.float64)
    expected[19] = 10.0  # c1 alternates +-10: mean 0, std 10; the -40 dB offset sits in c0
    assert torch.allclose(feats, expected, atol=1e-9)


def test_recon_similarity_pct_hand_values():
    a, b = _window(10 * _dct_row(1)), _window(10 * _dct_row(2))
    assert float(recon_similarity_pct(a, a - 12.0)) == pytest.approx(100.0)  # level-invariant
    assert float(recon_similarity_pct(a, b)) == pytest.approx(0.0, abs=1e-9)
    both = _window(10 * (_dct_row(1) + _dct_row(2)))
    assert float(recon_similarity_pct(a, both)) == pytest.approx(100 / math.sqrt(2))


def test_frechet_distance_hand_values():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 5, generator=g, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 0.0], dtype=torch.float64)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(real, real + shift) == pytest.approx(5.25, rel=1e-6)
    centred = real - real.mean(0)
    trace = float(torch.trace(torch.cov(centred.T)))  # tr(S + 4S - 2 * 2S) = tr(S)
    assert frechet_distance(centred, 2 * centred) == pytest.approx(trace, rel=1e-6)


def _tiny(kind):
    torch.manual_seed(0)
    cfg = load(overrides=[f"model.kind={kind}", "data.n_mels=16", "model.channels=16",
                          "model.latent_dim=4", "model.heads=2", "model.attention_depth=1"])
    x = -50 + 10 * torch.randn(4, 4, 16, 32)
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[3, 0] = False  # one window without a mix is left out of the mix figures
    return cfg, build_model(cfg).train(), [{"x": x.numpy(), "mask": mask.numpy()},
                                           {"x": x, "mask": mask}]


@pytest.mark.parametrize("kind", ["vae", "msvae"])
def test_evaluate_returns_every_indicator(kind):
    cfg, model, batches = _tiny(kind)
    reference = FeatureReference.from_windows(-50 + 10 * torch.randn(40, 16, 32))
    scores = evaluate(model, batches, cfg, reference)
    levels = 1 if kind == "vae" else cfg.model.levels
    keys = {"recon_error_db", "lsd_db", "recon_similarity_pct", "similarity_pct",
            "temporal_fidelity", "frechet_distance", "active_units", "windows",
            *(f"kl_level{i}" for i in range(levels))}
    assert keys <= scores.keys() and scores["windows"] == 6
    assert all(math.isfinite(scores[k]) for k in keys)
    assert model.training  # evaluate restores the mode it found
    assert ("recon_error_db/vocal" in scores) == (kind == "msvae")
    # only msvae reads the stems, so only it can generate the mix from them
    for key in ("fill/temporal_fidelity", "fill/similarity_pct"):
        assert math.isfinite(scores[key]) == (kind == "msvae"), key
    # without a reference the generated-audio figures are NaN, the rest unchanged
    plain = evaluate(model, batches, cfg)
    for key in ("similarity_pct", "fill/similarity_pct", "frechet_distance"):
        assert math.isnan(plain[key]), key
    assert plain["recon_similarity_pct"] == pytest.approx(scores["recon_similarity_pct"])


def test_score_windows_keeps_every_window_and_summary_averages_them():
    cfg, model, batches = _tiny("msvae")
    reference = FeatureReference.from_windows(-50 + 10 * torch.randn(40, 16, 32))
    scores = score_windows(model, batches, cfg, reference)
    for key in ("recon_error_db", "temporal_fidelity", "fill/temporal_fidelity"):
        values = scores.windows[key]
        assert values.shape == (8,), key  # one per input row, in order
        assert np.isnan(values[[3, 7]]).all() and np.isfinite(np.delete(values, [3, 7])).all()
    assert scores.samples["similarity_pct"].shape == (FRECHET_WINDOWS,)
    averaged = summary(scores)
    assert averaged["lsd_db"] == pytest.approx(np.nanmean(scores.windows["lsd_db"]))
    assert averaged["similarity_pct"] == pytest.approx(scores.samples["similarity_pct"].mean())
    # the prior samples use a fixed seed: the same figures again
    assert score_windows(model, batches, cfg, reference).totals["frechet_distance"] == \
        pytest.approx(scores.totals["frechet_distance"])


def test_prior_samples_are_seeded_and_leave_the_random_state_alone():
    cfg, model, _ = _tiny("vae")
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    a = prior_mixes(model, 40, 32, cfg.data.sources.index("mix"))
    assert torch.equal(torch.rand(3), expected)  # the caller's stream goes on untouched
    assert a.shape == (40, 16, 32)
    assert torch.equal(a, prior_mixes(model, 40, 32, cfg.data.sources.index("mix")))


def test_read_only_batches_are_copied_not_shared_with_torch():
    cfg, model, batches = _tiny("msvae")
    x, mask = batches[0]["x"].copy(), batches[0]["mask"].copy()
    x.setflags(write=False)  # as Ray Data hands batches out
    mask.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "NumPy array is not writable" UserWarning
        scores = score_windows(model, [{"x": x, "mask": mask}], cfg)
    assert scores.totals["windows"] == 3


def test_fill_ins_are_seeded_so_a_second_run_gives_the_same_figures():
    cfg, model, batches = _tiny("msvae")
    reference = FeatureReference.from_windows(-50 + 10 * torch.randn(40, 16, 32))
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = score_windows(model.eval(), batches, cfg, reference)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream goes on untouched
    again = score_windows(model, batches, cfg, reference)
    for key in ("fill/temporal_fidelity", "fill/similarity_pct", "fill/recon_error_db"):
        assert np.array_equal(first.windows[key], again.windows[key], equal_nan=True), key


def test_generated_audio_indicators_tell_held_notes_from_flicker_and_stillness():
    from msvae.evaluate.indicators import coherence, level_db, motion_db

    g = torch.Generator().manual_seed(0)
    slow = torch.randn(2, 16, 1, generator=g) * torch.linspace(-1, 1, 64)  # held, then fading
    flicker = torch.randn(2, 16, 64, generator=g)
    assert (coherence(-30 + 10 * slow) > 0.9).all()
    assert (coherence(-30 + 10 * flicker).abs() < 0.2).all()
    static = torch.full((16, 64), -30.0)
    assert float(motion_db(static)) == 0.0
    alternating = static + 3 * torch.tensor([1.0, -1.0]).repeat(32)
    assert float(motion_db(alternating)) == pytest.approx(3.0)
    assert float(level_db(static + 10) - level_db(static)) == pytest.approx(10.0)
