"""Does the model learn the music? A model trained without Ray beside its floors.

Ingests a manifest's pieces with the pipeline's own per-piece function (no Ray), trains
the configured model with the training step the Ray workers use, on one process with
the demo's global batch (train.batch_size x train.workers) for train.steps steps, then
scores the validation windows' mix slot against the time-mean and frame-PCA floors:

  tf_recon_<who>: temporal fidelity of the reconstruction (model, time_mean, pca)
  tf_fill_model:  temporal fidelity of the mix generated from the stems alone
  recon_db_<who>: reconstruction error, dB; fill_db_model: the same for the fill-in
  ratio_tf_model_vs_pca: the model's temporal fidelity over the PCA floor's

One change per run (`--set key=value`) is one ablation: same windows, same seed.

    python benchmarks/quality.py --manifest /tmp/corpus32/manifest.csv \
        --config configs/demo.yaml [--set objective.free_bits=0.5] [--cache W.npz] [--json P]
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit

from msvae.config import Config, load
from msvae.data.ingest_piece import process_piece
from msvae.evaluate.floors import FramePCA, latents_per_frame, time_mean
from msvae.evaluate.indicators import recon_error_db, temporal_fidelity
from msvae.manifest import load_manifest, piece_rows
from msvae.model import build_model
from msvae.train.checkpoint import seed_everything
from msvae.train.step import train_step


def _ingest(args) -> tuple[str, np.ndarray, np.ndarray]:
    cfg, rows = args
    torch.set_num_threads(1)
    piece = process_piece(cfg, rows)
    return piece.split, piece.x, np.repeat(piece.mask[None], len(piece.x), axis=0)


def windows(cfg: Config, manifest: str, cache: str | None) -> dict[str, tuple]:
    """{split: (x [W, S, M, T] dB, mask [W, S])}, ingested in 2 processes, cached."""
    if cache and Path(cache).exists():
        data = np.load(cache)
        return {s: (data[f"{s}_x"], data[f"{s}_mask"]) for s in ("train", "valid", "test")}
    rows = piece_rows(load_manifest(cfg, manifest))
    with Pool(2) as pool:
        pieces = pool.map(_ingest, [(cfg, r) for r in rows])
    out = {}
    for split in ("train", "valid", "test"):
        got = [(x, m) for s, x, m in pieces if s == split and len(x)]
        out[split] = (np.concatenate([x for x, _ in got]), np.concatenate([m for _, m in got]))
    if cache:
        np.savez(cache, **{f"{s}_{k}": v for s, (x, m) in out.items()
                           for k, v in (("x", x), ("mask", m))})
    return out


def train(cfg: Config, x: np.ndarray, mask: np.ndarray) -> tuple[torch.nn.Module, float]:
    """The model after train.steps steps of shuffled global batches; seconds taken."""
    seed_everything(cfg.train.seed)
    model = build_model(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    batch, rng = cfg.train.batch_size * cfg.train.workers, np.random.default_rng(cfg.train.seed)
    order, pos, start = rng.permutation(len(x)), 0, time.perf_counter()
    for step in range(cfg.train.steps):
        if pos + batch > len(order):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch]
        pos += batch
        train_step(model, optimizer, {"x": torch.from_numpy(x[idx]),
                                      "mask": torch.from_numpy(mask[idx])}, step, cfg)
    return model, time.perf_counter() - start


@torch.no_grad()
def score(cfg: Config, model, data: dict) -> dict[str, float]:
    """Mix-slot indicators of the model and its floors on the validation windows."""
    mix = cfg.data.sources.index("mix")
    x, mask = (torch.from_numpy(a) for a in data["valid"])
    x, mask = x[mask[:, mix]], mask[mask[:, mix]]
    model.eval()
    recon = torch.cat([model(x[i:i + 32], mask[i:i + 32]).recon for i in range(0, len(x), 32)])
    stems = mask.clone()
    stems[:, mix] = False
    has_stems = stems.any(1)
    torch.manual_seed(0)
    fill = model.generate(int(has_stems.sum()), x.shape[-1], cond_x=x[has_stems],
                          cond_mask=stems[has_stems])
    train_mix = torch.from_numpy(data["train"][0][:, mix])
    pca = FramePCA(train_mix, latents_per_frame(model, x, mask))
    ref = x[:, mix]
    out = {"valid_windows": len(x), "pca_components": pca.basis.shape[0]}
    for who, est in (("model", recon[:, mix]), ("time_mean", time_mean(ref)),
                     ("pca", pca.reconstruct(ref))):
        out[f"tf_recon_{who}"] = float(temporal_fidelity(ref, est).mean())
        out[f"recon_db_{who}"] = float(recon_error_db(ref, est).mean())
    out["tf_fill_model"] = float(temporal_fidelity(ref[has_stems], fill[:, mix]).mean())
    out["fill_db_model"] = float(recon_error_db(ref[has_stems], fill[:, mix]).mean())
    out["ratio_tf_model_vs_pca"] = out["tf_recon_model"] / out["tf_recon_pca"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache", help="npz of ingested windows (made if missing)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    cfg = load(args.config, args.set)
    data = windows(cfg, args.manifest, args.cache)
    torch.set_num_threads(args.threads)
    model, seconds = train(cfg, *data["train"])
    emit({"train_windows": len(data["train"][0]), "train_seconds": seconds,
          **score(cfg, model, data)}, args.json)


if __name__ == "__main__":
    main()
