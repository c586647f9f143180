"""Serving: `msvae serve` runs MLflow's scoring server for a registered model from a shell
whose PATH lacks the venv (where `mlflow models serve` said "uvicorn: not found"), and
the answer to POST /invocations carries the audio and its sample rate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from msvae.data.features import window_samples

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_msvae_serve_answers_audio_and_its_sample_rate(services, smoke_model, tmp_path):
    result, registered, batch = smoke_model
    cfg = result.cfg
    port, log = _free_port(), tmp_path / "serve.log"
    env = dict(os.environ, PATH="/usr/bin:/bin")  # no venv on PATH, as from .venv/bin/msvae
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "msvae", "serve", "--model", registered.uri, "--port", str(port),
         "--set", f"services.state_dir={services.services.state_dir}"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while "serving " not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/invocations"
        printed = log.read_text()
        assert f"serving {registered.uri} at {url}" in printed
        curl = f"curl -s {url} -H 'Content-Type: application/json' -d @"
        example = printed.split(curl, 1)[1].split()[0]  # the request the command suggests
        body = {"inputs": {"x": batch["x"][:2].astype(np.float32).tolist(),
                           "mask": batch["mask"][:2].tolist()}, "params": {"seed": 1}}
        for request, windows in ((Path(example).read_bytes(), 1), (json.dumps(body), 2)):
            answer = requests.post(url, data=request, timeout=60,
                                   headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text[-2000:]
            predictions = answer.json()["predictions"]
            assert predictions["sample_rate"] == cfg.data.sample_rate
            audio = np.asarray(predictions["audio"], dtype=np.float32)
            assert audio.shape == (windows, len(cfg.data.sources), window_samples(cfg.data))
            assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130, log.read_text()[-3000:]
    with socket.socket() as sock:  # the scoring server went down with it
        assert sock.connect_ex(("127.0.0.1", port)) != 0
