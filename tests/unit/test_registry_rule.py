"""The registry's rules: which name a model registers under, when a version becomes
champion, and what `msvae train`'s summary says about both."""

from types import SimpleNamespace

import pytest

from msvae.config import dataset_model_name, load
from msvae.tracking.registry import Registered, promotion
from msvae.train.commands import summary, summary_lines


@pytest.mark.parametrize("dataset, name", [
    (None, "msvae"),  # the demo corpus keeps the shared name
    ("s3://msvae/corpus-smoke/manifest.csv", "corpus-smoke"),
    ("s3://bucket/my stems/", "my-stems"),  # a folder holding manifest.csv
    ("s3://bucket/prepared-mine", "prepared-mine"),  # prepared shards
    ("/data/stems/pieces.jsonl", "stems"),
])
def test_a_model_is_named_after_its_dataset_unless_named(dataset, name):
    assert dataset_model_name(dataset) == name
    overrides = [f"train.dataset={dataset}"] if dataset else []
    assert load(overrides=overrides).tracking.model_name == name
    assert load(overrides=[*overrides, "tracking.model_name=mine"]).tracking.model_name == "mine"


def test_the_name_survives_swapping_in_prepared_shards():
    """The demo and sweeps replace train.dataset by the shards they prepared: the name
    stays the one of the data the user gave."""
    from msvae.config import override

    cfg = override(load("configs/smoke.yaml"), {"train.dataset": "s3://msvae/prepared/ab12"})
    assert cfg.tracking.model_name == "corpus-smoke"
    assert override(load(), {"train.dataset": "s3://x/prepared/ab12"}).tracking.model_name \
        == "msvae"


def test_a_first_version_is_champion_only_above_the_floor():
    wins, why = promotion(0.009, None, 0.1)  # the smoke model on its own data
    assert not wins
    assert why == "validation temporal fidelity 0.009 is below tracking.champion_min_score 0.1"
    wins, why = promotion(0.25, None, 0.1)
    assert wins and "the first version to reach tracking.champion_min_score 0.1" in why
    assert promotion(0.1, None, 0.1)[0]  # reaching the floor is enough


def test_a_later_version_must_beat_the_champion_and_clear_the_floor():
    assert promotion(0.5, 0.4, 0.1) == (
        True, "validation temporal fidelity 0.500 beats the champion's 0.400")
    assert promotion(0.3, 0.4, 0.1) == (
        False, "validation temporal fidelity 0.300 does not beat the champion's 0.400")
    assert not promotion(0.05, float("-inf"), 0.1)[0]  # a pre-rule champion, a weak version
    assert promotion(float("nan"), None, -1.0) == (
        False, "no finite valid/temporal_fidelity")


def _result(dataset):
    cfg = load("configs/smoke.yaml", [f"train.dataset={dataset}"])
    return SimpleNamespace(cfg=cfg, run_name="r", mlflow_run_id="id", seconds=61.23,
                           metrics={"step": 10, "valid/temporal_fidelity": 0.009,
                                    "train/loss": 1.0})


def test_the_summary_counts_the_runs_steps_and_names_the_best_checkpoints_step():
    """A 20-step run whose best checkpoint is step 10 said "10 steps" under a bar at 20/20."""
    result = _result("s3://b/mine/manifest.csv")
    registered = Registered("mine", "1", False, 0.009,
                            "validation temporal fidelity 0.009 is below "
                            "tracking.champion_min_score 0.1")
    s = summary(result, registered, "http://ui/run")
    assert (s["steps"], s["best_step"]) == (20, 10)
    assert s["valid"] == {"temporal_fidelity": 0.009}
    assert (s["model"], s["champion"]) == ("models:/mine@challenger", False)
    assert summary_lines(result, registered) == [
        "run r: 20 steps in 61.2 s; registered the best checkpoint (step 10)",
        "registered mine version 1 as challenger (validation temporal fidelity 0.009 is "
        "below tracking.champion_min_score 0.1): models:/mine@challenger",
        "(the model is named after train.dataset s3://b/mine/manifest.csv; choose the name "
        "with --set tracking.model_name=NAME)"]
    named = Registered("other", "2", True, 0.3, "why")
    assert len(summary_lines(result, named)) == 2  # a name the user chose needs no hint


def test_mlflows_registry_prints_are_off_unless_verbose(capsys, monkeypatch):
    """MLflow's eprint lines ("Successfully registered model ...") ignore log levels."""
    from mlflow.utils.logging_utils import eprint

    from msvae import console

    with console.mlflow_quiet():
        eprint("Successfully registered model 'x'.")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(console, "_quiet", False)  # what library_output(verbose=True) sets
    with console.mlflow_quiet():
        eprint("Created version '1' of model 'x'.")
    assert "Created version" in capsys.readouterr().err
