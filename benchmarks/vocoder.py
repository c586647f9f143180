"""The vocoder against plain Griffin-Lim, by iteration count, on real mix windows.

For each count n, the reference log-mel windows go through msvae.generate.vocoder
(`ours`: Griffin-Lim that keeps the audio's mel on target) and through torchaudio's
Griffin-Lim on the fixed inverse-mel magnitude (`plain`), both with momentum 0.99; the
audio is analysed again (msvae.data.features.log_mel) and compared with the reference:

  tf_<who>_iters_<n>: temporal fidelity of the re-analysed audio (1: it follows the reference)
  lsd_db_<who>_iters_<n>: log-spectral distance of the re-analysed audio, dB
  rtf_<who>_iters_<n>_threads_<k>: seconds of audio out per second of vocoding, median

`chosen_iters`: the smallest count whose doubling gains ours less than TOLERANCE of
temporal fidelity, the point of diminishing returns (what GRIFFIN_LIM_ITERS,
`shipped_iters`, should be; each doubling doubles the cost), and
`ratio_tf_ours_vs_plain` and `ratio_rtf_ours_vs_plain` at the shipped count (1 thread).

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
from msvae.generate.vocoder import GRIFFIN_LIM_ITERS, mel_to_wave, plain_griffin_lim

COUNTS = (4, 8, 16, 32, 64)
TOLERANCE = 0.02  # temporal fidelity a doubling of the iterations must add, absolute


VOCODERS = {"ours": mel_to_wave, "plain": plain_griffin_lim}


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
        for who, vocode in VOCODERS.items():
            torch.manual_seed(0)
            torch.set_num_threads(2)
            back = log_mel(vocode(ref, cfg.data, n), cfg.data)[..., :ref.shape[-1]]
            figures[f"tf_{who}_iters_{n}"] = float(temporal_fidelity(ref, back).mean())
            figures[f"lsd_db_{who}_iters_{n}"] = float(lsd_db(ref, back).mean())
            for threads in (1, 2):
                torch.set_num_threads(threads)
                seconds = median_time(lambda v=vocode, n=n: v(ref, cfg.data, n), args.repeats)
                figures[f"rtf_{who}_iters_{n}_threads_{threads}"] = audio_s / seconds
    gains = {n: figures[f"tf_ours_iters_{2 * n}"] - figures[f"tf_ours_iters_{n}"]
             for n in COUNTS if 2 * n in COUNTS}
    figures["chosen_iters"] = min([n for n, gain in gains.items() if gain < TOLERANCE],
                                  default=max(COUNTS))
    n = GRIFFIN_LIM_ITERS
    figures["ratio_tf_ours_vs_plain"] = figures[f"tf_ours_iters_{n}"] / figures[
        f"tf_plain_iters_{n}"]
    figures["ratio_rtf_ours_vs_plain"] = figures[f"rtf_ours_iters_{n}_threads_1"] / figures[
        f"rtf_plain_iters_{n}_threads_1"]
    emit(figures, args.json)


if __name__ == "__main__":
    main()
