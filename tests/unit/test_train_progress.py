"""The training progress line follows the steps and figures rank 0 logs to MLflow."""

import mlflow
import pytest
from mlflow import MlflowClient

from msvae.train.progress import TrainingProgress


@pytest.fixture
def sqlite_tracking(tmp_path):
    """MLflow's global tracking URI on a SQLite file for this test, restored after."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield
    mlflow.set_tracking_uri(previous)


def test_progress_moves_to_the_newest_logged_step(sqlite_tracking):
    client = MlflowClient()
    run_id = client.create_run(client.create_experiment("progress")).info.run_id
    with TrainingProgress(run_id, total=60, every_s=3600) as progress:
        progress.update()
        assert progress.bar.n == 0  # nothing logged yet
        for step, loss in ((10, 900.0), (20, 700.0)):
            client.log_metric(run_id, "train/loss", loss, step=step)
        progress.update()
        assert progress.bar.n == 20
        assert progress.bar.postfix == "loss=700"
        client.log_metric(run_id, "valid/temporal_fidelity", 0.4321, step=20)
        client.log_metric(run_id, "train/loss", 650.0, step=30)
        progress.update()
        assert progress.bar.n == 30
        assert progress.bar.postfix == "loss=650, valid TF=0.432"
