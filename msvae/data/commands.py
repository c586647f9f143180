"""`msvae prepare`: clean, align and window a manifest into Parquet shards in storage."""

from __future__ import annotations

from msvae.console import add_json_flag, print_json


def _prepare(args, cfg) -> int:
    from msvae.data.prepare import prepare
    from msvae.data.report import breakdown, summary
    from msvae.ray_start import init_ray

    init_ray()
    report = prepare(cfg, args.manifest, args.out)
    if args.json:
        print_json(report)
    else:
        for q in report["quarantined"]:
            print(f"quarantined {q['uri']} ({q['piece']}, {q['source']}): {q['reason']}")
        print("\n".join([*breakdown(report), summary(report)]))
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("prepare", parents=[common], description=__doc__,
                       help="decode, align and window a manifest into Parquet shards")
    p.add_argument("--manifest", required=True, metavar="URI",
                   help="manifest file (csv/jsonl/parquet) or a folder holding manifest.csv")
    p.add_argument("--out", required=True, metavar="URI",
                   help="folder for split=<split>/ shards and report.json (s3:// or a path)")
    add_json_flag(p, "the report")
    p.set_defaults(func=_prepare)
