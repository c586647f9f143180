"""Temporal fidelity and the floors (time mean, frame PCA) against hand-computed cases."""

import pytest
import torch

from msvae.config import load
from msvae.evaluate.floors import (
    FramePCA,
    floor_scores,
    floor_windows,
    latents_per_frame,
    time_mean,
)
from msvae.evaluate.indicators import temporal_fidelity
from msvae.model import build_model


def _moving(seed=0, m=8, t=16):
    g = torch.Generator().manual_seed(seed)
    return -40 + 10 * torch.randn(3, m, t, generator=g, dtype=torch.float64)


def test_temporal_fidelity_hand_values():
    ref = _moving()
    assert torch.allclose(temporal_fidelity(ref, ref), torch.ones(3, dtype=torch.float64))
    # level and per-band offsets do not count, only movement over time; its sign does
    assert torch.allclose(temporal_fidelity(ref, 2 * ref - 30), torch.ones(3, dtype=torch.float64))
    flipped = 2 * ref.mean(-1, keepdim=True) - ref
    assert torch.allclose(temporal_fidelity(ref, flipped), -torch.ones(3, dtype=torch.float64))
    # an average spectrum repeated over time follows nothing
    assert torch.equal(temporal_fidelity(ref, time_mean(ref)), torch.zeros(3, dtype=torch.float64))
    # half signal, half independent movement of equal power: r = 1/sqrt(2)
    other = _moving(1)
    a, b = ref - ref.mean(-1, keepdim=True), other - other.mean(-1, keepdim=True)
    b = b * (a.norm(dim=(-2, -1)) / b.norm(dim=(-2, -1)))[:, None, None]
    b = b - (a * b).sum((-2, -1))[:, None, None] / a.pow(2).sum((-2, -1))[:, None, None] * a
    b = b * (a.norm(dim=(-2, -1)) / b.norm(dim=(-2, -1)))[:, None, None]
    assert torch.allclose(temporal_fidelity(ref, ref + b), torch.full((3,), 2 ** -0.5,
                                                                      dtype=torch.float64))


def test_frame_pca_recovers_a_low_rank_spectrogram():
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(2, 8, generator=g, dtype=torch.float64)  # two spectral shapes
    weights = torch.randn(5, 16, 2, generator=g, dtype=torch.float64)  # per frame
    x = (-40 + weights @ basis).transpose(-1, -2)  # [5, M=8, T=16], rank 2 around -40 dB
    exact = FramePCA(x, 2).reconstruct(x)
    assert torch.allclose(exact, x, atol=1e-9)
    assert float(temporal_fidelity(x, exact).min()) == pytest.approx(1.0)
    one = FramePCA(x, 1).reconstruct(x)
    assert not torch.allclose(one, x, atol=1e-3)
    assert 0 < float(temporal_fidelity(x, one).mean()) < 1


@pytest.mark.parametrize("kind,expected", [("vae", 2), ("msvae", 6)])
def test_latents_per_frame_counts_every_level(kind, expected):
    # vae: 8 latents at T/4 -> 2 per frame; msvae: 4 at T + 4 at T/2 -> 6 per frame
    cfg = load(overrides=[f"model.kind={kind}", "data.n_mels=16", "model.channels=16",
                          "model.latent_dim={}".format(8 if kind == "vae" else 4),
                          "model.heads=2", "model.levels=2"])
    x, mask = -50 + 10 * torch.randn(2, 4, 16, 32), torch.ones(2, 4, dtype=torch.bool)
    assert latents_per_frame(build_model(cfg), x, mask) == expected


def test_floor_scores_report_both_floors_on_every_indicator():
    train, test = _moving(0, t=32), _moving(1, t=32)
    floors = floor_scores(train, test, k=8)  # k = M: the PCA is exact
    assert set(floors) == {"time_mean", "pca"}
    assert set(floors["pca"]) == {"recon_error_db", "lsd_db", "recon_similarity_pct",
                                  "temporal_fidelity"}
    assert floors["time_mean"]["temporal_fidelity"] == 0.0
    assert floors["pca"]["temporal_fidelity"] == pytest.approx(1.0)
    assert floors["pca"]["lsd_db"] == pytest.approx(0.0, abs=1e-9)
    per_window = floor_windows(train, test, k=8)
    assert per_window["pca"]["lsd_db"].shape == (3,)  # one value per test window
    assert floors["time_mean"]["lsd_db"] == pytest.approx(
        float(per_window["time_mean"]["lsd_db"].mean()))
