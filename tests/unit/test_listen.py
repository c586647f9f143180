"""Listening: mel inversion, WAV writing and generated files."""

import math

import pytest
import soundfile as sf
import torch

from msvae.audio import write_wav
from msvae.config import load
from msvae.data.features import log_mel
from msvae.evaluate.indicators import recon_error_db
from msvae.generate.vocoder import mel_to_wave
from msvae.model import build_model

torch.set_num_threads(1)
TINY = ["data.window_s=0.512", "data.hop_s=0.256", "data.n_mels=16", "model.channels=16",
        "model.latent_dim=4", "model.heads=2", "model.attention_depth=1"]
CFG = load(overrides=TINY)


def test_mel_to_wave_round_trip():
    torch.manual_seed(0)
    d = CFG.data
    t = torch.arange(2, 8192) / d.sample_rate
    wave = 0.3 * torch.sin(2 * math.pi * 440 * t)[None].repeat(2, 1)  # [2, samples]
    db = log_mel(wave, d)
    back = mel_to_wave(db, d)
    assert back.shape == (2, db.shape[-1] * d.hop_length)
    assert float(recon_error_db(db, log_mel(back, d)).max()) < -5.0


def test_mel_to_wave_keeps_the_mel_closer_than_plain_griffin_lim():
    """The mel-consistent update: the audio's own mel ends nearer the one asked for than
    plain Griffin-Lim on the fixed inverse-mel magnitude, at the same iteration count."""
    from msvae.evaluate.indicators import lsd_db
    from msvae.generate.vocoder import plain_griffin_lim

    d = CFG.data
    t = torch.arange(16384) / d.sample_rate
    pitch = torch.where(t < 0.5, 330.0, 523.0)  # a note change halfway, then a decay
    wave = (0.2 * torch.sin(2 * math.pi * pitch * t) + 0.1 * torch.sin(2 * math.pi * 2.5 * pitch
            * t)) * torch.exp(-2 * (t % 0.5))
    db = log_mel(wave, d)
    torch.manual_seed(0)
    ours = log_mel(mel_to_wave(db, d), d)
    torch.manual_seed(0)
    plain = log_mel(plain_griffin_lim(db, d), d)
    assert float(lsd_db(db, ours)) < 0.7 * float(lsd_db(db, plain))


def test_write_wav_reads_back(tmp_path):
    wave = torch.linspace(-1.5, 1.5, 1600)  # clipped to +-1 on write
    path = write_wav(tmp_path / "a" / "x.wav", wave, 16000)
    data, rate = sf.read(path)
    assert rate == 16000 and data.shape == (1600,)
    assert abs(data - wave.clamp(-1, 1).numpy()).max() < 1e-4


def test_complete_reconstructs_generates_or_fills_in():
    """All slots given: reconstruction; none: prior; some: the rest conditioned on them."""
    from msvae.generate.complete import complete

    torch.manual_seed(0)
    model = build_model(CFG).eval()
    x = -50 + 10 * torch.randn(2, 4, 16, 32)
    everything = torch.ones(2, 4, dtype=torch.bool)
    assert torch.equal(complete(model, x, everything, CFG), model(x, everything).recon)
    nothing = torch.zeros_like(everything)
    prior = complete(model, x, nothing, CFG, seed=3)
    assert torch.equal(prior, complete(model, x + 30, nothing, CFG, seed=3))  # x is ignored
    given = torch.tensor([[False, True, True, False]] * 2)  # instrument and vocal in
    filled = complete(model, x, given, CFG, seed=3)
    assert filled.shape == x.shape and not torch.equal(filled, prior)
    assert torch.allclose(filled[:, 1:3], x[:, 1:3])  # the given stems are kept


def test_reconstruct_mode_rebuilds_the_given_slots_too():
    """mode "reconstruct": every slot, the given mix included, is the model's eval-mode
    reconstruction from what is given; "fill" (the default) hands the given mix back."""
    from msvae.errors import MsvaeError
    from msvae.generate.complete import complete

    torch.manual_seed(0)
    model = build_model(CFG).eval()
    x = -50 + 10 * torch.randn(2, 4, 16, 32)
    mix_only = torch.tensor([[True, False, False, False]] * 2)
    filled = complete(model, x, mix_only, CFG, seed=3)
    rebuilt = complete(model, x, mix_only, CFG, seed=3, mode="reconstruct")
    assert torch.equal(filled[:, 0], x[:, 0])  # fill: the caller's own mix back
    assert torch.equal(rebuilt, model(x, mix_only).recon)
    assert (rebuilt[:, 0] - x[:, 0]).abs().mean() > 1.0  # dB: the mix is the model's
    assert not torch.allclose(rebuilt[:, 1:], filled[:, 1:])  # means, not a posterior draw
    with pytest.raises(MsvaeError, match=r"^mode 'rebuild': not a mode \(expected one of "
                       r"fill, reconstruct\)$"):
        complete(model, x, mix_only, CFG, mode="rebuild")


def test_vae_reads_only_the_mix():
    from msvae.generate.complete import complete

    vae_cfg = load(overrides=[*TINY, "model.kind=vae"])
    model = build_model(vae_cfg).eval()
    assert model.in_slots == [0]
    x = -50 + 10 * torch.randn(1, 4, 16, 32)
    mix_only = torch.tensor([[True, False, False, False]])
    assert torch.equal(complete(model, x, mix_only, vae_cfg), model(x, mix_only).recon)


def test_stems_become_one_row_of_whole_windows_the_given_slots_marked(tmp_path):
    from msvae.data.features import window_frames, window_samples
    from msvae.generate.complete import stems_to_row

    d = CFG.data
    rng = torch.Generator().manual_seed(0)
    path = tmp_path / "vocal.wav"
    seconds = 2.6 * d.window_s  # two whole windows and part of a third
    sf.write(path, (0.1 * torch.randn(int(seconds * 44100), generator=rng)).numpy(), 44100)
    x, mask = stems_to_row(CFG, {"vocal": str(path)}, max_seconds=60.0)
    assert mask.tolist() == [[s == "vocal" for s in d.sources]]
    frames = log_mel(torch.zeros(1, 2 * window_samples(d)), d).shape[-1]
    assert x.shape == (1, len(d.sources), d.n_mels, frames) and frames >= 2 * window_frames(d)
    vocal = d.sources.index("vocal")
    assert float(x[0, vocal].std()) > 1.0 and bool((x[0, 0] == x[0, 0].min()).all())
    short, _ = stems_to_row(CFG, {"vocal": str(path)}, max_seconds=1.5 * d.window_s)
    assert short.shape[-1] == log_mel(torch.zeros(1, window_samples(d)), d).shape[-1]
