"""Joining or starting Ray: the one place every command that uses Ray goes through.

`ray.init` installs its own SIGTERM handler (exit at once, so an open MLflow run would
stay RUNNING and the local workers linger). `init_ray` puts back a SIGTERM that stops
the command as Ctrl-C does: open runs close KILLED (msvae.tracking.runs.lifecycle) and
the Ray instance the command started is shut down. Before Ray starts there is nothing
to clean up, and SIGTERM keeps its default.
"""

from __future__ import annotations

import os
import signal
import threading

import ray


def init_ray() -> None:
    """Join the cluster in RAY_ADDRESS (as under `ray job submit`) or start a local one."""
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
