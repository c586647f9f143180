"""Model speed at the default size: training throughput and generation real-time factor.

windows_per_s_<kind>: windows per second through forward + backward (batch train.batch_size).
rtf_<kind>: seconds of music generated per second of compute: prior samples of --windows
windows, their mix vocoded by Griffin-Lim (rtf > 1: faster than real time).
rtf_all_tracks_<kind>: the same with every track the model writes vocoded (msvae's four:
mix and stems), each track's seconds counted. params_<kind>: parameter count.
Figures are medians over --repeats timed runs after one warm-up run.

    python benchmarks/model.py [--repeats 5] [--windows 4] [--threads 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, median_time

from msvae.config import load
from msvae.data.features import window_frames, window_samples
from msvae.generate.vocoder import mel_to_wave
from msvae.model import build_model, count_parameters, output_slots
from msvae.model.objective import loss

KINDS = ("vae", "single", "msvae")


def measure(kind: str, repeats: int, windows: int, threads: int) -> dict[str, float]:
    """Throughput, real-time factor and size of one model kind at the default config."""
    cfg = load(overrides=[f"model.kind={kind}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    b, s, m, t = cfg.train.batch_size, len(cfg.data.sources), cfg.data.n_mels, \
        window_frames(cfg.data)
    x = -50 + 15 * torch.randn(b, s, m, t)
    mask = torch.ones(b, s, dtype=torch.bool)

    def train_step():
        model.zero_grad(set_to_none=True)
        total, _ = loss(model(x, mask), x, mask, 0, cfg)
        total.backward()

    mix, slots = cfg.data.sources.index("mix"), output_slots(cfg)

    def generate(tracks):
        with torch.no_grad():
            mel_to_wave(model.generate(windows, t)[:, tracks], cfg.data)

    model.train()
    train_step()
    step_s = median_time(train_step, repeats)
    model.eval()
    generate([mix])
    mix_s = median_time(lambda: generate([mix]), repeats)
    all_s = median_time(lambda: generate(slots), repeats)
    torch.set_num_threads(2)
    mix_2threads_s = median_time(lambda: generate([mix]), repeats)
    torch.set_num_threads(threads)
    audio_s = windows * window_samples(cfg.data) / cfg.data.sample_rate
    return {f"windows_per_s_{kind}": b / step_s, f"rtf_{kind}": audio_s / mix_s,
            f"rtf_all_tracks_{kind}": len(slots) * audio_s / all_s,
            f"rtf_2threads_{kind}": audio_s / mix_2threads_s,
            f"params_{kind}": count_parameters(model)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--windows", type=int, default=4, help="windows per generation call")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 keeps figures stable on a shared box)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    figures: dict[str, float] = {"threads": args.threads}
    for kind in KINDS:
        figures.update(measure(kind, args.repeats, args.windows, args.threads))
    emit(figures, args.json)


if __name__ == "__main__":
    main()
