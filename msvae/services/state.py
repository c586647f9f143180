"""The embedded services' state file: endpoints and pids that other commands read."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "services.json"
# The embedded S3 server accepts any key; these dummy keys are used only when the
# environment has none, and are the only keys that ever travel to Ray workers.
EMBEDDED_KEYS = {"AWS_ACCESS_KEY_ID": "msvae-local", "AWS_SECRET_ACCESS_KEY": "msvae-local"}


def state_dir(cfg) -> Path:
    """The services folder; MSVAE_STATE_DIR overrides the config (used by Ray workers)."""
    return Path(os.environ.get("MSVAE_STATE_DIR") or cfg.services.state_dir).expanduser().resolve()


def state_path(cfg) -> Path:
    return state_dir(cfg) / STATE_FILE


def read_state(cfg) -> dict | None:
    """The recorded state, or None when services were never started (or were stopped)."""
    path = state_path(cfg)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_state(cfg, state: dict) -> None:
    path = state_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def clear_state(cfg) -> None:
    state_path(cfg).unlink(missing_ok=True)
