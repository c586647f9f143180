"""`msvae cluster check FILE...`: check edited cluster files before you launch them.

A `ray up` config (a mapping with `cluster_name`) is checked against Ray's own schema and
preprocessing; a KubeRay manifest by its RayCluster and RayJob documents. Every file is
also scanned for credentials written out. Prints one line per problem, exit 1 if any.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from msvae.errors import MsvaeError


def problems(path: str) -> list[str]:
    """Every problem in one cluster file, each a line naming the field."""
    from msvae.cluster import checks

    if not Path(path).is_file():
        raise MsvaeError(f"{path}: no such file")
    try:
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        raise MsvaeError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    kinds = {d.get("kind") for d in docs}
    found = []
    if any("cluster_name" in d for d in docs):
        found += checks.check_ray_up(path)
    if "RayCluster" in kinds:
        found += checks.check_raycluster(path)
    if "RayJob" in kinds:
        found += checks.check_rayjob(path)
    found += [f"{hit}: looks like a credential written out"
              for hit in checks.secret_literals(path)]
    return found


def _check(args, cfg) -> int:
    failed = 0
    for path in args.files:
        found = problems(path)
        failed += bool(found)
        print(f"{path}: ok" if not found else "\n".join(f"{path}: {p}" for p in found))
    return 1 if failed else 0


def register(sub, common) -> None:
    p = sub.add_parser("cluster", help="check Ray cluster configs (ray up, KubeRay)",
                       description=__doc__)
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = csub.add_parser("check", parents=[common], help="check `ray up` YAML and KubeRay "
                        "manifests before launching them", description=__doc__)
    c.add_argument("files", nargs="+", metavar="FILE", help="e.g. cluster/aws.yaml")
    c.set_defaults(func=_check)
