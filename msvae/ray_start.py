"""Joining or starting Ray: the one place every command that uses Ray goes through.

`ray.init` installs its own SIGTERM handler (exit at once, so an open MLflow run would
stay RUNNING and the local workers linger). `init_ray` puts msvae's back
(msvae.interrupts): SIGTERM and SIGINT stop the command as Ctrl-C does, open runs close
KILLED (msvae.tracking.runs.lifecycle) and the Ray instance the command started is shut
down. Ray's later SIGINT handlers are kept out too: Tune's (which ends a sweep early and
carries on as if it had finished) by TUNE_DISABLE_SIGINT_HANDLER, Ray Train's by
msvae.train.launch.
"""

from __future__ import annotations

import os

import ray

from msvae.interrupts import interrupt_on_signals


def init_ray() -> None:
    """Join the cluster in RAY_ADDRESS (as under `ray job submit`) or start a local one."""
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"))
    interrupt_on_signals()
