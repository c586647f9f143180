"""The registered model loads where this repository is not installed: a fresh virtual
environment made from the model's own requirements.txt loads `models:/smoke@champion`
from the MLflow server and runs `predict` on its logged input example."""

from __future__ import annotations

import os
import subprocess
import textwrap

import mlflow
import pytest

from msvae.tracking.connect import connect

pytestmark = [pytest.mark.slow, pytest.mark.serial]

SCRIPT = textwrap.dedent("""
    import importlib.util, sys
    assert importlib.util.find_spec("msvae") is None, "msvae is installed here"
    import mlflow
    uri = sys.argv[1]
    model = mlflow.pyfunc.load_model(uri)
    example = model.input_example
    out = model.predict(example)
    audio = out["audio"]
    print("rate", out["sample_rate"], "shape", *audio.shape,
          "finite", bool((abs(audio) <= 1.0).all()))
""")


def test_the_registered_model_loads_in_a_fresh_venv_from_its_requirements(
        smoke_model, services, portable_venv, tmp_path):
    tracking = connect(services)
    result, registered, _ = smoke_model
    uri = f"models:/{registered.name}@champion"
    pins = open(mlflow.pyfunc.get_model_dependencies(uri)).read()
    assert "msvae" not in pins and "torch==" in pins
    python, installed = portable_venv  # a fresh venv built from exactly these requirements
    assert sorted(pins.split()) == sorted(installed)
    script = tmp_path / "load.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([python, str(script), uri], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**env, "MLFLOW_TRACKING_URI": tracking})
    assert proc.returncode == 0, proc.stderr[-3000:]
    sources = len(result.cfg.data.sources)
    shape = proc.stdout.split("shape", 1)[1].split()
    assert shape[:2] == ["1", str(sources)] and proc.stdout.strip().endswith("finite True")
    assert proc.stdout.split("rate", 1)[1].split()[0] == str(result.cfg.data.sample_rate)
