"""Piece results -> window rows, the reshaping both Ray Data paths share."""

import numpy as np

from msvae.data.pipeline import _explode, _ragged, window_rows


def _piece(name: str, windows: int, split: str = "train") -> dict:
    x = np.arange(windows * 2 * 3 * 4, dtype=np.float32).reshape(windows, 2, 3, 4) + len(name)
    return {"piece": name, "split": split, "x": x, "mask": np.array([True, name != "b"]),
            "start_s": np.arange(windows) * 0.5}


def test_window_rows_repeat_piece_fields_per_window_and_skip_empty_pieces():
    rows = window_rows([_piece("a", 2), _piece("b", 0), _piece("cc", 3, "valid")],
                        ["x", "mask", "piece", "start_s", "split"])
    assert rows["x"].shape == (5, 2, 3, 4) and rows["x"].dtype == np.float32
    assert list(rows["piece"]) == ["a", "a", "cc", "cc", "cc"]
    assert list(rows["split"]) == ["train", "train", "valid", "valid", "valid"]
    assert rows["mask"].tolist() == [[True, True]] * 5
    assert rows["start_s"].tolist() == [0.0, 0.5, 0.0, 0.5, 1.0]


def test_explode_of_piece_rows_matches_the_direct_path():
    pieces = [_piece("a", 2), _piece("b", 1)]
    batch = {"piece": np.array(["a", "b"]), "split": np.array(["train", "train"]),
             "x": _ragged([p["x"] for p in pieces]),
             "start_s": _ragged([p["start_s"] for p in pieces]),
             "mask": np.stack([p["mask"] for p in pieces]), "report": np.array(["{}", "{}"])}
    exploded, direct = _explode(batch, ["x", "mask"]), window_rows(pieces, ["x", "mask"])
    assert set(exploded) == {"x", "mask"}
    np.testing.assert_array_equal(exploded["x"], direct["x"])
    np.testing.assert_array_equal(exploded["mask"], direct["mask"])
