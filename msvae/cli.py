"""The `msvae` command: one subcommand per stage, each registered by its own module.

Every subcommand takes `--config FILE` and repeated `--set section.key=value`; errors
that users can fix (bad config, bad input, unreachable services) end as one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import sys

from msvae.config import ConfigError, load

# Modules that define `register(subparsers, common)`; each adds its subcommands.
COMMAND_MODULES = [
    "msvae.services.commands",
    "msvae.corpus.commands",
    "msvae.train.commands",
    "msvae.sweep.commands",
    "msvae.compare.commands",
    "msvae.evaluation",
    "msvae.generate_commands",
    "msvae.demo",
    "msvae.data.commands",
]


class UserError(RuntimeError):
    """A failure the user can fix; printed as one line without a traceback."""


_json_out = sys.stdout  # where print_json writes; main() points it at the real stdout


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def print_json(obj) -> None:
    """The one JSON document of a `--json` run. While such a run works, everything else
    printed (Ray and Tune progress, say) goes to stderr, so stdout parses as JSON."""
    obj = json.loads(json.dumps(obj, default=_plain), parse_constant=lambda _: None)
    print(json.dumps(obj, indent=2), file=_json_out, flush=True)


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand shares."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set train.lr=3e-4 (repeatable)")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msvae",
        description="Train multi-source music VAEs at cluster scale with Ray and MLflow.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_parser()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    global _json_out
    _json_out = sys.stdout
    quiet = contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False) \
        else contextlib.nullcontext()
    try:
        cfg = load(args.config, args.overrides)
        with quiet:
            return int(args.func(args, cfg) or 0)
    except (ConfigError, UserError) as exc:
        print(f"msvae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msvae: interrupted", file=sys.stderr)
        return 130
