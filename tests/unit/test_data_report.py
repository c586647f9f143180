"""The ingestion report's window counts per split and per piece, and their summary lines."""

from msvae.data.report import PIECES_LISTED, breakdown, count_windows, empty_report, merge


def _fragment(piece: str, split: str, windows: int) -> dict:
    fragment = empty_report()
    count_windows(fragment, piece, split, windows)
    return fragment


def test_merge_counts_windows_per_split_and_piece_in_split_order():
    total = merge([_fragment("b", "test", 0), _fragment("a", "train", 5),
                   _fragment("c", "train", 2), _fragment("d", "valid", 1)])
    assert total["windows_out"] == 8
    assert list(total["windows_per_split"].items()) == [("train", 7), ("valid", 1), ("test", 0)]
    assert total["windows_per_piece"] == {"a": 5, "b": 0, "c": 2, "d": 1}
    assert merge([total]) == total  # a merged report merges again to itself
    assert breakdown(total) == ["windows per split: train 7, valid 1, test 0",
                                "windows per piece: a 5, b 0, c 2, d 1"]


def test_breakdown_of_many_pieces_gives_the_range_and_names_those_without_windows():
    n = PIECES_LISTED + 3  # 15 pieces: 1, 2, 3, 0, 5, 6, 7, 0, 9, ... 15 windows
    total = merge(_fragment(f"p{i:02d}", "train", 0 if i in (3, 7) else i + 1)
                  for i in range(n))
    assert breakdown(total)[1] == (f"windows per piece: {n} pieces, 0 to {n} (median 7); "
                                   "none from 2: p03, p07")
