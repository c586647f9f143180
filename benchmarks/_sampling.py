"""What a benchmark samples while Ray runs: each process's peak RSS, PSS and CPU seconds by
role (the driver, Ray Train's workers and controller, Ray Data's processes, the raylets),
and the object store's use and spilling (the raylets' store stats)."""

from __future__ import annotations

import os
import threading
import time

import psutil

MB = 1 << 20

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


def mb(value: float) -> float:
    """Bytes as MB (2**20), to 0.1."""
    return round(value / MB, 1)
