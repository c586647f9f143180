"""One progress line for a training run while the driver waits on `trainer.fit()`.

Read from the run's MLflow metrics (rank 0 logs train/loss every train.log_every steps
and the validation figures at eval steps), so it works alike for a local run and under
`ray job submit`, and needs nothing from the workers' own output (quiet by default).
"""

from __future__ import annotations

import threading

from mlflow import MlflowClient

from msvae.console import progress_bar

LOSS = "train/loss"
FIDELITY = "valid/temporal_fidelity"


class TrainingProgress:
    """A context manager: a bar of steps done out of `total`, with the latest training
    loss and validation temporal fidelity, polled every `every_s` seconds."""

    def __init__(self, run_id: str, total: int, every_s: float = 2.0):
        self.run_id, self.every_s = run_id, every_s
        self.client = MlflowClient()
        self.bar = progress_bar(total=total, desc="training", unit="step")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="msvae-progress")

    def __enter__(self) -> TrainingProgress:
        self._thread.start()
        return self

    def __exit__(self, exc_type, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if exc_type is None:
            self.update()
        self.bar.close()

    def _poll(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.update()
            except Exception:  # noqa: BLE001 - a missed poll only delays the line
                continue

    def update(self) -> None:
        """Move the bar to the newest logged step."""
        history = self.client.get_metric_history(self.run_id, LOSS)
        if not history:
            return
        latest = max(history, key=lambda m: m.step)
        shown = {"loss": f"{latest.value:.4g}"}
        fidelity = self.client.get_metric_history(self.run_id, FIDELITY)
        if fidelity:
            shown["valid TF"] = f"{max(fidelity, key=lambda m: m.step).value:.3f}"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(max(0, latest.step - self.bar.n))
