"""`msvae generate`: audio from a registered model, unconditional or conditioned on stems.

Unconditional: `--n` samples from the prior, one window long or `--seconds` long (one
continuous sample: a latent prior, prior.kind transformer, hops its window by half across
window boundaries and the decoder runs over the whole length). Conditioned: `--stem vocal=URI`
(repeatable; any format, rate or channels, taken as aligned) fills in the mix and the
missing stems over the stems' length, as one continuous row. Writes one WAV per source
and a mel PNG.
"""

from __future__ import annotations

from pathlib import Path


def _stems(items: list[str]) -> dict[str, str]:
    """['vocal=s3://b/v.flac'] -> {'vocal': 's3://b/v.flac'}; one line for a malformed item."""
    from msvae.errors import MsvaeError

    bad = [item for item in items if "=" not in item]
    if bad:
        raise MsvaeError(f"--stem {bad[0]}: expected SOURCE=URI")
    return dict(item.split("=", 1) for item in items)


def _generate(args, cfg) -> int:
    import torch

    from msvae.data.features import frames_for, window_frames
    from msvae.generate.complete import complete, stems_to_row
    from msvae.generate.examples import write_examples
    from msvae.tracking.connect import connect
    from msvae.tracking.load import load_registered, with_model_settings

    connect(cfg)
    model, trained = load_registered(args.model)
    cfg = with_model_settings(cfg, trained)
    stems = _stems(args.stem)
    if stems:
        x, mask = stems_to_row(cfg, stems, args.max_seconds)
        panels = {"conditioned": complete(model, x, mask, cfg, seed=args.seed)[0]}
        name, title = "conditioned_mel", f"given {', '.join(stems)}"
    else:
        sources = len(cfg.data.sources)
        frames = frames_for(cfg.data, args.seconds) if args.seconds else window_frames(cfg.data)
        x = torch.zeros(args.n, sources, cfg.data.n_mels, frames)
        mel = complete(model, x, torch.zeros(args.n, sources, dtype=torch.bool), cfg,
                       seed=args.seed)
        panels = {f"sample{i}": m for i, m in enumerate(mel)}
        name, title = "samples_mel", "samples from the prior"
    for path in write_examples(cfg, panels, Path(args.out), name, title):
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
    p.add_argument("--seconds", type=float, default=0.0,
                   help="unconditional sample length, s (default: one window)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="conditioned length cap, s")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_generate)
