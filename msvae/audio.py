"""Audio arrays in and out: decode, encode, resample, channels, time shifts and levels.

One layout everywhere: float32 [channels, samples] (channels first), rates in Hz, levels
in dB. Decoding and encoding go through soundfile (torchaudio.load/save need torchcodec,
which the CPU build lacks); resampling is torchaudio's band-limited sinc interpolation.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

# extension -> (soundfile format, subtype) for files we write
FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_24"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}
LOSSLESS = ("wav", "flac")
AUDIO_EXTENSIONS = ("wav", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff")
_BLOCK = 1 << 16  # samples per write: one long OGG Vorbis write crashed soundfile 0.14
_OGG_SERIAL = 0x6D737661  # fixed Ogg stream serial ('msva'); libogg draws a random one


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def stable_ogg(data: bytes) -> bytes:
    """Ogg bytes with a fixed stream serial (and page checksums redone): deterministic files.

    Page layout (RFC 3533): 'OggS', version, flags, granule (8), serial (4), sequence (4),
    CRC (4), segment count, segment table, body.
    """
    out = bytearray(data)
    pos = 0
    while pos < len(out) and out[pos:pos + 4] == b"OggS":
        segments = out[pos + 26]
        size = 27 + segments + sum(out[pos + 27:pos + 27 + segments])
        out[pos + 14:pos + 18] = _OGG_SERIAL.to_bytes(4, "little")
        out[pos + 22:pos + 26] = bytes(4)
        crc = 0
        for byte in out[pos:pos + size]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
        out[pos + 22:pos + 26] = crc.to_bytes(4, "little")
        pos += size
    return bytes(out)


def decode(data: bytes, start_s: float = 0.0, seconds: float | None = None
           ) -> tuple[np.ndarray, int]:
    """Bytes of any soundfile-readable file -> (float32 [channels, samples], rate in Hz).

    `start_s` and `seconds` decode only an excerpt (seeking, not decoding the rest).
    """
    with sf.SoundFile(io.BytesIO(data)) as fh:
        rate = fh.samplerate
        if start_s:
            fh.seek(round(start_s * rate))
        frames = -1 if seconds is None else round(seconds * rate)
        audio = fh.read(frames, dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), rate


def encode(wave: np.ndarray, rate: int, ext: str) -> bytes:
    """[channels, samples] float -> file bytes in the format of extension `ext`."""
    fmt, subtype = FORMATS[ext]
    buf = io.BytesIO()
    buf.name = f"audio.{ext}"
    with sf.SoundFile(buf, "w", samplerate=rate, channels=wave.shape[0], format=fmt,
                      subtype=subtype) as fh:
        for start in range(0, wave.shape[-1], _BLOCK):
            fh.write(np.ascontiguousarray(wave[:, start:start + _BLOCK].T, dtype=np.float32))
    return stable_ogg(buf.getvalue()) if ext == "ogg" else buf.getvalue()


def write_wav(path: str | Path, wave, rate: int) -> Path:
    """Write [samples] or [channels, samples] float audio as 16-bit PCM WAV, clipped to ±1."""
    data = np.clip(torch.as_tensor(wave).detach().float().cpu().numpy(), -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.T if data.ndim == 2 else data, rate, subtype="PCM_16")
    return path


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """[channels, samples] at `rate_in` Hz -> [channels, samples'] at `rate_out` Hz."""
    if rate_in == rate_out:
        return wave.astype(np.float32, copy=False)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
                      rate_in, rate_out)
    return out.numpy()


def to_channels(wave: np.ndarray, channels: int) -> np.ndarray:
    """[c, samples] -> [channels, samples] for channels 1 or 2.

    1: the mean of all channels. 2: mono is duplicated, stereo kept, channels beyond the
    first two (surround) averaged into both.
    """
    if channels not in (1, 2):
        raise ValueError(f"channels: expected 1 or 2, got {channels}")
    if wave.shape[0] == channels:
        return wave
    if channels == 1:
        return wave.mean(axis=0, keepdims=True)
    if wave.shape[0] == 1:
        return np.repeat(wave, 2, axis=0)
    return 0.5 * (wave[:2] + wave[2:].mean(axis=0, keepdims=True))


def fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad [channels, samples] to exactly `n` samples."""
    return shift(wave, 0, n)


def shift(wave: np.ndarray, delay: int, length: int | None = None) -> np.ndarray:
    """[channels, samples] delayed by `delay` samples (negative: advanced), cut or
    zero-padded to `length` (default: unchanged): out[:, t] = wave[:, t - delay]."""
    length = wave.shape[-1] if length is None else length
    out = np.zeros((*wave.shape[:-1], length), dtype=wave.dtype)
    src, dst = max(-delay, 0), max(delay, 0)
    n = min(wave.shape[-1] - src, length - dst)
    if n > 0:
        out[..., dst:dst + n] = wave[..., src:src + n]
    return out


def rms_db(wave: np.ndarray) -> float:
    """Root-mean-square level in dBFS (-inf for silence)."""
    power = float(np.mean(np.square(wave, dtype=np.float64)))
    return 10 * np.log10(power) if power > 0 else -np.inf


def peak_db(wave: np.ndarray) -> float:
    """Peak level in dBFS (-inf for silence)."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def db_to_gain(db: float) -> float:
    """dB -> linear amplitude gain."""
    return float(10 ** (db / 20))
