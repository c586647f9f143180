"""Storage failures a user meets first, through the real command: an endpoint that does not
answer is named as such within seconds (not as missing credentials after retries), and a
reachable endpoint without keys gets its own line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from msvae import storage
from msvae.config import load


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _msvae(*args, env: dict, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msvae", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=cwd)


def _env(**keys) -> dict:
    """This environment without S3 keys or boto's files and instance lookups, plus `keys`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent",
               AWS_EC2_METADATA_DISABLED="true", **keys)
    return env


@pytest.mark.parametrize("keys", [{}, {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}],
                         ids=["no keys", "keys"])
def test_an_unreachable_endpoint_is_named_in_one_line(tmp_path, keys):
    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    proc = _msvae("corpus", "stats", "s3://msvae/corpus", "--set",
                  f"storage.endpoint_url={endpoint}", "--set", f"services.state_dir={tmp_path}",
                  env=_env(**keys), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"msvae: error: s3://msvae/corpus/manifest.csv: storage endpoint {endpoint} "
        "unreachable (connection refused); check storage.endpoint_url or run "
        "`msvae services up`"]  # was NoCredentialsError, or a connect error after retries


def test_an_unreachable_endpoint_fails_at_once_not_after_the_retries(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    cfg = load(overrides=[f"storage.endpoint_url=http://127.0.0.1:{_free_port()}",
                          "storage.retries=5", f"services.state_dir={tmp_path}"])
    started = time.monotonic()
    with pytest.raises(storage.StorageError, match="unreachable"):
        storage.read_bytes(cfg, "s3://msvae/corpus/manifest.csv")
    assert time.monotonic() - started < storage.REACH_TIMEOUT_S  # the retries took 14-20 s


def test_a_reachable_endpoint_without_keys_says_so(tmp_path):
    with socket.socket() as listener:  # accepts TCP connections, as any S3 server would
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
        proc = _msvae("corpus", "stats", "s3://msvae/corpus", "--set",
                      f"storage.endpoint_url={endpoint}", "--set",
                      f"services.state_dir={tmp_path}", env=_env(), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"msvae: error: s3://msvae/corpus/manifest.csv: no S3 credentials for {endpoint}: set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile or instance role)"]


def test_every_storage_client_bounds_its_connect_timeout():
    cfg = load(overrides=["storage.endpoint_url=http://127.0.0.1:1"])
    assert storage.boto3_client(cfg).meta.config.connect_timeout == storage.CONNECT_TIMEOUT_S
    assert storage.s3_filesystem(cfg).config_kwargs["connect_timeout"] == storage.CONNECT_TIMEOUT_S


def test_upload_copies_a_folder_and_names_what_it_cannot_read(tmp_path):
    src, dest = tmp_path / "stems", tmp_path / "copy"
    (src / "p1").mkdir(parents=True)
    (src / "p2").mkdir()
    (src / "p1" / "mix.wav").write_bytes(os.urandom(70_000))
    (src / "p2" / "vocal_lead.flac").write_bytes(b"flac")
    (src / "p2" / "broken.wav").symlink_to("/proc/self/mem")  # a file whose read fails (EIO)
    (src / "p2" / "up").symlink_to("..")  # a link loop
    proc = _msvae("corpus", "upload", str(src), str(dest), env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert f"skipped {src}/p2/broken.wav: Input/output error" in lines
    assert f"skipped {src}/p2/up: a link to a folder it is in (a loop)" in lines
    assert lines[-2].startswith(f"uploaded 2 files (70.0kB) to {dest} in ")
    assert lines[-2].endswith("; 2 skipped (named above)")
    assert lines[-1] == f"next: msvae corpus import {dest} --out {dest}/manifest.csv"
    for rel in ("p1/mix.wav", "p2/vocal_lead.flac"):
        assert (dest / rel).read_bytes() == (src / rel).read_bytes()
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "p1/mix.wav", "p2/vocal_lead.flac"]


def test_upload_of_a_missing_folder_is_one_line(tmp_path):
    proc = _msvae("corpus", "upload", str(tmp_path / "nope"), str(tmp_path / "out"),
                  env=_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"msvae: error: {tmp_path / 'nope'}: no such folder"
