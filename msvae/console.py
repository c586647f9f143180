"""What a command prints for machines: the one JSON document of a `--json` run.

While such a run works, everything else printed (Ray and Tune progress, say) goes to
stderr (`json_mode`), so stdout parses as JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys

_json_out = sys.stdout  # where print_json writes; json_mode points it at the real stdout


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def add_json_flag(parser, what: str) -> None:
    """The `--json` flag every reporting command has: print `what` as one JSON document."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def print_json(obj) -> None:
    """Print `obj` as indented JSON on the real stdout; NaN and infinities become null."""
    obj = json.loads(json.dumps(obj, default=_plain), parse_constant=lambda _: None)
    print(json.dumps(obj, indent=2), file=_json_out, flush=True)


@contextlib.contextmanager
def json_mode(enabled: bool):
    """With `enabled`, send ordinary prints to stderr while print_json keeps stdout."""
    global _json_out
    _json_out = sys.stdout
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
