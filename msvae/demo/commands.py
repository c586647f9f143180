"""`msvae demo`: the README's main command, end to end on the embedded services."""

from __future__ import annotations

import time
from pathlib import Path

from msvae.console import add_json_flag, print_json


def _demo(args, cfg) -> int:
    from msvae.demo.run import run_demo

    started = time.perf_counter()
    summary = run_demo(cfg, Path(args.out))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print_json(summary)
        return 0
    t = summary["test"]
    print(f"\ndemo finished in {summary['seconds']:.0f} s")
    print(f"  model        {summary['model']} (version {summary['version']})")
    print(f"  training     {summary['train_seconds']:.0f} s, "
          f"{summary['train_windows_per_s']:.0f} windows/s over all workers")
    print(f"  test windows {t['windows']}: reconstruction error {t['recon_error_db']:.2f} dB, "
          f"LSD {t['lsd_db']:.2f} dB, reconstruction similarity "
          f"{t['recon_similarity_pct']:.1f} %, active units {t['active_units']}")
    print(f"  prior samples: coherence {t['sample/coherence']:.2f} (real windows "
          f"{t['real/coherence']:.2f}), motion {t['sample/motion_db']:.2f} dB (real "
          f"{t['real/motion_db']:.2f}), Fréchet {t['frechet_distance']:.1f} (real "
          f"{t['real/frechet_distance']:.1f}), {t['similarity_pct']:.1f} % close to the nearest "
          f"training window (real {t['real/similarity_pct']:.1f} %)")
    print(f"  from the stems: coherence {t['fill/coherence']:.2f}, motion "
          f"{t['fill/motion_db']:.2f} dB, level {t['fill/level_db']:+.1f} dB against the real "
          f"mix, similarity {t['fill/similarity_pct']:.1f} % to it")
    print(f"  from the ambience alone: coherence {t['alone/coherence']:.2f}, motion "
          f"{t['alone/motion_db']:.2f} dB, level {t['alone/level_db']:+.1f} dB against the "
          f"real mix")
    print(f"  temporal fidelity {t['temporal_fidelity']:.2f} reconstructing the mix, "
          f"{t['fill/temporal_fidelity']:.2f} generating it from the stems (time-mean floor 0)")
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
    add_json_flag(p, "the summary")

