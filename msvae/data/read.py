"""Stage 1: read an object's bytes through `msvae.storage`.

One retry layer: the storage clients' own (botocore's standard mode, 1 + storage.retries
attempts per request, with backoff, for connection errors, throttling and timeouts).
What still fails after them is quarantined with its cause; a missing object or a
permission error is quarantined at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from msvae import storage
from msvae.config import Config
from msvae.data.errors import Quarantine

_FINAL = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def read_source(cfg: Config, uri: str, *, opener: Callable | None = None) -> bytes:
    """All bytes of `uri` (s3:// on the configured endpoint, or a local path).

    `opener(path)` defaults to the storage filesystem's `open(path, "rb")`; tests pass a
    failing one. Raises Quarantine naming the cause.
    """
    if opener is None:
        try:
            fs, path = storage.filesystem(cfg, uri)
        except Exception as exc:  # noqa: BLE001 - a malformed URI or endpoint
            raise Quarantine(f"unreadable URI ({type(exc).__name__}: {exc})") from None
        opener = partial(fs.open, mode="rb")
    else:
        path = uri
    try:
        with opener(path) as fh:
            return fh.read()
    except _FINAL as exc:
        raise Quarantine(f"unreadable: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - what the client's retries did not cure
        raise Quarantine(f"unreadable after {cfg.storage.retries + 1} attempts "
                         f"({type(exc).__name__}: {exc})") from None
