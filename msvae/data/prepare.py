"""`prepare`: materialise a manifest as Parquet shards plus `report.json` in storage.

Layout under the output URI: `split=<split>/*.parquet` (columns x, mask, piece, start_s;
the split is the folder) written by Ray Data through `storage.pyarrow_filesystem`, and
`report.json` (see `msvae.data.report`).
"""

from __future__ import annotations

import json
import logging

from msvae import storage
from msvae.config import Config
from msvae.data import report as reports
from msvae.data.pipeline import piece_dataset, window_dataset
from msvae.errors import MsvaeError
from msvae.manifest import load_manifest

log = logging.getLogger(__name__)
REPORT_NAME = "report.json"
SHARD_COLUMNS = ["x", "mask", "piece", "start_s", "split"]


class NothingUsable(MsvaeError):
    """Every input was quarantined or dropped; the report says why."""


def prepare(cfg: Config, manifest_uri: str, out_uri: str) -> dict:
    """Run the pipeline over every piece of the manifest; returns the report.

    Raises ManifestError for an invalid manifest and NothingUsable (after writing the
    report) when no window survives; warns, one line each, of a split that gave none.
    """
    manifest = load_manifest(cfg, manifest_uri)
    pieces = piece_dataset(cfg, manifest).materialize()
    report = reports.merge(json.loads(r["report"])
                           for r in pieces.select_columns(["report"]).iter_rows())
    for split, windows in report["windows_per_split"].items():
        rows = manifest[manifest["split"] == split]
        if windows == 0 and report["windows_out"]:
            log.warning("split %r gave no window: its %d file(s) of %d piece(s) were all "
                        "quarantined or dropped every window; a run that reads it will fail",
                        split, len(rows), rows["piece"].nunique())
    storage.ensure_bucket(cfg, out_uri)
    storage.write_bytes(cfg, storage.join(out_uri, REPORT_NAME),
                        json.dumps(report, indent=2).encode())
    if report["windows_out"] == 0:
        raise NothingUsable(f"nothing usable in {manifest_uri}: {reports.summary(report)}")
    fs, path = storage.pyarrow_filesystem(cfg, out_uri)
    window_dataset(pieces, cfg, SHARD_COLUMNS).write_parquet(path, filesystem=fs,
                                                      partition_cols=["split"])
    return report


def prepared_for(cfg: Config, manifest_uri: str) -> tuple[str, dict]:
    """Shards for `manifest_uri` under `<storage.root>/prepared/<key>`, prepared once.

    The key hashes the manifest's bytes and the data settings, so a changed corpus or
    feature setting prepares anew and an unchanged one is reused. Returns (uri, report).
    """
    import dataclasses
    import hashlib

    from msvae.manifest import manifest_uri as resolve_manifest

    manifest_uri = resolve_manifest(manifest_uri)
    digest = hashlib.sha256(storage.read_bytes(cfg, manifest_uri))
    digest.update(json.dumps(dataclasses.asdict(cfg.data), sort_keys=True).encode())
    out = storage.join(cfg.storage.root, "prepared", digest.hexdigest()[:16])
    marker = storage.join(out, "COMPLETE")  # written last: a cut-off prepare is redone
    if storage.exists(cfg, marker):
        return out, json.loads(storage.read_bytes(cfg, storage.join(out, REPORT_NAME)))
    report = prepare(cfg, manifest_uri, out)
    storage.write_bytes(cfg, marker, b"")
    return out, report
