"""Comparison arithmetic: means and spreads over seeds, deltas paired by seed, bootstrap
intervals over pieces, and the learning rate chosen on validation."""

import math
import re

import numpy as np
import pytest

from msvae.compare import table
from msvae.compare.bootstrap import interval, seed_interval
from msvae.compare.lr_grid import choose_lr, grid, run_count
from msvae.compare.variants import configured, label, slug
from msvae.config import ConfigError, load

RUNS = [
    {"model": "vae", "seed": 0, "recon_error_db": -2.0, "similarity_pct": 50.0},
    {"model": "vae", "seed": 1, "recon_error_db": -4.0, "similarity_pct": 54.0},
    {"model": "msvae", "seed": 1, "recon_error_db": -9.0, "similarity_pct": 60.0},
    {"model": "msvae", "seed": 0, "recon_error_db": -8.0, "similarity_pct": 61.0},
]
KEYS = ("recon_error_db", "similarity_pct")
PIECES = np.array(["a", "a", "b", "c"])  # four test windows of three pieces


def _units():
    """Per-window recon errors whose window means are the RUNS' values."""
    return {("vae", 0): {"recon_error_db": np.array([-1.0, -1.0, -3.0, -3.0])},
            ("vae", 1): {"recon_error_db": np.array([-4.0, -4.0, -4.0, -4.0])},
            ("msvae", 0): {"recon_error_db": np.array([-8.0, -8.0, -6.0, -10.0])},
            ("msvae", 1): {"recon_error_db": np.array([-9.0, -9.0, -9.0, -9.0])}}


def test_aggregate_mean_and_sample_std():
    models = table.aggregate(RUNS, KEYS)
    assert list(models) == ["vae", "msvae"]
    assert models["vae"]["recon_error_db"]["mean"] == pytest.approx(-3.0)
    assert models["vae"]["recon_error_db"]["std"] == pytest.approx(math.sqrt(2.0))
    assert models["msvae"]["similarity_pct"]["values"] == [61.0, 60.0]  # ordered by seed
    assert math.isnan(models["vae"]["recon_error_db"]["low"])  # no per-window values given


def test_deltas_are_paired_by_seed():
    d = table.deltas(RUNS, "msvae", KEYS)["vs_vae"]
    # seed 0: -8 - -2 = -6; seed 1: -9 - -4 = -5
    assert d["recon_error_db"]["values"] == [-6.0, -5.0]
    assert d["recon_error_db"]["mean"] == pytest.approx(-5.5)
    assert d["similarity_pct"]["mean"] == pytest.approx((11.0 + 6.0) / 2)


def test_intervals_bracket_the_mean_and_deltas_pair_windows():
    groups = {"recon_error_db": PIECES}
    models = table.aggregate(RUNS, KEYS, _units(), groups)
    stat = models["vae"]["recon_error_db"]
    assert stat["low"] <= stat["mean"] <= stat["high"] and stat["low"] < stat["high"]
    assert math.isnan(models["vae"]["similarity_pct"]["low"])  # no per-unit values: none
    d = table.deltas(RUNS, "msvae", KEYS, _units(), groups)["vs_vae"]["recon_error_db"]
    # per window, averaged over seeds: msvae [-8.5, -8.5, -7.5, -9.5], vae [-2.5, -2.5, -3.5,
    # -3.5]; ours minus theirs, window by window
    expected = interval(np.array([-6.0, -6.0, -4.0, -6.0]), PIECES)
    assert (d["low"], d["high"]) == pytest.approx(expected)
    assert d["low"] <= d["mean"] <= d["high"]


def test_a_constant_indicator_has_a_zero_width_interval():
    low, high = interval(np.full(7, 0.3), np.array(list("aabbbcd")))
    assert low == pytest.approx(0.3) and high == pytest.approx(0.3)


def test_two_pieces_by_hand():
    # piece a: two windows of 0, piece b: one window of 1. A resample draws aa (mean 0),
    # ab or ba (1/3) or bb (1), each pair of pieces with chance 1/4, 1/2, 1/4: the 95 %
    # interval runs from 0 to 1, while a window-level bootstrap would see three windows
    low, high = interval(np.array([0.0, 0.0, 1.0]), np.array(["a", "a", "b"]))
    assert (low, high) == (0.0, 1.0)
    # unscored windows (NaN) are left out; nothing scored: no interval
    assert interval(np.array([0.0, np.nan, 0.0]), np.array(["a", "b", "c"])) == (0.0, 0.0)
    assert all(math.isnan(v) for v in interval(np.array([np.nan]), np.array(["a"])))
    # the same seed gives the same interval; seeds are averaged window by window first
    values = np.arange(12.0)
    pieces = np.repeat(list("abcdef"), 2)
    assert interval(values, pieces) == interval(values, pieces)
    assert seed_interval([values, values + 2], pieces) == interval(values + 1, pieces)


def test_floor_stats_give_mean_and_interval():
    stats = table.floor_stats({"time_mean": {"temporal_fidelity": np.zeros(4)},
                               "pca": {"lsd_db": np.array([1.0, 3.0, 2.0, 2.0])}}, PIECES)
    assert stats["time_mean"]["temporal_fidelity"] == {"mean": 0.0, "low": 0.0, "high": 0.0}
    assert stats["pca"]["lsd_db"]["mean"] == 2.0
    assert stats["pca"]["lsd_db"]["low"] <= 2.0 <= stats["pca"]["lsd_db"]["high"]


def test_markdown_names_every_model_and_says_better_or_worse():
    runs = [{**r, "lsd_db": 10.0, "frechet_distance": 5.0, "active_units": 3,
             "temporal_fidelity": 0.5, "recon_similarity_pct": 90.0,
             **{k: math.nan for k in table.INDICATORS
                if k.startswith((*table.FILL_PREFIXES, "sample/"))}}
            for r in RUNS]
    units, groups = _units(), {"recon_error_db": PIECES}
    floors = {"time_mean": {"recon_error_db": {"mean": -7.5, "low": -8.0, "high": -7.0},
                            "temporal_fidelity": {"mean": 0.0, "low": 0.0, "high": 0.0}}}
    text = table.markdown(table.aggregate(runs, units=units, groups=groups),
                          table.deltas(runs, "msvae", units=units, groups=groups), "msvae",
                          floors)
    floor = next(line for line in text.splitlines() if line.startswith("| floor: time mean"))
    assert floor.startswith("| floor: time mean | -7.50 [-8.00, -7.00] | n/a |")  # no LSD
    columns = len(table.INDICATORS)
    assert floor.count("n/a") == columns - 2 and "| 0.00 [0.00, 0.00] |" in floor  # 2 given
    assert "| vae |" in text and "| msvae |" in text
    row = next(line for line in text.splitlines() if line.startswith("| vae | -5.50"))
    assert row.startswith("| vae | -5.50 ± 0.71 [")  # lower error is better
    assert "] (better)" in row.split("|")[2]
    assert "8.50 ± 3.54 (better)" in row  # higher similarity is better; no interval given
    assert "| -3.00 ± 1.41 [" in text  # vae's own mean ± std [interval]
    assert "| 5.00 ± 0.00 |" in text  # Fréchet: one number per run, no interval


def test_the_learning_rate_with_the_best_validation_score_is_chosen():
    assert choose_lr({1e-3: 0.2, 3e-3: 0.4}) == 3e-3
    assert choose_lr({1e-3: 0.4, 3e-3: 0.4}) == 1e-3  # a tie keeps the first
    assert choose_lr({1e-3: math.nan, 3e-3: 0.1, 1e-2: None}) == 3e-3  # unscored runs lose
    assert choose_lr({3e-3: None, 1e-3: math.nan}) == 3e-3  # nothing scored: the first
    cfg = load(overrides=["compare.lrs=[1.0e-3, 3.0e-3]", "compare.seeds=[0, 1, 2]"])
    assert grid(cfg) == [1e-3, 3e-3] and run_count(cfg) == 3 * (2 + 2)
    assert grid(load(overrides=["train.lr=0.002"])) == [0.002]  # no grid: train.lr


def test_report_says_what_the_intervals_are(tmp_path):
    from msvae.compare.report import bar_chart, floor_marks, report_markdown

    runs = [{**r, **{k: 1.0 for k in table.INDICATORS if k not in r}} for r in RUNS]
    units, groups = _units(), {"recon_error_db": PIECES}
    models = table.aggregate(runs, units=units, groups=groups)
    result = {
        "name": "t", "ours": "msvae", "dataset": "s3://x", "models": models,
        "deltas": table.deltas(runs, "msvae", units=units, groups=groups), "floors": {},
        "budget": {"steps": 2, "batch_size": 8, "workers": 1, "seeds": [0, 1],
                   "test_windows": 4, "test_pieces": 3},
        "intervals": {"level": 0.95, "resamples": 1000, "pieces": 3, "samples": 200},
        "lr": {"metric": "valid/temporal_fidelity", "seed": 0, "grid": [1e-3, 3e-3],
               "models": {"vae": {"chosen": 3e-3, "runs": [
                   {"lr": 1e-3, "run": "t-vae-s0-lr0.001", "valid_score": 0.1},
                   {"lr": 3e-3, "run": "t-vae-s0-lr0.003", "valid_score": 0.2}]}}},
        "paper": {"vs_vae": {"recon_error_db": -23.0, "similarity_pct": 18.0}},
        "sizes": table.sizes([{"model": "vae", "seed": 0, "parameters": 51234,
                               "latents_per_frame": 4, "windows_per_s": 80.0}], ["vae"]),
        "validation": {"metric": "valid/temporal_fidelity", "curves": table.validation_curves(
            {"vae": [[(1, 0.1), (2, 0.15)]], "msvae": [[(1, 0.3), (2, 0.31)]]})}}
    text = report_markdown(result)
    assert "95 % bootstrap intervals over the 3 test pieces" in text
    assert "| vae | 0.003 (chosen) | 0.200 | t-vae-s0-lr0.003 |" in text
    assert "| vae | 0.001 | 0.100 | t-vae-s0-lr0.001 |" in text
    assert "| msvae | 0.300 | 0.310 | +0.010 |" in text  # the validation curve's last rise
    assert "| vae | 51,234 | 4 | 80.0 ± 0.0 |" in text  # size, latent budget, speed
    paper = next(line for line in text.splitlines() if line.startswith("| vae | -23 |"))
    assert "| -5.50 ± 0.71 [" in paper and "| +18 | 8.50 ± 3.54 |" in paper
    assert bar_chart(models, tmp_path / "bars.png").stat().st_size > 0
    floors = {"time_mean": {"temporal_fidelity": {"mean": 0.0}, "lsd_db": {"mean": math.nan}},
              "pca": {"temporal_fidelity": {"mean": 0.8}}}
    assert floor_marks(floors, "temporal_fidelity") == [("floor: time mean", 0.0),
                                                        ("floor: pca", 0.8)]
    assert floor_marks(floors, "lsd_db") == [] and floor_marks(floors, "active_units") == []
    assert bar_chart(models, tmp_path / "floors.png", floors).stat().st_size > 0


def test_verdict_reads_the_interval_then_the_mean():
    # reconstruction error: lower is better; similarity: higher is better
    assert table.verdict("recon_error_db", {"mean": -2.0, "low": -3.0, "high": -1.0}) == "better"
    assert table.verdict("similarity_pct", {"mean": -2.0, "low": -3.0, "high": -1.0}) == "worse"
    assert table.verdict("recon_error_db", {"mean": -0.5, "low": -1.0, "high": 0.5}) == \
        "no clear difference"
    assert table.verdict("recon_error_db", {"mean": 0.4}) == "worse"
    assert table.verdict("recon_error_db", {"mean": 0.0}) == "no clear difference"


def test_validation_curves_average_seeds_and_measure_the_last_rise():
    curves = table.validation_curves({
        "msvae": [[(250, 0.2), (500, 0.5), (750, 0.6)], [(250, 0.4), (500, 0.5), (750, 0.64)]],
        "vae": [[(250, 0.1)]]})
    assert curves["msvae"]["steps"] == [250, 500, 750]
    assert curves["msvae"]["mean"] == pytest.approx([0.3, 0.5, 0.62])
    assert curves["msvae"]["last_gain"] == pytest.approx(0.12)
    assert math.isnan(curves["vae"]["last_gain"])  # one point: no interval to rise over


def test_a_remixes_variant_is_its_kind_trained_on_remixed_mixes():
    cfg = load(overrides=["compare.models=[vae, single, single+remixes, msvae]",
                          "compare.remix_share=0.3", "train.remix_share=0.2"])
    assert [label(e) for e in cfg.compare.models] == ["vae", "single", "single + remixes",
                                                      "msvae"]
    remixed, plain = configured(cfg, "single+remixes"), configured(cfg, "single")
    assert (remixed.model.kind, remixed.train.remix_share) == ("single", 0.3)
    assert (plain.model.kind, plain.train.remix_share) == ("single", 0.0)  # never remixed
    assert slug("single+remixes") == "single-remixes" and run_count(cfg) == 4 * 3
    for bad in ("single+remix", "remixes"):
        with pytest.raises(ConfigError, match=rf"^compare.models: unknown model '{re.escape(bad)}' "
                           r"\(expected KIND or KIND\+remixes, KIND one of vae, single, "
                           r"msvae\)$"):
            load(overrides=[f"compare.models=[{bad}]"])


def test_sizes_and_the_remixes_line_beside_single_and_msvae():
    runs = [{**{k: 1.0 for k in table.INDICATORS}, "model": model, "seed": seed,
             "recon_error_db": error, "parameters": size, "latents_per_frame": 3,
             "windows_per_s": speed}
            for model, size in (("single", 1000), ("single + remixes", 1000),
                                ("msvae", 1100), ("msvae given the stems", 1100))
            for seed, error, speed in ((1, -6.0, 110.0), (0, -5.0, 90.0))]
    sizes = table.sizes(runs, ["single", "single + remixes", "msvae"])
    assert list(sizes) == ["single", "single + remixes", "msvae"]  # the stems row: no model
    assert sizes["msvae"]["windows_per_s"]["values"] == [90.0, 110.0]  # ordered by seed
    lines = table.size_markdown(sizes).splitlines()
    assert lines[0] == ("| model | parameters | latent numbers per frame | training "
                        "windows/s |")
    assert "| single + remixes | 1,000 | 3 | 100.0 ± 14.1 |" in lines
    text = table.markdown(table.aggregate(runs), table.deltas(
        [r for r in runs if r["model"] in sizes], "msvae"), "msvae")
    rows = [line.split(" | ")[0] for line in text.splitlines()]
    assert rows[2:6] == ["| single", "| single + remixes", "| msvae", "| msvae given the stems"]
    assert rows[-2:] == ["| single", "| single + remixes"]  # msvae minus each
