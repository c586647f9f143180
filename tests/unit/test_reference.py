"""Generated audio against the training set: standardisation, nearest-window similarity,
paired similarity and the Fréchet distance in the standardised space."""

import math

import pytest
import torch

from msvae.evaluate.floors import time_mean
from msvae.evaluate.indicators import cepstral_features
from msvae.evaluate.reference import (
    FRECHET_WINDOWS,
    REFERENCE_WINDOWS,
    FeatureReference,
    closeness_pct,
    generated_frechet,
    paired_similarity_pct,
    similarity_pct,
)

torch.set_num_threads(1)


def _music(n: int, seed: int, m: int = 32, t: int = 64) -> torch.Tensor:
    """[n, M, T] dB windows with a smooth random spectral envelope each and notes: random
    bands 20 dB up for blocks of 8 frames (movement over time, as music has)."""
    g = torch.Generator().manual_seed(seed)
    envelope = -40 + 2 * torch.randn(n, m, 1, generator=g, dtype=torch.float64).cumsum(1)
    notes = (torch.rand(n, m, t // 8, generator=g) < 0.2).double().repeat_interleave(8, -1)
    return envelope + 20 * notes


def test_standardised_training_features_have_zero_mean_and_unit_std():
    train = _music(300, 0)
    ref = FeatureReference.from_windows(train)
    z = ref.standardise(train)
    assert z.shape == (300, 38)
    assert torch.allclose(z.mean(0), torch.zeros(38, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(z.std(0, correction=0), torch.ones(38, dtype=torch.float64))
    assert torch.allclose(ref.mean, cepstral_features(train).mean(0))
    # identical windows: every std is floored, nothing is divided by zero
    same = FeatureReference.from_windows(train[:1].expand(5, -1, -1))
    assert bool(torch.isfinite(same.standardise(train)).all())


def test_the_bank_is_a_seeded_subsample_of_at_most_reference_windows():
    train = _music(REFERENCE_WINDOWS + 50, 1, m=16, t=16)
    a, b = FeatureReference.from_windows(train), FeatureReference.from_windows(train)
    other = FeatureReference.from_windows(train, seed=1)
    assert a.bank.shape == (REFERENCE_WINDOWS, 38)
    assert torch.equal(a.bank, b.bank) and not torch.equal(a.bank, other.bank)
    assert torch.equal(a.mean, other.mean)  # statistics over every training window


def test_similarity_of_generated_audio():
    train, held_out = _music(300, 0), _music(60, 2)
    ref = FeatureReference.from_windows(train)
    assert torch.allclose(similarity_pct(ref, train[:10]), torch.full((10,), 100.0,
                                                                      dtype=torch.float64))
    real = float(similarity_pct(ref, held_out).mean())
    flat = float(similarity_pct(ref, time_mean(held_out)).mean())
    assert 0 < flat < real - 30 and real < 100, (flat, real)
    # level does not count (c0 is left out), the shape of the spectrum does
    assert float(similarity_pct(ref, train[:1] + 6.0)) == pytest.approx(100.0)
    assert float(similarity_pct(ref, train[:1].flip(-2))) < 90


def test_paired_similarity_is_a_percentage_on_the_scale_of_the_generated_one():
    train, held_out = _music(300, 0), _music(60, 2)
    ref = FeatureReference.from_windows(train)
    assert torch.allclose(paired_similarity_pct(ref, held_out, held_out),
                          torch.full((60,), 100.0, dtype=torch.float64))
    shuffled = float(paired_similarity_pct(ref, held_out, held_out.roll(1, 0)).mean())
    assert 25 < shuffled < 60, shuffled  # unrelated windows: about 100 / e, as similarity_pct
    assert float(paired_similarity_pct(ref, held_out, time_mean(held_out)).mean()) < shuffled
    # a percentage: unrelated windows (a cosine of either sign) stay in (0, 100]
    values = paired_similarity_pct(ref, held_out, held_out.roll(1, 0))
    assert bool(((values > 0) & (values <= 100)).all())
    z = ref.standardise(held_out)
    assert float(closeness_pct((2 * z).pow(2).sum(-1), z.shape[-1]).min()) >= 0
    assert torch.allclose(similarity_pct(ref, train[:5]), paired_similarity_pct(
        ref, train[:5], train[:5]))  # one scale: 100 for a window itself in both


def test_frechet_in_the_standardised_space():
    train = _music(FRECHET_WINDOWS + 100, 0)
    ref = FeatureReference.from_windows(train)
    assert generated_frechet(ref, train) == pytest.approx(0.0, abs=1e-6)
    real = generated_frechet(ref, _music(FRECHET_WINDOWS, 3))
    flat = generated_frechet(ref, time_mean(_music(FRECHET_WINDOWS, 3)))
    assert math.isfinite(real) and 0 < real < flat / 10, (real, flat)
