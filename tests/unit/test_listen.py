"""Listening: mel inversion, WAV writing and generated files."""

import math

import soundfile as sf
import torch

from msvae.config import load
from msvae.features import log_mel
from msvae.listen import generate_wavs, mel_to_wave, write_wav
from msvae.metrics import recon_error_db
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


def test_write_wav_reads_back(tmp_path):
    wave = torch.linspace(-1.5, 1.5, 1600)  # clipped to +-1 on write
    path = write_wav(tmp_path / "a" / "x.wav", wave, 16000)
    data, rate = sf.read(path)
    assert rate == 16000 and data.shape == (1600,)
    assert abs(data - wave.clamp(-1, 1).numpy()).max() < 1e-4


def test_generate_wavs_unconditional_and_conditional(tmp_path):
    torch.manual_seed(0)
    vae_cfg = load(overrides=[*TINY, "model.kind=vae"])
    paths = generate_wavs(build_model(vae_cfg).eval(), vae_cfg, tmp_path / "u", n=2)
    assert sorted(p.name for p in paths) == ["000_mix.wav", "001_mix.wav"]
    msvae = build_model(CFG).eval()
    x = -50 + 10 * torch.randn(1, 4, 16, 32)
    given = torch.tensor([[False, True, True, False]])  # instrument and vocal in
    paths = generate_wavs(msvae, CFG, tmp_path / "c", n=1, cond_x=x, cond_mask=given)
    assert len(paths) == 4
    data, rate = sf.read(paths[0])
    assert rate == CFG.data.sample_rate and len(data) == 32 * CFG.data.hop_length

