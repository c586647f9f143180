"""Audio arrays in and out: decode, encode, resample, channels and levels.

Arrays are float32 shaped (samples, channels); rates are in Hz, levels in dB. Decoding and
encoding go through soundfile (torchaudio.load/save need torchcodec; we avoid it).
"""

from __future__ import annotations

import io
from math import gcd

import numpy as np
import soundfile as sf

# extension -> (soundfile format, subtype)
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
    """Bytes of any soundfile-readable file -> ((samples, channels) float32, rate).

    `start_s` and `seconds` decode only an excerpt (seeking, not decoding the rest).
    """
    with sf.SoundFile(io.BytesIO(data)) as fh:
        sr = fh.samplerate
        fh.seek(round(start_s * sr))
        frames = -1 if seconds is None else round(seconds * sr)
        return fh.read(frames, dtype="float32", always_2d=True), sr


def encode(x: np.ndarray, sr: int, ext: str) -> bytes:
    """(samples, channels) float -> file bytes in the format of extension `ext`."""
    fmt, subtype = FORMATS[ext]
    buf = io.BytesIO()
    buf.name = f"audio.{ext}"
    with sf.SoundFile(buf, "w", samplerate=sr, channels=x.shape[1], format=fmt,
                      subtype=subtype) as fh:
        for start in range(0, len(x), _BLOCK):
            fh.write(np.ascontiguousarray(x[start:start + _BLOCK], dtype=np.float32))
    return stable_ogg(buf.getvalue()) if ext == "ogg" else buf.getvalue()


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along time (a linear, band-limited operation)."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g, axis=0).astype(np.float32)


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Mono <-> stereo: mono is the channel mean, stereo repeats a mono signal."""
    if x.shape[1] == channels:
        return x
    if channels == 1:
        return x.mean(axis=1, keepdims=True)
    return np.repeat(x.mean(axis=1, keepdims=True), channels, axis=1)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad to exactly `n` samples."""
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - len(x), x.shape[1]), x.dtype)])


def shift(x: np.ndarray, samples: int) -> np.ndarray:
    """Delay by `samples` (negative: advance), keeping the length; zeros come in."""
    samples = max(-len(x), min(len(x), samples))
    out = np.zeros_like(x)
    if samples >= 0:
        out[samples:] = x[:len(x) - samples]
    else:
        out[:samples] = x[-samples:]
    return out


def rms_db(x: np.ndarray) -> float:
    """Root-mean-square level in dBFS (-inf for silence)."""
    power = float(np.mean(np.square(x, dtype=np.float64)))
    return 10 * np.log10(power) if power > 0 else -np.inf


def peak_db(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))
