"""Ingestion: stream, clean and align heterogeneous audio sources into training rows.

Pure per-stage modules (read, decode, loudness, align, redundancy, windows, features;
resampling and channels come from msvae.audio) are composed per piece in
`ingest_piece`; Ray Data wraps that composition in `pipeline` (streamed into Ray Train)
and `prepare` (Parquet shards plus `report.json` in storage). `report` merges what each
piece counted.
"""
