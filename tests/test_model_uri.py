"""A model URI that names nothing: one `msvae: error:` line naming the URI and what is
missing, exit 2, before Ray starts (real `msvae evaluate` and `msvae generate` processes
against the session's MLflow server)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from msvae.tracking.connect import connect

pytestmark = pytest.mark.slow

EMPTY = "msvae-test-no-versions"  # a registered model with no version, hence no alias
CASES = [  # (command, model URI, the error line's start after "msvae: error: <uri>: ")
    ("evaluate", "models:/nosuchmodel@champion", "no registered model 'nosuchmodel' "
     "(registered: "),
    ("evaluate", "models:/", "expected models:/NAME@ALIAS, models:/NAME/VERSION or "
     "models:/MODEL_ID"),
    ("generate", "models:/nosuchmodel", "no logged model with ID 'nosuchmodel' (expected "),
    ("generate", "models:/nosuchmodel@champion", "no registered model 'nosuchmodel' "
     "(registered: "),
    ("generate", f"models:/{EMPTY}@champion", f"model '{EMPTY}' has no alias 'champion' "
     "(aliases: none)"),
    ("generate", f"models:/{EMPTY}/3", f"model '{EMPTY}' has no version 3 (versions: none)"),
]


def test_a_model_uri_that_names_nothing_is_one_line_and_exit_2(services, tmp_path):
    client = MlflowClient(connect(services))
    try:
        client.create_registered_model(EMPTY)
    except MlflowException:  # made by an earlier run on the same server
        pass
    # a logged model (MLflow 3's models:/<id>) passes the check; without files, it fails to load
    empty = client.create_logged_model(client.create_experiment(tmp_path.name)).model_id
    cases = [*CASES, ("generate", f"models:/{empty}", "does not load (")]
    where = ["--set", f"services.state_dir={services.services.state_dir}"]
    extra = {"evaluate": ["--manifest", str(tmp_path / "manifest.csv")],
             "generate": ["--out", str(tmp_path / "out")]}
    procs = [subprocess.Popen([sys.executable, "-m", "msvae", command, "--model", uri,
                               *extra[command], *where], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for command, uri, _ in cases]  # side by side: each is mostly imports
    for (command, uri, expected), proc in zip(cases, procs):
        out, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (command, uri, err[-2000:])
        assert lines[0].startswith(f"msvae: error: {uri}: {expected}"), (command, lines)
        assert "Traceback" not in out
