"""Checks for the files in cluster/: what `ray up` and the KubeRay operator need.

The `ray up` config is validated against Ray's own JSON schema (shipped with Ray) and
Ray's own preprocessing. KubeRay has no schema on this machine, so its manifests are
checked against an explicit list of the fields the operator reads. Every check returns
a list of one-line problems naming the field; empty when the file is fine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

KUBERAY_API = "ray.io/v1"
GPU_RESOURCE = "nvidia.com/gpu"
# Env vars that must never hold a literal value in a manifest: only a secretKeyRef.
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# An AWS key id, or a secret-looking name given a value that is not a placeholder
# (<...>, $VAR, ${VAR}).
_SECRET_PATTERNS = (
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"(?i)\b(?:aws_secret_access_key|aws_session_token|secret_key|password)"
               r"\s*[:=]\s*[\"']?(?![<$])[^\s\"'#<>{}]{8,}"),
)

_MISSING = object()


def required_fields() -> dict[str, tuple[str, ...]]:
    """Dotted paths each kind of file must have (`[i]`: every item of a list)."""
    return {
        "ray_up": ("cluster_name", "max_workers", "idle_timeout_minutes", "provider.type",
                   "provider.region", "auth.ssh_user", "head_node_type",
                   "available_node_types", "setup_commands", "head_start_ray_commands",
                   "worker_start_ray_commands"),
        "raycluster": ("apiVersion", "kind", "metadata.name", "spec.rayVersion",
                       "spec.headGroupSpec.rayStartParams",
                       "spec.headGroupSpec.template.spec.containers[0].image",
                       "spec.workerGroupSpecs"),
        "worker_group": ("groupName", "replicas", "minReplicas", "maxReplicas",
                         "template.spec.containers[0].image"),
        "rayjob": ("apiVersion", "kind", "metadata.name", "spec.entrypoint"),
    }


def _get(doc: Any, dotted: str) -> Any:
    """The value at 'a.b[0].c', or _MISSING."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(doc, list) or index >= len(doc):
                return _MISSING
            doc = doc[index]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return _MISSING
    return doc


def _missing(doc: Any, fields: tuple[str, ...], prefix: str = "") -> list[str]:
    return [f"{prefix}{f}: missing" for f in fields if _get(doc, f) is _MISSING]


def _documents(path: str | Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]


def _one(path: str | Path, kind: str | None = None) -> tuple[Any, list[str]]:
    """The document of `kind` (or the only document) in a YAML file, or a problem."""
    docs = _documents(path)
    if kind is not None:
        docs = [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]
    if len(docs) != 1:
        return None, [f"{path}: expected one {kind or 'YAML'} document, found {len(docs)}"]
    if not isinstance(docs[0], dict):
        return None, [f"{path}: expected a mapping at the top level"]
    return docs[0], []


def ray_schema() -> dict:
    """The JSON schema `ray up` validates its config against."""
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def check_ray_up(path: str | Path) -> list[str]:
    """Problems in a `ray up` config: missing fields, schema errors, no GPU worker type."""
    import jsonschema

    config, problems = _one(path)
    if config is None:
        return problems
    problems = _missing(config, required_fields()["ray_up"])
    for err in jsonschema.Draft7Validator(ray_schema()).iter_errors(config):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"{where}: {err.message}")
    if problems:
        return problems
    types = config["available_node_types"]
    head = config["head_node_type"]
    if head not in types:
        return [f"head_node_type: {head!r} is not in available_node_types"]
    if types[head]["resources"].get("CPU") != 0:
        problems.append(f"available_node_types.{head}.resources.CPU: should be 0 "
                        "(keep tasks off the head)")
    if not any(t["resources"].get("GPU", 0) > 0 and t.get("max_workers", 1) > 0
               for name, t in types.items() if name != head):
        problems.append("available_node_types: no worker type with resources.GPU")
    problems += _ray_prepares(config)
    return problems


def _ray_prepares(config: dict) -> list[str]:
    """Run Ray's own fill-in-defaults and validation, as `ray up` does before launching."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    try:
        validate_config(prepare_config(json.loads(json.dumps(config))))
    except Exception as exc:  # noqa: BLE001 - Ray raises several types; report any
        return [f"ray up would reject it: {type(exc).__name__}: {exc}"]
    return []


def _check_cluster_spec(spec: Any, prefix: str) -> list[str]:
    """Problems in a RayCluster spec (also the rayClusterSpec of a RayJob)."""
    import ray

    doc = {"spec": spec}
    problems = _missing(doc, tuple(f for f in required_fields()["raycluster"]
                                   if f.startswith("spec.")), prefix)
    if problems:
        return problems
    version = str(spec["rayVersion"])
    if version != ray.__version__:
        problems.append(f"{prefix}spec.rayVersion: {version} differs from the installed "
                        f"ray {ray.__version__}")
    gpu_groups = 0
    for i, group in enumerate(spec["workerGroupSpecs"] or []):
        where = f"{prefix}spec.workerGroupSpecs[{i}]."
        missing = _missing(group, required_fields()["worker_group"], where)
        problems += missing
        if missing:
            continue
        if not group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]:
            problems.append(f"{where}replicas: {group['replicas']} outside "
                            f"[{group['minReplicas']}, {group['maxReplicas']}]")
        limits = _get(group, "template.spec.containers[0].resources.limits")
        if isinstance(limits, dict) and int(limits.get(GPU_RESOURCE, 0)) > 0:
            gpu_groups += 1
    if not gpu_groups:
        problems.append(f"{prefix}spec.workerGroupSpecs: no group with a "
                        f"{GPU_RESOURCE} limit")
    problems += _literal_secret_env(spec, prefix + "spec")
    return problems


def _literal_secret_env(node: Any, where: str) -> list[str]:
    """Env entries for S3 keys that carry a value instead of a secretKeyRef."""
    problems = []
    if isinstance(node, dict):
        if node.get("name") in SECRET_ENV and ("value" in node or _get(
                node, "valueFrom.secretKeyRef.name") is _MISSING):
            problems.append(f"{where}: env {node['name']} must come from valueFrom.secretKeyRef")
        for key, value in node.items():
            problems += _literal_secret_env(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems += _literal_secret_env(value, f"{where}[{i}]")
    return problems


def _api_version(doc: dict) -> list[str]:
    version = doc.get("apiVersion", KUBERAY_API)
    return [] if version == KUBERAY_API else [
        f"apiVersion: {version!r}, expected {KUBERAY_API!r}"]


def check_raycluster(path: str | Path) -> list[str]:
    """Problems in the RayCluster document of a KubeRay manifest."""
    doc, problems = _one(path, "RayCluster")
    if doc is None:
        return problems
    header = tuple(f for f in required_fields()["raycluster"] if not f.startswith("spec."))
    return (_missing(doc, header) + _api_version(doc)
            + _check_cluster_spec(doc.get("spec"), ""))


def check_rayjob(path: str | Path) -> list[str]:
    """Problems in the RayJob document of a KubeRay manifest."""
    doc, problems = _one(path, "RayJob")
    if doc is None:
        return problems
    problems = _missing(doc, required_fields()["rayjob"]) + _api_version(doc)
    spec = doc.get("spec") or {}
    has_spec, has_selector = "rayClusterSpec" in spec, "clusterSelector" in spec
    if has_spec == has_selector:
        problems.append("spec: needs exactly one of rayClusterSpec and clusterSelector")
    if has_spec:
        if "shutdownAfterJobFinishes" not in spec:
            problems.append("spec.shutdownAfterJobFinishes: missing (the cluster it "
                            "creates would outlive the job)")
        problems += _check_cluster_spec(spec["rayClusterSpec"], "spec.rayClusterSpec.")
    if "runtimeEnvYAML" in spec:
        try:
            env = yaml.safe_load(spec["runtimeEnvYAML"])
        except yaml.YAMLError as exc:
            env = exc
        if not isinstance(env, dict):
            problems.append("spec.runtimeEnvYAML: not a YAML mapping")
    return problems


def secret_literals(path: str | Path) -> list[str]:
    """Lines of a text file that look like a credential written out, as 'file:line'."""
    hits = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if any(p.search(line) for p in _SECRET_PATTERNS):
            hits.append(f"{path}:{number}")
    return hits
