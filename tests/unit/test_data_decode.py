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


class _Failing:
    """Opens fail with `error`, counting the calls."""

    def __init__(self, error=ConnectionResetError):
        self.error, self.calls = error, 0

    def __call__(self, path):
        self.calls += 1
        raise self.error("flaky")


def test_a_read_the_client_retries_could_not_cure_is_quarantined_once():
    opener = _Failing()
    with pytest.raises(Quarantine, match=r"after 3 attempts \(ConnectionResetError: flaky\)"):
        read_source(load(overrides=["storage.retries=2"]), "s3://b/k", opener=opener)
    assert opener.calls == 1  # no second retry layer on top of botocore's


def test_the_storage_clients_carry_the_one_retry_layer():
    from msvae import storage

    cfg = load(overrides=["storage.retries=4", "storage.endpoint_url=http://127.0.0.1:1"])
    retries = storage.boto3_client(cfg).meta.config.retries  # 1 + 4 retries
    assert retries == {"mode": "standard", "total_max_attempts": 5}
    assert storage.s3_filesystem(cfg).config_kwargs["retries"] == {"total_max_attempts": 5,
                                                                    "mode": "standard"}


def test_missing_object_is_not_retried(tmp_path):
    with pytest.raises(Quarantine, match="FileNotFoundError"):
        read_source(load(), str(tmp_path / "nope.wav"))
