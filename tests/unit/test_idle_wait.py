"""Ray Data's scheduling loop sleeps after a step that changed nothing, and only then."""

from types import SimpleNamespace

from msvae.data import idle_wait


def _executor(*metrics: tuple) -> SimpleNamespace:
    names = ("num_tasks_submitted", "num_task_outputs_generated", "num_outputs_taken",
             "num_external_outqueue_blocks")
    ops = [SimpleNamespace(metrics=SimpleNamespace(**dict(zip(names, m)))) for m in metrics]
    return SimpleNamespace(_topology=ops)  # iterated as Ray iterates its {operator: state}


def test_sleeps_only_after_a_step_that_left_every_operator_as_it_was(monkeypatch):
    slept = []
    monkeypatch.setattr(idle_wait.time, "sleep", slept.append)
    callback = idle_wait.WaitWhenIdle()
    steps = [((1, 0, 0, 0), (0, 0, 0, 0)),  # first step: nothing to compare with
             ((1, 0, 0, 0), (0, 0, 0, 0)),  # unchanged: waits
             ((1, 1, 0, 0), (0, 0, 0, 0)),  # a read task made an output
             ((1, 1, 0, 0), (0, 0, 0, 1)),  # a block reached the consumer's queue
             ((1, 1, 0, 0), (0, 0, 0, 0)),  # the consumer took it
             ((1, 1, 0, 0), (0, 0, 0, 0))]  # unchanged: waits
    for step in steps:
        callback.on_execution_step(_executor(*step))
    assert slept == [idle_wait.IDLE_S, idle_wait.IDLE_S]


def test_install_registers_the_callback_once(monkeypatch):
    import ray

    context = ray.data.DataContext.get_current()
    monkeypatch.setattr(context, "custom_execution_callback_classes", [])
    idle_wait.install()
    idle_wait.install()
    assert context.custom_execution_callback_classes == [idle_wait.WaitWhenIdle]
