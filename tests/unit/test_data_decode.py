"""Stages 1-2: reading with retries, decoding every supported format, quarantining bad bytes."""

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from msvae.config import load
from msvae.data.decode import decode
from msvae.data.errors import Quarantine
from msvae.data.read import read_source

RATE = 44100


def _noise(seconds=1.0, channels=2):
    return (np.random.default_rng(0).standard_normal((int(seconds * RATE), channels)) * 0.1
            ).astype(np.float32)


def _encode(x, fmt, **kw):
    buf = io.BytesIO()
    sf.write(buf, x, RATE, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("ext,fmt,kw", [("wav", "WAV", {}), ("flac", "FLAC", {}),
                                        ("ogg", "OGG", {"subtype": "VORBIS"}),
                                        ("mp3", "MP3", {"subtype": "MPEG_LAYER_III"})])
def test_decodes_every_format_as_channels_by_samples(ext, fmt, kw):
    wave, rate = decode(_encode(_noise(), fmt, **kw), f"s3://b/a.{ext}")
    assert rate == RATE and wave.shape[0] == 2 and wave.dtype == np.float32
    assert abs(wave.shape[1] - RATE) < 0.05 * RATE


def _nan_wav():
    x = _noise(0.5, 1)
    x[100] = np.nan
    return _encode(x, "WAV", subtype="FLOAT")


@pytest.mark.parametrize("data,uri,reason", [
    (b"", "a.wav", "empty"),
    (b"RIFF-not-really-audio", "a.wav", "undecodable"),
    (b"whatever", "a.m4a", "unsupported format"),
    (_encode(_noise(), "FLAC"), "a.wav", "mislabelled"),
    (_encode(_noise(), "WAV")[:50_000], "a.wav", "truncated"),
    (_encode(_noise(), "FLAC")[:20_000], "a.flac", "undecodable"),
    (_nan_wav(), "a.wav", "NaN"),
])
def test_bad_bytes_are_quarantined_with_a_reason(data, uri, reason):
    with pytest.raises(Quarantine, match=reason):
        decode(data, uri)


def test_wav_header_data_size_is_checked():
    data = bytearray(_encode(_noise(0.2, 1), "WAV"))
    pos = data.index(b"data")
    size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
    data[pos + 4:pos + 8] = struct.pack("<I", size * 2)
    with pytest.raises(Quarantine, match="truncated"):
        decode(bytes(data), "a.wav")


class _Flaky:
    """Opens fail with a transient error `failures` times, then return the payload."""

    def __init__(self, failures, error=ConnectionResetError):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, path):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("flaky")
        return io.BytesIO(b"payload")


def test_read_retries_transient_errors_then_succeeds():
    opener, sleeps = _Flaky(2), []
    cfg = load(overrides=["storage.retries=3"])
    assert read_source(cfg, "s3://b/k", opener=opener, sleep=sleeps.append) == b"payload"
    assert opener.calls == 3 and sleeps == [0.2, 0.4]


def test_read_gives_up_after_the_configured_attempts():
    opener = _Flaky(10)
    with pytest.raises(Quarantine, match="after 3 attempts"):
        read_source(load(overrides=["storage.retries=2"]), "s3://b/k", opener=opener,
                    sleep=lambda s: None)
    assert opener.calls == 3


def test_missing_object_is_not_retried(tmp_path):
    with pytest.raises(Quarantine, match="FileNotFoundError"):
        read_source(load(), str(tmp_path / "nope.wav"), sleep=pytest.fail)
