"""Pure aggregation for `msvae compare`: per-model mean and spread, paired deltas.

Deltas are `ours - baseline` per seed (paired: same seed, same data order), then mean
and sample standard deviation over seeds; in dB for dB indicators and in percentage
points for similarity. Lower is better for errors and distances, higher for similarity.
"""

from __future__ import annotations

import math
import statistics

INDICATORS = {  # key -> (label, unit, higher is better)
    "recon_error_db": ("reconstruction error", "dB", False),
    "lsd_db": ("log-spectral distance", "dB", False),
    "similarity_pct": ("similarity", "%", True),
    "temporal_fidelity": ("temporal fidelity", "", True),
    "frechet_distance": ("Fréchet distance", "", False),
    "active_units": ("active units", "", True),
}
DELTA_UNITS = {"dB": "dB", "%": "pp", "": ""}


def _spread(values: list[float]) -> dict:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return {"mean": statistics.fmean(finite) if finite else math.nan,
            "std": statistics.stdev(finite) if len(finite) > 1 else 0.0 if finite else math.nan,
            "values": values}


def aggregate(runs: list[dict], keys=tuple(INDICATORS)) -> dict:
    """runs: [{"model", "seed", <indicator>: value}] -> {model: {key: {mean, std, values}}}."""
    models = list(dict.fromkeys(r["model"] for r in runs))
    return {m: {k: _spread([r[k] for r in sorted(runs, key=lambda r: r["seed"])
                            if r["model"] == m]) for k in keys} for m in models}


def deltas(runs: list[dict], ours: str, keys=tuple(INDICATORS)) -> dict:
    """{"vs_<baseline>": {key: {mean, std, values}}} of paired `ours - baseline` by seed."""
    by = {(r["model"], r["seed"]): r for r in runs}
    out = {}
    for base in dict.fromkeys(r["model"] for r in runs):
        if base == ours:
            continue
        seeds = sorted(s for (m, s) in by if m == base and (ours, s) in by)
        out[f"vs_{base}"] = {k: _spread([by[(ours, s)][k] - by[(base, s)][k] for s in seeds])
                             for k in keys}
    return out


def _cell(stat: dict, digits: int = 2) -> str:
    if not math.isfinite(stat["mean"]):
        return "n/a"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown(models: dict, delta: dict, ours: str, floors: dict | None = None) -> str:
    """The comparison table (mean ± std over seeds), the floors' rows (one value each; n/a
    where a floor has no such figure) and the deltas of `ours`."""
    keys = list(INDICATORS)
    head = "| model | " + " | ".join(
        f"{INDICATORS[k][0]}{f' ({INDICATORS[k][1]})' if INDICATORS[k][1] else ''} "
        f"{'↑' if INDICATORS[k][2] else '↓'}" for k in keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 1)]
    lines += [f"| {m} | " + " | ".join(_cell(models[m][k]) for k in keys) + " |" for m in models]
    lines += [f"| floor: {name.replace('_', ' ')} | " + " | ".join(
        f"{row[k]:.2f}" if k in row else "n/a" for k in keys) + " |"
        for name, row in (floors or {}).items()]
    lines += ["", f"| {ours} minus | " + " | ".join(
        f"{INDICATORS[k][0]} ({DELTA_UNITS[INDICATORS[k][1]]})" if DELTA_UNITS[INDICATORS[k][1]]
        else INDICATORS[k][0] for k in keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for name, row in delta.items():
        lines.append(f"| {name[3:]} | " + " | ".join(
            f"{_cell(row[k])} ({'better' if _better(k, row[k]['mean']) else 'worse'})"
            if math.isfinite(row[k]["mean"]) else "n/a" for k in keys) + " |")
    return "\n".join(lines)


def _better(key: str, delta: float) -> bool:
    return delta > 0 if INDICATORS[key][2] else delta < 0
