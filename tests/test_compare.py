"""`msvae compare` at a tiny budget: every model and indicator, deltas from the runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from msvae import storage
from msvae.compare import table

pytestmark = pytest.mark.slow


def test_compare_tiny_budget(services, smoke_manifest):
    proc = subprocess.run(
        [sys.executable, "-m", "msvae", "compare", "--config", "configs/smoke.yaml",
         "--name", "tiny", "--json", "--set", f"services.state_dir={services.services.state_dir}",
         "--set", f"train.dataset={smoke_manifest}", "--set", "train.workers=1",
         "--set", "train.steps=2", "--set", "train.eval_every=2",
         "--set", "train.checkpoint_every=2", "--set", "compare.seeds=[0, 1]"],
        capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert list(result["models"]) == ["vae", "single", "msvae", "msvae given the stems"]
    for model in result["models"].values():
        assert set(table.INDICATORS) <= set(model)
        assert len(model["recon_error_db"]["values"]) == 2
    for base in ("vae", "single"):
        for key in table.INDICATORS:
            per_seed = [next(r[key] for r in result["runs"] if r["model"] == "msvae"
                             and r["seed"] == s) - next(r[key] for r in result["runs"]
                                                        if r["model"] == base and r["seed"] == s)
                        for s in (0, 1)]
            got = result["deltas"][f"vs_{base}"][key]["mean"]
            assert math.isclose(got, sum(per_seed) / 2, rel_tol=1e-9, abs_tol=1e-9), key
    report = storage.read_bytes(services, result["report_uri"]).decode()
    assert "| vae |" in report and "| msvae |" in report and "![mels](mels.png)" in report
    assert "| msvae given the stems |" in report and set(result["deltas"]) == {"vs_vae",
                                                                               "vs_single"}
    # the headline row is scored from the mix alone: nothing to fill in from
    headline = next(r for r in result["runs"] if r["model"] == "msvae")
    given = next(r for r in result["runs"] if r["model"] == "msvae given the stems")
    assert headline["fill/temporal_fidelity"] is None  # NaN, printed as null
    assert math.isfinite(given["fill/temporal_fidelity"])
    for name in ("indicators.png", "mels.png", "curves.png"):
        assert storage.exists(services, result["report_uri"].replace("report.md", name))
