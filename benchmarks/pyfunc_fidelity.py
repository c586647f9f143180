"""Temporal fidelity through the registered model's own audio: the check issue 12's targets
name. Test windows go through `predict` of a registered pyfunc (Griffin-Lim included),
the audio is analysed again (msvae.data.features.log_mel) and compared with the reference:

  tf_gl_recon_<source>: reconstruction, every source given (mix first)
  tf_gl_fill_mix: the mix generated from the stems alone
  tf_gl_reference_mix: the reference mel itself through Griffin-Lim (the ceiling)

    python benchmarks/pyfunc_fidelity.py --manifest /tmp/corpus32/manifest.csv \
        [--cache W.npz] [--model models:/msvae@champion] [--json PATH]

Needs the MLflow server the model is registered in (`msvae services up`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, real_windows

from msvae.config import load
from msvae.data.features import log_mel
from msvae.evaluate.indicators import temporal_fidelity
from msvae.generate.complete import fill_in_case
from msvae.generate.vocoder import mel_to_wave
from msvae.tracking.connect import connect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--cache", help="npz of ingested windows (made if missing)")
    ap.add_argument("--model", default="models:/msvae@champion")
    ap.add_argument("--json")
    args = ap.parse_args()
    cfg = load(args.config)
    connect(cfg)
    import mlflow

    x, mask = real_windows(cfg, args.manifest, args.cache)["test"]
    model = mlflow.pyfunc.load_model(args.model)
    frames = x.shape[-1]

    def fidelity(audio, ref) -> float:
        mel = log_mel(torch.as_tensor(audio), cfg.data)[..., :frames]
        return float(temporal_fidelity(torch.as_tensor(ref), mel).mean())

    figures: dict[str, float] = {"windows": len(x)}
    audio = model.predict({"x": x.astype(np.float32), "mask": mask})["audio"]
    for s, source in enumerate(cfg.data.sources):
        there = mask[:, s]
        figures[f"tf_gl_recon_{source}"] = fidelity(audio[there, s], x[there, s])
    mix = cfg.data.sources.index("mix")
    stems, both = (t.numpy() for t in fill_in_case(torch.from_numpy(mask), mix))
    fill = model.predict({"x": x[both].astype(np.float32), "mask": stems[both]})["audio"]
    figures["tf_gl_fill_mix"] = fidelity(fill[:, mix], x[both, mix])
    figures["tf_gl_reference_mix"] = fidelity(
        mel_to_wave(torch.as_tensor(x[:, mix]), cfg.data).numpy(), x[:, mix])
    emit(figures, args.json)


if __name__ == "__main__":
    main()
