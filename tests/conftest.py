"""Shared fixtures: real embedded services (S3 + MLflow) in a temporary state folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from msvae.config import load
from msvae.services import embedded


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """Config pointing at a real S3 server and MLflow server, started once per session."""
    state = tmp_path_factory.mktemp("services")
    cfg = load(overrides=[f"services.state_dir={state}"])
    embedded.up(cfg, log=lambda *_: None)
    yield cfg
    embedded.down(cfg, log=lambda *_: None)


@pytest.fixture(scope="session")
def smoke_manifest(services):
    """A small real corpus (configs/smoke.yaml's piece count) on the embedded S3 server."""
    from msvae.corpus.build import build

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}"])
    return build(cfg, "s3://msvae/corpus-smoke", cfg.corpus.pieces, cfg.corpus.seed).manifest


@pytest.fixture(scope="session")
def smoke_prepared(services, smoke_manifest):
    """The smoke corpus prepared into Parquet shards once (the demo's path), for runs that
    do not test streaming from a manifest: they read shards instead of decoding again."""
    import ray

    from msvae.data.prepare import prepared_for
    from msvae.ray_start import init_ray

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}"])
    init_ray()
    try:
        return prepared_for(cfg, smoke_manifest)[0]
    finally:
        ray.shutdown()  # tests that start their own Ray (a two-node cluster) find none


@pytest.fixture(scope="session")
def smoke_model(services, smoke_prepared):
    """configs/smoke.yaml trained on 2 workers and registered as `smoke`: (TrainResult,
    Registered, two validation rows taken before Ray is shut down)."""
    import ray

    from msvae.train.finish import finish
    from msvae.train.launch import train

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}",
                                      f"train.dataset={smoke_prepared}", "train.workers=2",
                                      "tracking.model_name=smoke"])
    try:
        result = train(cfg, run_name="smoke-two-workers")
        return result, finish(result), result.valid.take_batch(2)
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on a free loopback port, configured as an explicit
    `storage.endpoint_url` (the path any MinIO or S3 endpoint takes); yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "moto server did not start"
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
