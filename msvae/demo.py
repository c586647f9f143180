"""`msvae demo`: the README's main command, end to end on the embedded services.

Services up -> the real corpus built (or reused) -> prepared into shards (or reused)
-> a short `msvae` training on Ray Train -> evaluated on the held-out test pieces ->
registered in MLflow -> WAVs and a figure generated -> a summary of where it all is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from msvae import storage
from msvae.cli import print_json
from msvae.config import Config


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
        raise RuntimeError(f"{uri}: read back different bytes")
    return connect(cfg)


class Stages:
    """Numbered stage headers with elapsed time, so a long run shows where it is."""

    def __init__(self, total: int):
        self.total, self.done, self.started = total, 0, time.perf_counter()

    def __call__(self, what: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        print(f"\n[{self.done}/{self.total}] {what}  (t={elapsed:.0f} s)", flush=True)


def listening_examples(cfg: Config, model, batch: dict, out: Path) -> list[Path]:
    """Three WAVs and one figure from one test window: the mix reconstructed, the mix
    generated from the stems alone, and a sample from the prior."""
    from msvae.generate import complete
    from msvae.listen import mel_to_wave, write_wav
    from msvae.plots import mel_grid

    x = torch.as_tensor(np.asarray(batch["x"][:1]), dtype=torch.float32)
    mask = torch.as_tensor(np.asarray(batch["mask"][:1]), dtype=torch.bool)
    mix = cfg.data.sources.index("mix")
    stems_only = mask.clone()
    stems_only[:, mix] = False
    mels = {"reference": x[0],
            "reconstructed": complete(model, x, mask, cfg)[0],
            "from stems": complete(model, x, stems_only, cfg)[0],
            "prior sample": complete(model, x, torch.zeros_like(mask), cfg, seed=1)[0]}
    out.mkdir(parents=True, exist_ok=True)
    files = [write_wav(out / f"{name.replace(' ', '_')}_mix.wav",
                       mel_to_wave(mel[mix], cfg.data), cfg.data.sample_rate)
             for name, mel in mels.items() if name != "reference"]
    files.append(mel_grid({k: v.numpy() for k, v in mels.items()}, cfg.data.sources,
                          out / "demo_mels.png", f"{cfg.model.kind}: one held-out test window"))
    return files


def run_demo(cfg: Config, out: Path) -> dict:
    """Every stage in turn; returns the summary."""
    from msvae.corpus.build import build, default_out
    from msvae.data.pipeline import load_prepared
    from msvae.data.prepare import prepared_for
    from msvae.data.report import summary as data_summary
    from msvae.metrics import evaluate
    from msvae.services import embedded
    from msvae.tracking.load import load_registered
    from msvae.train.finish import finish
    from msvae.train.launch import train

    stage = Stages(7)
    stage("embedded services: S3 server and MLflow server on loopback")
    embedded.up(cfg)
    ui = smoke_check(cfg)

    stage(f"real multi-source corpus: {cfg.corpus.pieces} pieces (built once, then reused)")
    built = build(cfg, default_out(cfg), cfg.corpus.pieces, cfg.corpus.seed)
    print(f"corpus {built.manifest} ({'reused' if built.cached else 'built'} in "
          f"{built.seconds:.0f} s)")

    stage("ingestion on Ray Data: decode, resample, loudness, align, window, log-mel")
    prepared, report = prepared_for(cfg, built.manifest)
    print(f"{prepared}: {data_summary(report)}")

    stage(f"training `{cfg.model.kind}` on Ray Train: {cfg.train.workers} workers, "
          f"{cfg.train.steps} steps")
    cfg = _with_dataset(cfg, prepared)
    result = train(cfg)

    stage("registering in MLflow (challenger; champion if it beats the current one)")
    registered = finish(result)
    print(f"{registered.name} version {registered.version} -> {registered.uri}")

    stage("evaluating the registered model on the held-out test pieces")
    model, _ = load_registered(registered.uri)
    test = load_prepared(result.cfg, prepared, "test")
    scores = evaluate(model, test.iter_batches(batch_size=32, batch_format="numpy"), result.cfg)

    stage("listening: three WAVs and a mel figure from a test window")
    files = listening_examples(result.cfg, model, test.take_batch(1), out)
    return {"corpus": built.manifest, "prepared": prepared, "run": result.run_name,
            "train_seconds": round(result.seconds, 1), "model": registered.uri,
            "version": registered.version, "champion": registered.champion,
            "test": {k: scores[k] for k in ("recon_error_db", "lsd_db", "similarity_pct",
                                            "frechet_distance", "active_units", "windows")},
            "files": [str(f) for f in files], "mlflow_ui": ui,
            "mlflow_run": f"{ui}/#/experiments/{_experiment_id(result.mlflow_run_id)}/runs/"
                          f"{result.mlflow_run_id}"}


def _with_dataset(cfg: Config, uri: str) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, dataset=uri))


def _experiment_id(run_id: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient().get_run(run_id).info.experiment_id


def _demo(args, cfg) -> int:
    from msvae.cli import UserError
    from msvae.corpus.build import BuildError
    from msvae.data.prepare import NothingUsable
    from msvae.services.embedded import ServiceError
    from msvae.tracking.connect import TrackingError
    from msvae.train.launch import TrainingError

    started = time.perf_counter()
    try:
        summary = run_demo(cfg, Path(args.out))
    except (ServiceError, BuildError, NothingUsable, TrackingError, TrainingError,
            storage.StorageError) as exc:
        raise UserError(str(exc)) from None
    summary["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print_json(summary)
        return 0
    t = summary["test"]
    print(f"\ndemo finished in {summary['seconds']:.0f} s")
    print(f"  model        {summary['model']} (version {summary['version']})")
    print(f"  test windows {t['windows']}: reconstruction error {t['recon_error_db']:.2f} dB, "
          f"LSD {t['lsd_db']:.2f} dB, similarity {t['similarity_pct']:.1f} %, "
          f"Fréchet {t['frechet_distance']:.1f}, active units {t['active_units']}")
    for path in summary["files"]:
        print(f"  wrote        {path}")
    print(f"  MLflow UI    {summary['mlflow_ui']}")
    print(f"  this run     {summary['mlflow_run']}")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("demo", parents=[common], help="services, corpus, ingestion, training, "
                       "registry, evaluation and audio, end to end", description=__doc__)
    p.set_defaults(func=_demo)
    p.add_argument("--out", default="demo-output", help="folder for WAVs and figures")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
