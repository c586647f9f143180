"""One door to object storage: config -> s3fs, boto3 and pyarrow filesystems.

`s3://` URIs go to the configured endpoint (AWS, MinIO, or the embedded server that
`msvae services up` records); anything else is a local path. Keys come only from the
environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
"""

from __future__ import annotations

import os
import posixpath
from functools import lru_cache
from pathlib import Path

from msvae.config import Config
from msvae.errors import MsvaeError
from msvae.services.state import EMBEDDED_KEYS, read_state


class StorageError(MsvaeError):
    """Storage unreachable or an object missing, worded as one line naming the URI."""


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    rest = str(uri)[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join URI or path parts with '/'."""
    if is_s3(base):
        return posixpath.join(base, *parts)
    return str(Path(base, *parts))


def endpoint_url(cfg: Config) -> str | None:
    """The S3 endpoint: the configured one, else the embedded server's, else None (AWS)."""
    if cfg.storage.endpoint_url:
        return cfg.storage.endpoint_url
    if os.environ.get("MSVAE_S3_ENDPOINT"):
        return os.environ["MSVAE_S3_ENDPOINT"]
    state = read_state(cfg)
    return state["s3"]["endpoint"] if state else None


def _embedded(cfg: Config) -> bool:
    """True when the endpoint is the embedded server recorded by `msvae services up`."""
    state = read_state(cfg)
    return bool(state) and endpoint_url(cfg) == state["s3"]["endpoint"]


def credentials(cfg: Config) -> dict[str, str]:
    """S3 keys from the environment; the embedded server's dummy keys when none are set."""
    keys = {k: os.environ[k] for k in
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in os.environ}
    if "AWS_ACCESS_KEY_ID" not in keys and _embedded(cfg):
        keys.update(EMBEDDED_KEYS)
    return keys


def worker_env(cfg: Config) -> dict[str, str]:
    """Environment a Ray worker on another node needs to reach the same storage.

    Real keys are not shipped (runtime environments show in the Ray dashboard): nodes
    get theirs from their own environment or instance role. Only the embedded server's
    dummy keys travel.
    """
    env = {"AWS_DEFAULT_REGION": cfg.storage.region}
    url = endpoint_url(cfg)
    if url:
        env["MSVAE_S3_ENDPOINT"] = url
    if "AWS_ACCESS_KEY_ID" not in os.environ and _embedded(cfg):
        env.update(EMBEDDED_KEYS)
    return env


@lru_cache(maxsize=8)
def _s3fs(endpoint: str | None, region: str, key: str | None, secret: str | None,
          token: str | None, retries: int):
    import s3fs

    client_kwargs = {"region_name": region}
    if endpoint:
        client_kwargs["endpoint_url"] = endpoint
    return s3fs.S3FileSystem(
        key=key, secret=secret, token=token, client_kwargs=client_kwargs,
        config_kwargs={"retries": {"total_max_attempts": retries + 1, "mode": "standard"}},
        use_listings_cache=False, skip_instance_cache=True)


def s3_filesystem(cfg: Config):
    """An s3fs filesystem on the configured endpoint."""
    keys = credentials(cfg)
    return _s3fs(endpoint_url(cfg), cfg.storage.region, keys.get("AWS_ACCESS_KEY_ID"),
                 keys.get("AWS_SECRET_ACCESS_KEY"), keys.get("AWS_SESSION_TOKEN"),
                 cfg.storage.retries)


def filesystem(cfg: Config, uri: str):
    """(fsspec filesystem, path inside it) for an `s3://` URI or a local path."""
    if is_s3(uri):
        return s3_filesystem(cfg), str(uri)[len("s3://"):]
    import fsspec

    return fsspec.filesystem("file"), str(Path(uri).expanduser().resolve())


def boto3_client(cfg: Config):
    """A boto3 S3 client on the configured endpoint."""
    import boto3
    from botocore.config import Config as BotoConfig

    keys = credentials(cfg)
    return boto3.client(
        "s3", endpoint_url=endpoint_url(cfg), region_name=cfg.storage.region,
        aws_access_key_id=keys.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        config=BotoConfig(retries={"total_max_attempts": cfg.storage.retries + 1,
                                   "mode": "standard"}))


def pyarrow_filesystem(cfg: Config, uri: str):
    """(pyarrow filesystem, path inside it), the form Ray Data and Ray Train take."""
    import pyarrow.fs as pafs

    if not is_s3(uri):
        return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    keys = credentials(cfg)
    url = endpoint_url(cfg)
    kwargs = {"region": cfg.storage.region,
              "access_key": keys.get("AWS_ACCESS_KEY_ID"),
              "secret_key": keys.get("AWS_SECRET_ACCESS_KEY"),
              "session_token": keys.get("AWS_SESSION_TOKEN"),
              "retry_strategy": pafs.AwsStandardS3RetryStrategy(cfg.storage.retries)}
    if url:
        scheme, _, hostport = url.partition("://")
        kwargs.update(endpoint_override=hostport, scheme=scheme)
    return pafs.S3FileSystem(**kwargs), str(uri)[len("s3://"):]


def ensure_bucket(cfg: Config, uri: str) -> None:
    """Create the bucket of an `s3://` URI if it does not exist; no-op for local paths."""
    if not is_s3(uri):
        Path(uri).mkdir(parents=True, exist_ok=True)
        return
    client = boto3_client(cfg)
    bucket, _ = split_s3(uri)
    try:
        client.head_bucket(Bucket=bucket)
    except client.exceptions.ClientError:
        client.create_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - endpoint down, DNS, ...
        raise StorageError(f"{uri}: storage unreachable at {endpoint_url(cfg) or 'AWS'} "
                           f"({type(exc).__name__})") from None


def read_bytes(cfg: Config, uri: str) -> bytes:
    """The whole object; StorageError naming the URI when it cannot be read."""
    fs, path = filesystem(cfg, uri)
    try:
        with fs.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise StorageError(f"{uri}: no such object") from None
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"{uri}: unreadable ({type(exc).__name__}: {exc})") from None


def write_bytes(cfg: Config, uri: str, data: bytes) -> None:
    """Write an object, creating parent folders for local paths."""
    fs, path = filesystem(cfg, uri)
    if not is_s3(uri):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with fs.open(path, "wb") as fh:
        fh.write(data)


def exists(cfg: Config, uri: str) -> bool:
    fs, path = filesystem(cfg, uri)
    return fs.exists(path)
