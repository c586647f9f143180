"""Metrics from rank 0 into one MLflow run, batched so a step costs no HTTP round trip."""

from __future__ import annotations

import time

from mlflow import MlflowClient
from mlflow.entities import Metric


class RunLogger:
    """Buffers metrics for an existing MLflow run and sends them in batches."""

    def __init__(self, tracking_uri: str, run_id: str, flush_every_s: float = 5.0):
        self.client = MlflowClient(tracking_uri)
        self.run_id = run_id
        self.flush_every_s = flush_every_s
        self._buffer: list[Metric] = []
        self._last = time.monotonic()

    def metrics(self, values: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        self._buffer += [Metric(key, float(v), now, step)
                         for key, v in values.items()]
        if time.monotonic() - self._last > self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        for start in range(0, len(self._buffer), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=self._buffer[start:start + 1000])
        self._buffer = []
        self._last = time.monotonic()

    def tag(self, key: str, value: str) -> None:
        """Set a tag now (e.g. why training stopped, or where it resumed)."""
        self.flush()
        self.client.set_tag(self.run_id, key, value)
