"""Your own files into the embedded S3 server: `msvae corpus upload` copies a folder there,
and the keys and AWS CLI line `msvae services status` prints reach the same objects (real
processes against the session's S3 server)."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from msvae import storage

pytestmark = pytest.mark.slow


def _msvae(services, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msvae", *args, "--set",
                           f"services.state_dir={services.services.state_dir}"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_upload_to_the_embedded_server_and_the_printed_keys_reach_it(services, tmp_path):
    src = tmp_path / "stems"
    (src / "p1").mkdir(parents=True)
    files = {"p1/mix.wav": os.urandom(20_000), "p1/vocal.flac": os.urandom(3_000)}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    up = _msvae(services, "corpus", "upload", str(src), "s3://msvae/upload-test")
    assert up.returncode == 0, up.stderr[-2000:]
    assert "uploaded 2 files (23.0kB) to s3://msvae/upload-test in " in up.stdout
    for rel, data in files.items():
        assert storage.read_bytes(services, f"s3://msvae/upload-test/{rel}") == data

    secret = "not-to-be-printed-7f3a"  # a key of the user's own: never shown
    env = dict(os.environ, AWS_ACCESS_KEY_ID=secret, AWS_SECRET_ACCESS_KEY=secret)
    status = _msvae(services, "services", "status", env=env)
    assert status.returncode == 0 and secret not in status.stdout + status.stderr
    lines = [line.strip() for line in status.stdout.splitlines()]
    keys = dict(item.split("=", 1) for item in
                next(line for line in lines if line.startswith("export ")).split()[1:])
    aws = next(line for line in lines if line.startswith("aws --endpoint-url ")).split()
    assert aws[3:] == ["s3", "ls", "s3://msvae/"]
    client = boto3.client("s3", endpoint_url=aws[2], region_name=keys["AWS_DEFAULT_REGION"],
                          aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
    listed = client.list_objects_v2(Bucket="msvae", Prefix="upload-test/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(f"upload-test/{r}" for r in files)
