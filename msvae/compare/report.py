"""The comparison's report: the Markdown text, the indicator chart, and every file written to
storage and to the parent MLflow run."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

from msvae import storage
from msvae.compare import table
from msvae.config import Config
from msvae.console import to_json
from msvae.evaluate.plots import curves, mel_grid, pyplot, save

COLOURS = ["tab:gray", "tab:blue", "tab:green", "tab:red", "tab:pink"]
GIVEN_STEMS = "given the stems"  # the name suffix of a model's row scored with its stems
PANELS_PER_ROW = 5
FLOOR_STYLES = ["--", ":"]  # time mean, PCA


def _error_bar(stat: dict) -> tuple[float, float]:
    """(below, above) the mean: the 95 % interval where known, else the std over seeds."""
    if math.isfinite(stat["low"]):
        return stat["mean"] - stat["low"], stat["high"] - stat["mean"]
    return stat["std"], stat["std"]


def floor_marks(floors: dict, key: str) -> list[tuple[str, float]]:
    """(floor name, its mean) for each floor scored on indicator `key`, to draw beside the
    models: a model figure means something only beside its floors."""
    return [(f"floor: {name.replace('_', ' ')}", stats[key]["mean"])
            for name, stats in floors.items()
            if key in stats and math.isfinite(stats[key]["mean"])]


def bar_chart(models: dict, path: Path, floors: dict | None = None) -> Path:
    """One panel per indicator: each model's mean with its 95 % interval over test pieces as
    error bar (the std over seeds for figures without an interval), and each floor's mean
    as a dashed (time mean) or dotted (PCA) line."""
    keys, names = list(table.INDICATORS), list(models)
    rows = math.ceil(len(keys) / PANELS_PER_ROW)
    fig, axes = pyplot().subplots(rows, PANELS_PER_ROW, figsize=(3.0 * PANELS_PER_ROW, 3.2 * rows),
                                  squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        bars = np.array([_error_bar(models[m][key]) for m in names]).T
        ax.bar(names, [models[m][key]["mean"] for m in names], yerr=bars, capsize=4,
               color=COLOURS[:len(names)] if len(names) <= len(COLOURS) else None)
        marks = floor_marks(floors or {}, key)
        for (label, value), style in zip(marks, FLOOR_STYLES):
            ax.axhline(value, color="black", linestyle=style, linewidth=1, label=label)
        if marks:
            ax.legend(fontsize=6)
        label, unit, better = table.INDICATORS[key]
        ax.set_title(f"{label} {table.ARROWS[better]}", fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7, labelrotation=20)
    fig.tight_layout()
    return save(fig, path)


def write_report(cfg: Config, result: dict, mels: dict, histories: dict) -> str:
    """Figures, report.md and compare.json to storage and the parent run; the report URI."""
    out = storage.join(cfg.storage.root, "compare", result["name"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [bar_chart(result["models"], folder / "indicators.png", result["floors"]),
                 mel_grid({k: np.asarray(v) for k, v in mels.items()}, cfg.data.sources,
                          folder / "mels.png", "one held-out test window"),
                 curves(histories, folder / "curves.png", "loss and KL (first seed)")]
        (folder / "report.md").write_text(report_markdown(result))
        (folder / "compare.json").write_text(to_json(result))
        files += [folder / "report.md", folder / "compare.json"]
        for path in files:
            storage.write_bytes(cfg, storage.join(out, path.name), path.read_bytes())
            MlflowClient().log_artifact(result["mlflow_run_id"], str(path))
    return storage.join(out, "report.md")


def report_markdown(result: dict) -> str:
    """The Markdown report: budget, learning rates, the table, deltas, the paper, figures."""
    b, ci = result["budget"], result["intervals"]
    return "\n".join([
        f"# msvae compare: {result['name']}", "",
        f"Each model trained for {b['steps']} steps (batch {b['batch_size']} per worker, "
        f"{b['workers']} worker{'s' * (b['workers'] != 1)}) on `{result['dataset']}`, "
        f"seeds {b['seeds']}, at the "
        "learning rate chosen on validation (below); scored on the "
        f"{b['test_windows']} windows of the {b['test_pieces']} held-out test pieces: every "
        f"model is given only the mix and scored on the mix; \"{result['ours']} "
        f"{GIVEN_STEMS}\" is the same model given every source the window has (fill-in "
        "figures there). Deltas use the mix-only rows.", "",
        f"Cells: mean ± standard deviation over seeds [{ci['level'] * 100:.0f} % interval]. "
        f"The intervals are {ci['level'] * 100:.0f} % bootstrap intervals over the "
        f"{ci['pieces']} test "
        f"pieces ({ci['resamples']} resamples of whole pieces; per-window values, paired "
        "per window for deltas, averaged over seeds first, every window weighing alike); "
        f"the similarity of generated audio resamples its {ci['samples']} prior samples "
        "instead. The Fréchet distance and active units are one number per run: no "
        "interval.", "",
        _lr_lines(result["lr"]), "", _curve_lines(result["validation"]), "",
        table.markdown(result["models"], result["deltas"], result["ours"], result["floors"]),
        "", "A model below the PCA floor has not learned the music; the time-mean floor "
        "repeats each window's average spectrum (temporal fidelity 0).", "",
        "Each model's size and training speed (windows per second over all workers, from "
        "its runs' `windows_per_s`; mean ± std over seeds):", "",
        table.size_markdown(result["sizes"]), "",
        _paper_lines(result), "",
        "![indicators](indicators.png)", "", "![mels](mels.png)", "",
        "![curves](curves.png)", ""])


def _lr_lines(lr: dict) -> str:
    """Every grid run's validation score, the chosen rate per model marked."""
    lines = [f"Learning rate per model: seed {lr['seed']} trained at each of {lr['grid']}, "
             f"the best by validation `{lr['metric']}` kept for every seed.", "",
             f"| model | learning rate | `{lr['metric']}`, seed {lr['seed']} | run |",
             "|---|---|---|---|"]
    for kind, record in lr["models"].items():
        for run in record["runs"]:
            score = run["valid_score"]
            chosen = " (chosen)" if run["lr"] == record["chosen"] else ""
            value = f"{score:.3f}" if score is not None and math.isfinite(score) else "n/a"
            lines.append(f"| {kind} | {run['lr']:g}{chosen} | {value} | {run['run']} |")
    return "\n".join(lines)


def _curve_lines(validation: dict) -> str:
    """Each model's validation curve (mean over seeds) and its rise over the last interval:
    how flat the budget left it."""
    curves = validation["curves"]
    steps = sorted({s for c in curves.values() for s in c["steps"]})
    lines = [f"Validation `{validation['metric']}` by step, mean over seeds (the budget is "
             "flat where the last rise is small):", "",
             "| model | " + " | ".join(f"step {s}" for s in steps) + " | last rise |",
             "|" + "---|" * (len(steps) + 2)]
    for kind, c in curves.items():
        at = dict(zip(c["steps"], c["mean"]))
        lines.append(f"| {kind} | " + " | ".join(
            f"{at[s]:.3f}" if s in at else "n/a" for s in steps) + f" | {c['last_gain']:+.3f} |")
    return "\n".join(lines)


def _paper_lines(result: dict) -> str:
    """The paper's deltas beside ours, in its units (dB, percentage points); ours is the
    similarity of generated audio, as the paper's claim is."""
    lines = ["| ours minus | paper: reconstruction error (dB) | ours | paper: similarity of "
             "generated audio (pp) | ours |", "|---|---|---|---|---|"]
    for base, claim in result["paper"].items():
        got = result["deltas"].get(base)
        if got is None:
            continue
        lines.append(f"| {base[3:]} | {claim['recon_error_db']:+.0f} | "
                     f"{table.cell(got['recon_error_db'])} | {claim['similarity_pct']:+.0f} | "
                     f"{table.cell(got['similarity_pct'])} |")
    return "\n".join(lines)
