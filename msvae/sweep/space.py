"""Search spaces as data: a YAML file of dotted config keys -> Ray Tune domains.

```yaml
num_samples: 8            # optional; default tune.num_samples
space:
  objective.beta_schedule: {choice: [constant, linear, sigmoid, cyclical]}
  objective.beta_max: {loguniform: [0.1, 1.0]}
  model.attention_depth: {choice: [0, 1, 2]}
  objective.cycles: {randint: [2, 6], when: {objective.beta_schedule: cyclical}}
fixed:                    # optional: applied to every trial
  train.steps: 40
```
`randint`'s upper bound is exclusive. `when` makes a key conditional on keys listed
before it: with `tune.search: optuna` it is sampled only where they hold (so TPE does
not model noise); random search samples it always, and the config ignores it anyway.
Every key must be a real config key; a malformed space fails with one line.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ray import tune

from msvae.config import Config, ConfigError, override

DOMAINS = {
    "choice": lambda v: tune.choice(list(v)),
    "grid": lambda v: tune.grid_search(list(v)),
    "uniform": lambda v: tune.uniform(*v),
    "loguniform": lambda v: tune.loguniform(*v),
    "randint": lambda v: tune.randint(*v),
}


class SweepSpec:
    """A parsed space file: Tune domains, fixed values, the sample count, and the raw
    (kind, values, when) of each key for define-by-run searchers."""

    def __init__(self, path: str | Path, base: Config):
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: search space file not found")
        raw = yaml.safe_load(path.read_text()) or {}
        unknown = set(raw) - {"space", "fixed", "num_samples"}
        if unknown:
            raise ConfigError(f"{path}: unknown top-level keys {sorted(unknown)}")
        self.path = path
        self.num_samples = int(raw.get("num_samples", base.tune.num_samples))
        self.fixed = dict(raw.get("fixed") or {})
        self.space, self.specs = {}, {}
        for key, spec in (raw.get("space") or {}).items():
            spec = dict(spec) if isinstance(spec, dict) else spec
            when = spec.pop("when", {}) if isinstance(spec, dict) else {}
            if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
                raise ConfigError(f"{path}: {key}: expected one of {sorted(DOMAINS)} "
                                  f"with its values, got {spec!r}")
            if not isinstance(when, dict) or any(k not in self.space for k in when):
                raise ConfigError(f"{path}: {key}: `when` must name keys listed before it, "
                                  f"got {when!r}")
            kind, values = next(iter(spec.items()))
            self.space[key] = DOMAINS[kind](values)
            self.specs[key] = (kind, list(values), when)
        if not self.space:
            raise ConfigError(f"{path}: the space is empty")
        self.base = override(base, self.fixed)
        known = self.base.flat()
        for key in self.space:  # a bad combination fails its trial; an unknown key fails here
            if key not in known:
                raise ConfigError(f"{path}: {key}: unknown config key")
        grids = [k for k, (kind, _, _) in self.specs.items() if kind == "grid"]
        if self.base.tune.search == "optuna" and grids:
            raise ConfigError(f"{path}: tune.search=optuna cannot run a grid ({grids}); "
                              "use choice, or tune.search=random")

    def trial_config(self, values: dict) -> Config:
        """The config of one trial: base, fixed, then the sampled values (None: a
        conditional key this trial did not sample). Every validation step checkpoints, so
        each report ASHA reads comes with a checkpoint: a trial stopped at an early rung can
        still be the best, and its model is registered from there."""
        cfg = override(self.base, {k: v for k, v in values.items() if v is not None})
        return override(cfg, {"train.checkpoint_every": cfg.train.eval_every})

    def define_by_run(self, trial) -> None:
        """The space for Optuna, sampled in file order; a `when` key only where its
        conditions hold (a `grid` was refused at parse: Optuna has no counterpart)."""
        for key, (kind, values, when) in self.specs.items():
            if any(trial.params.get(k) != v for k, v in when.items()):
                continue
            if kind == "choice":
                trial.suggest_categorical(key, values)
            elif kind == "randint":
                trial.suggest_int(key, values[0], values[1] - 1)
            else:
                trial.suggest_float(key, *values, log=kind == "loguniform")


