"""Distributed training with real processes: Ray Train on local Ray, the S3 server, MLflow."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import psutil
import pytest
import ray
from mlflow import MlflowClient
from ray.train.v2._internal.constants import CHECKPOINT_MANAGER_SNAPSHOT_FILENAME

from msvae import storage
from msvae.cli import main
from msvae.config import dataset_model_name, load
from msvae.ray_start import init_ray
from msvae.tracking.connect import connect
from msvae.tracking.registry import SCORE_METRIC
from msvae.train.checkpoint import complete_in
from msvae.train.launch import train
from msvae.train.loop import RESUMED_TAG

pytestmark = [pytest.mark.slow, pytest.mark.serial]


@pytest.fixture
def local_ray():
    init_ray()
    yield
    ray.shutdown()


def _cfg(services, dataset, *overrides):
    return load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}",
                                       f"train.dataset={dataset}", *overrides])


def test_two_workers_train_checkpoint_register_and_generate(smoke_model):
    result, registered, batch = smoke_model
    cfg = result.cfg
    # the registered checkpoint is the run's best by validation temporal fidelity
    assert result.metrics["step"] % cfg.train.checkpoint_every == 0
    assert registered.score == result.metrics[SCORE_METRIC]
    history = MlflowClient(cfg.tracking.uri).get_metric_history(result.mlflow_run_id,
                                                                 SCORE_METRIC)
    assert max(m.value for m in history) == pytest.approx(registered.score)
    assert max(m.step for m in history) == cfg.train.steps  # the run went to the end
    assert np.isfinite(result.metrics["valid/recon_error_db"])
    assert registered.champion and registered.version == "1"
    assert "the first version to reach tracking.champion_min_score -1" in registered.why
    assert storage_has_checkpoints(cfg, result.run_name)

    model = mlflow.pyfunc.load_model("models:/smoke@champion")
    out = model.predict({"x": batch["x"].astype(np.float32), "mask": batch["mask"]})
    audio = out["audio"]
    assert out["sample_rate"] == cfg.data.sample_rate
    assert audio.shape[:2] == (2, len(cfg.data.sources))
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4
    generated = model.predict({"x": batch["x"].astype(np.float32),
                               "mask": np.zeros_like(batch["mask"])})["audio"]
    assert generated.shape == audio.shape
    assert model.unwrap_python_model().cfg.model.kind == cfg.model.kind

    client = MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id, "plots")}
    assert {"plots/mel_examples.png", "plots/curves.png"} <= artifacts
    audio = {a.path for a in client.list_artifacts(result.mlflow_run_id, "audio")}
    assert audio == {f"audio/{p}_mix.wav" for p in
                     ("reconstruction", "sample_0", "sample_1", "sample_2")}
    assert client.get_run(result.mlflow_run_id).info.status == "FINISHED"
    params = client.get_run(result.mlflow_run_id).data.params
    assert params["train.workers"] == "2"
    assert not any("msvae-local" in v for v in params.values())  # no key, even a dummy one


def test_the_registered_model_samples_from_its_fitted_prior_at_any_length(smoke_model):
    """The smoke model's latent prior was fitted after training (its NLL logged, lower than
    before) and `models:/smoke@champion` samples through it for {"seconds": 5}."""
    result, _, batch = smoke_model
    metrics = MlflowClient().get_run(result.mlflow_run_id).data.metrics
    assert metrics["prior/nll"] < metrics["prior/nll_before"]
    model = mlflow.pyfunc.load_model("models:/smoke@champion")
    x = batch["x"][:1].astype(np.float32)
    out = model.predict({"x": x, "mask": np.zeros_like(batch["mask"][:1])},
                        params={"seconds": 5.0})
    from msvae.data.features import frames_for

    assert out["sample_rate"] == result.cfg.data.sample_rate
    assert out["audio"].shape[-1] == frames_for(result.cfg.data, 5.0) * result.cfg.data.hop_length
    assert np.isfinite(out["audio"]).all() and out["audio"].std() > 0


def test_the_registered_model_reconstructs_the_mix_alone_on_request(smoke_model):
    """params {"mode": "reconstruct"}: given only the mix, the mix that comes back is the
    model's reconstruction, not the caller's own audio (which the default, "fill", keeps).
    Judged on the returned audio's own log-mel: nearer the model's reconstruction than the
    input, and the default's the other way round."""
    import torch

    from msvae.data.features import log_mel
    from msvae.evaluate.indicators import lsd_db

    result, _, batch = smoke_model
    cfg = result.cfg
    mix = cfg.data.sources.index("mix")
    assert batch["mask"][:, mix].all()
    x = batch["x"].astype(np.float32)
    mask = np.zeros_like(batch["mask"])
    mask[:, mix] = True
    model = mlflow.pyfunc.load_model("models:/smoke@champion")
    with torch.no_grad():
        recon = model.unwrap_python_model().model(torch.as_tensor(x), torch.as_tensor(mask)).recon
    given, rebuilt = (model.predict({"x": x, "mask": mask}, params=params)["audio"][:, mix]
                      for params in (None, {"mode": "reconstruct"}))

    def distances(audio):  # LSD (dB) of the audio's mel from the input's and the model's mix
        mel = log_mel(torch.from_numpy(audio), cfg.data)
        return [float(lsd_db(ref[:, mix, :, :mel.shape[-1]], mel).mean())
                for ref in (torch.as_tensor(x), recon)]

    to_input, to_recon = distances(rebuilt)
    assert to_recon < to_input, (to_recon, to_input)
    to_input, to_recon = distances(given)
    assert to_input < to_recon, (to_input, to_recon)


def storage_has_checkpoints(cfg, run_name: str) -> bool:
    """Ray Train wrote checkpoint folders for the run under <root>/runs/<run>/."""
    fs, path = storage.filesystem(cfg, storage.join(cfg.storage.root, "runs", run_name))
    return any("checkpoint" in p for p in fs.ls(path))


def _complete_checkpoints(cfg, run_name: str) -> dict[str, int]:
    """{checkpoint folder: step} of the run's checkpoints complete in storage as listed now
    (their markers are written last)."""
    return complete_in(*storage.pyarrow_filesystem(
        cfg, storage.join(cfg.storage.root, "runs", run_name)))


def _registered_checkpoint(cfg, run_name: str) -> str | None:
    """The latest checkpoint Ray Train's controller has registered for the run (its
    checkpoint-manager snapshot in the run folder), or None: a restart resumes from this
    one, not from a checkpoint uploaded whose report the controller has yet to take."""
    fs, path = storage.filesystem(cfg, storage.join(cfg.storage.root, "runs", run_name))
    fs.invalidate_cache()
    try:
        state = json.loads(fs.cat(f"{path}/{CHECKPOINT_MANAGER_SNAPSHOT_FILENAME}"))
    except FileNotFoundError:
        return None
    return (state.get("latest_checkpoint_result") or {}).get("checkpoint_dir_name")


def _kill_a_worker_once_checkpointed(cfg, run_name: str, killed: list) -> None:
    """Wait until the controller has registered the run's first checkpoint, then SIGKILL a
    Ray Train worker process of this run. (Neither the step in MLflow nor a checkpoint
    complete in storage will do: both come before the controller takes the report, and a
    run killed between the two restarted at step 0.)"""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not killed:
        if _registered_checkpoint(cfg, run_name):
            for proc in psutil.process_iter(["cmdline", "cwd"]):  # Ray Train's working
                # directory is named after the run: another run's workers are left alone
                if ("RayTrainWorker" in " ".join(proc.info["cmdline"] or [])
                        and Path(proc.info["cwd"] or "/").name == run_name):
                    proc.kill()
                    killed.append(proc.pid)
                    return
        time.sleep(0.2)


def test_killed_worker_resumes_from_checkpoint(services, smoke_prepared, local_ray):
    steps = 40  # enough left after the first checkpoint (step 3) for the kill to land
    cfg = _cfg(services, smoke_prepared, "train.workers=2", f"train.steps={steps}",
               "train.checkpoint_every=3", f"train.eval_every={steps}", "train.max_failures=2",
               "tracking.experiment=resume-test")
    client = MlflowClient(connect(cfg))
    killed: list = []
    killer = threading.Thread(target=_kill_a_worker_once_checkpointed,
                              args=(cfg, "resume", killed), daemon=True)
    killer.start()
    result = train(cfg, run_name="resume")
    killer.join(timeout=5)
    assert killed, "no Ray Train worker was found to kill"
    assert result.metrics["step"] % 3 == 0  # a checkpoint's (the best one's) report
    runs = client.search_runs([client.get_experiment_by_name("resume-test").experiment_id],
                              "tags.`msvae.run_name` = 'resume'")
    assert len(runs) == 1
    resumed = int(runs[0].data.tags[RESUMED_TAG])
    assert resumed % 3 == 0 and 3 <= resumed < steps  # the last checkpoint before the kill


def test_missing_dataset_is_one_line_and_a_failed_run(services, local_ray, capsys):
    """A train.dataset with no shards behind it: exit 2, one line naming it, run FAILED."""
    code = main(["train", "--config", "configs/smoke.yaml", "--run-name", "no-data",
                 "--set", f"services.state_dir={services.services.state_dir}",
                 "--set", "train.dataset=s3://msvae/no-such-shards",
                 "--set", "tracking.experiment=bad-dataset"])
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == ("msvae: error: s3://msvae/no-such-shards/split=train: "
                    "no prepared shards for split 'train'")
    client = MlflowClient(connect(services))
    run = client.search_runs([client.get_experiment_by_name("bad-dataset").experiment_id],
                             "tags.`msvae.run_name` = 'no-data'")[0]
    assert run.info.status == "FAILED"
    assert line.endswith(run.data.tags["msvae.error"])


def test_non_finite_loss_stops_every_rank_with_one_line(services, local_ray):
    """Windows holding NaN (as if a bad file slipped through) stop training at step 0."""
    from msvae.data.features import window_frames
    from msvae.train.launch import (
        TrainingError,
        _open_mlflow_run,
        check_stopped,
        make_trainer,
        resolved,
    )

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}",
                                      "train.workers=2", "train.steps=5"])
    connect(cfg)
    init_ray()
    cfg = resolved(cfg)
    shape = (len(cfg.data.sources), cfg.data.n_mels, window_frames(cfg.data))
    x = np.full(shape, np.nan, dtype=np.float32)
    rows = ray.data.from_items([{"x": x, "mask": np.ones(shape[0], bool)}] * 32)
    run_id = _open_mlflow_run(cfg, "nan-run", resume=False, tags={})
    make_trainer(cfg, "nan-run", run_id, {"train": rows, "valid": rows}).fit()
    with pytest.raises(TrainingError) as err:
        check_stopped(cfg, run_id, "nan-run")
    assert str(err.value).startswith("run nan-run stopped: non-finite loss at step 0 ")
    assert "lower train.lr" in str(err.value) and "\n" not in str(err.value)


def _start_training(services, dataset, run_name: str, in_background: bool):
    """`msvae train` for ever, as a process of its own: (the process to wait on, the msvae
    pid). `in_background`: as a script's `msvae train ... &` starts it, the background job
    of a non-interactive bash, which begins with SIGINT ignored."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "msvae", "train", "--config", "configs/smoke.yaml",
           "--run-name", run_name, "--set", f"services.state_dir={services.services.state_dir}",
           "--set", f"train.dataset={dataset}", "--set", "train.steps=100000",
           "--set", "train.log_every=1", "--set", "tracking.experiment=signals"]
    if in_background:
        cmd = ["bash", "-c", '"$@" & echo $!; wait $!', "bash", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"})
    return proc, int(proc.stdout.readline()) if in_background else proc.pid


def _stepping_run(client: MlflowClient, run_name: str, proc) -> object:
    """The MLflow run of `run_name` once its workers have logged a step (None if the
    process ended first or 300 s passed)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        experiment = client.get_experiment_by_name("signals")
        runs = client.search_runs([experiment.experiment_id],
                                  f"tags.`msvae.run_name` = '{run_name}'") if experiment else []
        if runs and "train/loss" in runs[0].data.metrics:
            return runs[0]
        time.sleep(1)
    return None


@pytest.mark.own_ray  # its own local Ray: the test checks that it stops
def test_sigterm_and_a_scripts_sigint_end_the_run_killed_and_stop_its_ray_processes(
        services, smoke_prepared):
    """`kill <msvae pid>` mid-training, and `kill -INT` of a `msvae train &` started by a
    script (SIGINT ignored from the start; Ray Train's own SIGINT handler ended it with
    sys.exit(0) and the run RUNNING): each exits 130 within seconds with one line, its
    MLflow run KILLED (it was RUNNING before), and every process it started (local Ray,
    workers) gone."""
    import signal
    import subprocess
    import sys

    inherited = subprocess.run(  # what Python sees in a script's background job
        ["bash", "-c", f'{sys.executable} -c "import signal; '
         f'print(signal.getsignal(signal.SIGINT).name)" & wait'],
        capture_output=True, text=True, timeout=60).stdout.strip()
    assert inherited == "SIG_IGN"
    client = MlflowClient(connect(services))
    # one after the other: two local Ray instances on one machine break Ray Train V2's
    # own state queries ("Found multiple active Ray instances"; a sweep trial hung so)
    for name, background, sent in (("sigterm", False, signal.SIGTERM),
                                   ("background-sigint", True, signal.SIGINT)):
        proc, pid = _start_training(services, smoke_prepared, name, background)
        try:
            run = _stepping_run(client, name, proc)
            assert run is not None, proc.stderr.read()[-2000:] if proc.poll() else name
            assert run.info.status == "RUNNING"
            children = psutil.Process(pid).children(recursive=True)
            assert children  # the local Ray instance and its workers
            os.kill(pid, sent)
            assert proc.wait(timeout=60) == 130, name
            err = proc.stderr.read()
            assert err.strip().splitlines()[-1] == "msvae: interrupted", err[-2000:]
            assert err.count("msvae: interrupted") == 1 and "Traceback" not in err, err[-2000:]
            assert client.get_run(run.info.run_id).info.status == "KILLED", name
            gone, alive = psutil.wait_procs(children, timeout=30)
            assert not alive, (name, [p.name() for p in alive])
        finally:  # a failed check leaves no training behind
            with contextlib.suppress(psutil.NoSuchProcess):
                for process in [psutil.Process(pid), *psutil.Process(pid).children(True)]:
                    process.kill()
            proc.wait(timeout=60)


def test_sigkill_of_the_s3_server_mid_training_then_resume(services, smoke_prepared, tmp_path):
    """The S3 server is SIGKILLed while a run checkpoints; after `services up` (which says
    what it recovered) the objects written before the last snapshot are there, byte for
    byte, and `msvae train --resume` continues from a checkpoint that survived. The run
    reads the session's prepared smoke shards, copied onto a server of its own."""
    import os
    import signal
    import subprocess
    import sys

    from msvae.services.s3_server import SNAPSHOT_S
    from msvae.services.state import read_state

    state = tmp_path / "services"
    common = ["--set", f"services.state_dir={state}"]
    smoke = ["--config", "configs/smoke.yaml", *common, "--set", f"train.dataset={smoke_prepared}",
             "--set", "tracking.experiment=crash-test"]

    def msvae(*args, timeout=600):
        return subprocess.run([sys.executable, "-m", "msvae", *args], capture_output=True,
                              text=True, timeout=timeout)

    assert msvae("services", "up", *common).returncode == 0
    cfg = load(overrides=[f"services.state_dir={state}"])
    try:
        # every object of the shards as Ray wrote them, directory markers included
        session, mine = storage.boto3_client(services), storage.boto3_client(cfg)
        bucket, prefix = smoke_prepared.removeprefix("s3://").split("/", 1)
        shards = {o["Key"]: session.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                  for page in session.get_paginator("list_objects_v2").paginate(
                      Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])}
        for key, data in shards.items():
            mine.put_object(Bucket=bucket, Key=key, Body=data)
        train_args = ["train", "--run-name", "crash", *smoke,
                      "--set", "train.checkpoint_every=5", "--set", "train.eval_every=5"]
        proc = subprocess.Popen([sys.executable, "-m", "msvae", *train_args,
                                 "--set", "train.steps=100000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline, saved = time.monotonic() + 400, []
        while time.monotonic() < deadline and not saved and proc.poll() is None:
            saved = _complete_checkpoints(cfg, "crash")
            time.sleep(1)
        assert saved, "no checkpoint was written"
        time.sleep(2 * SNAPSHOT_S + 1)  # a snapshot has taken it
        os.kill(read_state(cfg)["s3"]["pid"], signal.SIGKILL)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)

        up = msvae("services", "up", *common)
        assert up.returncode == 0 and "after an unclean stop" in up.stdout, up.stdout
        assert "recovered" in up.stdout
        mine = storage.boto3_client(cfg)  # the restarted server's endpoint
        assert {key: mine.get_object(Bucket=bucket, Key=key)["Body"].read()
                for key in shards} == shards
        kept = list(_complete_checkpoints(cfg, "crash").values())
        assert kept, "no checkpoint survived the crash"
        resumed = msvae("train", "--resume", "crash", *smoke, "--set",
                        f"train.steps={max(kept) + 10}", timeout=900)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        client = MlflowClient(connect(cfg))
        run = client.search_runs([client.get_experiment_by_name("crash-test").experiment_id],
                                 "tags.`msvae.run_name` = 'crash'")[0]
        assert run.info.status == "FINISHED"
        assert int(run.data.tags[RESUMED_TAG]) in kept  # it went on from a surviving one
        # what the user reads: the run's URL once (MLflow's own "View run" lines and
        # registry prints are off without -v), the run's length, and its model under a
        # name of its own (after its dataset), not champion at TF about 0
        said = resumed.stdout + resumed.stderr
        assert not any(line in said for line in
                       ("View run", "Successfully registered", "Created version")), said
        assert said.count(run.info.run_id) == 1, said
        assert f": {max(kept) + 10} steps in " in resumed.stdout, resumed.stdout
        assert (f"registered {dataset_model_name(smoke_prepared)} version 1 as challenger "
                "(validation temporal fidelity ") in resumed.stdout, resumed.stdout
        assert "is below tracking.champion_min_score 0.1)" in resumed.stdout, resumed.stdout
    finally:
        msvae("services", "down", *common)
