"""One door to object storage: config -> s3fs, boto3 and pyarrow filesystems.

`s3://` URIs go to the configured endpoint (AWS, MinIO, or the embedded server that
`msvae services up` records); anything else is a local path. Keys come only from the
environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), or boto's own
chain (profile, instance role) where no key is set. Before a URI is touched,
`check_access` says in one line when the endpoint does not answer or no keys are found,
instead of the clients' retries ending in a credentials error.
"""

from __future__ import annotations

import os
import posixpath
import socket
import urllib.request
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from msvae.config import Config
from msvae.errors import MsvaeError, one_line
from msvae.services.state import EMBEDDED_KEYS, read_state

REACH_TIMEOUT_S = 2.0  # the up-front TCP connect to the endpoint, s
CONNECT_TIMEOUT_S = 3.0  # each client connection attempt, s (botocore's default is 60)


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
    """The S3 endpoint: the configured one, else the embedded server's, else boto's own
    AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (which the clients would follow anyway), else
    None (AWS)."""
    if cfg.storage.endpoint_url:
        return cfg.storage.endpoint_url
    if os.environ.get("MSVAE_S3_ENDPOINT"):
        return os.environ["MSVAE_S3_ENDPOINT"]
    state = read_state(cfg)
    if state:
        return state["s3"]["endpoint"]
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _public_endpoint(cfg: Config) -> str:
    """The endpoint's URL as a user would write it: the configured one, or AWS's regional."""
    return endpoint_url(cfg) or f"https://s3.{cfg.storage.region}.amazonaws.com"


@lru_cache(maxsize=16)
def _connects(url: str) -> None:
    """Open and close one TCP connection to `url`'s host and port within REACH_TIMEOUT_S;
    raises OSError when it cannot. Cached only on success (lru_cache keeps no exception),
    so a process checks a reachable endpoint once and an unreachable one every time."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    socket.create_connection((parts.hostname, port), timeout=REACH_TIMEOUT_S).close()


def _proxied(url: str) -> bool:
    """True when the clients would reach `url` through an HTTP(S) proxy from the
    environment, where a direct TCP connect says nothing."""
    parts = urlsplit(url)
    return bool(urllib.request.getproxies().get(parts.scheme)) and not \
        urllib.request.proxy_bypass(parts.hostname or "")


def _unreachable_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, TimeoutError):
        return f"no answer within {REACH_TIMEOUT_S:.0f} s"
    return (exc.strerror or type(exc).__name__).lower()


@lru_cache(maxsize=1)
def _boto_chain_has_credentials() -> bool:
    """Whether boto's own chain (shared files, profile, container or instance role) finds
    keys, for processes whose environment sets none; looked up once per process."""
    import boto3

    return boto3.Session().get_credentials() is not None


def check_access(cfg: Config, uri: str) -> None:
    """StorageError in one line naming the endpoint and `uri` when an `s3://` URI's endpoint
    does not accept a TCP connection within REACH_TIMEOUT_S, or when no S3 keys are found
    for it; a no-op for local paths. Called before any client touches the URI, so a wrong
    endpoint fails in seconds instead of after the clients' retries."""
    if not is_s3(uri):
        return
    url = _public_endpoint(cfg)
    if not _proxied(url):
        try:
            _connects(url)
        except OSError as exc:
            raise StorageError(f"{uri}: storage endpoint {url} unreachable "
                               f"({_unreachable_reason(exc)}); check storage.endpoint_url "
                               f"or run `msvae services up`") from None
    if "AWS_ACCESS_KEY_ID" not in credentials(cfg) and not _boto_chain_has_credentials():
        raise StorageError(f"{uri}: no S3 credentials for {url}: set AWS_ACCESS_KEY_ID and "
                           f"AWS_SECRET_ACCESS_KEY (or an AWS profile or instance role)")


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
        config_kwargs={"retries": {"total_max_attempts": retries + 1, "mode": "standard"},
                       "connect_timeout": CONNECT_TIMEOUT_S},
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
        check_access(cfg, uri)
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
                                   "mode": "standard"}, connect_timeout=CONNECT_TIMEOUT_S))


def pyarrow_filesystem(cfg: Config, uri: str):
    """(pyarrow filesystem, path inside it), the form Ray Data and Ray Train take."""
    import pyarrow.fs as pafs

    if not is_s3(uri):
        return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    check_access(cfg, uri)
    keys = credentials(cfg)
    url = endpoint_url(cfg)
    kwargs = {"region": cfg.storage.region,
              "access_key": keys.get("AWS_ACCESS_KEY_ID"),
              "secret_key": keys.get("AWS_SECRET_ACCESS_KEY"),
              "session_token": keys.get("AWS_SESSION_TOKEN"),
              "retry_strategy": pafs.AwsStandardS3RetryStrategy(cfg.storage.retries),
              "connect_timeout": CONNECT_TIMEOUT_S}
    if url:
        scheme, _, hostport = url.partition("://")
        kwargs.update(endpoint_override=hostport, scheme=scheme)
    return pafs.S3FileSystem(**kwargs), str(uri)[len("s3://"):]


def ensure_bucket(cfg: Config, uri: str) -> None:
    """Create the bucket of an `s3://` URI if it does not exist; no-op for local paths."""
    if not is_s3(uri):
        Path(uri).mkdir(parents=True, exist_ok=True)
        return
    check_access(cfg, uri)
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
    """Write an object, creating parent folders for local paths; StorageError naming the
    URI when it cannot be written."""
    fs, path = filesystem(cfg, uri)
    try:
        if not is_s3(uri):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with fs.open(path, "wb") as fh:
            fh.write(data)
    except Exception as exc:  # noqa: BLE001 - what the client's retries did not cure
        raise StorageError(f"{uri}: not written ({type(exc).__name__}: {one_line(exc)})") \
            from None


def exists(cfg: Config, uri: str) -> bool:
    fs, path = filesystem(cfg, uri)
    return fs.exists(path)
