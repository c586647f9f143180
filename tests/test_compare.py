"""`msvae compare` at a tiny budget: a learning-rate grid per model, every indicator with
intervals over test pieces, deltas from the runs, each model's size and speed, a
`+remixes` variant, the report."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from msvae import storage
from msvae.compare import table
from msvae.tracking.connect import connect

pytestmark = [pytest.mark.slow, pytest.mark.serial]
GRID = [3.0e-3, 1.0e-3]  # one seed at two rates, two models: 4 training runs
# a model of the mix alone (single, trained on remixed mixes: the variant path) and ours;
# the comparison has no path of vae's own (a mix model as single is; its class trains in
# tests/unit), and a third model here would cost two more runs (25 s)
MODELS = ["single+remixes", "msvae"]
BASE = "single + remixes"  # the variant's rows' name
ROWS = [BASE, "msvae"]


def _brackets(stat: dict) -> bool:
    return stat["low"] - 1e-9 <= stat["mean"] <= stat["high"] + 1e-9


def test_compare_tiny_budget(services, smoke_manifest):
    proc = subprocess.run(
        [sys.executable, "-m", "msvae", "compare", "--config", "configs/smoke.yaml",
         "--name", "tiny", "--json", "--set", f"services.state_dir={services.services.state_dir}",
         "--set", f"train.dataset={smoke_manifest}", "--set", "train.workers=1",
         "--set", "train.steps=2", "--set", "train.eval_every=2",
         "--set", "train.checkpoint_every=2", "--set", "compare.seeds=[0]",
         "--set", f"compare.lrs={GRID}", "--set", f"compare.models={MODELS}"],
        capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    # the learning rate: every grid run scored on validation, the chosen one kept
    assert result["lr"]["grid"] == GRID
    for kind, record in result["lr"]["models"].items():
        assert record["chosen"] in GRID and [r["lr"] for r in record["runs"]] == GRID
        scores = {r["lr"]: r["valid_score"] for r in record["runs"]}
        assert all(math.isfinite(s) for s in scores.values()), scores
        assert scores[record["chosen"]] == max(scores.values())
        assert {r["lr"] for r in result["runs"] if r["model"] == kind} == {record["chosen"]}
    assert list(result["models"]) == [*ROWS, "msvae given the stems"]
    for model in result["models"].values():
        assert set(table.INDICATORS) <= set(model)
        assert len(model["recon_error_db"]["values"]) == 1
        assert _brackets(model["recon_error_db"]) and _brackets(model["similarity_pct"])
    for run in result["runs"]:  # the generated audio is scored against the training set
        assert math.isfinite(run["recon_similarity_pct"]) and math.isfinite(run["similarity_pct"])
    assert set(result["deltas"]) == {f"vs_{BASE}"}
    for key in table.HEADLINE:
        one = {r["model"]: r[key] for r in result["runs"] if r["seed"] == 0}
        got = result["deltas"][f"vs_{BASE}"][key]
        assert math.isclose(got["mean"], one["msvae"] - one[BASE], abs_tol=1e-9), key
    assert _brackets(result["deltas"][f"vs_{BASE}"]["temporal_fidelity"])
    assert _brackets(result["floors"]["pca"]["temporal_fidelity"])
    curves = result["validation"]["curves"]  # how flat the budget left each model
    assert set(curves) == set(ROWS) and all(c["steps"] == [2] for c in curves.values())
    # the variant is single trained with train.remix_share = compare.remix_share, its runs
    # named without the "+"; every model's size, latent budget and speed
    remixed = next(r for r in result["runs"] if r["model"] == BASE)
    assert remixed["run"] == f"tiny-single-remixes-s0-lr{remixed['lr']:g}"
    client = MlflowClient(connect(services))
    found = client.search_runs([e.experiment_id for e in client.search_experiments()],
                               f"tags.`msvae.run_name` = '{remixed['run']}'")
    assert [(r.data.params["model.kind"], r.data.params["train.remix_share"]) for r in found] \
        == [("single", "0.5")]
    assert list(result["sizes"]) == ROWS
    for size in result["sizes"].values():
        assert size["parameters"] > 0 and size["latents_per_frame"] > 0
        assert size["windows_per_s"]["mean"] > 0
    pieces = result["intervals"]["pieces"]
    assert pieces == result["budget"]["test_pieces"] >= 1
    report = storage.read_bytes(services, result["report_uri"]).decode()
    assert f"95 % bootstrap intervals over the {pieces} test pieces" in report
    assert f"| {BASE} |" in report and "| msvae |" in report and "![mels](mels.png)" in report
    assert "| msvae given the stems |" in report and "(chosen)" in report
    sizes = result["sizes"]["msvae"]
    assert f"| msvae | {sizes['parameters']:,} | {sizes['latents_per_frame']} | " in report
    # the headline row is scored from the mix alone: nothing to fill in from
    headline = next(r for r in result["runs"] if r["model"] == "msvae")
    given = next(r for r in result["runs"] if r["model"] == "msvae given the stems")
    assert headline["fill/temporal_fidelity"] is None  # NaN, printed as null
    assert math.isfinite(given["fill/temporal_fidelity"])
    assert math.isfinite(given["fill/similarity_pct"])
    for name in ("indicators.png", "mels.png", "curves.png"):
        assert storage.exists(services, result["report_uri"].replace("report.md", name))
