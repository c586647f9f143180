"""Stage 2: bytes -> float32 waveform [channels, samples] (msvae.audio.decode).

Accepts WAV, FLAC, OGG (Vorbis/Opus) and MP3 at any rate and channel count. Whatever
cannot be trusted raises Quarantine with a one-line reason: empty, unsupported or
undecodable content, an extension that names another format, truncation (a WAV data
chunk or MP3 stream shorter than its header says), no samples, NaN or infinite samples.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct

import numpy as np
import soundfile as sf

from msvae import audio as audio_io
from msvae.data.errors import Quarantine

# File extension -> the libsndfile major format it must contain.
FORMATS = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
           ".opus": "OGG", ".mp3": "MP3"}
SHORT_READ = 0.99  # decoded/declared frames below this: truncated


def _wav_declared_end(data: bytes) -> int | None:
    """Byte offset where a RIFF/WAVE file's `data` chunk says it ends, or None."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if tag == b"data":
            return pos + 8 + size
        pos += 8 + size + (size & 1)
    return None


def decode(data: bytes, uri: str) -> tuple[np.ndarray, int]:
    """(waveform float32 [channels, samples] in [-1, 1] nominal, sample rate in Hz)."""
    ext = posixpath.splitext(str(uri).lower())[1]
    if ext not in FORMATS:
        raise Quarantine(f"unsupported format {ext or '(no extension)'!r}")
    if not data:
        raise Quarantine("empty file")
    try:
        info = sf.info(io.BytesIO(data))
        if info.format != FORMATS[ext]:
            raise Quarantine(f"mislabelled: {ext} file holds {info.format} data")
        wave, rate = audio_io.decode(data)
    except Quarantine:
        raise
    except Exception as exc:  # noqa: BLE001 - libsndfile's many error types
        reason = re.sub(r"Error opening <[^>]*>: ", "", str(exc).splitlines()[0])[:120]
        raise Quarantine(f"undecodable {FORMATS[ext]} ({reason})") from None
    declared_end = _wav_declared_end(data) if info.format == "WAV" else None
    if declared_end is not None and declared_end > len(data):
        raise Quarantine(f"truncated: {len(data)} of {declared_end} bytes")
    if 0 < wave.shape[-1] < SHORT_READ * info.frames:
        raise Quarantine(f"truncated: {wave.shape[-1]} of {info.frames} frames decoded")
    if wave.size == 0:
        raise Quarantine("no audio samples")
    if not np.isfinite(wave).all():
        raise Quarantine("NaN or infinite samples")
    return wave, int(rate)
