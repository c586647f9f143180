"""`msvae generate`: audio from a registered model, unconditional or conditioned on stems.

Unconditional: `--n` windows sampled from the prior. Conditioned: `--stem vocal=URI`
(repeatable; any format, rate or channels, taken as aligned) fills in the mix and the
missing stems over consecutive windows. Writes one WAV per source and a mel PNG each.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _write(cfg, mel: torch.Tensor, given: torch.Tensor, out: Path, stem: str) -> list[Path]:
    """mel [W, S, M, T] -> `<stem>_<source>.wav` (windows joined) and `<stem>_mel.png`."""
    from msvae.listen import mel_to_wave, write_wav
    from msvae.plots import mel_grid

    joined = torch.cat(list(mel), dim=-1)  # [S, M, W*T]
    waves = mel_to_wave(joined, cfg.data)
    files = [write_wav(out / f"{stem}_{source}.wav", waves[slot], cfg.data.sample_rate)
             for slot, source in enumerate(cfg.data.sources)]
    label = "given" if bool(given.any()) else "generated"
    files.append(mel_grid({label: joined.numpy()}, cfg.data.sources, out / f"{stem}_mel.png"))
    return files


def _generate(args, cfg) -> int:
    from msvae.cli import UserError
    from msvae.data.errors import Quarantine
    from msvae.features import window_frames
    from msvae.generate import complete, stems_to_windows
    from msvae.storage import StorageError
    from msvae.tracking.connect import TrackingError, connect
    from msvae.tracking.load import load_registered, with_model_settings

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        connect(cfg)
        model, trained = load_registered(args.model)
        cfg = with_model_settings(cfg, trained)
        stems = dict(item.split("=", 1) for item in args.stem)
        files = []
        if stems:
            x, mask = stems_to_windows(cfg, stems, args.max_seconds)
            mel = complete(model, x, mask, cfg, seed=args.seed)
            files += _write(cfg, mel, mask, out, "conditioned")
        else:
            sources, frames = len(cfg.data.sources), window_frames(cfg.data)
            x = torch.zeros(args.n, sources, cfg.data.n_mels, frames)
            mel = complete(model, x, torch.zeros(args.n, sources, dtype=torch.bool), cfg,
                           seed=args.seed)
            for i in range(args.n):
                files += _write(cfg, mel[i:i + 1], torch.zeros(1), out, f"sample{i}")
    except (ValueError, Quarantine, StorageError, TrackingError) as exc:
        raise UserError(str(exc)) from None
    for path in files:
        print(path)
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("generate", parents=[common], help="generate audio (WAV + mel PNG) from "
                       "a registered model, optionally conditioned on stems", description=__doc__)
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/msvae@champion")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=3, help="unconditional samples (default 3)")
    p.add_argument("--stem", action="append", default=[], metavar="SOURCE=URI",
                   help="condition on this stem, e.g. vocal=s3://bucket/v.flac (repeatable)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="conditioned length cap, s")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_generate)
