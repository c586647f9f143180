"""Run the comparison: every model and seed trained on the same prepared shards with
the same budget, each scored on the held-out test pieces, figures and a report written
to storage and to a parent MLflow run (whose children are the training runs)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from mlflow import MlflowClient

from msvae import storage
from msvae.compare import table
from msvae.config import Config, override
from msvae.evaluate.plots import curves, mel_grid, pyplot, save

COLOURS = ["tab:gray", "tab:blue", "tab:red", "tab:pink"]
GIVEN_STEMS = "given the stems"  # the name suffix of a model's row scored with its stems


def bar_chart(models: dict, path: Path) -> Path:
    """One panel per indicator: mean over seeds with the standard deviation as error bar."""
    keys = list(table.INDICATORS)
    fig, axes = pyplot().subplots(1, len(keys), figsize=(3.0 * len(keys), 3.0))
    for ax, key in zip(axes, keys):
        names = list(models)
        means = [models[m][key]["mean"] for m in names]
        stds = [models[m][key]["std"] for m in names]
        ax.bar(names, means, yerr=stds, capsize=4,
               color=COLOURS[:len(names)] if len(names) <= len(COLOURS) else None)
        label, unit, higher = table.INDICATORS[key]
        ax.set_title(f"{label} {'↑' if higher else '↓'}", fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return save(fig, path)


def _test_batches(cfg: Config, test, mix_only: bool):
    """The test windows in batches; with `mix_only` every source but the mix hidden (the
    headline: every model gets only the mix at test time)."""
    from msvae.evaluate.score import EVAL_BATCH

    mix = cfg.data.sources.index("mix")
    for batch in test.iter_batches(batch_size=EVAL_BATCH, batch_format="numpy"):
        mask = batch["mask"].copy()
        if mix_only:
            mask[:, [i for i in range(mask.shape[1]) if i != mix]] = False
        yield {"x": batch["x"], "mask": mask}


def _train_and_score(cfg: Config, kind: str, seed: int, name: str, parent: str, test,
                     window: dict) -> tuple[list[dict], dict]:
    """One (model, seed) run scored on the test split -> (its rows, its figure material).

    The row named `kind` is scored from the mix alone; a model that reads the stems gets a
    second row, "<kind> given the stems", scored with every source it has."""
    from msvae.evaluate.score import evaluate
    from msvae.train.finish import load_checkpoint_model
    from msvae.train.launch import train

    variant = override(cfg, {"model.kind": kind, "train.seed": seed})
    result = train(variant, run_name=f"{name}-{kind}-s{seed}", parent_run_id=parent)
    model = load_checkpoint_model(variant, result.checkpoint)
    common = {"seed": seed, "run": result.run_name, "train_seconds": round(result.seconds, 1)}
    rows = [{"model": kind, **common,
             **evaluate(model, _test_batches(variant, test, mix_only=True), variant)}]
    if len(model.in_slots) > 1:
        rows.append({"model": f"{kind} {GIVEN_STEMS}", **common,
                     **evaluate(model, _test_batches(variant, test, mix_only=False), variant)})
    with torch.no_grad():
        mel = model(torch.as_tensor(window["x"][:1]),
                    torch.as_tensor(window["mask"][:1])).recon[0].numpy()
    client = MlflowClient()
    history = {f"{kind} {key}": [(m.step, m.value) for m in client.get_metric_history(
        result.mlflow_run_id, key)] for key in ("train/loss", "train/kl")}
    return rows, {"mel": mel, "history": history}


def _write_report(cfg: Config, result: dict, mels: dict, histories: dict) -> str:
    """Figures, report.md and compare.json to storage and the parent run; the report URI."""
    out = storage.join(cfg.storage.root, "compare", result["name"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [bar_chart(result["models"], folder / "indicators.png"),
                 mel_grid({k: np.asarray(v) for k, v in mels.items()}, cfg.data.sources,
                          folder / "mels.png", "one held-out test window"),
                 curves(histories, folder / "curves.png", "loss and KL (first seed)")]
        (folder / "report.md").write_text(report_markdown(result))
        (folder / "compare.json").write_text(json.dumps(result, indent=2))
        files += [folder / "report.md", folder / "compare.json"]
        for path in files:
            storage.write_bytes(cfg, storage.join(out, path.name), path.read_bytes())
            MlflowClient().log_artifact(result["mlflow_run_id"], str(path))
    return storage.join(out, "report.md")


PAPER = {"vs_vae": {"recon_error_db": -23.0, "similarity_pct": 18.0},  # the paper's claims
         "vs_single": {"recon_error_db": -10.0, "similarity_pct": 5.0}}


PCA_FIT_WINDOWS = 4000  # train windows the PCA floor is fitted on (half a million frames)


def _floors(cfg: Config, test) -> dict:
    """Time-mean and frame-PCA floors on the test windows' mix, the PCA fitted on up to
    PCA_FIT_WINDOWS train windows with as many components per frame as our model's
    latents carry."""
    from msvae.data.pipeline import load_prepared
    from msvae.evaluate.floors import floor_scores, latents_per_frame
    from msvae.model import build_model

    mix = cfg.data.sources.index("mix")

    def mixes(dataset) -> torch.Tensor:
        batch = dataset.select_columns(["x", "mask"]).take_all()
        x = torch.as_tensor(np.stack([r["x"] for r in batch]))
        return x[torch.as_tensor(np.stack([r["mask"] for r in batch]))[:, mix], mix]

    train = load_prepared(cfg, cfg.train.dataset, "train").limit(PCA_FIT_WINDOWS)
    test_mix, train_mix = mixes(test), mixes(train)
    ours = build_model(override(cfg, {"model.kind": cfg.compare.models[-1]}))
    x = torch.full((1, len(cfg.data.sources), *test_mix.shape[1:]), -50.0)
    k = latents_per_frame(ours, x, torch.ones(1, len(cfg.data.sources), dtype=torch.bool))
    return floor_scores(train_mix, test_mix, k)


def run_compare(cfg: Config, name: str, log=print) -> dict:
    """Train, score and report every (model, seed); returns the JSON-able result."""
    from msvae.data.pipeline import load_prepared
    from msvae.ray_start import init_ray
    from msvae.tracking.connect import connect
    from msvae.tracking.runs import lifecycle, open_run
    from msvae.train.datasets import ensure_prepared

    connect(cfg)
    init_ray()
    cfg, _ = ensure_prepared(cfg, log)
    test = load_prepared(cfg, cfg.train.dataset, "test").materialize()
    window = test.take_batch(1)
    c, t = cfg.compare, cfg.train
    parent = open_run(cfg, name, params={
        "models": ",".join(c.models), "seeds": ",".join(map(str, c.seeds)),
        "train.steps": t.steps, "train.batch_size": t.batch_size, "train.workers": t.workers,
        "dataset": t.dataset})
    runs, mels, histories = [], {"reference": window["x"][0]}, {}
    started = time.perf_counter()
    with lifecycle(parent):
        for kind in c.models:
            for seed in c.seeds:
                log(f"[{c.models.index(kind) * len(c.seeds) + c.seeds.index(seed) + 1}/"
                    f"{len(c.models) * len(c.seeds)}] {kind}, seed {seed}: "
                    f"{t.steps} steps")
                rows, extra = _train_and_score(cfg, kind, seed, name, parent, test, window)
                runs += rows
                for row in rows:
                    log(f"    {row['model']}: " + ", ".join(
                        f"{k} {row[k]:.3f}" for k in table.INDICATORS))
                if seed == c.seeds[0]:
                    mels[kind] = extra["mel"]
                    histories.update(extra["history"])
        ours = c.models[-1]
        result = {"name": name, "ours": ours, "dataset": t.dataset,
                  "budget": {"steps": t.steps, "batch_size": t.batch_size, "workers": t.workers,
                             "seeds": c.seeds, "eval_split": "test",
                             "test_windows": runs[0]["windows"]},
                  "models": table.aggregate(runs),
                  "deltas": table.deltas([r for r in runs if r["model"] in c.models], ours),
                  "floors": _floors(cfg, test), "paper": PAPER,
                  "runs": runs, "seconds": round(time.perf_counter() - started, 1),
                  "mlflow_run_id": parent}
        result["report_uri"] = _write_report(cfg, result, mels, histories)
    return result


def report_markdown(result: dict) -> str:
    """The Markdown report: budget, the table, deltas, the figures."""
    b = result["budget"]
    return "\n".join([
        f"# msvae compare: {result['name']}", "",
        f"Each model trained for {b['steps']} steps (batch {b['batch_size']} per worker, "
        f"{b['workers']} workers) on `{result['dataset']}`, seeds {b['seeds']}; scored on "
        f"the {b['test_windows']} windows of the held-out test pieces: every model is given "
        f"only the mix and scored on the mix; \"{result['ours']} {GIVEN_STEMS}\" is the "
        "same model given every source the window has (fill-in figures there). Mean ± "
        "standard deviation over seeds; deltas are paired by seed and use the mix-only "
        "rows.", "",
        table.markdown(result["models"], result["deltas"], result["ours"], result["floors"]),
        "", "A model below the PCA floor has not learned the music; the time-mean floor "
        "repeats each window's average spectrum (temporal fidelity 0).", "",
        _paper_lines(result), "",
        "![indicators](indicators.png)", "", "![mels](mels.png)", "",
        "![curves](curves.png)", ""])


def _paper_lines(result: dict) -> str:
    """The paper's deltas beside ours, in its units (dB, percentage points)."""
    lines = ["| ours minus | paper: reconstruction error (dB) | ours | paper: similarity (pp) "
             "| ours |", "|---|---|---|---|---|"]
    for base, claim in result["paper"].items():
        got = result["deltas"].get(base)
        if got is None:
            continue
        lines.append(f"| {base[3:]} | {claim['recon_error_db']:+.0f} | "
                     f"{got['recon_error_db']['mean']:+.2f} | {claim['similarity_pct']:+.0f} | "
                     f"{got['similarity_pct']['mean']:+.2f} |")
    return "\n".join(lines)
