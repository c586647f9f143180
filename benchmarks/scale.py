"""Scale: ingestion and training as the corpus grows, with the object store capped.

Corpora of N pieces (--pieces, default 32,128,512) are recombined from a built corpus's
real stems (msvae.corpus.recombine: new excerpts, stem subsets, gains, formats, the mix
the sum of the stems), each piece --seconds long. Each corpus is prepared to Parquet
(`msvae.data.prepare.prepare`: ingest audio-seconds/s, the seconds of every source file
decoded over the wall time) on local storage, or an S3 endpoint with --storage-endpoint,
then trained for --steps on 2 Ray Train workers (configs/smoke.yaml's model; validation
and the one checkpoint at the last step only) on one node, and on two simulated nodes
(`ray.cluster_utils.Cluster`), each Ray node's object store capped at --object-store-mb
(default below N=512's prepared size, so the split streams through it). The runs read
with train.cache_split --cache-split (default "stream": no rank keeps its split, so
memory cannot grow with N).

Prints per N and topology: windows_per_s (rank 0's windows per second of training, one
worker's share; the run's MLflow metric), data_wait_share (the share of rank 0's training
time spent waiting for its next batch), first_batch_s, peak RSS of the driver, of each
training worker and of the Ray Data / pooled worker processes (sampled every 0.5 s),
CPU seconds (user and system) of each role's processes, object store peak use and bytes
spilled (the raylets' store stats), and the ratios to the
smallest N: ratio_windows_per_s_<N>_vs_<N0> (target >= 0.9), ratio_peak_rss_<N>_vs_<N0>
(training workers' peak RSS over the run, target <= 1.3) and ratio_train_peak_rss (the same
before rank 0's closing validation, which reads the whole valid split); also against the
smallest N trained with train.cache_split auto (in memory: the reference a streamed run
should keep up with; `..._vs_<N0>_auto`). With --embedded-s3 it also uploads each N's
shards to a fresh embedded S3 server (`msvae.services.embedded.up`, its own state dir),
reads them back, and samples the server's RSS: its memory per stored byte.

    flock /tmp/msvae-ray.lock python benchmarks/scale.py [--pieces 32,128,512] [--steps 100]
        [--seconds 20] [--object-store-mb 512] [--topologies one_node,two_nodes]
        [--embedded-s3] [--storage-endpoint URL] [--work /tmp/msvae-scale]
        [--set train.shuffle_windows=256] [--json PATH]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

from _common import emit  # noqa: E402
from _embedded_s3 import embedded_s3, largest_embedded  # noqa: E402
from _sampling import MB, Sampler, mb, store_stats  # noqa: E402

from msvae import storage  # noqa: E402
from msvae.config import load, override  # noqa: E402
from msvae.ray_start import keep_workers  # noqa: E402

QUIET = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
CONFIG = "configs/smoke.yaml"
# The simulated nodes have 1 CPU each, as in tests/test_cluster_runs.py: 0.75 CPU per
# worker puts one on each node and leaves 0.25 per node to Ray Data's readers (which
# msvae.data.pipeline.load_prepared makes possible for shards: Ray 2.60's default V2
# Parquet reader lists files in a one-CPU task that such a node never runs).
TOPOLOGIES = {
    "one_node": {"nodes": 1, "node_cpus": 2, "cpus_per_worker": 0.5, "read_cpus": 0.25},
    "two_nodes": {"nodes": 2, "node_cpus": 1, "cpus_per_worker": 0.75, "read_cpus": 0.2},
}
def base_config(args, work: Path) -> object:
    """configs/smoke.yaml with storage, tracking and the run's length set for the bench."""
    sets = [f"services.state_dir={work / 'services'}", f"train.steps={args.steps}",
            f"train.eval_every={args.steps}", f"train.checkpoint_every={args.steps}",
            f"train.cache_split={args.cache_split}", "train.max_failures=0",
            "corpus.workers=2"]
    if args.storage_endpoint:
        sets += [f"storage.endpoint_url={args.storage_endpoint}",
                 f"storage.root=s3://{args.bucket}"]
    else:
        sets.append(f"storage.root={work / 'store'}")
    return load(CONFIG, sets + args.set)


def source_manifest(cfg, args, work: Path) -> str:
    """The built corpus the pieces are recombined from (built once, then reused)."""
    if args.source_manifest:
        return args.source_manifest
    from msvae.corpus.build import build

    local = override(cfg, {"storage.root": str(work)})
    return build(local, str(work / "source"), args.source_pieces, args.seed).manifest


def prepared(cfg, manifest: str, n: int, args) -> tuple[str, dict]:
    """(shards URI, ingest figures) for the N-piece corpus: prepared afresh on a local Ray
    instance with the capped object store, or reused with --reuse-prepared."""
    import json

    import ray

    from msvae.data.prepare import prepare

    out = storage.join(cfg.storage.root, "prepared", f"{n}-pieces-{Path(manifest).parent.name}")
    record = storage.join(out, "ingest.json")
    if args.reuse_prepared and storage.exists(cfg, record):
        return out, json.loads(storage.read_bytes(cfg, record))
    fs, path = storage.filesystem(cfg, out)
    if fs.exists(path):
        fs.rm(path, recursive=True)
    ray.init(num_cpus=2, object_store_memory=args.object_store_mb * MB, **QUIET)
    try:
        sampler = Sampler()
        sampler.start()
        started = time.perf_counter()
        report = prepare(cfg, manifest, out)
        seconds = time.perf_counter() - started
        sampler.stop()
        stats = store_stats()
    finally:
        ray.shutdown()
    figures = {"ingest_seconds": round(seconds, 1),
               "audio_seconds": round(report["audio_seconds_in"], 1),
               "ingest_audio_s_per_s": report["audio_seconds_in"] / seconds,
               "windows": report["windows_out"],
               "prepare_store_peak_mb": mb(sampler.store["used"]),
               "prepare_spilled_mb": mb(stats.spilled_bytes_total),
               "prepare_driver_peak_rss_mb": mb(max(sampler.role_peaks("driver")))}
    storage.write_bytes(cfg, record, json.dumps(figures).encode())
    return out, figures


def shard_bytes(cfg, uri: str) -> int:
    fs, path = storage.filesystem(cfg, uri)
    return sum(size for name, size in fs.du(path, total=False).items()
               if name.endswith(".parquet"))


def start_topology(name: str, cap_bytes: int):
    """Start Ray for a topology; returns the Cluster (two nodes) or None (one node)."""
    import ray
    from ray.cluster_utils import Cluster

    topo = TOPOLOGIES[name]
    if topo["nodes"] == 1:
        ray.init(num_cpus=topo["node_cpus"], object_store_memory=cap_bytes, **QUIET)
        return None
    node = {"num_cpus": topo["node_cpus"], "object_store_memory": cap_bytes}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    for _ in range(topo["nodes"] - 1):
        cluster.add_node(**node)
    ray.init(address=cluster.address, **QUIET)
    return cluster


def train_run(cfg, shards: str, name: str, n: int, cap_bytes: int) -> dict:
    """Train on the shards on topology `name`; the run's figures."""
    import ray
    from mlflow import MlflowClient

    from msvae.train.launch import train

    topo = TOPOLOGIES[name]
    cfg = override(cfg, {"train.dataset": shards, "train.workers": 2,
                         "train.cpus_per_worker": topo["cpus_per_worker"],
                         "data.read_cpus": topo["read_cpus"]})
    cluster = start_topology(name, cap_bytes)
    try:
        sampler = Sampler()
        sampler.start()
        started = time.perf_counter()
        result = train(cfg, run_name=f"scale-{name}-{n}-{int(time.time())}")
        seconds = time.perf_counter() - started
        sampler.stop()
        stats = store_stats()
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
    client = MlflowClient(result.cfg.tracking.uri)

    def last(metric: str) -> float:
        history = client.get_metric_history(result.mlflow_run_id, metric)
        return history[-1].value if history else float("nan")

    workers = sampler.role_peaks("train_worker")
    # rank 0 logs the last step's training metrics before it validates: the end of training
    trained = client.get_metric_history(result.mlflow_run_id, "train/loss")[-1].timestamp / 1e3
    figures = {"windows_per_s": last("windows_per_s"),
               "data_wait_share": last("data_wait_share"),
               "first_batch_s": last("first_batch_seconds"),
               "train_wall_s": round(seconds, 1),
               "cache_split": result.cfg.train.cache_split,
               "driver_peak_rss_mb": mb(max(sampler.role_peaks("driver"))),
               "worker_peak_rss_mb": mb(max(workers)),
               "worker_train_peak_rss_mb": mb(sampler.worker_peak_before(trained)),
               "data_worker_peak_rss_mb": mb(max(sampler.role_peaks("data_worker"), default=0)),
               "data_workers_total_peak_pss_mb": mb(sampler.role_totals.get("data_worker", 0)),
               "data_worker_processes": len(sampler.role_peaks("data_worker")),
               "controller_peak_rss_mb": mb(max(sampler.role_peaks("controller"), default=0)),
               "raylet_peak_rss_mb": mb(max(sampler.role_peaks("raylet"), default=0)),
               "store_peak_used_mb": mb(sampler.store["used"]),
               "store_peak_fallback_mb": mb(sampler.store["fallback"]),
               "store_spilled_mb": mb(stats.spilled_bytes_total),
               "store_restored_mb": mb(stats.restored_bytes_total)}
    figures.update({f"worker{i}_peak_rss_mb": mb(rss) for i, rss in enumerate(workers)})
    for role in ("train_worker", "data_worker", "raylet", "driver"):
        user, system = sampler.cpu_seconds(role)
        figures[f"cpu_user_s_{role}"], figures[f"cpu_system_s_{role}"] = (
            round(user, 1), round(system, 1))
    return figures


def measured(cfg, shards: str, topo: str, n: int, cap_bytes: int, repeats: int) -> dict:
    """`repeats` training runs' figures: medians, and the cache decision as it was."""
    runs = [train_run(cfg, shards, topo, n, cap_bytes) for _ in range(repeats)]
    print(f"{topo} N={n}: {runs[-1]}", flush=True)
    return {key: runs[0][key] if isinstance(runs[0][key], str)
            else statistics.median(r[key] for r in runs) for key in runs[0]}


def ratios(figures: dict, topo: str, ns: list[int], base: str | None = None) -> dict:
    """Each N's windows/s and training workers' peak RSS over those of `base` (default
    the smallest N) on the same topology."""
    base = base or str(ns[0])
    out = {}
    for n in ns:
        for figure, name in (("windows_per_s", "windows_per_s"),
                             ("worker_peak_rss_mb", "peak_rss"),
                             ("worker_train_peak_rss_mb", "train_peak_rss")):
            out[f"{topo}_ratio_{name}_{n}_vs_{base}"] = (figures[f"{topo}_{n}_{figure}"]
                                                         / figures[f"{topo}_{base}_{figure}"])
    return out


def table(figures: dict, ns: list[int], topologies: list[str]) -> str:
    """The README's "Scale" table: one row per N and topology (and the in-memory
    reference run, when there is one)."""
    head = ("| N | topology, cache | piece h | audio h (files) | prepared MB "
            "| ingest audio-s/s | windows/s (rank 0) | data wait % | first batch s | driver RSS MB "
            "| worker RSS MB (peak training / with validation) "
            "| data workers MB (peak RSS of one / PSS of all) | store peak MB | spilled MB "
            "| windows/s vs N0 | worker RSS vs N0 |")
    rows = [(topo, n, str(n)) for topo in topologies for n in ns]
    if f"{topologies[0]}_{ns[0]}_auto_windows_per_s" in figures:
        rows.append((topologies[0], ns[0], f"{ns[0]}_auto"))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for topo, n, run in rows:
        f = {k[len(f"{topo}_{run}_"):]: v for k, v in figures.items()
             if k.startswith(f"{topo}_{run}_")}
        lines.append(
            f"| {n} | {topo.replace('_', ' ')}, {f['cache_split']} "
            f"| {n * figures['piece_seconds'] / 3600:.2f} "
            f"| {figures[f'{n}_audio_seconds'] / 3600:.2f} | {figures[f'{n}_prepared_mb']:.0f} "
            f"| {figures[f'{n}_ingest_audio_s_per_s']:.0f} | {f['windows_per_s']:.1f} "
            f"| {100 * f['data_wait_share']:.0f} "
            f"| {f['first_batch_s']:.1f} | {f['driver_peak_rss_mb']:.0f} "
            f"| {f['worker_train_peak_rss_mb']:.0f} / {f['worker_peak_rss_mb']:.0f} "
            f"| {f['data_worker_peak_rss_mb']:.0f} / "
            f"{f['data_workers_total_peak_pss_mb']:.0f} | {f['store_peak_used_mb']:.0f} "
            f"| {f['store_spilled_mb']:.0f} "
            f"| {f['windows_per_s'] / figures[f'{topo}_{ns[0]}_windows_per_s']:.2f} "
            f"| {f['worker_peak_rss_mb'] / figures[f'{topo}_{ns[0]}_worker_peak_rss_mb']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", default="32,128,512", help="corpus sizes, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="each piece's length, s")
    parser.add_argument("--steps", type=int, default=100, help="training steps per run")
    parser.add_argument("--object-store-mb", type=int, default=512,
                        help="each Ray node's object store cap (Ray's minimum is ~75); the "
                        "default is half N=512's shards, above what streaming holds at once "
                        "(about 300 MB: read-ahead and two 512-window shuffle buffers)")
    parser.add_argument("--cache-split", default="stream", choices=["auto", "memory", "stream"])
    parser.add_argument("--topologies", default="one_node,two_nodes",
                        help=f"of {', '.join(TOPOLOGIES)}; empty: ingest only")
    parser.add_argument("--no-auto-reference", dest="auto_reference", action="store_false",
                        help="skip the smallest N's run with train.cache_split auto (kept in "
                        "memory), the in-memory reference for the streamed runs")
    parser.add_argument("--repeats", type=int, default=1, help="training runs per N and "
                        "topology; medians")
    parser.add_argument("--embedded-s3", action="store_true",
                        help="also measure the embedded S3 server's memory per stored byte")
    parser.add_argument("--storage-endpoint", help="S3 endpoint for the shards and runs "
                        "(keys from the environment); default: a local folder")
    parser.add_argument("--bucket", default="msvae-scale", help="with --storage-endpoint")
    parser.add_argument("--source-manifest", help="built corpus to recombine (default: "
                        "build --source-pieces pieces into the work folder)")
    parser.add_argument("--source-pieces", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="/tmp/msvae-scale", help="local work folder")
    parser.add_argument("--reuse-prepared", action="store_true",
                        help="reuse shards (and their ingest figures) from an earlier run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every run, e.g. train.shuffle_windows=256")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    keep_workers()  # the Ray nodes started here keep idle workers as msvae's own do
    ns = sorted(int(p) for p in args.pieces.split(","))
    topologies = [t for t in args.topologies.split(",") if t]
    work = Path(args.work).resolve()
    cfg = base_config(args, work)
    storage.ensure_bucket(cfg, cfg.storage.root)
    cap = args.object_store_mb * MB

    from msvae.corpus.recombine import recombined_manifest
    from msvae.services import embedded
    from msvae.train.datasets import with_cache_decided

    source = source_manifest(cfg, args, work)
    started = time.perf_counter()
    manifests = {n: recombined_manifest(cfg, source, str(work / "recombined"), n, args.seed,
                                        args.seconds) for n in reversed(ns)}
    figures: dict = {"piece_seconds": args.seconds, "steps": args.steps,
                     "batch_size_per_worker": cfg.train.batch_size, "model_config": CONFIG,
                     "object_store_cap_mb_per_node": args.object_store_mb,
                     "cache_split": args.cache_split, "overrides": " ".join(args.set),
                     "storage": args.storage_endpoint or "local folder",
                     "corpus_seconds": round(time.perf_counter() - started, 1)}
    shards = {}
    for n in ns:
        shards[n], ingest = prepared(cfg, manifests[n], n, args)
        figures.update({f"{n}_{k}": v for k, v in ingest.items()})
        figures[f"{n}_prepared_mb"] = mb(shard_bytes(cfg, shards[n]))
        figures[f"{n}_auto_decides"] = with_cache_decided(
            override(cfg, {"train.cache_split": "auto"}), shards[n]).train.cache_split
    figures["cap_below_largest_prepared"] = args.object_store_mb < figures[f"{ns[-1]}_prepared_mb"]
    if topologies:
        embedded.up(cfg, log=lambda *_: None)  # the MLflow server the runs log to
        try:
            for topo in topologies:
                for n in ns:
                    figures.update({f"{topo}_{n}_{k}": v for k, v in
                                    measured(cfg, shards[n], topo, n, cap, args.repeats).items()})
                figures.update(ratios(figures, topo, ns))
            if args.auto_reference:  # the smallest N as `auto` keeps it: in memory
                auto = override(cfg, {"train.cache_split": "auto"})
                figures.update({f"{topologies[0]}_{ns[0]}_auto_{k}": v for k, v in measured(
                    auto, shards[ns[0]], topologies[0], ns[0], cap, args.repeats).items()})
                figures.update(ratios(figures, topologies[0], ns, f"{ns[0]}_auto"))
        finally:
            embedded.down(cfg, log=lambda *_: None)
    if args.embedded_s3:
        figures.update(embedded_s3(cfg, shards, work))
        hours = figures[f"{ns[-1]}_windows"] * cfg.data.hop_s / 3600
        figures.update(largest_embedded(figures, ns, figures[f"{ns[-1]}_prepared_mb"] * MB
                                        / hours))
    emit(figures, args.json)
    if topologies:
        print(table(figures, ns, topologies))


if __name__ == "__main__":
    main()
