"""Run the comparison: every model trained on the same prepared shards with the same budget,
its learning rate chosen on validation (msvae.compare.lr_grid), every seed scored per window
on the held-out test pieces (generated audio against the training set), intervals over
pieces, figures and a report written to storage and to a parent MLflow run (whose children
are the training runs)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from mlflow import MlflowClient

from msvae.compare import table
from msvae.compare.bootstrap import LEVEL, RESAMPLES
from msvae.compare.lr_grid import choose_lr, grid, run_count
from msvae.compare.report import GIVEN_STEMS, write_report
from msvae.compare.variants import configured, label, slug
from msvae.config import Config, override
from msvae.evaluate.reference import FRECHET_WINDOWS
from msvae.evaluate.score import EVAL_BATCH, WindowScores, score_windows, summary
from msvae.tracking.registry import SCORE_METRIC

PAPER = {"vs_vae": {"recon_error_db": -23.0, "similarity_pct": 18.0},  # the paper's claims
         "vs_single": {"recon_error_db": -10.0, "similarity_pct": 5.0}}
PCA_FIT_WINDOWS = 4000  # train windows the PCA floor is fitted on (half a million frames)


@dataclass
class TestSet:
    """The test split in memory, so every run scores the same windows in the same order."""

    x: np.ndarray  # [n, S, M, T] dB
    mask: np.ndarray  # [n, S] presence
    piece: np.ndarray  # [n] piece ids: the unit the intervals resample

    def batches(self, cfg: Config, mix_only: bool):
        """The windows in batches; with `mix_only` every source but the mix hidden (the
        headline: every model gets only the mix at test time)."""
        mix = cfg.data.sources.index("mix")
        for i in range(0, len(self.x), EVAL_BATCH):
            mask = self.mask[i:i + EVAL_BATCH].copy()
            if mix_only:
                mask[:, [s for s in range(mask.shape[1]) if s != mix]] = False
            yield {"x": self.x[i:i + EVAL_BATCH], "mask": mask}


def _test_set(cfg: Config) -> TestSet:
    from msvae.data.pipeline import load_prepared

    rows = load_prepared(cfg, cfg.train.dataset, "test", ["x", "mask", "piece"]).take_all()
    return TestSet(np.stack([r["x"] for r in rows]), np.stack([r["mask"] for r in rows]),
                   np.array([r["piece"] for r in rows]))


def _train(cfg: Config, entry: str, seed: int, lr: float, name: str, parent: str, log):
    """One training run of a compare.models entry -> (its config, TrainResult)."""
    from msvae.train.launch import train

    log(f"{label(entry)}, seed {seed}, lr {lr:g}: {cfg.train.steps} steps")
    variant = override(configured(cfg, entry), {"train.seed": seed, "train.lr": lr})
    return variant, train(variant, run_name=f"{name}-{slug(entry)}-s{seed}-lr{lr:g}",
                          parent_run_id=parent)


def _train_model(cfg: Config, entry: str, name: str, parent: str, log) -> tuple[dict, dict]:
    """One model's runs: the first seed at every grid rate, the others at the chosen one
    -> ({seed: (config, TrainResult)}, {"chosen": lr, "runs": [the grid runs' scores]})."""
    first = cfg.compare.seeds[0]
    tried = {lr: _train(cfg, entry, first, lr, name, parent, log) for lr in grid(cfg)}
    scores = {lr: result.metrics.get(SCORE_METRIC) for lr, (_, result) in tried.items()}
    chosen = choose_lr(scores)
    trained = {first: tried[chosen]}
    trained.update({seed: _train(cfg, entry, seed, chosen, name, parent, log)
                    for seed in cfg.compare.seeds[1:]})
    return trained, {"chosen": chosen, "runs": [
        {"lr": lr, "run": result.run_name, "valid_score": scores[lr]}
        for lr, (_, result) in tried.items()]}


def _score(row: str, variant: Config, result, test: TestSet,
           reference) -> tuple[dict, dict]:
    """A trained run on the test windows -> ({row name: WindowScores}, figure material and
    the model's size and training speed).

    The row named `row` (the model's label) is scored from the mix alone; a model that
    reads the stems gets a second row, "<row> given the stems", scored with every source
    it has."""
    from msvae.evaluate.floors import latents_per_frame
    from msvae.model import count_parameters
    from msvae.train.finish import load_checkpoint_model
    from msvae.train.prior_fit import fit_on_training_data

    model = load_checkpoint_model(variant, result.checkpoint)
    if getattr(model, "latent_prior", None) is not None:  # as publishing does
        fit_on_training_data(variant, model)
    rows = {row: score_windows(model, test.batches(variant, True), variant, reference)}
    if len(model.in_slots) > 1:
        rows[f"{row} {GIVEN_STEMS}"] = score_windows(model, test.batches(variant, False),
                                                     variant, reference)
    x = torch.as_tensor(test.x[:1])
    with torch.no_grad():
        mel = model(x, torch.as_tensor(test.mask[:1])).recon[0]
    client = MlflowClient()
    history = {f"{row} {key}": [(m.step, m.value) for m in client.get_metric_history(
        result.mlflow_run_id, key)] for key in ("train/loss", "train/kl", SCORE_METRIC,
                                                "windows_per_s")}
    speed = sorted(history.pop(f"{row} windows_per_s"))  # rank 0's, since its first batch
    everything = torch.ones(x.shape[:2], dtype=torch.bool)
    size = {"parameters": count_parameters(model),
            "latents_per_frame": latents_per_frame(model, x, everything),
            "windows_per_s": speed[-1][1] * variant.train.workers if speed else math.nan}
    return rows, {"mel": mel.numpy(), "history": history, "size": size}


def _floors(cfg: Config, test: TestSet) -> dict:
    """Time-mean and frame-PCA floors per window of the test mixes, with intervals; the PCA
    fitted on up to PCA_FIT_WINDOWS train windows with as many components per frame as
    our model's latents carry. Beside them the real test mixes' own coherence and motion,
    under the generated-audio columns (what a perfect generator would score)."""
    from msvae.evaluate.floors import fitted_floor_windows, pca_floor
    from msvae.evaluate.indicators import GENERATED_INDICATORS, REAL
    from msvae.evaluate.training_set import split_mixes
    from msvae.model import build_model

    mix = cfg.data.sources.index("mix")
    present = test.mask[:, mix]
    test_mix = torch.as_tensor(test.x[present, mix])
    ours = build_model(configured(cfg, cfg.compare.models[-1]))
    pca = pca_floor(ours, split_mixes(cfg, cfg.train.dataset, "train", PCA_FIT_WINDOWS))
    per_window = fitted_floor_windows(test_mix, pca)
    real = {f"real/{key}": fn(test_mix) for key, fn in GENERATED_INDICATORS.items()}
    per_window["real_test_windows"] = {key: real[target] for key, target in REAL.items()
                                       if target in real}
    return table.floor_stats({name: {key: v.numpy() for key, v in row.items()}
                              for name, row in per_window.items()}, test.piece[present])


def _tables(runs: list[dict], scored: dict[tuple[str, int], WindowScores], test: TestSet,
            ours: str, models: list[str]) -> dict:
    """The models' rows and the deltas, each with intervals over test pieces (the
    generated-audio similarity over its prior samples)."""
    units = {key: {**s.windows, **s.samples} for key, s in scored.items()}
    groups = {key: test.piece for s in scored.values() for key in s.windows}
    groups.update({key: np.arange(FRECHET_WINDOWS) for s in scored.values() for key in s.samples})
    return {"models": table.aggregate(runs, units=units, groups=groups),
            "deltas": table.deltas([r for r in runs if r["model"] in models], ours,
                                   units=units, groups=groups)}


def _run_all(cfg: Config, name: str, parent: str, test: TestSet, reference, log) -> dict:
    """Train and score every model and seed -> runs, per-window scores, lr records and
    the first seed's figure material."""
    numbers, total = iter(range(1, run_count(cfg) + 1)), run_count(cfg)

    def counted(text: str) -> None:
        log(f"[{next(numbers)}/{total}] {text}")

    out = {"runs": [], "scored": {}, "lr": {}, "mels": {"reference": test.x[0]}, "histories": {},
           "valid": {label(entry): [] for entry in cfg.compare.models}}
    for entry in cfg.compare.models:
        kind = label(entry)
        trained, out["lr"][kind] = _train_model(cfg, entry, name, parent, counted)
        for seed, (variant, result) in trained.items():
            rows, extra = _score(kind, variant, result, test, reference)
            for row, scores in rows.items():
                out["scored"][(row, seed)] = scores
                out["runs"].append({"model": row, "seed": seed, "lr": variant.train.lr,
                                    "run": result.run_name,
                                    "train_seconds": round(result.seconds, 1),
                                    **extra["size"], **summary(scores)})
                log(f"    {row}, seed {seed}: " + ", ".join(
                    f"{k} {out['runs'][-1][k]:.3f}" for k in table.INDICATORS))
            out["valid"][kind].append(extra["history"].pop(f"{kind} {SCORE_METRIC}"))
            if seed == cfg.compare.seeds[0]:
                out["mels"][kind] = extra["mel"]
                out["histories"].update(extra["history"])
    return out


def run_compare(cfg: Config, name: str, log=print) -> dict:
    """Train, score and report every (model, seed); returns the JSON-able result."""
    from msvae.evaluate.training_set import training_reference
    from msvae.ray_start import init_ray
    from msvae.tracking.connect import connect
    from msvae.tracking.runs import lifecycle, open_run
    from msvae.train.datasets import ensure_prepared

    connect(cfg)
    init_ray()
    cfg, _ = ensure_prepared(cfg, log)
    test = _test_set(cfg)
    c, t = cfg.compare, cfg.train
    parent = open_run(cfg, name, params={
        "models": ",".join(c.models), "seeds": ",".join(map(str, c.seeds)),
        "lrs": ",".join(f"{lr:g}" for lr in grid(cfg)), "train.steps": t.steps,
        "train.batch_size": t.batch_size, "train.workers": t.workers, "dataset": t.dataset})
    started = time.perf_counter()
    with lifecycle(parent):
        done = _run_all(cfg, name, parent, test, training_reference(cfg, t.dataset), log)
        ours, models = label(c.models[-1]), [label(entry) for entry in c.models]
        result = {"name": name, "ours": ours, "dataset": t.dataset,
                  "budget": {"steps": t.steps, "batch_size": t.batch_size, "workers": t.workers,
                             "seeds": c.seeds, "eval_split": "test",
                             "test_windows": done["runs"][0]["windows"],
                             "test_pieces": len(set(test.piece))},
                  "lr": {"metric": SCORE_METRIC, "seed": c.seeds[0], "grid": grid(cfg),
                         "models": done["lr"]},
                  "intervals": {"level": LEVEL, "resamples": RESAMPLES,
                                "pieces": len(set(test.piece)), "samples": FRECHET_WINDOWS},
                  **_tables(done["runs"], done["scored"], test, ours, models),
                  "sizes": table.sizes(done["runs"], models),
                  "floors": _floors(cfg, test), "paper": PAPER, "runs": done["runs"],
                  "validation": {"metric": SCORE_METRIC,
                                 "curves": table.validation_curves(done["valid"])},
                  "seconds": round(time.perf_counter() - started, 1), "mlflow_run_id": parent}
        result["report_uri"] = write_report(cfg, result, done["mels"], done["histories"])
    return result
