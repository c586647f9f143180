"""The one error base class: every failure a user can act on is an `MsvaeError`.

Each stage defines its own subclass beside the code that raises it (ConfigError,
StorageError, ManifestError, ...); `msvae.cli.main` catches the base once and prints
`msvae: error: <message>` as one line, exit status 2. Messages name the bad item.
"""

from __future__ import annotations


class MsvaeError(Exception):
    """A failure worded as one line that names the bad item (key, file, URI, run)."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
