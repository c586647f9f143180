"""The embedded S3 endpoint: moto's standalone server, with its objects kept in a folder.

moto holds objects in memory. This process restores them from `--data` at start and
mirrors the changes back incrementally every SNAPSHOT_S seconds and once more on
SIGTERM/SIGINT (what `msvae services down` sends): a SIGKILL or a crash loses at most
the last SNAPSHOT_S seconds of writes. An incremental snapshot rather than write-through
because moto offers no write hook short of patching its backend; a pass lists the
buckets and fetches only objects whose ETag changed (milliseconds for a few thousand
objects). Files are written to a temporary name and renamed, and the ETag index last, so
a pass cut off by SIGKILL leaves the previous state readable. Layout:
`<data>/<bucket>/<key>`; a key ending in "/" (a directory marker, as pyarrow's
`create_dir` and Ray's Parquet writer make) is the file DIR_MARKER in that folder.
`<data>/.recovery.json` says what the last start restored and whether the stop before
it was clean.

Run as `python -m msvae.services.s3_server --host 127.0.0.1 --port P --data DIR`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from moto.server import ThreadedMotoServer

from msvae.services.state import EMBEDDED_KEYS

INDEX = ".etags.json"  # key -> ETag of what the folder holds, to write back only changes
CLEAN = ".clean-stop"  # written after the final snapshot of a clean stop
RECOVERY = ".recovery.json"  # what the last start restored
DIR_MARKER = ".s3-dir-marker"  # the file standing for a key that ends in "/"
SNAPSHOT_S = 2.0  # seconds between incremental snapshots: the most a crash loses


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=EMBEDDED_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=EMBEDDED_KEYS["AWS_SECRET_ACCESS_KEY"],
                        config=BotoConfig(retries={"max_attempts": 3}))


def _read_index(data: Path) -> dict:
    path = data / INDEX
    return json.loads(path.read_text()) if path.is_file() else {}


def key_to_path(bucket_dir: Path, key: str) -> Path:
    """Where object `key` lives in its bucket's folder (a marker key -> DIR_MARKER)."""
    return bucket_dir / (key + DIR_MARKER if key.endswith("/") else key)


def path_to_key(bucket_dir: Path, path: Path) -> str:
    """The inverse of key_to_path."""
    rel = path.relative_to(bucket_dir).as_posix()
    return rel[:-len(DIR_MARKER)] if path.name == DIR_MARKER else rel


def _is_object_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".tmp-")


def restore(client, data: Path) -> int:
    """Upload every file under `data` into its bucket; returns the object count."""
    count = 0
    for bucket_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        client.create_bucket(Bucket=bucket_dir.name)
        for path in sorted(p for p in bucket_dir.rglob("*") if _is_object_file(p)):
            client.upload_file(str(path), bucket_dir.name, path_to_key(bucket_dir, path))
            count += 1
    return count


def _write_atomic(path: Path, fetch) -> None:
    """fetch(tmp_name) writes the content; then it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    fetch(str(tmp))
    os.replace(tmp, path)


def snapshot(client, data: Path) -> int:
    """Mirror every bucket into `data`, writing only changed objects; returns writes."""
    old = _read_index(data)
    new, writes = {}, 0
    for bucket in client.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        (data / name).mkdir(parents=True, exist_ok=True)
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                ident = f"{name}/{obj['Key']}"
                new[ident] = obj["ETag"]
                target = key_to_path(data / name, obj["Key"])
                if old.get(ident) != obj["ETag"] or not target.is_file():
                    _write_atomic(target, lambda tmp, n=name, k=obj["Key"]:
                                  client.download_file(n, k, tmp))
                    writes += 1
    for ident in set(old) - set(new):
        bucket, key = ident.split("/", 1)
        key_to_path(data / bucket, key).unlink(missing_ok=True)
    _write_atomic(data / INDEX, lambda tmp: Path(tmp).write_text(json.dumps(new)))
    return writes


def _snapshots(client, data: Path, stop: threading.Event) -> None:
    """Every SNAPSHOT_S seconds until `stop`; a failed pass is retried at the next."""
    while not stop.wait(SNAPSHOT_S):
        try:
            snapshot(client, data)
        except Exception as exc:  # noqa: BLE001 - keep serving; the next pass retries
            print(f"snapshot failed, retrying in {SNAPSHOT_S} s: {exc}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="folder that keeps the objects")
    args = parser.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    index = data / INDEX
    clean = (data / CLEAN).is_file() or not index.is_file()
    (data / CLEAN).unlink(missing_ok=True)
    last = index.stat().st_mtime if index.is_file() else None

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    client = _client(f"http://{args.host}:{args.port}")
    restored = restore(client, data)
    (data / RECOVERY).write_text(json.dumps({"objects": restored, "clean": clean,
                                             "last_snapshot": last}))
    print(f"restored {restored} objects from {data}"
          + ("" if clean else " after an unclean stop"), flush=True)
    (data / ".ready").write_text(str(args.port))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = threading.Thread(target=_snapshots, args=(client, data, stop), daemon=True)
    worker.start()
    stop.wait()
    worker.join()
    print(f"wrote {snapshot(client, data)} changed objects to {data}", flush=True)
    (data / CLEAN).write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    (data / ".ready").unlink(missing_ok=True)
    server.stop()


if __name__ == "__main__":
    main()
