"""`msvae evaluate` on piece rows without Ray: figures per split, the windows each covers,
the floors on the same windows, and the table people read."""

import json
import math

import numpy as np
import pytest
import torch

from msvae.config import load
from msvae.data.report import empty_report, quarantine_entry
from msvae.evaluate.floors import FramePCA, fitted_floor_windows, pca_floor
from msvae.evaluate.on_manifest import score_pieces
from msvae.evaluate.reference import FeatureReference
from msvae.evaluate.report import rows, table
from msvae.model import build_model

torch.set_num_threads(1)


def _piece(name: str, split: str, windows: int, mask: list[bool], seed: int) -> dict:
    g = np.random.default_rng(seed)
    report = empty_report()
    if not mask[1]:
        report["quarantined"] = [quarantine_entry(
            {"uri": f"{name}/instrument.wav", "piece": name, "source": "instrument"}, "empty")]
    return {"piece": name, "split": split, "mask": np.array(mask),
            "x": (-50 + 10 * g.standard_normal((windows, 4, 16, 32))).astype(np.float32),
            "start_s": np.arange(windows, dtype=np.float64), "report": json.dumps(report)}


def _blocks(pieces: list[dict], per_block: int = 2):
    """Piece rows batched as Ray Data hands them out (numpy batches, x ragged)."""
    for i in range(0, len(pieces), per_block):
        part = pieces[i:i + per_block]
        x = np.empty(len(part), dtype=object)
        x[:] = [p["x"] for p in part]
        yield {"piece": np.array([p["piece"] for p in part]), "x": x,
               "split": np.array([p["split"] for p in part]),
               "mask": np.stack([p["mask"] for p in part]),
               "start_s": np.array([p["start_s"] for p in part], dtype=object),
               "report": np.array([p["report"] for p in part])}


@pytest.fixture(scope="module")
def scored():
    torch.manual_seed(0)
    cfg = load(overrides=["model.kind=msvae", "data.n_mels=16", "model.channels=16",
                          "model.latent_dim=4", "model.heads=2", "model.attention_depth=1"])
    model = build_model(cfg).eval()
    pieces = [_piece("a", "train", 40, [True, True, True, True], 0),
              _piece("b", "train", 3, [True, False, False, False], 1),  # a mix, no stems
              _piece("c", "valid", 5, [True, True, True, False], 2),
              _piece("d", "test", 7, [False, True, True, True], 3)]  # no mix: not scored
    train = torch.from_numpy(pieces[0]["x"][:, 0])
    pca = pca_floor(model, train)
    result = score_pieces(model, _blocks(pieces), cfg, len(pieces),
                          FeatureReference.from_windows(train), pca)
    return result, pieces, pca


def test_every_split_counts_the_windows_its_figures_cover(scored):
    result, _, _ = scored
    splits = result["splits"]
    assert list(splits) == ["train", "valid", "test", "all"]
    assert {s: splits[s]["windows"] for s in splits} == {
        "train": 43, "valid": 5, "test": 0, "all": 48}
    assert {s: splits[s]["fill_windows"] for s in splits} == {
        "train": 40, "valid": 5, "test": 0, "all": 45}
    assert result["windows"] == 48 and result["fill_windows"] == 45
    assert math.isnan(splits["test"]["recon_error_db"])  # nothing scored there
    weighted = (43 * splits["train"]["lsd_db"] + 5 * splits["valid"]["lsd_db"]) / 48
    assert splits["all"]["lsd_db"] == pytest.approx(weighted)
    assert result["lsd_db"] == pytest.approx(splits["all"]["lsd_db"])
    for split in ("train", "valid", "all"):
        assert 0 <= splits[split]["fill/similarity_pct"] <= 100
    assert [q["piece"] for q in result["quarantined"]] == ["b"]


def test_the_floors_are_scored_on_the_same_windows(scored):
    result, pieces, pca = scored
    assert set(result["floors"]) == {"time_mean", "pca"}
    assert result["pca_components"] == pca.basis.shape[0] > 0
    valid = torch.from_numpy(pieces[2]["x"][:, 0])
    expected = fitted_floor_windows(valid, pca)
    for name in ("time_mean", "pca"):
        for key, values in expected[name].items():
            assert result["floors"][name]["valid"][key] == pytest.approx(float(values.mean()))
    assert result["floors"]["time_mean"]["all"]["temporal_fidelity"] == 0.0
    # without training windows there is no PCA to fit: the time-mean floor alone
    assert set(fitted_floor_windows(valid, None)) == {"time_mean"}
    assert isinstance(pca, FramePCA)


def test_the_table_names_units_direction_splits_counts_and_floors(scored):
    result, _, _ = scored
    body = rows(result)
    assert body[0] == ["", "unit", "better", "train", "valid", "test", "all"]
    by_label = {row[0]: row for row in body}
    assert by_label["windows scored (with a mix)"][3:] == ["43", "5", "0", "48"]
    assert by_label["  of them with stems (fill-in)"][3:] == ["40", "5", "0", "45"]
    assert by_label["reconstruction error"][1:3] == ["dB", "lower"]
    assert by_label["temporal fidelity"][1:3] == ["none", "higher"]
    assert by_label["similarity from the stems *"][1:3] == ["%", "higher"]
    frechet = by_label["Fréchet distance"]
    assert frechet[3:6] == ["", "", ""] and frechet[6] != "n/a"  # one figure, in "all"
    label = f"  floor: frame PCA, {result['pca_components']} per frame"
    floor_rows = [row for row in body if row[0] in (label, "  floor: time mean")]
    assert len(floor_rows) == 2 * 4  # under each of the four per-window indicators
    reconstruction = [row[0] for row in body].index("reconstruction error")
    assert body[reconstruction + 1][0] == "  floor: time mean"
    floor = result["floors"]["time_mean"]["all"]["recon_error_db"]
    assert body[reconstruction + 1][6] == f"{floor:.2f}"
    lines = table(result).splitlines()[:len(body)]
    assert len({len(line) for line in lines}) == 1  # the columns line up
    assert lines[3].startswith("reconstruction error") and " n/a " in lines[3]  # test: none
