"""cluster/ configs: they parse, carry what Ray and KubeRay need, and hold no secrets."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from msvae.cluster import checks as cluster
from msvae.config import load

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
AWS = CLUSTER / "aws.yaml"
RAYCLUSTER = CLUSTER / "kuberay" / "raycluster.yaml"
RAYJOB = CLUSTER / "kuberay" / "rayjob.yaml"
RUNTIME_ENV = CLUSTER / "runtime_env.yaml"


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _edited(tmp_path, path, edit):
    """A copy of `path` with `edit(docs)` applied, written to tmp_path."""
    docs = copy.deepcopy(_docs(path))
    edit(docs)
    out = tmp_path / path.name
    out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return out


def _by_kind(docs, kind):
    return next(d for d in docs if d.get("kind") == kind)


@pytest.mark.parametrize("path", sorted(CLUSTER.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_cluster_file_parses(path):
    assert _docs(path), f"{path} is empty"


def test_shipped_configs_pass_their_checks():
    assert cluster.check_ray_up(AWS) == []
    assert cluster.check_raycluster(RAYCLUSTER) == []
    assert cluster.check_rayjob(RAYJOB) == []


def test_aws_config_validates_against_rays_schema():
    schema = cluster.ray_schema()
    jsonschema.validate(_docs(AWS)[0], schema)
    assert "available_node_types" in schema["properties"]  # the real schema, not a stub


def _drop(dotted):
    def edit(docs):
        *parents, last = dotted.split(".")
        node = docs[0]
        for p in parents:
            node = node[p]
        del node[last]
    return edit


def _set(dotted, value):
    def edit(docs):
        *parents, last = dotted.split(".")
        node = docs[0]
        for p in parents:
            node = node[p]
        node[last] = value
    return edit


@pytest.mark.parametrize("edit, reported", [
    (_drop("head_start_ray_commands"), "head_start_ray_commands"),
    (_drop("provider.region"), "provider.region"),
    (_drop("available_node_types.gpu.node_config"), "available_node_types.gpu"),
    (_set("available_node_types.gpu.resources.GPU", 0.5), "available_node_types.gpu.resources.GPU"),
    (_set("idle_timeout_minute", 5), "idle_timeout_minute"),  # a typo: the schema has no such key
    (_set("available_node_types.head.resources", {"CPU": 8}), "resources.CPU"),
    (_set("available_node_types.gpu.resources", {"CPU": 8}), "no worker type with resources.GPU"),
    (_set("head_node_type", "cpu"), "head_node_type"),
])
def test_ray_up_check_reports_what_is_wrong(tmp_path, edit, reported):
    problems = cluster.check_ray_up(_edited(tmp_path, AWS, edit))
    assert any(reported in p for p in problems), problems


def _cluster_edit(fn):
    return lambda docs: fn(_by_kind(docs, "RayCluster"))


@pytest.mark.parametrize("edit, reported", [
    (lambda c: c["spec"].pop("rayVersion"), "spec.rayVersion"),
    (lambda c: c["spec"]["headGroupSpec"].pop("rayStartParams"), "rayStartParams"),
    (lambda c: c["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].pop("image"),
     "containers[0].image"),
    (lambda c: c["spec"]["workerGroupSpecs"][0].pop("maxReplicas"),
     "workerGroupSpecs[0].maxReplicas"),
    (lambda c: c["spec"]["workerGroupSpecs"][0].pop("groupName"), "groupName"),
    (lambda c: c["spec"]["workerGroupSpecs"][0].update(replicas=9), "replicas"),
    (lambda c: c["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
     ["resources"]["limits"].pop("nvidia.com/gpu"), "nvidia.com/gpu"),
    (lambda c: c.update(apiVersion="ray.io/v1alpha1"), "apiVersion"),
    (lambda c: c["metadata"].pop("name"), "metadata.name"),
    (lambda c: c["spec"].update(rayVersion="2.9.0"), "rayVersion"),
    (lambda c: c["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"][1]
     .update(value="not-from-a-secret"), "AWS_SECRET_ACCESS_KEY"),
])
def test_raycluster_check_reports_what_is_wrong(tmp_path, edit, reported):
    problems = cluster.check_raycluster(_edited(tmp_path, RAYCLUSTER, _cluster_edit(edit)))
    assert any(reported in p for p in problems), problems


def _job_edit(fn):
    return lambda docs: fn(_by_kind(docs, "RayJob")["spec"])


@pytest.mark.parametrize("edit, reported", [
    (lambda s: s.pop("entrypoint"), "spec.entrypoint"),
    (lambda s: s.pop("shutdownAfterJobFinishes"), "shutdownAfterJobFinishes"),
    (lambda s: s.pop("rayClusterSpec"), "rayClusterSpec"),
    (lambda s: s.update(clusterSelector={"ray.io/cluster": "msvae"}), "clusterSelector"),
    (lambda s: s["rayClusterSpec"]["workerGroupSpecs"][0].pop("minReplicas"),
     "spec.rayClusterSpec.spec.workerGroupSpecs[0].minReplicas"),
    (lambda s: s.update(runtimeEnvYAML="just a string"), "runtimeEnvYAML"),
])
def test_rayjob_check_reports_what_is_wrong(tmp_path, edit, reported):
    problems = cluster.check_rayjob(_edited(tmp_path, RAYJOB, _job_edit(edit)))
    assert any(reported in p for p in problems), problems


def test_rayjob_on_an_existing_cluster_is_fine(tmp_path):
    def use_selector(spec):
        del spec["rayClusterSpec"], spec["shutdownAfterJobFinishes"]
        spec["clusterSelector"] = {"ray.io/cluster": "msvae"}
    assert cluster.check_rayjob(_edited(tmp_path, RAYJOB, _job_edit(use_selector))) == []


def test_rayjob_runs_the_cluster_config():
    spec = _by_kind(_docs(RAYJOB), "RayJob")["spec"]
    config = spec["entrypoint"].split("--config", 1)[1].split()[0]
    assert (ROOT / config).is_file()
    assert spec["submissionMode"] == "K8sJobMode"
    assert isinstance(yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"], dict)


def _secret_bearing_files():
    return sorted(p for p in CLUSTER.rglob("*") if p.is_file()) + [ROOT / "configs/cluster.yaml"]


def test_no_secret_literal_in_cluster_files():
    hits = [h for p in _secret_bearing_files() for h in cluster.secret_literals(p)]
    assert hits == []


@pytest.mark.parametrize("line", [
    "aws_access_key_id: " + "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_secret_access_key: " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
    "export AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI/K7MDENG",
])
def test_secret_scan_finds_a_planted_key(tmp_path, line):
    path = tmp_path / "leak.yaml"
    path.write_text(f"# fine\n{line}\n")
    assert cluster.secret_literals(path) == [f"{path}:2"]


@pytest.mark.parametrize("line", [
    "--from-literal=AWS_SECRET_ACCESS_KEY=<key>",
    "AWS_SECRET_ACCESS_KEY: ${AWS_SECRET_ACCESS_KEY}",
    "valueFrom: {secretKeyRef: {name: msvae-s3, key: AWS_SECRET_ACCESS_KEY}}",
])
def test_secret_scan_lets_placeholders_pass(tmp_path, line):
    path = tmp_path / "ok.yaml"
    path.write_text(line + "\n")
    assert cluster.secret_literals(path) == []


def test_runtime_env_is_small_and_names_no_secret(tmp_path):
    from ray._private.runtime_env.packaging import create_package

    env = _docs(RUNTIME_ENV)[0]
    assert env["working_dir"] == "."
    assert not set(env.get("env_vars", {})) & set(cluster.SECRET_ENV)
    assert all(isinstance(v, str) for v in env["env_vars"].values())  # Ray requires strings
    # The excludes alone, without Ray's .gitignore handling, must keep the upload small.
    package = tmp_path / "pkg.zip"
    create_package(str(ROOT), package, include_gitignore=False, excludes=env["excludes"])
    assert package.stat().st_size < 100 * 2**20


def test_cluster_config_loads_and_fits_the_nodes():
    cfg = load(ROOT / "configs/cluster.yaml")
    assert cfg.train.use_gpu and cfg.train.workers == 4
    assert cfg.storage.root.startswith("s3://") and cfg.tracking.uri.startswith("http")
    gpu = _docs(AWS)[0]["available_node_types"]["gpu"]
    assert cfg.train.workers <= gpu["max_workers"]
    assert cfg.train.cpus_per_worker <= gpu["resources"]["CPU"]
    group = _by_kind(_docs(RAYCLUSTER), "RayCluster")["spec"]["workerGroupSpecs"][0]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert cfg.train.cpus_per_worker <= float(limits["cpu"])
    assert cfg.train.workers <= group["maxReplicas"]
