"""The suite (`make test`) as pytest processes in two phases. Its Ray tests mostly wait on
process starts (13.5 CPU-minutes in 19 minutes of one process on 2 cores), so they share.

Phase 1, side by side: the tests not marked `serial` (services of their own), and the
serial tests that join a Ray head, in two processes ("head:0", "head:1") sharing one
`ray start --head` and one services instance started here. Phase 2, once that head is
stopped: the tests marked `own_ray`, with the same services (two Ray instances on one
machine break Ray Train's state queries). The parts are chosen in tests/conftest.py.
Usage: python tests/suite.py [pytest args]; each part's report prints once it ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import HEAD_CPUS, RayHead  # noqa: E402

from msvae.config import load  # noqa: E402
from msvae.services import embedded  # noqa: E402

HEAD_PARTS = ("head:0", "head:1")


def _start(part: str, env: dict, args: list[str], folder: Path) -> tuple:
    log = folder / f"{part.replace(':', '-')}.log"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args],
                            env=dict(env, MSVAE_SUITE_PART=part), stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)
    return part, proc, log, time.monotonic()


def _finish(run: tuple) -> tuple[str, int, float]:
    """Wait for a part, print its report -> (part, pytest's exit code, seconds)."""
    part, proc, log, started = run
    code = proc.wait()
    seconds = time.monotonic() - started
    print(f"{'=' * 28} part {part} ({seconds:.0f} s) {'=' * 28}", flush=True)
    print(log.read_text(errors="replace"), flush=True)
    return part, code, seconds


def main(args: list[str]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="msvae-suite-"))
    cfg = load(overrides=[f"services.state_dir={folder / 'services'}"])
    embedded.up(cfg, log=lambda *_: None)
    env = dict(os.environ, MSVAE_SUITE_SERVICES=str(folder / "services"),
               MSVAE_SUITE_LOCKS=str(folder))
    ended = []
    try:
        others = _start("others", env, args, folder)
        head = RayHead(dict(env, RAY_AUTH_MODE="disabled"), folder / "ray-head.log", HEAD_CPUS)
        try:
            heads = [_start(part, dict(env, MSVAE_SUITE_RAY=f"127.0.0.1:{head.port}"), args,
                            folder) for part in HEAD_PARTS]
            ended += [_finish(run) for run in heads]
        finally:
            head.stop()
        own = _start("own_ray", env, args, folder)
        ended += [_finish(own), _finish(others)]
    finally:
        embedded.down(cfg, log=lambda *_: None)
    for part, code, seconds in ended:
        print(f"part {part}: pytest exit {code} in {seconds:.0f} s")
    # pytest's 5 is "no test selected": fine for a part when another ran tests
    codes = [code for _, code, _ in ended]
    return 5 if all(c == 5 for c in codes) else max(c for c in codes if c != 5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
