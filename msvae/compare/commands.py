"""`msvae compare`: vae, single and msvae (and variants such as single+remixes, see
msvae.compare.variants) trained at one budget over several seeds, each at the learning rate
chosen on validation, scored on the held-out test pieces with bootstrap intervals over
them, with deltas in the paper's units and each model's size and training speed."""

from __future__ import annotations

import time

from msvae.console import add_json_flag, print_json


def _compare(args, cfg) -> int:
    from msvae.compare import table
    from msvae.compare.run import run_compare

    name = args.name or f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    result = run_compare(cfg, name)
    if args.json:
        print_json(result)
    else:
        print()
        print(table.markdown(result["models"], result["deltas"], result["ours"],
                             result["floors"]))
        print()
        print(table.size_markdown(result["sizes"]))
        print("\nlearning rates chosen on validation: " + ", ".join(
            f"{kind} {record['chosen']:g}" for kind, record in result["lr"]["models"].items()))
        print(f"\nreport: {result['report_uri']} ({result['seconds']:.0f} s)")
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("compare", parents=[common], help="the paper's comparison: vae, single "
                       "and msvae at one budget over seeds", description=__doc__)
    p.add_argument("--name", help="name of the comparison (default: compare-<time>)")
    add_json_flag(p, "the table")
    p.set_defaults(func=_compare)
