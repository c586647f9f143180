"""The demo end to end on the embedded services: services up -> the real corpus built
(or reused) -> prepared into shards (or reused) -> a short `msvae` training on Ray Train
-> registered in MLflow -> evaluated on the held-out test pieces -> WAVs and a figure."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from msvae import storage
from msvae.config import Config
from msvae.errors import MsvaeError

SUMMARY_KEYS = ("recon_error_db", "lsd_db", "recon_similarity_pct", "similarity_pct",
                "real/similarity_pct", "temporal_fidelity", "fill/temporal_fidelity",
                "fill/similarity_pct", "fill/coherence", "fill/motion_db", "fill/level_db",
                "alone/coherence", "alone/motion_db", "alone/level_db",
                "sample/coherence", "sample/motion_db", "real/coherence", "real/motion_db",
                "frechet_distance", "real/frechet_distance", "active_units", "windows")
LONG_SAMPLE_S = 8.0  # s, the figure's prior sample: several windows, one continuous sample
EXAMPLE_WINDOWS = 64  # test windows searched for one whose vocal rests


def smoke_check(cfg: Config) -> str:
    """Round-trip one object through s3fs and boto3 and reach MLflow; returns the UI URL."""
    from msvae.tracking.connect import connect

    uri = storage.join(cfg.storage.root, "smoke", "check.txt")
    payload = f"msvae smoke check {time.time()}".encode()
    storage.write_bytes(cfg, uri, payload)
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        got = storage.boto3_client(cfg).get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        got = storage.read_bytes(cfg, uri)
    if got != payload:
        raise MsvaeError(f"{uri}: read back different bytes")
    return connect(cfg)


class Stages:
    """Numbered stage headers with elapsed time, so a long run shows where it is."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.perf_counter()

    def __call__(self, what: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        print(f"\n[{self.done}/{self.total}] {what}  (t={elapsed:.0f} s)", flush=True)


def resting_window(x: torch.Tensor, mask: torch.Tensor, mix: int, source: int) -> int | None:
    """Of windows x [W, S, M, T] dB with a mix and `source`, the one where `source` rests
    longest: the lowest median over frames of its frame level, dB. None: no such window."""
    from msvae.evaluate.indicators import level_db

    there = mask[:, mix] & mask[:, source]
    if not bool(there.any()):
        return None
    frame_db = level_db(x[:, source].transpose(-1, -2)[..., None])  # [W, T]
    return int(torch.where(there, frame_db.median(-1).values, torch.inf).argmin())


def listening_examples(cfg: Config, model, batch: dict, out: Path) -> list[Path]:
    """Test windows as mix WAVs and one figure: the first window reconstructed and its mix
    generated from the stems alone; the window whose vocal rests longest (the lowest median
    frame level) with the mix generated from that vocal alone; and a LONG_SAMPLE_S prior
    sample."""
    from msvae.data.features import frames_for
    from msvae.generate.complete import complete, fill_in_case
    from msvae.generate.examples import REFERENCE, write_examples

    # copies: Ray Data hands out read-only arrays, which torch warns about sharing
    x = torch.tensor(np.asarray(batch["x"]), dtype=torch.float32)
    mask = torch.tensor(np.asarray(batch["mask"]), dtype=torch.bool)
    mix, vocal = (cfg.data.sources.index(s) for s in ("mix", "vocal"))
    stems_only, _ = fill_in_case(mask[:1], mix)
    panels = {REFERENCE: x[0], "reconstructed": complete(model, x[:1], mask[:1], cfg)[0],
              "from stems": complete(model, x[:1], stems_only, cfg)[0]}
    quiet = resting_window(x, mask, mix, vocal)
    if quiet is not None:
        alone = torch.zeros_like(mask[quiet:quiet + 1])
        alone[:, vocal] = True
        panels[f"{REFERENCE}: vocal rests"] = x[quiet]
        panels["from that vocal"] = complete(model, x[quiet:quiet + 1], alone, cfg)[0]
    frames = frames_for(cfg.data, LONG_SAMPLE_S)
    panels[f"prior sample {LONG_SAMPLE_S:.0f} s"] = complete(
        model, x.new_zeros(1, *x.shape[1:3], frames), torch.zeros_like(mask[:1]), cfg,
        seed=1)[0]
    return write_examples(cfg, panels, out, "demo_mels",
                          f"{cfg.model.kind}: held-out test windows and a prior sample",
                          sources=["mix"])


def run_demo(cfg: Config, out: Path) -> dict:
    """Every stage in turn; returns the summary."""
    from msvae.data.pipeline import load_prepared
    from msvae.data.report import summary as data_summary
    from msvae.evaluate.score import EVAL_BATCH, evaluate
    from msvae.evaluate.training_set import training_reference
    from msvae.ray_start import init_ray
    from msvae.services import embedded
    from msvae.tracking.load import load_registered
    from msvae.tracking.runs import run_url
    from msvae.train.datasets import ensure_prepared
    from msvae.train.finish import finish
    from msvae.train.launch import train

    stage = Stages(6)
    stage("embedded services: S3 server and MLflow server on loopback")
    embedded.up(cfg)
    ui = smoke_check(cfg)
    init_ray()

    stage(f"real corpus ({cfg.corpus.pieces} pieces) and ingestion on Ray Data: decode, "
          "resample, loudness, align, window, log-mel (each done once, then reused)")
    cfg, report = ensure_prepared(cfg)
    print(f"{cfg.train.dataset}: {data_summary(report) if report else 'given'}")

    stage(f"training `{cfg.model.kind}` on Ray Train: {cfg.train.workers} workers, "
          f"{cfg.train.steps} steps")
    result = train(cfg)

    stage("registering in MLflow (challenger; champion if it clears "
          "tracking.champion_min_score and beats the current one)")
    registered = finish(result)
    print(registered.describe())

    stage("evaluating the registered model on the held-out test pieces (generated audio "
          "against the training set)")
    model, _ = load_registered(registered.uri)
    test = load_prepared(result.cfg, cfg.train.dataset, "test")
    scores = evaluate(model, test.iter_batches(batch_size=EVAL_BATCH, batch_format="numpy"),
                      result.cfg, training_reference(result.cfg, cfg.train.dataset))

    stage("listening: mix WAVs and a mel figure from test windows and a prior sample")
    files = listening_examples(result.cfg, model, test.take_batch(EXAMPLE_WINDOWS), out)
    return {"prepared": cfg.train.dataset, "run": result.run_name,
            "train_seconds": round(result.seconds, 1),
            # rank 0 counts its own windows; every worker trains at the same pace (DDP)
            "train_windows_per_s": round(result.metrics.get("windows_per_s", math.nan)
                                         * result.cfg.train.workers, 1),
            "model": registered.uri,
            "version": registered.version, "champion": registered.champion,
            "test": {k: scores[k] for k in SUMMARY_KEYS},
            "files": [str(f) for f in files], "mlflow_ui": ui,
            "mlflow_run": run_url(result.cfg, result.mlflow_run_id)}
