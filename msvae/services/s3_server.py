"""The embedded S3 endpoint: moto's standalone server, with its objects kept in a folder.

moto holds objects in memory. This process restores them from `--data` at start and
writes the changes back on SIGTERM/SIGINT (what `msvae services down` sends), so a
corpus uploaded once survives restarts. Layout: `<data>/<bucket>/<key>`.

Run as `python -m msvae.services.s3_server --host 127.0.0.1 --port P --data DIR`.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from moto.server import ThreadedMotoServer

from msvae.services.state import EMBEDDED_KEYS

INDEX = ".etags.json"  # key -> ETag of what the folder holds, to write back only changes


def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=EMBEDDED_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=EMBEDDED_KEYS["AWS_SECRET_ACCESS_KEY"],
                        config=BotoConfig(retries={"max_attempts": 3}))


def _read_index(data: Path) -> dict:
    path = data / INDEX
    return json.loads(path.read_text()) if path.is_file() else {}


def restore(client, data: Path) -> int:
    """Upload every file under `data` into its bucket; returns the object count."""
    count = 0
    for bucket_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        client.create_bucket(Bucket=bucket_dir.name)
        for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
            client.upload_file(str(path), bucket_dir.name, path.relative_to(bucket_dir).as_posix())
            count += 1
    return count


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
                target = data / name / obj["Key"]
                if old.get(ident) != obj["ETag"] or not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    client.download_file(name, obj["Key"], str(target))
                    writes += 1
    for ident in set(old) - set(new):
        (data / ident).unlink(missing_ok=True)
    (data / INDEX).write_text(json.dumps(new))
    return writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="folder that keeps the objects")
    args = parser.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    client = _client(f"http://{args.host}:{args.port}")
    print(f"restored {restore(client, data)} objects from {data}", flush=True)
    (data / ".ready").write_text(str(args.port))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print(f"wrote {snapshot(client, data)} changed objects to {data}", flush=True)
    (data / ".ready").unlink(missing_ok=True)
    server.stop()


if __name__ == "__main__":
    main()
