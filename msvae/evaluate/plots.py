"""Figures people look at (PNG): mel spectrograms side by side, loss and KL curves, and
the one matplotlib set-up (headless Agg backend) every other figure uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib's pyplot on the Agg backend: renders to files, needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path) -> Path:
    """Write `fig` as a PNG at 100 dpi and free it."""
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return Path(path)


def mel_grid(panels: dict[str, np.ndarray], sources: list[str], path: str | Path,
             title: str = "", frame_s: float | None = None,
             band_hz: np.ndarray | None = None) -> Path:
    """One row per panel (e.g. reference, reconstruction), one column per source.

    Each panel is [sources, mels, frames] in dB; all share one colour scale. With
    `frame_s` (s per frame) and `band_hz` (each band's frequency) the axes are time, s,
    and frequency, Hz; panels may differ in length.
    """
    rows = list(panels)
    fig, axes = pyplot().subplots(len(rows), len(sources), squeeze=False,
                             figsize=(2.6 * len(sources), 2.0 * len(rows)))
    lo = min(float(np.min(p)) for p in panels.values())
    hi = max(float(np.max(p)) for p in panels.values())
    for r, row in enumerate(rows):
        for c, source in enumerate(sources):
            ax = axes[r][c]
            mel = panels[row][c]
            extent = None if frame_s is None else (0, mel.shape[-1] * frame_s, 0, mel.shape[0])
            image = ax.imshow(mel, origin="lower", aspect="auto", vmin=lo, vmax=hi,
                              cmap="magma", extent=extent)
            if frame_s is None:
                ax.set_xticks([])
            else:
                ax.tick_params(labelsize=7)
                if r == len(rows) - 1:
                    ax.set_xlabel("time (s)", fontsize=7)
            ticks = [] if band_hz is None or c else np.linspace(0, len(band_hz) - 1, 4).astype(int)
            ax.set_yticks([t + 0.5 for t in ticks],
                          [f"{band_hz[t] / 1000:.1f}k" if band_hz[t] >= 1000
                           else f"{band_hz[t]:.0f}" for t in ticks], fontsize=7)
            if r == 0:
                ax.set_title(source, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{row}\n(Hz)" if band_hz is not None else row, fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="dB")
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)


def curves(series: dict[str, list[tuple[int, float]]], path: str | Path, title: str = "") -> Path:
    """Metric curves against step, one axis per metric (e.g. loss, KL per level)."""
    names = sorted(series)
    fig, axes = pyplot().subplots(len(names), 1, squeeze=False, sharex=True,
                             figsize=(7, 1.8 * max(1, len(names))))
    for ax, name in zip(axes[:, 0], names):
        steps, values = zip(*sorted(series[name])) if series[name] else ((), ())
        ax.plot(steps, values, lw=1.2)
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path)
