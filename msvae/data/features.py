"""Log-mel features: the one definition the pipeline, the models and the metrics share.

A window of `samples` gives exactly `samples // hop_length` frames (the centred STFT's
last frame is dropped), so a 2.048 s window at 16 kHz with hop 256 gives 128 frames,
a size the hierarchical models halve cleanly. Values are dB re full scale power,
floored at FLOOR_DB.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torchaudio

from msvae.config import DataConfig

FLOOR_DB = -100.0  # dB; mel power below 1e-10 is clamped here


def window_samples(cfg: DataConfig) -> int:
    """Samples in one window, rounded to a whole number of mel hops."""
    hops = int(round(cfg.window_s * cfg.sample_rate / cfg.hop_length))
    return hops * cfg.hop_length


def window_frames(cfg: DataConfig) -> int:
    """Mel frames in one window."""
    return window_samples(cfg) // cfg.hop_length


def frames_for(cfg: DataConfig, seconds: float) -> int:
    """Mel frames in `seconds` of audio (at least one)."""
    return max(1, int(round(seconds * cfg.sample_rate / cfg.hop_length)))


@lru_cache(maxsize=8)
def _mel(sample_rate: int, n_fft: int, hop_length: int, n_mels: int, f_min: float,
         f_max: float | None) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
        f_min=f_min, f_max=f_max, power=2.0, center=True, norm="slaney", mel_scale="slaney")


def mel_transform(cfg: DataConfig) -> torchaudio.transforms.MelSpectrogram:
    """The shared torchaudio MelSpectrogram (power 2, slaney scale and norm)."""
    return _mel(cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.f_min, cfg.f_max)


def band_centres_hz(cfg: DataConfig) -> torch.Tensor:
    """[n_mels] the frequency, Hz, where each mel band's filter peaks (for figure axes)."""
    fb = mel_transform(cfg).mel_scale.fb  # [n_fft // 2 + 1, n_mels]
    return torch.linspace(0, cfg.sample_rate / 2, fb.shape[0])[fb.argmax(0)]


def log_mel(wave: torch.Tensor, cfg: DataConfig) -> torch.Tensor:
    """[..., samples] float waveform -> [..., n_mels, samples // hop_length] in dB."""
    frames = wave.shape[-1] // cfg.hop_length
    power = mel_transform(cfg)(wave.float())[..., :frames]
    return 10.0 * torch.log10(power.clamp_min(10 ** (FLOOR_DB / 10)))


def db_to_power(db: torch.Tensor) -> torch.Tensor:
    """dB -> linear power."""
    return torch.pow(10.0, db / 10.0)


def power_sum_db(db: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """dB -> dB of the power summed along `dim` (uncorrelated sources add in power),
    10 log10 sum 10^(dB/10), as a logsumexp: stable at any level, -inf entries add nothing."""
    per_db = math.log(10) / 10  # natural-log units of power per dB
    return torch.logsumexp(db * per_db, dim=dim) / per_db
