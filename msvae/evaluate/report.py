"""`msvae evaluate`'s table for people: every indicator with its unit and which way is
better, per split and over all windows, the windows the figures cover, and the floors'
rows on the same windows under each figure they have (msvae.evaluate.floors)."""

from __future__ import annotations

import math
import textwrap

from msvae.evaluate.indicators import FILL_PREFIXES, INDICATORS, REAL

WHOLE_MODEL = ("similarity_pct", "frechet_distance", "sample/coherence", "sample/motion_db",
               "active_units")  # one figure per model
FILL_KEYS = tuple(k for k in INDICATORS if k.startswith(FILL_PREFIXES))  # fill-in windows


def _floor_label(name: str, components: int | None) -> str:
    return {"time_mean": "floor: time mean",
            "pca": f"floor: frame PCA, {components} per frame"}.get(name, f"floor: {name}")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def rows(result: dict) -> list[list[str]]:
    """The table's rows: a header, the window counts, then per indicator the model's row
    (label, unit, better, one cell per split and "all") and its floors' rows."""
    splits = list(result["splits"])
    per = result["splits"]
    out = [["", "unit", "better", *splits],
           ["windows scored (with a mix)", "", "", *(_cell(per[s]["windows"]) for s in splits)],
           ["  of them with stems (fill-in)", "", "",
            *(_cell(per[s]["fill_windows"]) for s in splits)]]
    order = sorted(INDICATORS, key=lambda k: (k in WHOLE_MODEL, k in FILL_KEYS))
    for key in order:
        label, unit, better = INDICATORS[key]
        cells = ([""] * (len(splits) - 1) + [_cell(result[key])] if key in WHOLE_MODEL
                 else [_cell(per[s][key]) for s in splits])
        out.append([label + (" *" if key in FILL_KEYS else ""), unit or "none", better,
                    *cells])
        if key in REAL:  # the same figure of the real windows: a perfect generator's
            real = REAL[key]
            out.append(["  real windows", "", "",
                        *([""] * (len(splits) - 1) + [_cell(result.get(real))]
                          if real in result else [_cell(per[s].get(real)) for s in splits])])
        for name, floor in result["floors"].items():
            if key in floor["all"]:
                out.append([f"  {_floor_label(name, result['pca_components'])}", "", "",
                            *(_cell(floor[s][key]) for s in splits)])
    return out


def table(result: dict) -> str:
    """The rows aligned (labels left, figures right), then what the marks and floors mean."""
    body = rows(result)
    widths = [max(len(row[i]) for row in body) for i in range(len(body[0]))]
    lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in body]
    notes = ("* over the windows with stems: the mix generated from the stems alone (or "
             "from the ambience alone). "
             "Generated audio (prior samples against the training windows) and active units "
             "are one figure per model, in the 'all' column; under each generated-audio "
             "figure, the same figure of the real windows scored (held-out ones for the "
             "Fréchet distance), which a perfect generator would reach. Floors: the same "
             "indicators on the same windows for each window's own average spectrum (time "
             "mean) and for a "
             "frame-wise PCA with as many numbers per frame as the model's latents (fitted on "
             "the training windows); a model below them has not learned the music.")
    return "\n".join([*lines, "", textwrap.fill(notes, width=max(88, len(lines[0])))])
