"""The embedded services as real processes: S3 round trips, persistence, MLflow registry."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import psutil
import pytest
import torch

from msvae import storage
from msvae.config import load
from msvae.services import embedded
from msvae.services.state import read_state, state_path
from msvae.tracking.connect import TrackingError, connect

pytestmark = pytest.mark.slow


def _cli(*args, state_dir):
    return subprocess.run([sys.executable, "-m", "msvae", *args,
                           "--set", f"services.state_dir={state_dir}"],
                          capture_output=True, text=True, timeout=300)


def _our_pids(state: dict) -> list[int]:
    pids = []
    for entry in state.values():
        proc = psutil.Process(entry["pid"])
        pids += [proc.pid] + [c.pid for c in proc.children(recursive=True)]
    return pids


def _objects(cfg) -> dict[str, bytes]:
    """Every object of the bucket, directory markers included, key -> body."""
    client = storage.boto3_client(cfg)
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket="msvae") for o in page.get("Contents", [])]
    return {k: client.get_object(Bucket="msvae", Key=k)["Body"].read() for k in keys}


def _write_what_ray_writes(cfg) -> None:
    """An object through s3fs, pyarrow's directory markers (keys ending in "/") and a
    Parquet dataset as Ray's writer makes them, and a checkpoint that sorts after them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with storage.s3_filesystem(cfg).open("msvae/dir/hello.bin", "wb") as fh:
        fh.write(b"\x00multi-source\xff")
    fs, path = storage.pyarrow_filesystem(cfg, "s3://msvae/prepared")
    fs.create_dir(f"{path}/split=train")
    pq.write_to_dataset(pa.table({"x": [1.0, 2.0, 3.0]}), f"{path}/split=train", filesystem=fs)
    storage.write_bytes(cfg, "s3://msvae/runs/r/checkpoint_000001/state.pt", b"\x01" * 99)


def test_down_up_keeps_every_object_and_leaves_no_process(tmp_path):
    """A clean down/up keeps every object, directory markers, a Parquet dataset and what
    sorts after a marker included, and `down` leaves none of its processes."""
    import pyarrow.parquet as pq

    cfg = load(overrides=[f"services.state_dir={tmp_path}"])
    assert _cli("services", "up", state_dir=tmp_path).returncode == 0
    again = _cli("services", "up", state_dir=tmp_path)
    assert again.returncode == 0 and "already up" in again.stdout

    _write_what_ray_writes(cfg)
    body = storage.boto3_client(cfg).get_object(Bucket="msvae", Key="dir/hello.bin")["Body"]
    assert body.read() == b"\x00multi-source\xff"
    before = _objects(cfg)
    assert any(k.endswith("/") for k in before) and len(before) >= 4

    pids = _our_pids(read_state(cfg))
    commands = [" ".join(psutil.Process(p).cmdline()) for p in pids]
    assert not [c for c in commands if "huey" in c], commands  # no MLflow job runners
    assert _cli("services", "down", state_dir=tmp_path).returncode == 0
    assert not [p for p in pids if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not state_path(cfg).exists()
    status = _cli("services", "status", state_dir=tmp_path)
    assert status.returncode == 1 and "down" in status.stdout

    assert _cli("services", "up", state_dir=tmp_path).returncode == 0
    try:
        assert _objects(cfg) == before
        fs, path = storage.pyarrow_filesystem(cfg, "s3://msvae/prepared")  # the new port
        table = pq.read_table(f"{path}/split=train", filesystem=fs)
        assert table.column("x").to_pylist() == [1.0, 2.0, 3.0]
        report = json.loads(_cli("services", "status", "--json", state_dir=tmp_path).stdout)
        assert report["s3"]["answering"] and report["mlflow"]["answering"]
    finally:
        _cli("services", "down", state_dir=tmp_path)


def test_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "msvae", "services", "up", "--set",
             f"services.state_dir={tmp_path}", "--set", f"services.s3_port={port}"],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"msvae: error: services.s3_port: port {port} on 127.0.0.1 "
                                     "is taken by another program; free it or set "
                                     "services.s3_port=0 to pick a free port")


def test_stale_state_is_reported_and_replaced(tmp_path):
    cfg = load(overrides=[f"services.state_dir={tmp_path}"])
    state_path(cfg).write_text(json.dumps({
        "s3": {"pid": 999999, "started": 0.0, "log": "x", "endpoint": "http://127.0.0.1:1"},
        "mlflow": {"pid": 999998, "started": 0.0, "log": "y", "endpoint": "http://127.0.0.1:2"}}))
    lines = []
    try:
        embedded.up(cfg, log=lines.append)
        assert lines[0].startswith(f"stale state file {state_path(cfg)}: s3, mlflow")
        assert all(h["answering"] for h in embedded.status(cfg).values())
    finally:
        embedded.down(cfg, log=lambda *_: None)


def test_tiny_model_registered_and_loaded_by_alias(services):
    import mlflow
    from mlflow import MlflowClient

    connect(services)
    model = torch.nn.Linear(3, 2)
    with mlflow.start_run():
        info = mlflow.pytorch.log_model(model, name="model", serialization_format="pickle",
                                        registered_model_name="tiny")
    MlflowClient().set_registered_model_alias("tiny", "champion",
                                              info.registered_model_version)
    loaded = mlflow.pytorch.load_model("models:/tiny@champion")
    x = torch.randn(4, 3)
    assert torch.allclose(loaded(x), model(x))
    objects = storage.s3_filesystem(services).find("msvae/mlflow-artifacts")
    assert any(o.endswith("data/model.pth") for o in objects), objects


def test_unreachable_tracking_fails_fast():
    cfg = load(overrides=["tracking.uri=http://127.0.0.1:9"])
    with pytest.raises(TrackingError,
                       match=r"^MLflow tracking server http://127.0.0.1:9 unreachable"):
        connect(cfg)
