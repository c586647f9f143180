"""Shared fixtures: real embedded services (S3 + MLflow) in a temporary state folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from msvae.config import load
from msvae.services import embedded

PORTABLE: dict = {}  # the fresh virtual environment built in the background, see below


def pytest_collection_modifyitems(session, config, items):
    """Keep only this process's part of the suite when tests/suite.sh names one
    (MSVAE_SUITE_PART: "serial" or "others"). When the portable-model test is selected,
    start building its fresh virtual
    environment now, in the background, from the pins every registered model carries
    (msvae.tracking.registry.pinned_requirements): pip unpacks about 3 GB of wheels, which
    would otherwise hold the suite for two minutes. The test checks that the model's own
    requirements.txt lists exactly these pins."""
    part = os.environ.get("MSVAE_SUITE_PART")
    if part:
        mine = [(i.get_closest_marker("serial") is not None) == (part == "serial") for i in items]
        config.hook.pytest_deselected(items=[i for i, m in zip(items, mine) if not m])
        items[:] = [i for i, m in zip(items, mine) if m]
    if not any("test_portable_model" in item.nodeid for item in items):
        return
    from msvae.tracking.registry import pinned_requirements

    folder = Path(tempfile.mkdtemp(prefix="msvae-portable-"))
    pins = folder / "requirements.txt"
    pins.write_text("\n".join(pinned_requirements()) + "\n")
    venv = folder / "venv"
    command = (f"{sys.executable} -m venv {venv} && "
               f"{venv}/bin/python -m pip install -q -r {pins}")
    PORTABLE.update(folder=folder, python=venv / "bin" / "python", pins=pins,
                    build=subprocess.Popen(["bash", "-c", command], stdout=subprocess.DEVNULL,
                                           stderr=open(folder / "pip.log", "wb")))


def pytest_sessionfinish(session, exitstatus):
    if PORTABLE:
        PORTABLE["build"].kill()
        shutil.rmtree(PORTABLE["folder"], ignore_errors=True)


@pytest.fixture(scope="session")
def portable_venv() -> tuple[Path, list[str]]:
    """(python of the fresh virtual environment, the pins it was installed from), once the
    background build has finished."""
    build = PORTABLE["build"]
    build.wait(timeout=900)
    assert build.returncode == 0, (PORTABLE["folder"] / "pip.log").read_text()[-3000:]
    return PORTABLE["python"], PORTABLE["pins"].read_text().split()


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
    """configs/smoke.yaml trained on 2 workers and registered as `smoke@champion`:
    (TrainResult, Registered, two validation rows taken before Ray is shut down). 20 steps
    leave validation temporal fidelity about 0 (the time-mean floor's), so the champion
    floor is lifted here for the tests that load it."""
    import ray

    from msvae.train.finish import finish
    from msvae.train.launch import train

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}",
                                      f"train.dataset={smoke_prepared}", "train.workers=2",
                                      "tracking.model_name=smoke",
                                      "tracking.champion_min_score=-1"])
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
