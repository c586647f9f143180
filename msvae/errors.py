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


class MissingExtra(MsvaeError):
    """An optional dependency group is not installed where a command needs it."""


def require_extra(module: str, extra: str) -> None:
    """Raise MissingExtra unless `module` imports; `extra` names the pip extra holding it,
    e.g. require_extra("moto", "embedded") -> pip install 'msvae[embedded]'."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtra(f"{module} is not installed: pip install 'msvae[{extra}]' "
                           f"(or `make install`)")
