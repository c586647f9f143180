"""Comparison arithmetic: means and spreads over seeds, deltas paired by seed."""

import math

import pytest

from msvae.compare import table

RUNS = [
    {"model": "vae", "seed": 0, "recon_error_db": -2.0, "similarity_pct": 50.0},
    {"model": "vae", "seed": 1, "recon_error_db": -4.0, "similarity_pct": 54.0},
    {"model": "msvae", "seed": 1, "recon_error_db": -9.0, "similarity_pct": 60.0},
    {"model": "msvae", "seed": 0, "recon_error_db": -8.0, "similarity_pct": 61.0},
]
KEYS = ("recon_error_db", "similarity_pct")


def test_aggregate_mean_and_sample_std():
    models = table.aggregate(RUNS, KEYS)
    assert list(models) == ["vae", "msvae"]
    assert models["vae"]["recon_error_db"]["mean"] == pytest.approx(-3.0)
    assert models["vae"]["recon_error_db"]["std"] == pytest.approx(math.sqrt(2.0))
    assert models["msvae"]["similarity_pct"]["values"] == [61.0, 60.0]  # ordered by seed


def test_deltas_are_paired_by_seed():
    d = table.deltas(RUNS, "msvae", KEYS)["vs_vae"]
    # seed 0: -8 - -2 = -6; seed 1: -9 - -4 = -5
    assert d["recon_error_db"]["values"] == [-6.0, -5.0]
    assert d["recon_error_db"]["mean"] == pytest.approx(-5.5)
    assert d["similarity_pct"]["mean"] == pytest.approx((11.0 + 6.0) / 2)


def test_markdown_names_every_model_and_says_better_or_worse():
    runs = [{**r, "lsd_db": 10.0, "frechet_distance": 5.0, "active_units": 3,
             "temporal_fidelity": 0.5} for r in RUNS]
    floors = {"time_mean": {"recon_error_db": -7.5, "temporal_fidelity": 0.0}}
    text = table.markdown(table.aggregate(runs), table.deltas(runs, "msvae"), "msvae", floors)
    floor = next(line for line in text.splitlines() if line.startswith("| floor: time mean"))
    assert floor.startswith("| floor: time mean | -7.50 | n/a |")  # no LSD given: n/a
    assert floor.count("n/a") == 4 and "| 0.00 |" in floor  # 6 indicators, 2 given
    assert "| vae |" in text and "| msvae |" in text
    row = next(line for line in text.splitlines() if line.startswith("| vae | -5.50"))
    assert row.startswith("| vae | -5.50 ± 0.71 (better)")  # lower error is better
    assert "8.50 ± 3.54 (better)" in row  # higher similarity is better
    assert "| -3.00 ± 1.41 |" in text  # vae's own mean ± std
