"""Run the comparison: every model and seed trained on the same prepared shards with
the same budget, each scored on the held-out test pieces, figures and a report written
to storage and to a parent MLflow run."""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from msvae import storage  # noqa: E402
from msvae.compare import table  # noqa: E402
from msvae.config import Config  # noqa: E402


def _variant(cfg: Config, kind: str, seed: int) -> Config:
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, kind=kind),
                               train=dataclasses.replace(cfg.train, seed=seed))


def bar_chart(models: dict, path: Path) -> Path:
    """One panel per indicator: mean over seeds with the standard deviation as error bar."""
    keys = list(table.INDICATORS)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.0 * len(keys), 3.0))
    for ax, key in zip(axes, keys):
        names = list(models)
        means = [models[m][key]["mean"] for m in names]
        stds = [models[m][key]["std"] for m in names]
        ax.bar(names, means, yerr=stds, capsize=4, color=["tab:gray", "tab:blue", "tab:red"][
            :len(names)] if len(names) <= 3 else None)
        label, unit, higher = table.INDICATORS[key]
        ax.set_title(f"{label} {'↑' if higher else '↓'}", fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_compare(cfg: Config, name: str, log=print) -> dict:
    """Train, score and report every (model, seed); returns the JSON-able result."""
    from msvae.corpus.build import build, default_out
    from msvae.data.pipeline import load_prepared
    from msvae.metrics import evaluate
    from msvae.plots import curves, mel_grid
    from msvae.tracking.connect import connect
    from msvae.train.datasets import prepared_dataset
    from msvae.train.finish import load_checkpoint_model
    from msvae.train.launch import init_ray, train

    connect(cfg)
    init_ray(cfg)
    if not cfg.train.dataset:
        build(cfg, default_out(cfg), cfg.corpus.pieces, cfg.corpus.seed)
    prepared = prepared_dataset(cfg)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, dataset=prepared))
    test = load_prepared(cfg, prepared, "test").materialize()
    window = test.take_batch(1)
    experiment = mlflow.set_experiment(cfg.tracking.experiment)
    with mlflow.start_run(run_name=name) as parent:
        mlflow.log_params({"models": ",".join(cfg.compare.models),
                           "seeds": ",".join(map(str, cfg.compare.seeds)),
                           "train.steps": cfg.train.steps, "train.batch_size": cfg.train.batch_size,
                           "train.workers": cfg.train.workers, "dataset": prepared})
    runs, mels, histories = [], {"reference": window["x"][0]}, {}
    started = time.perf_counter()
    for kind in cfg.compare.models:
        for seed in cfg.compare.seeds:
            log(f"[{len(runs) + 1}/{len(cfg.compare.models) * len(cfg.compare.seeds)}] "
                f"{kind}, seed {seed}: {cfg.train.steps} steps")
            variant = _variant(cfg, kind, seed)
            result = train(variant, run_name=f"{name}-{kind}-s{seed}",
                           tags={"mlflow.parentRunId": parent.info.run_id})
            model = load_checkpoint_model(variant, result.checkpoint)
            scores = evaluate(model, test.iter_batches(batch_size=32, batch_format="numpy"),
                              variant)
            runs.append({"model": kind, "seed": seed, "run": result.run_name,
                         "train_seconds": round(result.seconds, 1), **scores})
            log("    " + ", ".join(f"{k} {scores[k]:.3f}" for k in table.INDICATORS))
            if seed == cfg.compare.seeds[0]:
                with torch.no_grad():
                    mels[kind] = model(torch.as_tensor(window["x"][:1]),
                                       torch.as_tensor(window["mask"][:1])).recon[0].numpy()
                client = MlflowClient()
                for key in ("train/loss", "train/kl"):
                    histories[f"{kind} {key}"] = [
                        (m.step, m.value) for m in client.get_metric_history(
                            result.mlflow_run_id, key)]
    ours = cfg.compare.models[-1]
    models, delta = table.aggregate(runs), table.deltas(runs, ours)
    result = {"name": name, "ours": ours, "dataset": prepared,
              "budget": {"steps": cfg.train.steps, "batch_size": cfg.train.batch_size,
                         "workers": cfg.train.workers, "seeds": cfg.compare.seeds,
                         "eval_split": "test", "test_windows": runs[0]["windows"]},
              "models": models, "deltas": delta, "runs": runs,
              "seconds": round(time.perf_counter() - started, 1),
              "mlflow_run_id": parent.info.run_id, "experiment_id": experiment.experiment_id}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [bar_chart(models, folder / "indicators.png"),
                 mel_grid({k: np.asarray(v) for k, v in mels.items()}, cfg.data.sources,
                          folder / "mels.png", "one held-out test window"),
                 curves(histories, folder / "curves.png", "loss and KL (first seed)")]
        (folder / "report.md").write_text(report_markdown(result))
        (folder / "compare.json").write_text(json.dumps(result, indent=2))
        files += [folder / "report.md", folder / "compare.json"]
        out = storage.join(cfg.storage.root, "compare", name)
        for path in files:
            storage.write_bytes(cfg, storage.join(out, path.name), path.read_bytes())
            MlflowClient().log_artifact(parent.info.run_id, str(path))
    result["report_uri"] = storage.join(out, "report.md")
    return result


def report_markdown(result: dict) -> str:
    """The Markdown report: budget, the table, deltas, the figures."""
    b = result["budget"]
    return "\n".join([
        f"# msvae compare: {result['name']}", "",
        f"Each model trained for {b['steps']} steps (batch {b['batch_size']} per worker, "
        f"{b['workers']} workers) on `{result['dataset']}`, seeds {b['seeds']}; scored on "
        f"the {b['test_windows']} windows of the held-out test pieces (mix slot). "
        "Mean ± standard deviation over seeds; deltas are paired by seed.", "",
        table.markdown(result["models"], result["deltas"], result["ours"]), "",
        "![indicators](indicators.png)", "", "![mels](mels.png)", "",
        "![curves](curves.png)", ""])
