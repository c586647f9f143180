"""Joining or starting Ray: the one place every command that uses Ray goes through.

`ray.init` installs its own SIGTERM handler (exit at once, so an open MLflow run would
stay RUNNING and the local workers linger). `init_ray` puts msvae's back
(msvae.interrupts): SIGTERM and SIGINT stop the command as Ctrl-C does, open runs close
KILLED (msvae.tracking.runs.lifecycle) and the Ray instance the command started is shut
down. Ray's later SIGINT handlers are kept out too: Tune's (which ends a sweep early and
carries on as if it had finished) by TUNE_DISABLE_SIGINT_HANDLER, Ray Train's by
msvae.train.launch.

A Ray instance started here keeps more idle worker processes than Ray's default
(`keep_workers`).
"""

from __future__ import annotations

import os

import ray

from msvae.interrupts import interrupt_on_signals

# A raylet stops idle worker processes, after 1 s, once it runs more than its soft limit:
# by default the node's CPU count, actors included. Ray Data's tasks take fractions of a CPU
# (data.read_cpus 0.25) beside the training workers, so on a small node every read task
# started a fresh process (~2 s of imports here): 73 of them in a 100-step two-node run of
# benchmarks/scale.py, 9.8 windows/s, against 18 and 94.8 windows/s with 6 kept (docs/scale.md).
WORKERS_KEPT = 8


def keep_workers() -> None:
    """Raise the soft limit (RAY_num_workers_soft_limit, unless set) of the Ray nodes this
    process starts to at least WORKERS_KEPT; a cluster started elsewhere keeps its own."""
    os.environ.setdefault("RAY_num_workers_soft_limit",
                          str(max(os.cpu_count() or 1, WORKERS_KEPT)))


def init_ray() -> None:
    """Join the cluster in RAY_ADDRESS (as under `ray job submit`) or start a local one."""
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    keep_workers()
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"))
    interrupt_on_signals()
