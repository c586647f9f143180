"""The embedded S3 server (moto) at scale: its resident memory per stored byte, and the
largest corpus it holds within half this machine's RAM (benchmarks/scale.py --embedded-s3)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
from _sampling import MB, mb

from msvae import storage
from msvae.config import override


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
        out.update({f"s3_{n}_stored_mb": mb(stored), f"s3_{n}_empty_rss_mb": mb(base),
                    f"s3_{n}_held_rss_mb": mb(held), f"s3_{n}_peak_rss_mb": mb(peak),
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
