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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")

import psutil  # noqa: E402
from _common import emit  # noqa: E402

from msvae import storage  # noqa: E402
from msvae.config import load, override  # noqa: E402
from msvae.ray_start import keep_workers  # noqa: E402

MB = 1 << 20
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
# Ray's and Ray Train's own service processes (seen in Ray 2.60), not data workers
RAY_SYSTEM = {"DashboardAgent", "RuntimeEnvAgent", "PlacementGroupCleaner",
              "SynchronizationActor", "PreemptionWatcher", "_AutoscalingCoordinatorActor"}


class Sampler(threading.Thread):
    """Peak RSS of this process and of every process under it by role (Ray's training
    workers, its other worker processes, the raylets), and the object store's peak use,
    sampled every `interval_s` until `stop()`."""

    def __init__(self, interval_s: float = 0.5, store_every: int = 4):
        super().__init__(daemon=True)
        self.interval_s, self.store_every = interval_s, store_every
        self.peaks: dict[tuple[str, int], int] = {}  # (role, pid) -> peak RSS, bytes
        self.cpu: dict[tuple[str, int], tuple[float, float]] = {}  # -> last (user, system) s
        self.role_totals: dict[str, int] = {}  # role -> peak of the role's summed PSS
        self.store = {"used": 0, "fallback": 0}
        self.timeline: list[tuple[float, int]] = []  # (epoch seconds, a training worker's RSS)
        self._halt = threading.Event()
        self._state = _store_state()

    @staticmethod
    def role(proc: psutil.Process) -> str | None:
        if proc.pid == os.getpid():
            return "driver"
        title = (proc.cmdline() or [""])[0]
        if not title.startswith("ray::"):
            return "raylet" if title.endswith("/raylet") else None  # GCS, services, ...
        name = title[len("ray::"):].split(".")[0]
        if name == "RayTrainWorker":
            return "train_worker"
        if name == "TrainController":
            return "controller"
        # Ray Data's tasks (ReadParquet, MapBatches, ...) and actors (SplitCoordinator,
        # DatasetManager, _StatsActor) and the pooled workers that ran them (IDLE)
        return None if name in RAY_SYSTEM else "data_worker"

    def sample(self, shared_out: bool = False) -> None:
        """Each process's RSS; with `shared_out` also each role's summed PSS (shared pages
        divided among the processes that map them: a sum that counts libraries once)."""
        me = psutil.Process()
        totals: dict[str, int] = {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                role, rss = self.role(proc), proc.memory_info().rss
                pss = proc.memory_full_info().pss if role and shared_out else 0
                times = proc.cpu_times()
            except psutil.Error:
                continue
            if role:
                key = (role, proc.pid)
                self.peaks[key] = max(self.peaks.get(key, 0), rss)
                self.cpu[key] = (times.user, times.system)
                if role == "train_worker":
                    self.timeline.append((time.time(), rss))
                totals[role] = totals.get(role, 0) + pss
        for role, total in totals.items():
            self.role_totals[role] = max(self.role_totals.get(role, 0), total)

    def sample_store(self) -> None:
        stats = store_stats(self._state)
        self.store["used"] = max(self.store["used"], stats.object_store_bytes_used)
        self.store["fallback"] = max(self.store["fallback"], stats.object_store_bytes_fallback)

    def run(self) -> None:
        tick = 0
        while not self._halt.is_set():
            self.sample(shared_out=tick % self.store_every == 0)
            if tick % self.store_every == 0:
                try:
                    self.sample_store()
                except Exception:  # noqa: BLE001 - the store's RPC may time out under load
                    pass
            tick += 1
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample(shared_out=True)

    def cpu_seconds(self, role: str) -> tuple[float, float]:
        """(user, system) CPU seconds of the role's processes as last sampled (a process
        that lived under one interval is missed)."""
        mine = [t for (r, _), t in self.cpu.items() if r == role]
        return sum(u for u, _ in mine), sum(s for _, s in mine)

    def worker_peak_before(self, until: float) -> int:
        """The training workers' peak RSS sampled before `until` (epoch seconds)."""
        return max((rss for t, rss in self.timeline if t < until), default=0)

    def role_peaks(self, role: str) -> list[int]:
        """Each process's peak RSS in `role`, in pid order (bytes)."""
        return [rss for (r, _), rss in sorted(self.peaks.items()) if r == role]


def _store_state():
    import ray
    from ray._private.internal_api import get_state_from_address

    return get_state_from_address(ray.get_runtime_context().gcs_address)


def store_stats(state=None):
    """The cluster's aggregate object-store stats (Ray 2.60: the raylets' store_stats)."""
    from ray._private.internal_api import get_memory_info_reply

    return get_memory_info_reply(state or _store_state()).store_stats


def _mb(value: float) -> float:
    return round(value / MB, 1)


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
               "prepare_store_peak_mb": _mb(sampler.store["used"]),
               "prepare_spilled_mb": _mb(stats.spilled_bytes_total),
               "prepare_driver_peak_rss_mb": _mb(max(sampler.role_peaks("driver")))}
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
               "driver_peak_rss_mb": _mb(max(sampler.role_peaks("driver"))),
               "worker_peak_rss_mb": _mb(max(workers)),
               "worker_train_peak_rss_mb": _mb(sampler.worker_peak_before(trained)),
               "data_worker_peak_rss_mb": _mb(max(sampler.role_peaks("data_worker"), default=0)),
               "data_workers_total_peak_pss_mb": _mb(sampler.role_totals.get("data_worker", 0)),
               "data_worker_processes": len(sampler.role_peaks("data_worker")),
               "controller_peak_rss_mb": _mb(max(sampler.role_peaks("controller"), default=0)),
               "raylet_peak_rss_mb": _mb(max(sampler.role_peaks("raylet"), default=0)),
               "store_peak_used_mb": _mb(sampler.store["used"]),
               "store_peak_fallback_mb": _mb(sampler.store["fallback"]),
               "store_spilled_mb": _mb(stats.spilled_bytes_total),
               "store_restored_mb": _mb(stats.restored_bytes_total)}
    figures.update({f"worker{i}_peak_rss_mb": _mb(rss) for i, rss in enumerate(workers)})
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


def embedded_s3(cfg, shards: dict[int, str], work: Path) -> dict:
    """Each N's shards uploaded to a fresh embedded S3 server and read back: its RSS."""
    import shutil

    from msvae.services import embedded
    from msvae.services.state import read_state

    out = {}
    for n, uri in shards.items():
        state_dir = work / f"embedded-s3-{n}"
        shutil.rmtree(state_dir, ignore_errors=True)
        s3 = override(cfg, {"services.state_dir": str(state_dir), "storage.root": "s3://scale",
                            "storage.endpoint_url": None})
        embedded.up(s3, log=lambda *_: None)
        try:
            server = psutil.Process(read_state(s3)["s3"]["pid"])
            base = server.memory_info().rss
            fs, path = storage.filesystem(cfg, uri)
            files = [f for f in fs.find(path) if f.endswith(".parquet")]
            peak, stored = base, 0
            started = time.perf_counter()
            for f in files:
                data = fs.cat_file(f)
                storage.write_bytes(s3, f"s3://scale/shards/{f[len(path):].lstrip('/')}", data)
                stored += len(data)
                peak = max(peak, server.memory_info().rss)
            upload_s = time.perf_counter() - started
            for _ in range(12):  # the server's snapshot (every 2 s) copies objects to disk
                time.sleep(0.5)
                peak = max(peak, server.memory_info().rss)
            held = server.memory_info().rss
            for f in files:
                storage.read_bytes(s3, f"s3://scale/shards/{f[len(path):].lstrip('/')}")
                peak = max(peak, server.memory_info().rss)
        finally:
            embedded.down(s3, log=lambda *_: None)
            shutil.rmtree(state_dir, ignore_errors=True)
        out.update({f"s3_{n}_stored_mb": _mb(stored), f"s3_{n}_empty_rss_mb": _mb(base),
                    f"s3_{n}_held_rss_mb": _mb(held), f"s3_{n}_peak_rss_mb": _mb(peak),
                    f"s3_{n}_upload_mb_per_s": round(stored / MB / upload_s, 1),
                    f"s3_{n}_rss_per_stored_byte": round((held - base) / stored, 2),
                    f"s3_{n}_peak_rss_per_stored_byte": round((peak - base) / stored, 2)})
    return out


def largest_embedded(figures: dict, ns: list[int], piece_hour_bytes: float) -> dict:
    """The stored size (and piece-hours of shards) at which the embedded server's resident
    memory reaches half this machine's RAM, from the largest N's peak bytes per byte."""
    n = ns[-1]
    per_byte = figures[f"s3_{n}_peak_rss_per_stored_byte"]
    half = psutil.virtual_memory().total / 2 - figures[f"s3_{n}_empty_rss_mb"] * MB
    stored = half / per_byte
    return {"machine_ram_gb": round(psutil.virtual_memory().total / (1 << 30), 1),
            "embedded_max_stored_gb_at_half_ram": round(stored / (1 << 30), 1),
            "embedded_max_piece_hours_at_half_ram": round(stored / piece_hour_bytes, 1)}


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
        figures[f"{n}_prepared_mb"] = _mb(shard_bytes(cfg, shards[n]))
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
