"""What a command prints: for people, its own lines with the libraries quiet; for
machines, the one JSON document of a `--json` run.

While such a run works, everything else printed (Ray and Tune progress, say) goes to
stderr (`json_mode`), so stdout parses as JSON. Unless `-v`, `quiet_libraries` turns off
Ray Data's progress bars and Ray's INFO logs (in this process and the local workers it
starts) and MLflow's advice warnings, so a command's own stage lines and summary read
cleanly; Ray Data still writes its full log under the Ray session's logs folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import warnings

QUIET_ENV = {  # read by Ray when a process starts; local Ray workers inherit them
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
    "RAY_DATA_LOG_LEVEL": "WARNING",
    "RAY_LOGGER_LEVEL": "warning",
}

_json_out = sys.stdout  # where print_json writes; json_mode points it at the real stdout


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def quiet_libraries() -> None:
    """Ray's bars and INFO logs and MLflow's advice off, before Ray is imported or started
    (explicit settings of those variables win)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("ray", "ray.data", "ray.train", "ray.tune", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"Add type hints to the `predict` method")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray\.")


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
