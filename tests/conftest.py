"""Shared fixtures: real embedded services (S3 + MLflow) in a temporary state folder."""

from __future__ import annotations

import pytest

from msvae.config import load
from msvae.services import embedded


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """Config pointing at a real S3 server and MLflow server, started once per session."""
    state = tmp_path_factory.mktemp("services")
    cfg = load(overrides=[f"services.state_dir={state}"])
    embedded.up(cfg, log=lambda *_: None)
    yield cfg
    embedded.down(cfg, log=lambda *_: None)


@pytest.fixture(scope="session")
def smoke_manifest(services):
    """A small real corpus (configs/smoke.yaml's piece count) on the embedded S3 server."""
    from msvae.corpus.build import build

    cfg = load("configs/smoke.yaml", [f"services.state_dir={services.services.state_dir}"])
    return build(cfg, "s3://msvae/corpus-smoke", cfg.corpus.pieces, cfg.corpus.seed).manifest
