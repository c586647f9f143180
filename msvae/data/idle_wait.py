"""Ray Data's scheduling loop waits, instead of spinning, while it can do nothing.

Ray 2.60's StreamingExecutor skips its `ray.wait` pause while a read task holds an output
that backpressure keeps it from taking, so it loops without rest whenever training reads
slower than Ray Data could: the whole time a split larger than the object store streams.
That loop took most of a core in Ray Train's SplitCoordinator beside the training workers
(benchmarks/scale.py, docs/scale.md). `install()` adds a callback to Ray Data's context:
after a loop step that changed nothing (no task started, no output made, taken or
consumed), it sleeps IDLE_S. A consumer that takes a block waits at most that long for
the next read to start.
"""

from __future__ import annotations

import time

import ray
from ray.data._internal.execution.execution_callback import ExecutionCallback

IDLE_S = 0.01  # 10 ms: a training step on this model takes 50-200 ms; 50 ms slowed the
# 32-piece run by a third (each epoch a fresh execution that the waits delay)


def progress(executor) -> tuple:
    """What a scheduling step can change, per operator: tasks started, outputs made and
    taken, blocks waiting for the consumer."""
    return tuple((m.num_tasks_submitted, m.num_task_outputs_generated, m.num_outputs_taken,
                  m.num_external_outqueue_blocks)
                 for m in (op.metrics for op in executor._topology))


class WaitWhenIdle(ExecutionCallback):
    """Sleeps IDLE_S after each scheduling step that left `progress` unchanged."""

    def __init__(self) -> None:
        self.last = None

    def on_execution_step(self, executor) -> None:
        now = progress(executor)
        if now == self.last:
            time.sleep(IDLE_S)
        self.last = now


def install() -> None:
    """Register WaitWhenIdle in the current Ray Data context (datasets made afterwards
    carry it, into Ray Train's SplitCoordinator too); once per process."""
    classes = ray.data.DataContext.get_current().custom_execution_callback_classes
    if WaitWhenIdle not in classes:
        classes.append(WaitWhenIdle)
