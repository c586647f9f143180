"""Search spaces as data: domains, fixed values, and one-line errors for bad files."""

import pytest

from msvae.config import ConfigError, load
from msvae.sweep.report import table_rows, to_csv
from msvae.sweep.space import SweepSpec


def _spec(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return SweepSpec(path, load())


def test_domains_fixed_values_and_trial_configs(tmp_path):
    spec = _spec(tmp_path, "num_samples: 3\nspace:\n"
                 "  objective.beta_schedule: {choice: [linear, cyclical]}\n"
                 "  train.lr: {loguniform: [1.0e-4, 1.0e-2]}\n"
                 "  model.attention_depth: {grid: [0, 2]}\n"
                 "fixed:\n  train.steps: 7\n  train.eval_every: 3\n")
    assert spec.num_samples == 3
    assert spec.space["model.attention_depth"] == {"grid_search": [0, 2]}
    cfg = spec.trial_config({"objective.beta_schedule": "cyclical", "train.lr": 0.002,
                             "model.attention_depth": 0})
    assert (cfg.objective.beta_schedule, cfg.train.lr, cfg.train.steps) == ("cyclical", 0.002, 7)
    # every report ASHA reads comes with a checkpoint, on the space file's eval_every
    assert cfg.train.checkpoint_every == cfg.train.eval_every == 3
    assert spec.base.train.eval_every == 3  # what the sweep's rungs are counted in
    with pytest.raises(ConfigError, match="model.heads: 3 does not divide"):
        spec.trial_config({"model.heads": 3})  # a bad combination fails its trial only


def test_shipped_spaces_parse():
    for name in ("tune/smoke.yaml", "tune/beta_attention.yaml"):
        assert SweepSpec(name, load("configs/smoke.yaml")).space


@pytest.mark.parametrize("text, message", [
    ("space:\n  train.nope: {choice: [1]}\n", "train.nope: unknown config key"),
    ("space:\n  train.lr: {normal: [0, 1]}\n", "train.lr: expected one of"),
    ("space: {}\n", "the space is empty"),
    ("spaces:\n  train.lr: {choice: [1]}\n", "unknown top-level keys ['spaces']"),
    ("space:\n  train.lr: {choice: [1]}\nfixed:\n  train.steps: many\n",
     "train.steps: expected an integer"),
])
def test_bad_space_files_fail_in_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        _spec(tmp_path, text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_results_table_csv():
    trials = [{"trial_id": "a", "status": "completed", "metric": -3.5, "iterations": 2,
               "config": {"train.lr": 0.003}, "error": None},
              {"trial_id": "b", "status": "error", "metric": None, "iterations": 0,
               "config": {"train.lr": 0.0}, "error": "ConfigError: bad"}]
    assert [r["status"] for r in table_rows(trials)] == ["completed", "error"]
    lines = to_csv(trials).strip().splitlines()
    assert lines[0] == "trial_id,status,metric,iterations,train.lr,error"
    assert lines[2] == "b,error,,0,0.0,ConfigError: bad"


def test_conditional_keys_are_sampled_only_where_their_condition_holds(tmp_path):
    import optuna

    path = tmp_path / "space.yaml"
    path.write_text("space:\n"
                    "  objective.beta_schedule: {choice: [linear, cyclical]}\n"
                    "  objective.cycles: {randint: [2, 5], when: {objective.beta_schedule: "
                    "cyclical}}\n"
                    "  train.lr: {loguniform: [1.0e-4, 1.0e-2]}\n")
    spec = SweepSpec(path, load(overrides=["tune.search=optuna"]))
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        spec.define_by_run(trial)
        schedule = trial.params["objective.beta_schedule"]
        seen.add(schedule)
        assert ("objective.cycles" in trial.params) == (schedule == "cyclical")
        assert 1e-4 <= trial.params["train.lr"] <= 1e-2
        if schedule == "cyclical":
            assert 2 <= trial.params["objective.cycles"] <= 4  # randint's bound is exclusive
        cfg = spec.trial_config({**trial.params, "objective.cycles":
                                 trial.params.get("objective.cycles")})
        assert cfg.objective.beta_schedule == schedule
        study.tell(trial, trial.params["train.lr"])
    assert seen == {"linear", "cyclical"}


@pytest.mark.parametrize("text, message", [
    ("space:\n  train.lr: {grid: [0.1, 0.2]}\n", "tune.search=optuna cannot run a grid"),
    ("space:\n  objective.cycles: {randint: [2, 5], when: {objective.beta_schedule: "
     "cyclical}}\n", "`when` must name keys listed before it"),
])
def test_optuna_spaces_fail_in_one_line(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        SweepSpec(path, load(overrides=["tune.search=optuna"]))
