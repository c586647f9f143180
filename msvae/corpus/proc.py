"""Run an external renderer (FluidSynth, Festival) bounded in time and output size.

Why: one MIDI file once made FluidSynth render forever (a 27 GB file). Every call here
has a wall-clock timeout and a file-size limit (RLIMIT_FSIZE: the kernel stops any write
past it), so a runaway render fails fast with one line instead of filling the disk.
"""

from __future__ import annotations

import resource
import subprocess

from msvae.errors import MsvaeError


class RenderError(MsvaeError):
    """An external renderer failed, timed out or wrote too much; one line."""


def run_bounded(cmd: list[str], *, timeout_s: float, max_bytes: int,
                stdin: bytes | None = None) -> None:
    """Run `cmd`; RenderError if it fails, outlives `timeout_s` or writes > `max_bytes`."""
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout_s,
                              preexec_fn=limit_file_size, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{cmd[0]}: no result within {timeout_s:g} s") from None
    except FileNotFoundError:
        raise RenderError(f"{cmd[0]}: not installed (see the README's Debian packages)") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        why = "output over the size limit" if done.returncode in (-25, 153) else (
            tail[-1] if tail else f"exit status {done.returncode}")
        raise RenderError(f"{cmd[0]}: {why}")
