"""Pure aggregation for `msvae compare`: per-model mean and spread over seeds, paired deltas,
and bootstrap intervals over test pieces (msvae.compare.bootstrap).

Deltas are `ours - baseline` per seed (paired: same seed, same data order), then mean and
sample standard deviation over seeds; their intervals come from the per-window differences
(paired: same window), averaged over seeds. dB for dB indicators and percentage points
for similarity. Lower is better for errors and distances, higher for the rest.

`units[(model, seed)][key]` holds a run's per-unit values (per test window, or per prior
sample for the generated-audio similarity) and `groups[key]` the unit each is resampled
with (its test piece, or itself); figures without per-unit values (Fréchet distance,
active units) get no interval.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from msvae.compare.bootstrap import interval, seed_interval
from msvae.evaluate.indicators import (  # INDICATORS: key -> (label, unit, better)
    ARROWS,
    FILL_PREFIXES,
    INDICATORS,
)

HEADLINE = tuple(k for k, (_, _, better) in INDICATORS.items()  # the deltas' columns
                 if not k.startswith(FILL_PREFIXES) and better in ("higher", "lower"))
DELTA_UNITS = {"dB": "dB", "%": "pp", "": ""}
NAN = (math.nan, math.nan)


def _spread(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return {"mean": statistics.fmean(finite) if finite else math.nan,
            "std": statistics.stdev(finite) if len(finite) > 1 else 0.0 if finite else math.nan,
            "values": values}


def _bounds(per_seed: list[np.ndarray], groups: np.ndarray | None) -> dict:
    low, high = seed_interval(per_seed, groups) if per_seed and groups is not None else NAN
    return {"low": low, "high": high}


def aggregate(runs: list[dict], keys=tuple(INDICATORS), units: dict | None = None,
              groups: dict | None = None) -> dict:
    """runs: [{"model", "seed", <indicator>: value}] -> {model: {key: {mean, std, values,
    low, high}}}: spread over seeds, interval over pieces (NaN without per-unit values)."""
    units, groups = units or {}, groups or {}
    out = {}
    for m in dict.fromkeys(r["model"] for r in runs):
        mine = sorted((r for r in runs if r["model"] == m), key=lambda r: r["seed"])
        out[m] = {k: {**_spread([r[k] for r in mine]), **_bounds(
            [units[(m, r["seed"])][k] for r in mine if k in units.get((m, r["seed"]), {})],
            groups.get(k))} for k in keys}
    return out


def deltas(runs: list[dict], ours: str, keys=HEADLINE, units: dict | None = None,
           groups: dict | None = None) -> dict:
    """{"vs_<baseline>": {key: {mean, std, values, low, high}}} of paired `ours - baseline`
    by seed; the interval over pieces of the per-window differences averaged over seeds."""
    units, groups = units or {}, groups or {}
    by = {(r["model"], r["seed"]): r for r in runs}
    out = {}
    for base in dict.fromkeys(r["model"] for r in runs):
        if base == ours:
            continue
        seeds = sorted(s for (m, s) in by if m == base and (ours, s) in by)
        pairs = [(units.get((ours, s), {}), units.get((base, s), {})) for s in seeds]
        out[f"vs_{base}"] = {k: {
            **_spread([by[(ours, s)][k] - by[(base, s)][k] for s in seeds]),
            **_bounds([a[k] - b[k] for a, b in pairs if k in a and k in b], groups.get(k))}
            for k in keys}
    return out


def sizes(runs: list[dict], models: list[str]) -> dict:
    """Each trained model's size and speed from its runs ({"model", "seed", "parameters",
    "latents_per_frame", "windows_per_s"}): {model: {"parameters", "latents_per_frame" (the
    same every seed), "windows_per_s": {mean, std, values} over seeds}}."""
    out = {}
    for m in models:
        mine = sorted((r for r in runs if r["model"] == m), key=lambda r: r["seed"])
        out[m] = {"parameters": mine[0]["parameters"],
                  "latents_per_frame": mine[0]["latents_per_frame"],
                  "windows_per_s": _spread([r["windows_per_s"] for r in mine])}
    return out


def size_markdown(sizes: dict) -> str:
    """Parameters, latent numbers per frame (the PCA floor's budget) and training speed of
    each model (windows/s over all workers, mean ± std over seeds), one row each."""
    lines = ["| model | parameters | latent numbers per frame | training windows/s |",
             "|---|---|---|---|"]
    lines += [f"| {m} | {s['parameters']:,} | {s['latents_per_frame']} | "
              f"{cell(s['windows_per_s'], 1)} |" for m, s in sizes.items()]
    return "\n".join(lines)


def floor_stats(per_window: dict[str, dict[str, np.ndarray]], groups: np.ndarray) -> dict:
    """The floors' per-window values {name: {key: [n]}} -> {name: {key: {mean, low,
    high}}}: the window mean and its interval over the pieces `groups` [n]."""
    out = {}
    for name, row in per_window.items():
        out[name] = {}
        for key, values in row.items():
            values = np.asarray(values, dtype=float)
            low, high = interval(values, groups)
            out[name][key] = {"mean": float(np.nanmean(values)), "low": low, "high": high}
    return out


def cell(stat: dict, digits: int = 2) -> str:
    """"mean ± std [low, high]": std over seeds where given, the interval where known."""
    if not math.isfinite(stat["mean"]):
        return "n/a"
    text = f"{stat['mean']:.{digits}f}"
    if "std" in stat:
        text += f" ± {stat['std']:.{digits}f}"
    if math.isfinite(stat.get("low", math.nan)):
        text += f" [{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"
    return text


def _head(first: str, keys, unit_of) -> list[str]:
    """A table's header and rule: each indicator's label, its unit through `unit_of`, and
    which way is better."""
    names = []
    for key in keys:
        label, unit, better = INDICATORS[key]
        unit = unit_of(unit)
        names.append(f"{label}{f' ({unit})' if unit else ''} {ARROWS[better]}")
    return [f"| {first} | " + " | ".join(names) + " |", "|" + "---|" * (len(keys) + 1)]


def markdown(models: dict, delta: dict, ours: str, floors: dict | None = None) -> str:
    """The comparison table (mean ± std over seeds [95 % interval over pieces]), the floors'
    rows (mean [interval]; n/a where a floor has no such figure) and the deltas of `ours`."""
    keys = list(INDICATORS)
    lines = _head("model", keys, lambda unit: unit)
    lines += [f"| {m} | " + " | ".join(cell(models[m][k]) for k in keys) + " |" for m in models]
    lines += [f"| floor: {name.replace('_', ' ')} | " + " | ".join(
        cell(row[k]) if k in row else "n/a" for k in keys) + " |"
        for name, row in (floors or {}).items()]
    lines += ["", *_head(f"{ours} minus", HEADLINE, DELTA_UNITS.get)]
    for name, row in delta.items():
        lines.append(f"| {name[3:]} | " + " | ".join(
            f"{cell(row[k])} ({verdict(k, row[k])})"
            if math.isfinite(row[k]["mean"]) else "n/a" for k in HEADLINE) + " |")
    return "\n".join(lines)


def verdict(key: str, delta: dict) -> str:
    """'better', 'worse' or 'no clear difference' for a delta of `key` ({mean, low, high}):
    by its interval where it has one (one that holds 0 is no clear difference), else by the
    sign of its mean."""
    low, high = delta.get("low", math.nan), delta.get("high", math.nan)
    sign = (math.copysign(1.0, low) if low * high > 0 else 0.0) if math.isfinite(low * high) \
        else math.copysign(1.0, delta["mean"]) if delta["mean"] else 0.0
    if not sign:
        return "no clear difference"
    return "better" if (sign > 0) == (INDICATORS[key][2] == "higher") else "worse"


def validation_curves(histories: dict[str, list[list[tuple[int, float]]]]) -> dict:
    """How flat each model's validation curve ends: {model: [[(step, value)] per seed]} ->
    {model: {"steps": [...], "mean": [...] over seeds, "last_gain": the mean's rise over
    its last interval}}, steps every seed reported."""
    out = {}
    for model, runs in histories.items():
        per_seed = [dict(run) for run in runs]
        steps = sorted(set.intersection(*(set(r) for r in per_seed))) if per_seed else []
        mean = [statistics.fmean(r[s] for r in per_seed) for s in steps]
        out[model] = {"steps": steps, "mean": mean,
                      "last_gain": mean[-1] - mean[-2] if len(mean) > 1 else math.nan}
    return out
