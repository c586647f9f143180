"""Log-mel back to audio: the inverse mel filterbank, then Griffin-Lim phase recovery.

The inversion mirrors msvae.data.features.mel_transform (power 2, slaney scale and norm),
so mel_to_wave(log_mel(w)) sounds like w up to phase. Waves are float in [-1, 1].
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torchaudio

from msvae.config import DataConfig
from msvae.data.features import db_to_power

GRIFFIN_LIM_ITERS = 32


@lru_cache(maxsize=4)
def _inverse_mel(sample_rate: int, n_fft: int, n_mels: int, f_min: float,
                 f_max: float | None) -> torchaudio.transforms.InverseMelScale:
    return torchaudio.transforms.InverseMelScale(
        n_stft=n_fft // 2 + 1, n_mels=n_mels, sample_rate=sample_rate, f_min=f_min,
        f_max=f_max, norm="slaney", mel_scale="slaney")


def inverse_mel_power(db: torch.Tensor, cfg: DataConfig) -> torch.Tensor:
    """[..., M, T] log-mel dB -> [..., n_fft / 2 + 1, T] non-negative STFT power."""
    inverse = _inverse_mel(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)
    return inverse(db_to_power(db)).clamp_min(0)


def mel_to_wave(db: torch.Tensor, cfg: DataConfig,
                iters: int = GRIFFIN_LIM_ITERS) -> torch.Tensor:
    """[..., M, T] log-mel dB -> [..., T * hop_length] waveform (float32, on CPU).

    The features drop the centred STFT's last frame, so it is restored by repeating the
    final frame before `iters` Griffin-Lim iterations (benchmarks/vocoder.py measures
    quality and speed against the count).
    """
    db = torch.as_tensor(db).detach().float().cpu()
    power = inverse_mel_power(torch.cat([db, db[..., -1:]], dim=-1), cfg)
    return torchaudio.functional.griffinlim(
        power, torch.hann_window(cfg.n_fft), n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.n_fft, power=2.0, n_iter=iters, momentum=0.99,
        length=db.shape[-1] * cfg.hop_length, rand_init=True)

