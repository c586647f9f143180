"""The `msvae` command: one subcommand per stage, each registered by its package's
`commands` module.

Every subcommand takes `--config FILE` and repeated `--set section.key=value`. Every
failure a user can act on is an `MsvaeError`, caught here once: one line on stderr,
exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from msvae.config import load
from msvae.console import json_mode, library_output
from msvae.errors import MsvaeError, one_line
from msvae.interrupts import interrupt_on_signals

# In data-flow order; each module defines `register(subparsers, common)`.
COMMAND_MODULES = [
    "msvae.services.commands",
    "msvae.corpus.commands",
    "msvae.data.commands",
    "msvae.train.commands",
    "msvae.sweep.commands",
    "msvae.compare.commands",
    "msvae.evaluate.commands",
    "msvae.generate.commands",
    "msvae.serve.commands",
    "msvae.demo.commands",
    "msvae.cluster.commands",
]


def common_parser() -> argparse.ArgumentParser:
    """Options every subcommand shares."""
    p = argparse.ArgumentParser(add_help=False, parents=[verbosity_parser()])
    p.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set train.lr=3e-4 (repeatable)")
    return p


def verbosity_parser() -> argparse.ArgumentParser:
    """`-v`: show Ray's progress bars and INFO logs (quiet by default)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show Ray's progress bars and INFO logs and MLflow's INFO logs")
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
    verbose, _ = verbosity_parser().parse_known_args(argv)
    library_output(verbose.verbose)  # before any command module imports Ray
    args = build_parser().parse_args(argv)
    interrupt_on_signals()  # kill -INT / -TERM stop it as Ctrl-C does, even from a script's `&`
    try:
        cfg = load(args.config, args.overrides)
        with json_mode(getattr(args, "json", False)):
            return int(args.func(args, cfg) or 0)
    except MsvaeError as exc:
        print(f"msvae: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msvae: interrupted", file=sys.stderr)
        return 130
