"""Griffin-Lim quality and speed against its iteration count, on real mix windows.

For each count n: the reference log-mel windows go through msvae.generate.vocoder and
the audio is analysed again (msvae.data.features.log_mel), beside the reference:

  sc_iters_<n>: spectral convergence, ||S - |STFT(y)|||_F / ||S||_F with S the magnitude
    Griffin-Lim is asked to match (the inverse mel of the window): phase consistency
  tf_iters_<n>: temporal fidelity of the re-analysed audio (1: it follows the reference)
  lsd_db_iters_<n>: log-spectral distance of the re-analysed audio, dB
  rtf_iters_<n>_threads_<k>: seconds of audio out per second of vocoding, median

`chosen_iters`: the smallest count whose spectral convergence is within 10 % of the
largest count's on these windows (what GRIFFIN_LIM_ITERS, `shipped_iters`, should be).

    python benchmarks/vocoder.py --manifest /tmp/corpus32/manifest.csv [--cache W.npz] \
        [--windows 16] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median_time, real_windows

from msvae.config import load
from msvae.data.features import log_mel, window_samples
from msvae.evaluate.indicators import lsd_db, temporal_fidelity
from msvae.generate.vocoder import GRIFFIN_LIM_ITERS, inverse_mel_power, mel_to_wave

COUNTS = (4, 8, 16, 32, 64)
TOLERANCE = 1.10  # spectral convergence given up for speed, relative


def spectral_convergence(ref_db: torch.Tensor, wave: torch.Tensor, cfg) -> torch.Tensor:
    """Per window: ||S - |STFT(wave)|||_F / ||S||_F, S the inverse-mel magnitude of ref_db."""
    target = inverse_mel_power(ref_db, cfg).sqrt()
    got = torch.stft(wave, cfg.n_fft, cfg.hop_length, window=torch.hann_window(cfg.n_fft),
                     return_complex=True).abs()[..., :target.shape[-1]]
    return (target - got).norm(dim=(-2, -1)) / target.norm(dim=(-2, -1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--config", default="configs/demo.yaml")
    ap.add_argument("--cache", help="npz of ingested windows (made if missing)")
    ap.add_argument("--windows", type=int, default=16, help="mix windows vocoded per call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    cfg = load(args.config)
    x, mask = real_windows(cfg, args.manifest, args.cache)["valid"]
    mix = cfg.data.sources.index("mix")
    ref = torch.from_numpy(x[mask[:, mix], mix][:args.windows])
    audio_s = len(ref) * window_samples(cfg.data) / cfg.data.sample_rate
    figures: dict[str, float] = {"windows": len(ref), "shipped_iters": GRIFFIN_LIM_ITERS}
    for n in COUNTS:
        torch.manual_seed(0)
        torch.set_num_threads(2)
        wave = mel_to_wave(ref, cfg.data, n)
        back = log_mel(wave, cfg.data)[..., :ref.shape[-1]]
        figures[f"sc_iters_{n}"] = float(spectral_convergence(ref, wave, cfg.data).mean())
        figures[f"tf_iters_{n}"] = float(temporal_fidelity(ref, back).mean())
        figures[f"lsd_db_iters_{n}"] = float(lsd_db(ref, back).mean())
        for threads in (1, 2):
            torch.set_num_threads(threads)
            seconds = median_time(lambda n=n: mel_to_wave(ref, cfg.data, n), args.repeats)
            figures[f"rtf_iters_{n}_threads_{threads}"] = audio_s / seconds
    best = figures[f"sc_iters_{max(COUNTS)}"]
    figures["chosen_iters"] = min(n for n in COUNTS
                                  if figures[f"sc_iters_{n}"] <= best * TOLERANCE)
    emit(figures, args.json)


if __name__ == "__main__":
    main()
