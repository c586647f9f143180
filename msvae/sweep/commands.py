"""`msvae sweep`: a Ray Tune search (ASHA) whose trials are full training runs."""

from __future__ import annotations

import time

from msvae.console import add_json_flag, print_json


def _summary(outcome) -> dict:
    def public(trial: dict) -> dict:
        return {k: v for k, v in trial.items() if k != "checkpoint_path"}

    best = outcome.best and {**public(outcome.best), "model": outcome.registered.uri,
                             "version": outcome.registered.version}
    return {"name": outcome.name, "trials": [public(t) for t in outcome.trials], "best": best,
            "iterations_run": outcome.iterations_run,
            "iterations_full": outcome.iterations_full,
            "compute_saved_pct": round(100 * outcome.compute_saved, 1),
            "seconds": round(outcome.seconds, 1)}


def _sweep(args, cfg) -> int:
    from msvae.ray_start import init_ray
    from msvae.sweep import report
    from msvae.sweep.run import run_sweep
    from msvae.sweep.space import SweepSpec
    from msvae.tracking.connect import connect
    from msvae.train.launch import resolved

    connect(cfg)
    init_ray()
    spec = SweepSpec(args.space, resolved(cfg))
    cfg = spec.base  # the space file's fixed values hold for the whole sweep (ASHA's rungs)
    if args.samples:
        spec.num_samples = args.samples
    name = args.resume or args.name or f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    outcome = run_sweep(cfg, spec, name, resume=bool(args.resume))
    if args.json:
        print_json(_summary(outcome))
        return 0
    print(report.to_text(outcome.trials, cfg.tune.metric))
    print(f"ASHA ran {outcome.iterations_run} of {outcome.iterations_full} validation rounds "
          f"({100 * outcome.compute_saved:.0f}% compute saved) in {outcome.seconds:.0f} s")
    best, registered = outcome.best, outcome.registered
    print(f"best trial {best['trial_id']}: {cfg.tune.metric} = {best['metric']:.3f}, "
          f"{best['config']}")
    print(registered.describe())
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("sweep", parents=[common], help="search beta schedules, attention depth "
                       "and more with Ray Tune + ASHA", description=__doc__)
    p.add_argument("--space", required=True, metavar="YAML", help="search space, e.g. "
                   "tune/beta_attention.yaml")
    p.add_argument("--name", help="sweep name (default: sweep-<time>)")
    p.add_argument("--samples", type=int, metavar="N", help="trials to sample (default: the "
                   "space file's num_samples, else tune.num_samples)")
    p.add_argument("--resume", metavar="NAME", help="resume the interrupted sweep NAME")
    add_json_flag(p, "trials and best")
    p.set_defaults(func=_sweep)
