"""The Ray nodes msvae starts keep enough idle workers for fractional-CPU data tasks."""

from msvae import ray_start


def test_keep_workers_raises_the_soft_limit_and_leaves_a_set_one(monkeypatch):
    monkeypatch.delenv("RAY_num_workers_soft_limit", raising=False)
    monkeypatch.setattr(ray_start.os, "cpu_count", lambda: 2)
    ray_start.keep_workers()
    assert ray_start.os.environ["RAY_num_workers_soft_limit"] == str(ray_start.WORKERS_KEPT)
    monkeypatch.setattr(ray_start.os, "cpu_count", lambda: 64)  # never below Ray's default
    monkeypatch.delenv("RAY_num_workers_soft_limit")
    ray_start.keep_workers()
    assert ray_start.os.environ["RAY_num_workers_soft_limit"] == "64"
    monkeypatch.setenv("RAY_num_workers_soft_limit", "3")  # the user's own setting stays
    ray_start.keep_workers()
    assert ray_start.os.environ["RAY_num_workers_soft_limit"] == "3"
