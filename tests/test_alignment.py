"""Alignment on a corpus built by `msvae corpus build`: the recorded offsets come back."""

from __future__ import annotations

import pytest

from msvae.data.ingest_piece import process_piece
from msvae.data.report import merge, offsets_within
from msvae.manifest import load_manifest

pytestmark = pytest.mark.slow


def test_offsets_recovered_within_10ms(services, smoke_manifest):
    manifest = load_manifest(services, smoke_manifest)
    cols = ["piece", "source", "kind", "uri", "split"]
    report = merge(process_piece(services, group[cols].to_dict("records")).report
                   for _, group in manifest.groupby("piece"))
    assert len(report["offsets"]) >= 20  # every used non-reference source is scored
    assert offsets_within(report, manifest, services.data.reference) >= 95.0
