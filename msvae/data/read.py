"""Stage 1: read an object's bytes through `msvae.storage`, retrying transient errors.

Missing objects and permission errors are final (quarantined at once); anything else
(connection resets, throttling, timeouts) is retried with exponential backoff, on top
of the retries the storage clients already make per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from msvae import storage
from msvae.config import Config
from msvae.data.errors import Quarantine

_FINAL = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
BACKOFF_S = 0.2  # first retry delay, s; doubled per attempt


def read_source(cfg: Config, uri: str, *, opener: Callable | None = None,
                sleep: Callable[[float], None] = time.sleep) -> bytes:
    """All bytes of `uri` (s3:// on the configured endpoint, or a local path).

    `opener(path)` defaults to the storage filesystem's `open(path, "rb")`; tests pass a
    flaky one. Makes 1 + cfg.storage.retries attempts; raises Quarantine naming the cause.
    """
    if opener is None:
        try:
            fs, path = storage.filesystem(cfg, uri)
        except Exception as exc:  # noqa: BLE001 - a malformed URI or endpoint
            raise Quarantine(f"unreadable URI ({type(exc).__name__}: {exc})") from None
        opener = partial(fs.open, mode="rb")
    else:
        path = uri
    attempts = cfg.storage.retries + 1
    for attempt in range(attempts):
        try:
            with opener(path) as fh:
                return fh.read()
        except _FINAL as exc:
            raise Quarantine(f"unreadable: {type(exc).__name__}") from None
        except Exception as exc:  # noqa: BLE001 - transient: retry, then give up
            last = f"{type(exc).__name__}: {exc}"
            if attempt < attempts - 1:
                sleep(BACKOFF_S * 2 ** attempt)
    raise Quarantine(f"unreadable after {attempts} attempts ({last})")
