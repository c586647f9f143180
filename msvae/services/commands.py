"""`msvae services up|down|status`: the embedded S3 and MLflow servers on loopback."""

from __future__ import annotations

from msvae.console import add_json_flag, print_json


def _up(args, cfg) -> int:
    from msvae.services import embedded

    embedded.up(cfg)
    return 0


def _down(args, cfg) -> int:
    from msvae.services import embedded

    embedded.down(cfg)
    return 0


def _status(args, cfg) -> int:
    from msvae.services import embedded

    report = embedded.status(cfg)
    if args.json:
        print_json(report)
    else:
        for name, info in report.items():
            state = ("up" if info["answering"] else "not answering") if info["running"] else "down"
            where = f"{info['endpoint']} (pid {info['pid']})" if "endpoint" in info else ""
            print(f"{name:7s} {state:14s} {where}")
    return 0 if all(i["answering"] for i in report.values()) else 1


def register(sub, common) -> None:
    p = sub.add_parser("services", help="start, stop or inspect the embedded S3 and MLflow servers",
                       description=__doc__)
    ssub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ssub.add_parser("up", parents=[common], help="start both servers on free loopback ports "
                    "(idempotent)").set_defaults(func=_up)
    ssub.add_parser("down", parents=[common], help="stop exactly the servers `up` started"
                    ).set_defaults(func=_down)
    st = ssub.add_parser("status", parents=[common], help="report endpoints, pids and health; "
                         "exit 1 unless both answer")
    add_json_flag(st, "the report")
    st.set_defaults(func=_status)
