"""SIGINT and SIGTERM stop every msvae command as Ctrl-C does, however it was started.

Both raise KeyboardInterrupt in the main thread: open MLflow runs close KILLED
(msvae.tracking.runs.lifecycle), the Ray instance a command started is shut down, and the
CLI prints `msvae: interrupted` and exits 130. The handlers are installed explicitly
because what a process inherits varies: a background job of a non-interactive shell
(`msvae train ... &` in a script) starts with SIGINT ignored, and Python then installs no
KeyboardInterrupt for it, so `kill -INT` did nothing; `ray.init` replaces SIGTERM with an
immediate exit, and Ray Train's `fit` replaces SIGINT with an abort that ends in
`sys.exit(0)` (msvae.train.launch keeps it out), which left runs RUNNING for good.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt from now on; a no-op outside the main
    thread (the only one that may set handlers, as in a Tune trial)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.default_int_handler)
