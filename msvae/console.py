"""What a command prints: for people, its own lines with the libraries quiet; for
machines, the one JSON document of a `--json` run.

While such a run works, everything else printed (Ray and Tune progress, say) goes to
stderr (`json_mode`), so stdout parses as JSON. Unless `-v`, `library_output` turns off
Ray Data's progress bars and Ray's INFO logs (in this process and the local workers it
starts) and MLflow's INFO logs and printed run links ("View run ..." at every run's end),
and `mlflow_quiet` its registry prints, so a command's own stage lines and summary read
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

from tqdm import tqdm

LIBRARY_ENV = {  # quiet, verbose; read by Ray when a process starts, inherited by the
    # local Ray workers (and by any msvae command started from this one)
    "RAY_DATA_DISABLE_PROGRESS_BARS": ("1", "0"),
    "RAY_DATA_LOG_LEVEL": ("ERROR", "DEBUG"),
    "RAY_LOGGER_LEVEL": ("error", "info"),
    "RAY_LOG_TO_DRIVER": ("0", "1"),  # workers' prints (their logs stay in the session)
    "MLFLOW_LOGGING_LEVEL": ("ERROR", "INFO"),
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": ("false", "true"),
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": ("true", "false"),  # msvae prints the run's URL
}

_json_out = sys.stdout  # where print_json writes; json_mode points it at the real stdout
_quiet = True  # libraries' own prints off: library_output(verbose) sets it


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def library_output(verbose: bool) -> None:
    """Ray's bars, INFO logs and warnings and MLflow's INFO logs off (on with `verbose`);
    call before Ray is imported or started. msvae's own checks (data starvation, say)
    still warn."""
    global _quiet
    _quiet = not verbose
    for key, (quiet, loud) in LIBRARY_ENV.items():
        os.environ[key] = loud if verbose else quiet
    if verbose:
        return
    for name in ("ray", "ray.data", "ray.train", "ray.tune", "mlflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray\.")


@contextlib.contextmanager
def mlflow_quiet():
    """MLflow's console prints off inside unless `-v`: its `eprint` lines ("Successfully
    registered model ...", "Created version ...") ignore log levels."""
    if not _quiet:
        yield
        return
    from mlflow.utils import logging_utils

    stream = logging_utils.MLFLOW_LOGGING_STREAM
    was, stream.enabled = stream.enabled, False
    try:
        yield
    finally:
        stream.enabled = was


def progress_bar(iterable=None, **kwargs) -> tqdm:
    """A tqdm bar on stderr: redrawn in place on a terminal, at most one line a minute in a
    log, so a logged run's summary is not buried in redraws."""
    interactive = sys.stderr.isatty()
    return tqdm(iterable, mininterval=0.5 if interactive else 60.0,
                dynamic_ncols=interactive, **kwargs)


def add_json_flag(parser, what: str) -> None:
    """The `--json` flag every reporting command has: print `what` as one JSON document."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def to_json(obj) -> str:
    """`obj` as indented, standard JSON: NaN and infinities become null, other objects str."""
    obj = json.loads(json.dumps(obj, default=_plain), parse_constant=lambda _: None)
    return json.dumps(obj, indent=2)


def print_json(obj) -> None:
    """Print `obj` as JSON (`to_json`) on the real stdout."""
    print(to_json(obj), file=_json_out, flush=True)


@contextlib.contextmanager
def json_mode(enabled: bool):
    """With `enabled`, send ordinary prints to stderr while print_json keeps stdout."""
    global _json_out
    _json_out = sys.stdout
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        try:
            yield
        finally:  # still redirected: Ray's forwarded log lines (a raylet's warnings, seen
            _disconnect_ray()  # after a sweep's JSON) must not follow the JSON on stdout


def _disconnect_ray() -> None:
    """Shut down (or leave) the Ray instance this command used, if any."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
