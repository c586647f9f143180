"""MLflow runs over their whole life, the same for train, sweep, compare and demo.

A run is opened RUNNING (top level, or nested under a parent), gets its params in one
batch call, prints its URL (train, sweep, its trials, compare and demo alike), and is
closed FINISHED, FAILED (the one-line reason in the `msvae.error` tag) or KILLED
(Ctrl-C, SIGINT, SIGTERM) by `lifecycle`. Params are the flattened config with any
credentials stripped from URLs: secrets never reach MLflow.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit, urlunsplit

from mlflow import MlflowClient
from mlflow.entities import Param

from msvae.config import Config
from msvae.errors import one_line

ERROR_TAG = "msvae.error"
RUN_NAME_TAG = "msvae.run_name"
PARAMS_PER_CALL = 100  # MLflow's log_batch limit on params


def experiment_id(client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created if it does not exist yet (by this process or,
    when two sweeps start at once, by the other)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def open_run(cfg: Config, name: str, *, params: dict | None = None, tags: dict | None = None,
             parent_run_id: str | None = None) -> str:
    """A new RUNNING run in `cfg.tracking.experiment` (nested under `parent_run_id` if
    given) with `params` logged in one batch; returns its id."""
    client = MlflowClient()
    tags = {RUN_NAME_TAG: name, **(tags or {})}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run_id = client.create_run(experiment_id(client, cfg.tracking.experiment), run_name=name,
                               tags=tags).info.run_id
    log_params(client, run_id, params or {})
    announce(cfg, name, run_id)
    return run_id


def announce(cfg: Config, name: str, run_id: str) -> None:
    """The one line with the run's URL, as it opens or resumes, to watch it live (MLflow's
    own "View run" lines are off unless -v, msvae.console)."""
    print(f"MLflow run {name}: {run_url(cfg, run_id)}", flush=True)


def log_params(client: MlflowClient, run_id: str, params: dict) -> None:
    """Every param in as few calls as MLflow allows (one for up to 100 params)."""
    items = [Param(key, str(value)) for key, value in params.items()]
    for start in range(0, len(items), PARAMS_PER_CALL):
        client.log_batch(run_id, params=items[start:start + PARAMS_PER_CALL])


@contextlib.contextmanager
def lifecycle(run_id: str):
    """RUNNING inside (a resumed run goes back to RUNNING); FINISHED after, FAILED with the
    reason as a tag on an exception, KILLED on Ctrl-C. The exception propagates."""
    client = MlflowClient()
    client.update_run(run_id, status="RUNNING")
    try:
        yield
    except KeyboardInterrupt:
        client.set_terminated(run_id, status="KILLED")
        raise
    except Exception as exc:
        client.set_tag(run_id, ERROR_TAG, one_line(exc)[:500])
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")


def run_url(cfg: Config, run_id: str) -> str:
    """The run's page in the MLflow UI."""
    from msvae.tracking.connect import tracking_uri

    run = MlflowClient().get_run(run_id)
    return (f"{tracking_uri(cfg).rstrip('/')}/#/experiments/{run.info.experiment_id}"
            f"/runs/{run_id}")


def public_params(cfg: Config) -> dict:
    """The flattened config for MLflow params, with endpoints stripped of any userinfo."""
    params = {}
    for key, value in cfg.flat().items():
        if isinstance(value, str) and "@" in value and "://" in value:
            parts = urlsplit(value)
            value = urlunsplit(parts._replace(netloc=parts.hostname + (
                f":{parts.port}" if parts.port else "")))
        params[key] = value
    return params


def config_yaml(cfg: Config) -> str:
    """The config as YAML for the run's artifacts, endpoints stripped as in public_params."""
    import yaml

    raw = cfg.to_dict()
    raw["storage"]["endpoint_url"] = public_params(cfg)["storage.endpoint_url"]
    return yaml.safe_dump(raw, sort_keys=False)
