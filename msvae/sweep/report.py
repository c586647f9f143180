"""A sweep's results: a table (printed and CSV) and the metric against each dimension (PNG)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from msvae.evaluate.plots import pyplot, save

STATUS_COLOURS = {"completed": "tab:green", "stopped_early": "tab:orange", "error": "tab:red"}


def table_rows(trials: list[dict]) -> list[dict]:
    """Flat rows: trial, status, metric, iterations, each searched key, error."""
    return [{"trial_id": t["trial_id"], "status": t["status"], "metric": t["metric"],
             "iterations": t["iterations"], **t["config"], "error": t["error"] or ""}
            for t in trials]


def to_csv(trials: list[dict]) -> str:
    rows = table_rows(trials)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["trial_id"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_text(trials: list[dict], metric: str) -> str:
    """A fixed-width table for the terminal."""
    rows = table_rows(trials)
    if not rows:
        return "no trials"
    cols = [c for c in rows[0] if c != "error"]

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    widths = {c: max(len(c if c != "metric" else metric), *(len(fmt(r[c])) for r in rows))
              for c in cols}
    lines = ["  ".join((c if c != "metric" else metric).ljust(widths[c]) for c in cols)]
    for r in rows:
        line = "  ".join(fmt(r[c]).ljust(widths[c]) for c in cols)
        lines.append(line + (f"  ({r['error']})" if r["error"] else ""))
    return "\n".join(lines)


def plot(trials: list[dict], metric: str, path: str | Path) -> Path:
    """The metric against each searched dimension, one panel per dimension."""
    keys = list(trials[0]["config"]) if trials else []
    fig, axes = pyplot().subplots(1, max(1, len(keys)), squeeze=False,
                             figsize=(3.0 * max(1, len(keys)), 3.0), sharey=True)
    for ax, key in zip(axes[0], keys):
        for t in trials:
            value = t["config"][key]
            if t["metric"] is None or value is None:  # no score, or a key not sampled
                continue
            ax.scatter([str(value) if isinstance(value, str) else value], [t["metric"]],
                       color=STATUS_COLOURS[t["status"]], s=25)
        ax.set_xlabel(key, fontsize=8)
        ax.tick_params(labelsize=7)
        if any(isinstance(t["config"][key], float) for t in trials) and "lr" in key:
            ax.set_xscale("log")
    axes[0][0].set_ylabel(metric, fontsize=8)
    fig.tight_layout()
    return save(fig, path)
