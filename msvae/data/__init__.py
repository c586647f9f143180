"""Ingestion: stream, clean and align heterogeneous audio sources into training rows.

Pure per-stage modules (read, decode, dsp, loudness, align, redundancy, windows) are
composed per piece in `piece`; Ray Data wraps that composition in `pipeline` (streamed
into Ray Train) and `prepare` (Parquet shards plus `report.json` in storage).
"""
