"""Two builds of one corpus at once (two shells, the suite's two processes) render it
once: the render cache folder is locked while it renders."""

from __future__ import annotations

import subprocess
import sys

from msvae.corpus.build import _render_lock

PROBE = """import fcntl, sys
with open(sys.argv[1], "w") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(3)
"""


def _other_process_gets_it(lock_file) -> bool:
    return subprocess.run([sys.executable, "-c", PROBE, str(lock_file)]).returncode == 0


def test_a_render_holds_its_cache_folder_against_another_process(tmp_path):
    root = tmp_path / "corpus" / "key"
    with _render_lock(root):
        assert root.parent.is_dir()
        assert not _other_process_gets_it(f"{root}.lock")
    assert _other_process_gets_it(f"{root}.lock")
