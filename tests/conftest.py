"""Shared fixtures: real embedded services (S3 + MLflow) in a temporary state folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from msvae.config import load
from msvae.ray_start import keep_workers
from msvae.services import embedded

PORTABLE: dict = {}  # the fresh virtual environment built in the background, see below
# Ray Train's controller polls its workers every 2 s: a 2-step smoke run spends about 3 s of
# its 16 waiting on those polls (compare at a tiny budget: 83 s, 72 s at 0.3 s). The trainer
# passes the variable on to its controller, on the shared head too.
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.3")
# Ray Train's watcher of spot-instance preemption notices: one more actor process (1.4 CPU s
# here) for every run, and no node of the suite is ever preempted
os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
keep_workers()  # every Ray node the suite starts (its heads, the simulated clusters) too


def pytest_collection_modifyitems(session, config, items):
    """Keep only this process's part of the suite when tests/suite.sh names one
    (MSVAE_SUITE_PART: "serial" or "others"). When the portable-model test is selected,
    start building its fresh virtual
    environment now, in the background, from the pins every registered model carries
    (msvae.tracking.registry.pinned_requirements): pip unpacks about 3 GB of wheels, which
    would otherwise hold the suite for two minutes (without byte-compiling them: 61 s of CPU
    against 118 s, which the other tests then have). The test checks that the model's own
    requirements.txt lists exactly these pins."""
    part = os.environ.get("MSVAE_SUITE_PART")
    if part:
        mine = [(i.get_closest_marker("serial") is not None) == (part == "serial") for i in items]
        config.hook.pytest_deselected(items=[i for i, m in zip(items, mine) if not m])
        items[:] = [i for i, m in zip(items, mine) if m]
    # tests with a Ray of their own last: the shared head is stopped once, and they run
    # after the other process of tests/suite.sh has finished (a two-node cluster sharing the
    # 2 CPUs with it took 166 s instead of 65)
    items.sort(key=lambda item: item.get_closest_marker("own_ray") is not None)
    if not any("test_portable_model" in item.nodeid for item in items):
        return
    from msvae.tracking.registry import pinned_requirements

    folder = Path(tempfile.mkdtemp(prefix="msvae-portable-"))
    pins = folder / "requirements.txt"
    pins.write_text("\n".join(pinned_requirements()) + "\n")
    venv = folder / "venv"
    command = (f"{sys.executable} -m venv {venv} && "
               f"{venv}/bin/python -m pip install -q --no-compile -r {pins}")
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RayHead:
    """A real `ray start --head --block` on loopback with 2 CPUs, in a process group of its
    own (stopped all at once: `ray start --block` takes ~30 s to stop on SIGTERM)."""

    def __init__(self, env: dict, log: Path):
        self.port, dashboard = free_port(), free_port()
        self.dashboard = f"http://127.0.0.1:{dashboard}"
        self.temp = tempfile.mkdtemp(prefix="rh", dir="/tmp")  # Ray's socket paths stay short
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
             f"--port={self.port}", "--num-cpus=2", "--dashboard-host=127.0.0.1",
             f"--dashboard-port={dashboard}", f"--temp-dir={self.temp}"],
            env=env, start_new_session=True, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.dashboard}/api/version", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(1)
        self.stop()
        pytest.fail(f"ray head did not start within 120 s: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        shutil.rmtree(self.temp, ignore_errors=True)


class SharedHead:
    """One Ray head for the session's Ray tests, joined through RAY_ADDRESS by every
    `ray.init` of this process and of the msvae commands it starts: a local start costs
    ~5 s (0.7 s to join), and the suite starts Ray about 20 times."""

    def __init__(self, log: Path):
        self.log, self.head = log, None

    def start(self) -> None:
        if self.head is None:
            self.head = RayHead(dict(os.environ, RAY_AUTH_MODE="disabled"), self.log)
            os.environ["RAY_ADDRESS"] = f"127.0.0.1:{self.head.port}"

    def stop(self) -> None:
        if self.head is not None:
            import ray

            ray.shutdown()
            del os.environ["RAY_ADDRESS"]
            self.head.stop()
            self.head = None


@pytest.fixture(scope="session")
def shared_head(tmp_path_factory):
    head = SharedHead(tmp_path_factory.mktemp("ray") / "head.log")
    yield head
    head.stop()


@pytest.fixture(autouse=True)
def _ray_of_the_test(request, shared_head):
    """Serial tests join the shared head; tests marked `own_ray` (a local instance, a
    simulated cluster, `ray start`) run with none: Ray Train's state queries fail when
    two Ray instances run on one machine."""
    if request.node.get_closest_marker("own_ray"):
        shared_head.stop()
    elif request.node.get_closest_marker("serial"):
        shared_head.start()
    yield


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
def smoke_prepared(services, smoke_manifest, shared_head):
    """The smoke corpus prepared into Parquet shards once (the demo's path), for runs that
    do not test streaming from a manifest: they read shards instead of decoding again."""
    import ray

    from msvae.data.prepare import prepared_for
    from msvae.ray_start import init_ray

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}"])
    shared_head.start()
    init_ray()
    try:
        return prepared_for(cfg, smoke_manifest)[0]
    finally:
        ray.shutdown()  # tests that start their own Ray (a two-node cluster) find none


@pytest.fixture(scope="session")
def smoke_model(services, smoke_prepared, shared_head):
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
    shared_head.start()
    try:
        result = train(cfg, run_name="smoke-two-workers")
        return result, finish(result), result.valid.take_batch(2)
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on a free loopback port, configured as an explicit
    `storage.endpoint_url` (the path any MinIO or S3 endpoint takes); yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "moto server did not start"
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)
