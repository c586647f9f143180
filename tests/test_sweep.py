"""A real Ray Tune sweep over Ray Train trials: ASHA, a failing trial, MLflow runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from msvae.tracking.connect import connect

pytestmark = pytest.mark.slow


def test_smoke_sweep(services, smoke_manifest):
    state = services.services.state_dir
    proc = subprocess.run(
        [sys.executable, "-m", "msvae", "sweep", "--space", "tune/smoke.yaml", "--name", "smoke",
         "--config", "configs/smoke.yaml", "--set", f"services.state_dir={state}",
         "--set", f"train.dataset={smoke_manifest}", "--set", "tracking.model_name=swept",
         "--set", "tracking.experiment=sweeps", "--json"],
        capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    trials = {(t["config"]["train.lr"], t["config"]["model.heads"]): t for t in out["trials"]}
    assert len(trials) == 4
    assert trials[(0.003, 2)]["status"] == "completed" and trials[(0.003, 2)]["iterations"] == 2
    assert trials[(0.0, 2)]["status"] == "stopped_early"  # ASHA's cut at the first rung
    for lr in (0.003, 0.0):
        failed = trials[(lr, 3)]
        assert failed["status"] == "error"
        assert "model.heads: 3 does not divide model.channels 16" in failed["error"]
    assert out["best"]["config"] == {"train.lr": 0.003, "model.heads": 2}
    assert out["iterations_run"] < out["iterations_full"]

    client = MlflowClient(connect(services))
    experiment = client.get_experiment_by_name("sweeps").experiment_id
    parent = client.search_runs([experiment], "attributes.run_name = 'smoke'")[0]
    children = client.search_runs([experiment],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert len(children) == 4
    assert sum(c.info.status == "FAILED" for c in children) == 2
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"results.csv", "metric_vs_dims.png"} <= names
    assert client.get_model_version_by_alias("swept", "champion").version == "1"
