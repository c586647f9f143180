"""Search spaces as data: a YAML file of dotted config keys -> Ray Tune domains.

```yaml
num_samples: 8            # optional; default tune.num_samples
space:
  objective.beta_schedule: {choice: [constant, linear, sigmoid, cyclical]}
  objective.beta_max: {loguniform: [0.1, 1.0]}
  model.attention_depth: {choice: [0, 1, 2]}
  objective.cycles: {randint: [2, 6]}      # upper bound exclusive
fixed:                    # optional: applied to every trial
  train.steps: 40
```
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
    """A parsed space file: Tune domains, fixed values and the sample count."""

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
        self.space = {}
        for key, spec in (raw.get("space") or {}).items():
            if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
                raise ConfigError(f"{path}: {key}: expected one of {sorted(DOMAINS)} "
                                  f"with its values, got {spec!r}")
            kind, values = next(iter(spec.items()))
            self.space[key] = DOMAINS[kind](values)
        if not self.space:
            raise ConfigError(f"{path}: the space is empty")
        self.base = override(base, self.fixed)
        known = self.base.flat()
        for key in self.space:  # a bad combination fails its trial; an unknown key fails here
            if key not in known:
                raise ConfigError(f"{path}: {key}: unknown config key")

    def trial_config(self, values: dict) -> Config:
        """The config of one trial: base, fixed, then the sampled values."""
        return override(self.base, values)
