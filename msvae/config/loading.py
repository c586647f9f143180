"""Reading the configuration: YAML files plus dotted `--set` overrides, each value coerced
to its field's type and checked against its metadata and the cross-section rules. Every
failure is one `ConfigError` line naming the bad key."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from msvae.config.sections import MODEL_KINDS, SOURCE_KINDS, Config, dataset_model_name
from msvae.errors import MsvaeError


class ConfigError(MsvaeError):
    """A config problem, worded as one line that names the key."""


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp`, converting only lossless cases."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads '3e-4' (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {tp}")


def _check_range(key: str, value: Any, meta: dict) -> None:
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not one of {meta['choices']}")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{key}: {value!r} is below the minimum {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{key}: {value!r} is above the maximum {meta['max']}")


def _build_section(name: str, cls: type, raw: dict) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(fields)})")
    values = {}
    for key, value in raw.items():
        full = f"{name}.{key}"
        value = _coerce(full, value, hints[key])
        _check_range(full, value, fields[key].metadata)
        values[key] = value
    return cls(**values)


def _cross_checks(cfg: Config) -> None:
    """Constraints that span fields."""
    d = cfg.data
    for s in d.sources:
        if s.split(":")[0] not in SOURCE_KINDS:
            raise ConfigError(f"data.sources: unknown source kind {s!r}")
    if d.reference not in d.sources:
        raise ConfigError(f"data.reference: {d.reference!r} is not in data.sources")
    if d.hop_s > d.window_s:
        raise ConfigError(f"data.hop_s: {d.hop_s} is longer than data.window_s {d.window_s}")
    if cfg.model.channels % cfg.model.heads:
        raise ConfigError(
            f"model.heads: {cfg.model.heads} does not divide model.channels {cfg.model.channels}")
    for entry in cfg.compare.models:  # KIND or KIND+remixes (msvae.compare.variants)
        if entry.removesuffix("+remixes") not in MODEL_KINDS:
            raise ConfigError(f"compare.models: unknown model {entry!r} (expected KIND or "
                              f"KIND+remixes, KIND one of {', '.join(MODEL_KINDS)})")
    if not cfg.compare.seeds:
        raise ConfigError("compare.seeds: at least one seed")
    for i, lr in enumerate(cfg.compare.lrs):
        if not 0 < lr <= 10:
            raise ConfigError(f"compare.lrs[{i}]: {lr} is not in (0, 10]")
    if cfg.corpus.valid_share + cfg.corpus.test_share >= 1:
        raise ConfigError("corpus.test_share: with corpus.valid_share it leaves no train share")
    if cfg.model.mix_only_rows + cfg.model.stems_only_rows > 1:
        raise ConfigError("model.stems_only_rows: with model.mix_only_rows, more than every row")
    if cfg.corpus.min_seconds > cfg.corpus.max_seconds:
        raise ConfigError("corpus.min_seconds: longer than corpus.max_seconds")


def from_dict(raw: dict) -> Config:
    """Build and validate a Config from nested plain data."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(raw).__name__}")
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    for key in raw:
        if key not in sections:
            raise ConfigError(f"{key}: unknown section (known: {', '.join(sections)})")
    cfg = Config(**{k: _build_section(k, hints[k], raw.get(k) or {}) for k in sections})
    _cross_checks(cfg)
    if cfg.tracking.model_name is None:  # named once, before a stage swaps in prepared shards
        cfg.tracking.model_name = dataset_model_name(cfg.train.dataset)
    return cfg


def override(cfg: Config, values: dict[str, Any]) -> Config:
    """A validated copy of `cfg` with dotted keys set, e.g. {"train.dataset": uri}.

    The one way to change nested settings (sweep trials, comparison variants, resolved
    endpoints); numpy scalars are taken as plain Python values.
    """
    raw = cfg.to_dict()
    for key, value in values.items():
        section, _, name = key.partition(".")
        if section not in raw or name not in raw[section]:
            raise ConfigError(f"{key}: unknown config key")
        raw[section][name] = value.item() if hasattr(value, "item") else value
    return from_dict(raw)


def _set_dotted(raw: dict, dotted: str) -> None:
    """Apply one `section.key=value` override; the value is parsed as YAML."""
    if "=" not in dotted:
        raise ConfigError(f"{dotted}: an override must look like section.key=value")
    key, text = dotted.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"{key}: an override key must be section.key")
    raw.setdefault(parts[0], {})
    if not isinstance(raw[parts[0]], dict):
        raise ConfigError(f"{parts[0]}: expected a mapping")
    raw[parts[0]][parts[1]] = yaml.safe_load(text) if text.strip() else None


def _read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    base = raw.pop("extends", None) if isinstance(raw, dict) else None
    if base:
        merged = _read_yaml(path.parent / base)
        for section, values in raw.items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section].update(values)
            else:
                merged[section] = values
        return merged
    return raw


def load(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a YAML config (or the defaults when `path` is None) and apply overrides.

    A file may name another with `extends: other.yaml`, relative to itself.
    """
    raw = _read_yaml(path) if path else {}
    for item in overrides:
        _set_dotted(raw, item)
    return from_dict(raw)
