"""Start, stop and inspect the embedded services: an S3 server and an MLflow server.

Both run on loopback as their own process groups. Their endpoints, pids and process
start times go into the state file, so `down` stops exactly those processes (a pid
reused by another program is never signalled) and other commands find the endpoints.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from msvae.config import Config
from msvae.errors import MsvaeError, require_extra
from msvae.services.state import EMBEDDED_KEYS, clear_state, read_state, state_dir, write_state

SERVICES = ("s3", "mlflow")


class ServiceError(MsvaeError):
    """A service could not start or stop; one line saying which and why."""


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pick_port(host: str, wanted: int, key: str) -> int:
    """`wanted` if it is free, a free port if it is 0; a taken port is an error."""
    if wanted == 0:
        return _free_port(host)
    with socket.socket() as s:
        try:
            s.bind((host, wanted))
        except OSError:
            raise ServiceError(f"{key}: port {wanted} on {host} is taken by another program; "
                               f"free it or set {key}=0 to pick a free port") from None
    return wanted


def _alive(entry: dict) -> bool:
    """True when the recorded process still runs and is the one we started."""
    try:
        proc = psutil.Process(entry["pid"])
        return abs(proc.create_time() - entry["started"]) < 1.0 and proc.status() != "zombie"
    except psutil.Error:
        return False


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def _health_url(name: str, entry: dict) -> str:
    return entry["endpoint"] + ("/health" if name == "mlflow" else "/")


def _spawn(cmd: list[str], log: Path, env: dict[str, str]) -> dict:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    return {"pid": proc.pid, "started": psutil.Process(proc.pid).create_time(), "log": str(log)}


def _wait_ready(name: str, entry: dict, timeout_s: float, extra_ready=lambda: True) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(entry):
            tail = Path(entry["log"]).read_text(errors="replace").strip().splitlines()[-1:]
            last = tail[0] if tail else "no output"
            raise ServiceError(f"{name} server exited at start: {last} (log: {entry['log']})")
        if extra_ready() and _answers(_health_url(name, entry)):
            return
        time.sleep(0.3)
    raise ServiceError(f"{name} server did not answer within {timeout_s:.0f} s "
                       f"(log: {entry['log']})")


def _bucket_of(cfg: Config) -> str | None:
    root = cfg.storage.root
    return root[len("s3://"):].split("/")[0] if root.startswith("s3://") else None


def _start_s3(cfg: Config, folder: Path) -> dict:
    require_extra("moto", "embedded")
    host = cfg.services.host
    port = pick_port(host, cfg.services.s3_port, "services.s3_port")
    data = folder / "s3"
    (data / ".ready").unlink(missing_ok=True)
    entry = _spawn([sys.executable, "-m", "msvae.services.s3_server", "--host", host,
                    "--port", str(port), "--data", str(data)], folder / "s3.log", dict(os.environ))
    entry["endpoint"] = f"http://{host}:{port}"
    _wait_ready("s3", entry, cfg.services.start_timeout_s, (data / ".ready").is_file)
    return entry


def _recovery_line(data: Path) -> str:
    """What the S3 server restored at start, and whether the stop before it was clean."""
    from msvae.services.s3_server import RECOVERY

    info = json.loads((data / RECOVERY).read_text())
    if info["clean"]:
        return f"{info['objects']} objects restored"
    when = (time.strftime("%H:%M:%S", time.localtime(info["last_snapshot"]))
            if info["last_snapshot"] else "never")
    return (f"recovered {info['objects']} objects after an unclean stop (last snapshot "
            f"{when}; writes after it are lost)")


def _start_mlflow(cfg: Config, folder: Path, s3: dict) -> dict:
    host = cfg.services.host
    port = pick_port(host, cfg.services.mlflow_port, "services.mlflow_port")
    bucket = _bucket_of(cfg)
    artifacts = f"s3://{bucket}/mlflow-artifacts" if bucket else str(folder / "mlflow-artifacts")
    # no MLflow server jobs (its GenAI job runners: msvae submits none): without them the
    # server is 3 processes, not 11, 590 MB instead of 2 GB, and starts on 6 CPU s, not 19
    env = dict(os.environ, MLFLOW_S3_ENDPOINT_URL=s3["endpoint"], **EMBEDDED_KEYS,
               AWS_DEFAULT_REGION=cfg.storage.region, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    env.pop("AWS_SESSION_TOKEN", None)
    entry = _spawn([sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
                    "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                    "--artifacts-destination", artifacts, "--workers", "1"],
                   folder / "mlflow.log", env)
    entry["endpoint"] = f"http://{host}:{port}"
    entry["artifacts"] = artifacts
    _wait_ready("mlflow", entry, cfg.services.start_timeout_s)
    return entry


def status(cfg: Config) -> dict[str, dict]:
    """Per service: endpoint, pid, whether the process lives and answers."""
    state = read_state(cfg) or {}
    report = {}
    for name in SERVICES:
        entry = state.get(name)
        if entry is None:
            report[name] = {"running": False, "answering": False}
            continue
        alive = _alive(entry)
        report[name] = {"endpoint": entry["endpoint"], "pid": entry["pid"], "running": alive,
                        "answering": alive and _answers(_health_url(name, entry))}
    return report


def up(cfg: Config, log=print) -> dict:
    """Start both services unless they already run; returns the state. Idempotent."""
    folder = state_dir(cfg)
    state = read_state(cfg)
    if state:
        health = status(cfg)
        if all(h["running"] and h["answering"] for h in health.values()):
            log(f"services already up (state: {folder})")
            return state
        dead = [n for n, h in health.items() if not h["running"]]
        log(f"stale state file {folder / 'services.json'}: "
            f"{', '.join(dead) or 'a service not answering'}; restarting")
        down(cfg, log=lambda *_: None)
    state = {}
    try:
        state["s3"] = _start_s3(cfg, folder)
        write_state(cfg, state)
        state["mlflow"] = _start_mlflow(cfg, folder, state["s3"])
        write_state(cfg, state)
    except ServiceError:
        down(cfg, log=lambda *_: None)
        raise
    bucket = _bucket_of(cfg)
    if bucket:
        from msvae.storage import ensure_bucket

        ensure_bucket(cfg, cfg.storage.root)
    log(f"s3 server     {state['s3']['endpoint']}  (pid {state['s3']['pid']}); "
        f"{_recovery_line(folder / 's3')}")
    log(f"mlflow server {state['mlflow']['endpoint']}  (pid {state['mlflow']['pid']})")
    return state


def _stop(entry: dict, timeout_s: float) -> None:
    """SIGTERM the process group, then SIGKILL what remains after `timeout_s`."""
    if not _alive(entry):
        return
    procs = [psutil.Process(entry["pid"])]
    procs += procs[0].children(recursive=True)
    try:
        os.killpg(entry["pid"], signal.SIGTERM)
    except ProcessLookupError:
        return
    _, rest = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in rest:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(rest, timeout=5)


def down(cfg: Config, log=print) -> None:
    """Stop exactly the recorded processes (MLflow first, then S3, which saves its data)."""
    state = read_state(cfg)
    if not state:
        log("services are not running (no state file)")
        return
    for name in reversed(SERVICES):
        if name in state:
            _stop(state[name], timeout_s=120.0 if name == "s3" else 20.0)
            log(f"stopped {name} server (pid {state[name]['pid']})")
    clear_state(cfg)
