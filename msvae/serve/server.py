"""Run MLflow's scoring server for a registered model, from any shell.

`mlflow models serve` starts the server as `bash -c "exec uvicorn ..."`, found by name on
PATH: run as `.venv/bin/mlflow` without the venv activated, PATH has no `uvicorn` and the
server never starts ("uvicorn: not found"). `serve` runs it with this interpreter's own
bin folder first on PATH and the tracking server in MLFLOW_TRACKING_URI, checks the model
URI first (one line when it names nothing), waits until `/ping` answers, and stops the
server's whole process group when it is stopped itself (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from msvae.config import Config
from msvae.errors import MsvaeError

READY_TIMEOUT_S = 300.0  # model download, imports and the first worker's start, s
EXAMPLE_FILE = "serving_input_example.json"  # MLflow logs it beside a model's input example


class ServeError(MsvaeError):
    """The scoring server did not start or stopped before answering."""


def server_env(tracking_uri: str) -> dict[str, str]:
    """This environment with the interpreter's bin folder (where `uvicorn` is) first on
    PATH and MLFLOW_TRACKING_URI set: what `mlflow models serve` needs from any shell."""
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
                MLFLOW_TRACKING_URI=tracking_uri)


def _example_request(uri: str, folder: Path) -> Path | None:
    """The model's logged serving input (a JSON request body), downloaded into `folder`;
    None for a model logged without one."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(f"{uri}/{EXAMPLE_FILE}",
                                                        dst_path=str(folder)))
    except (MlflowException, OSError):
        return None


def _wait_ready(proc: subprocess.Popen, url: str, uri: str) -> float:
    """Seconds until `url`/ping answers 200; ServeError when the server exits first."""
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise ServeError(f"{uri}: the scoring server exited with status {proc.returncode} "
                             "before answering (its output is above)")
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise ServeError(f"{uri}: the scoring server did not answer {url}/ping within "
                     f"{READY_TIMEOUT_S:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (bash, uvicorn and its workers), SIGKILL after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def serve(cfg: Config, uri: str, host: str, port: int, workers: int, log=print) -> int:
    """Serve `uri` at http://host:port/invocations until stopped; the server's exit status."""
    from msvae.services.embedded import pick_port
    from msvae.tracking.connect import connect
    from msvae.tracking.load import check_model_uri

    tracking = connect(cfg)
    check_model_uri(uri)
    port = pick_port(host, port, "--port")
    url = f"http://{host}:{port}"
    with tempfile.TemporaryDirectory(prefix="msvae-serve-") as tmp:
        example = _example_request(uri, Path(tmp))
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager",
             "local", "-h", host, "-p", str(port), "-w", str(workers)],
            env=server_env(tracking), stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            seconds = _wait_ready(proc, url, uri)
            log(f"serving {uri} at {url}/invocations (ready in {seconds:.1f} s; Ctrl-C stops "
                "it)\n  answers {\"predictions\": {\"audio\": [windows][sources][samples], "
                "\"sample_rate\": Hz}}" + ("; the model's own example request:" if example else ""))
            if example:
                log(f"  curl -s {url}/invocations -H 'Content-Type: application/json' "
                    f"-d @{example}")
            return proc.wait()
        finally:
            _stop(proc)
