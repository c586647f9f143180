"""`msvae services up|down|status`: the embedded S3 and MLflow servers on loopback."""

from __future__ import annotations

from msvae.console import add_json_flag, print_json
from msvae.services.state import EMBEDDED_KEYS


def access_lines(cfg, endpoint: str) -> list[str]:
    """How to reach the embedded S3 server from your own shell: its dummy keys (never keys
    from the environment) and an AWS CLI line to paste."""
    keys = " ".join(f"{k}={v}" for k, v in EMBEDDED_KEYS.items())
    root = cfg.storage.root if cfg.storage.root.startswith("s3://") else "s3://"
    return ["the embedded S3 server accepts any key pair; msvae gives it these dummy keys "
            "(for this loopback server only):",
            f"  export {keys} AWS_DEFAULT_REGION={cfg.storage.region}",
            f"  aws --endpoint-url {endpoint} s3 ls {root.rstrip('/')}/"]


def _up(args, cfg) -> int:
    from msvae.services import embedded

    state = embedded.up(cfg)
    print("\n".join(access_lines(cfg, state["s3"]["endpoint"])))
    return 0


def _down(args, cfg) -> int:
    from msvae.services import embedded

    embedded.down(cfg)
    return 0


def _status(args, cfg) -> int:
    from msvae.services import embedded

    report = embedded.status(cfg)
    if report["s3"]["answering"]:
        report["s3"]["keys"] = EMBEDDED_KEYS
    if args.json:
        print_json(report)
    else:
        for name, info in report.items():
            state = ("up" if info["answering"] else "not answering") if info["running"] else "down"
            where = f"{info['endpoint']} (pid {info['pid']})" if "endpoint" in info else ""
            print(f"{name:7s} {state:14s} {where}")
        if report["s3"]["answering"]:
            print("\n".join(access_lines(cfg, report["s3"]["endpoint"])))
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
