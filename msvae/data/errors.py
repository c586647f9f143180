"""The exception that quarantines an input instead of stopping the run."""

from __future__ import annotations

from msvae.errors import MsvaeError


class Quarantine(MsvaeError):
    """An input that cannot be used; `str(exc)` is the one-line reason the report shows."""
