"""A model scored on windows: every indicator per window over batches, and their averages
over all windows or a subset (a split; msvae.evaluate.on_manifest scores a manifest).

Headline figures use the mix slot for every model so that vae, single and msvae compare
on the same target; msvae also gets per-source reconstruction errors. Collapse monitors
(KL per level, active units) come from msvae.model.objective. Given a FeatureReference
(training statistics, msvae.evaluate.reference), the generated-audio figures are scored
too: similarity, Fréchet distance, coherence and motion of FRECHET_WINDOWS prior samples
drawn with a fixed seed, and the similarity of the mix generated from the stems; without
one they are NaN. Fill-ins are scored twice: the mix generated from every stem a window has
(`fill/...`) and from its ALONE stem only (`alone/...`: no music given at all, so only
coherence, motion and level). Beside each generated-audio figure stands the same figure of
the real windows scored (`real/...`, indicators.REAL): what a perfect generator would reach.
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from msvae.config import Config
from msvae.evaluate.indicators import (
    GENERATED_INDICATORS,
    WINDOW_INDICATORS,
    frechet_distance,
    level_db,
    recon_error_db,
    temporal_fidelity,
)
from msvae.evaluate.reference import (
    FRECHET_WINDOWS,
    FeatureReference,
    generated_frechet,
    paired_similarity_pct,
    similarity_pct,
)
from msvae.generate.complete import alone_case, fill_in_case
from msvae.model import output_slots
from msvae.model.objective import active_units, kl_per_dim, unit_moments

EVAL_BATCH = 32  # windows per batch when scoring outside training
SAMPLE_SEED = 0  # prior samples and fill-ins of the generated-audio figures: the same every run
ALONE = "ambience"  # the stem the `alone/...` fill-ins are given: a piece's bed, no music
WINDOW_KEYS = (*WINDOW_INDICATORS, "fill/temporal_fidelity", "fill/recon_error_db",
               "fill/similarity_pct", "fill/coherence", "fill/motion_db", "fill/level_db",
               "alone/coherence", "alone/motion_db", "alone/level_db",
               "real/coherence", "real/motion_db",
               "real/similarity_pct")  # reported even when nothing was scored
SAMPLE_KEYS = ("similarity_pct", "sample/coherence", "sample/motion_db")  # per prior sample


@dataclass
class WindowScores:
    """One model's figures on a set of windows before averaging, so callers can bootstrap."""

    windows: dict[str, np.ndarray]  # key -> [rows] per input row in order; NaN: not scored
    samples: dict[str, np.ndarray]  # key -> [FRECHET_WINDOWS] per prior sample; {}: no reference
    totals: dict[str, float]  # windows (mix rows), active_units, frechet_distance, kl_level<i>
    real: np.ndarray | None = None  # [rows, F] real mixes' standardised features; NaN: no mix


def real_frechet(reference_bank: torch.Tensor, real: np.ndarray | None,
                 rows: np.ndarray | None = None) -> float:
    """Fréchet distance of the real windows among `rows` (all by default) to the training
    bank: what a perfect generator's samples would score; NaN under 2 windows."""
    if real is None:
        return math.nan
    picked = real if rows is None else real[rows]
    picked = picked[~np.isnan(picked).any(axis=1)]
    return frechet_distance(reference_bank, torch.from_numpy(picked)) if len(picked) > 1 \
        else math.nan


@torch.no_grad()
def score_windows(model: torch.nn.Module, batches, cfg: Config,
                  reference: FeatureReference | None = None) -> WindowScores:
    """Every indicator per window of `batches` ({"x": [B, S, M, T] dB, "mask": [B, S]}); the
    mix figures where the mix is present, the fill-in figures where stems are too."""
    was_training = model.training
    model.eval()
    mix = cfg.data.sources.index("mix")
    parts, kl, moments, real = defaultdict(list), defaultdict(float), None, []
    rows, mixes, frames = 0, 0, None
    for batch in batches:
        x = _own_tensor(batch["x"], torch.float32, model.device)
        mask = _own_tensor(batch["mask"], torch.bool, model.device)
        out = model(x, mask)
        for key, values in _window_values(model, x, mask, out.recon.float(), cfg,
                                          reference).items():
            parts[key].append(values)
        for i, k in enumerate(kl_per_dim(out.kl)):
            kl[f"kl_level{i}"] += float(k.sum()) * x.shape[0]
        batch_moments = unit_moments(out.mu)
        moments = batch_moments if moments is None else [
            a + b for a, b in zip(moments, batch_moments)]
        rows, mixes, frames = rows + x.shape[0], mixes + int(mask[:, mix].sum()), x.shape[-1]
        if reference is not None:
            features = reference.standardise(x[:, mix]).double().cpu()
            real.append(torch.where(mask[:, mix, None].cpu(), features, math.nan).numpy())
    samples, frechet = _generated(model, frames, mix, reference)
    model.train(was_training)
    real = np.concatenate(real) if real else None
    totals = {"windows": mixes, "active_units": sum(active_units(moments)) if moments else 0,
              "frechet_distance": frechet,
              "real/frechet_distance": real_frechet(reference.bank, real) if reference else
              math.nan, **{k: v / rows for k, v in kl.items()}}
    return WindowScores({k: np.concatenate(v) for k, v in parts.items()}, samples, totals, real)


def _own_tensor(values, dtype: torch.dtype, device) -> torch.Tensor:
    """A tensor of `values`; a NumPy array is copied, since Ray Data hands out read-only
    ones, which torch would share with a warning."""
    if isinstance(values, torch.Tensor):
        return values.to(device=device, dtype=dtype)
    return torch.tensor(values, dtype=dtype, device=device)


def scatter_rows(rows: int, where: torch.Tensor, values: torch.Tensor) -> np.ndarray:
    """Per-window `values` of the rows in `where` -> [rows] float64, NaN elsewhere."""
    out = np.full(rows, np.nan)
    out[where.cpu().numpy()] = values.double().cpu().numpy()
    return out


def _window_values(model, x: torch.Tensor, mask: torch.Tensor, recon: torch.Tensor,
                   cfg: Config, reference: FeatureReference | None) -> dict[str, np.ndarray]:
    """One batch's per-window figures, each [B] with NaN where the window was not scored."""
    mix, rows, sources = cfg.data.sources.index("mix"), x.shape[0], cfg.data.sources
    keep = mask[:, mix]
    values = {key: scatter_rows(rows, keep, fn(x[keep, mix], recon[keep, mix]))
              for key, fn in WINDOW_INDICATORS.items()}
    values.update({f"real/{key}": scatter_rows(rows, keep, fn(x[keep, mix]))
                   for key, fn in GENERATED_INDICATORS.items()})
    if reference is not None:  # how near real held-out windows lie to a training window
        values["real/similarity_pct"] = scatter_rows(rows, keep,
                                                     similarity_pct(reference, x[keep, mix]))
    generated = {**{key: (lambda ref, est, fn=fn: fn(est))  # the generated window alone
                    for key, fn in GENERATED_INDICATORS.items()},
                 "level_db": lambda ref, est: level_db(est) - level_db(ref)}
    cases = {"fill": (fill_in_case(mask, mix), {
        "temporal_fidelity": temporal_fidelity, "recon_error_db": recon_error_db, **generated,
        "similarity_pct": None if reference is None
        else partial(paired_similarity_pct, reference)})}
    if ALONE in sources:
        cases["alone"] = (alone_case(mask, mix, sources.index(ALONE)), generated)
    for case, (given, indicators) in cases.items():
        rows_of, ref, est = _fill_in(model, x, *given, mix)
        for key, fn in indicators.items():
            values[f"{case}/{key}"] = (scatter_rows(rows, rows_of, fn(ref, est))
                                       if fn and bool(rows_of.any()) else np.full(rows, np.nan))
    for slot in output_slots(cfg):
        there = mask[:, slot]
        values[f"recon_error_db/{sources[slot]}"] = scatter_rows(
            rows, there, recon_error_db(x[there, slot], recon[there, slot]))
    return values


def _fill_in(model, x: torch.Tensor, given: torch.Tensor, rows: torch.Tensor, mix: int):
    """(the `rows` scored, their real mix, their mix generated from the `given` slots alone)
    [n, M, T] dB; none for a model that reads only the mix (it cannot fill in)."""
    if len(model.in_slots) == 1 or not bool(rows.any()):
        return torch.zeros_like(rows), x[:0, mix], x[:0, mix]
    with _seeded(model, SAMPLE_SEED):  # the same windows draw the same fill-in every run
        fill = model.generate(int(rows.sum()), x.shape[-1], cond_x=x[rows],
                              cond_mask=given[rows])
    return rows, x[rows, mix], fill[:, mix].float()


@contextlib.contextmanager
def _seeded(model, seed: int):
    """A fixed seed inside, in a forked random state, so the caller's (training's) state is
    left as it was."""
    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def prior_mixes(model, n: int, frames: int, mix: int, seed: int = SAMPLE_SEED) -> torch.Tensor:
    """`n` mixes sampled from the prior, [n, M, frames] dB, drawn in batches under a fixed
    seed (_seeded)."""
    with _seeded(model, seed):
        return torch.cat([model.generate(min(EVAL_BATCH, n - i), frames)[:, mix].float()
                          for i in range(0, n, EVAL_BATCH)])


def _generated(model, frames: int | None, mix: int,
               reference: FeatureReference | None) -> tuple[dict, float]:
    """(per prior sample: similarity to the nearest training window, coherence, motion,
    each [FRECHET_WINDOWS]; their Fréchet distance to the reference), ({}, NaN) without a
    reference or without windows (no frame count)."""
    if reference is None or frames is None:
        return {}, math.nan
    fake = prior_mixes(model, FRECHET_WINDOWS, frames, mix)
    per_sample = {f"sample/{key}": fn(fake) for key, fn in GENERATED_INDICATORS.items()}
    per_sample["similarity_pct"] = similarity_pct(reference, fake)
    return ({k: v.double().cpu().numpy() for k, v in per_sample.items()},
            generated_frechet(reference, fake))


def _mean(values: np.ndarray | None) -> float:
    """Mean over the scored entries (not NaN); NaN when there are none."""
    scored = values[~np.isnan(values)] if values is not None else np.empty(0)
    return float(scored.mean()) if scored.size else math.nan


def summary(scores: WindowScores) -> dict[str, float]:
    """What `evaluate` reports: each per-window figure averaged over the windows it scored,
    each per-sample one over the samples, and the totals."""
    return {**scores.totals, **{k: _mean(scores.samples.get(k)) for k in SAMPLE_KEYS},
            **window_means(scores.windows, keys=WINDOW_KEYS)}


def window_means(windows: dict[str, np.ndarray], rows: np.ndarray | None = None,
                 keys=()) -> dict[str, float]:
    """Each per-window figure of `windows` ({key: [n]}; `keys` too, NaN where absent)
    averaged over the windows it scored among `rows` (bool [n], all by default: a split)."""
    pick = slice(None) if rows is None else rows
    return {k: _mean(v[pick] if (v := windows.get(k)) is not None else None)
            for k in dict.fromkeys([*keys, *windows])}


def evaluate(model: torch.nn.Module, batches, cfg: Config,
             reference: FeatureReference | None = None) -> dict[str, float]:
    """All indicators over `batches` averaged (see score_windows and summary)."""
    return summary(score_windows(model, batches, cfg, reference))
