"""Does the model learn the music? A model trained without Ray beside its floors.

Ingests a manifest's pieces with the pipeline's own per-piece function (no Ray), trains
the configured model with the training step the Ray workers use, on one process with
the demo's global batch (train.batch_size x train.workers) for train.steps steps, then
scores the validation windows' mix slot against the time-mean and frame-PCA floors:

  tf_recon_<who>: temporal fidelity of the reconstruction (model, time_mean, pca)
  tf_mixonly_model, recon_db_mixonly_model: the same given only the mix (stems hidden),
    the headline case (single and vae read only the mix: equal to the recon figures)
  tf_fill_model:  temporal fidelity of the mix generated from the stems alone
  recon_db_<who>: reconstruction error, dB; fill_db_model: the same for the fill-in
  ratio_tf_model_vs_pca: the model's temporal fidelity over the PCA floor's
  tf_vocoded_recon_model, tf_vocoded_fill_model: the same two through the vocoder (the
    model's mel to audio with msvae.generate.vocoder, analysed again), what a listener gets
  tf_recon_model_on_train: temporal fidelity on TRAIN_WINDOWS training windows (far
    above the validation figure: overfitting; about equal: the model underfits)
  generated audio, each beside the same figure of the real validation windows (real_...):
    sample_coherence, sample_motion_db: prior samples' lag-1 coherence and motion;
    fill_coherence, fill_motion_db, fill_level_db: the mix generated from the stems;
    alone_coherence, alone_motion_db, alone_level_db: the same from the ambience alone;
    frechet_sample / frechet_real: Fréchet distance to the training bank;
    nearest_pct_sample / nearest_pct_real: closeness to the nearest training window
    (a sample far closer than real windows are: memorised)
    long_motion_db_<a>_<b>s, long_coherence_<a>_<b>s: the mix of LONG_SAMPLES prior samples
    LONG_SECONDS long, per window-length segment from a to b seconds

One change per run (`--set key=value`) is one ablation: same windows, same seed.

    python benchmarks/quality.py --manifest /tmp/corpus32/manifest.csv \
        --config configs/demo.yaml [--set objective.free_bits=0.5] [--cache W.npz] [--json P]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, real_windows

from msvae.config import Config, load
from msvae.data.features import frames_for, log_mel, window_frames
from msvae.evaluate.floors import floor_scores, latents_per_frame
from msvae.evaluate.indicators import coherence, motion_db, temporal_fidelity
from msvae.evaluate.reference import FeatureReference
from msvae.evaluate.score import EVAL_BATCH, evaluate
from msvae.generate.complete import complete, fill_in_case
from msvae.generate.vocoder import mel_to_wave
from msvae.train.local import train_local
from msvae.train.prior_fit import fit_latent_prior

TRAIN_WINDOWS = 200  # training windows scored for the overfitting check
LONG_SAMPLES, LONG_SECONDS = 8, 8.0


def long_samples(cfg: Config, model) -> dict[str, float]:
    """Motion and coherence of long prior samples' mix per window-length segment: a
    sample that holds together keeps the real windows' figures past the first window."""
    mix, frames = cfg.data.sources.index("mix"), window_frames(cfg.data)
    torch.manual_seed(0)
    mel = model.generate(LONG_SAMPLES, frames_for(cfg.data, LONG_SECONDS))[:, mix]
    seconds = frames * cfg.data.hop_length / cfg.data.sample_rate
    out = {}
    for i, start in enumerate(range(0, mel.shape[-1] - frames + 1, frames)):
        part = mel[..., start:start + frames]
        span = f"{i * seconds:.0f}_{(i + 1) * seconds:.0f}s"
        out[f"long_motion_db_{span}"] = float(motion_db(part).mean())
        out[f"long_coherence_{span}"] = float(coherence(part).mean())
    return out


GENERATED = {  # printed name -> msvae.evaluate.score key
    "sample_coherence": "sample/coherence", "real_coherence": "real/coherence",
    "sample_motion_db": "sample/motion_db", "real_motion_db": "real/motion_db",
    "fill_coherence": "fill/coherence", "fill_motion_db": "fill/motion_db",
    "fill_level_db": "fill/level_db", "alone_coherence": "alone/coherence",
    "alone_motion_db": "alone/motion_db", "alone_level_db": "alone/level_db",
    "frechet_sample": "frechet_distance",
    "frechet_real": "real/frechet_distance", "nearest_pct_sample": "similarity_pct",
    "nearest_pct_real": "real/similarity_pct"}


def vocoded(cfg: Config, model, x, mask) -> dict[str, float]:
    """Temporal fidelity of the mix through the vocoder: reconstructed (every source the
    window has given) and generated from the stems alone (windows with both)."""
    x, mask = torch.from_numpy(x), torch.from_numpy(mask)
    mix = cfg.data.sources.index("mix")

    def fidelity(mel, ref) -> float:
        again = log_mel(mel_to_wave(mel, cfg.data), cfg.data)[..., :ref.shape[-1]]
        return float(temporal_fidelity(ref, again).mean())

    with torch.no_grad():
        recon = model.eval()(x, mask).recon
    stems, both = fill_in_case(mask, mix)
    torch.manual_seed(0)
    fill = complete(model, x[both], stems[both], cfg)
    return {"tf_vocoded_recon_model": fidelity(recon[mask[:, mix], mix], x[mask[:, mix], mix]),
            "tf_vocoded_fill_model": fidelity(fill[:, mix], x[both, mix])}


def batches(x: np.ndarray, mask: np.ndarray) -> list[dict]:
    """Windows in EVAL_BATCH batches, as msvae.evaluate.score reads them."""
    return [{"x": x[i:i + EVAL_BATCH], "mask": mask[i:i + EVAL_BATCH]}
            for i in range(0, len(x), EVAL_BATCH)]


def score(cfg: Config, model, data: dict) -> dict[str, float]:
    """Mix-slot indicators of the model (msvae.evaluate.score) and of its floors on the
    validation windows: every source given, and only the mix (windows that have it)."""
    mix = cfg.data.sources.index("mix")
    x, mask = data["valid"]
    train_mix = torch.from_numpy(data["train"][0][data["train"][1][:, mix], mix])
    torch.manual_seed(0)
    got = evaluate(model, batches(x, mask), cfg, FeatureReference.from_windows(train_mix))
    has = mask[:, mix]
    torch.manual_seed(0)
    alone = evaluate(model, batches(x[has], mask[has] & (np.arange(mask.shape[1]) == mix)), cfg)
    k = latents_per_frame(model, torch.from_numpy(x[:1]), torch.from_numpy(mask[:1]))
    out = {"valid_windows": got["windows"], "pca_components": k,
           "tf_mixonly_model": alone["temporal_fidelity"],
           "recon_db_mixonly_model": alone["recon_error_db"],
           "tf_recon_model": got["temporal_fidelity"], "recon_db_model": got["recon_error_db"],
           "tf_fill_model": got["fill/temporal_fidelity"],
           "fill_db_model": got["fill/recon_error_db"],
           **{name: got[key] for name, key in GENERATED.items()}}
    floors = floor_scores(train_mix, torch.from_numpy(x[mask[:, mix], mix]), k)
    for who, scores in floors.items():
        out[f"tf_recon_{who}"] = scores["temporal_fidelity"]
        out[f"recon_db_{who}"] = scores["recon_error_db"]
    out["ratio_tf_model_vs_pca"] = out["tf_recon_model"] / out["tf_recon_pca"]
    out.update(vocoded(cfg, model, x, mask))
    out.update(long_samples(cfg, model))
    train_x, train_mask = (a[:TRAIN_WINDOWS] for a in data["train"])
    torch.manual_seed(0)
    out["tf_recon_model_on_train"] = evaluate(model, [{"x": train_x, "mask": train_mask}],
                                              cfg)["temporal_fidelity"]
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
    data = real_windows(cfg, args.manifest, args.cache)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = train_local(cfg, *data["train"])
    seconds = time.perf_counter() - start
    prior = {}
    if getattr(model, "latent_prior", None) is not None:  # fitted after the VAE, as in training
        start = time.perf_counter()
        prior = fit_latent_prior(cfg, model, *(torch.from_numpy(a) for a in data["train"]))
        prior = {"prior_nll": prior["prior/nll"], "prior_seconds": time.perf_counter() - start}
    emit({"train_windows": len(data["train"][0]), "train_seconds": seconds, **prior,
          **score(cfg, model, data)}, args.json)


if __name__ == "__main__":
    main()
