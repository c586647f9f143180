"""A model scored on windows: every indicator over batches, and over a whole manifest.

Headline figures use the mix slot for every model so that vae, single and msvae compare
on the same target; msvae also gets per-source reconstruction errors. Collapse monitors
(KL per level, active units) come from msvae.model.objective.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import torch

from msvae.config import Config
from msvae.evaluate.indicators import (
    CEPSTRA,
    cepstral_features,
    frechet_distance,
    lsd_db,
    recon_error_db,
    similarity_pct,
    temporal_fidelity,
)
from msvae.model import output_slots
from msvae.model.objective import active_units, kl_per_dim, unit_moments

EVAL_BATCH = 32  # windows per batch when scoring outside training


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches, cfg: Config) -> dict[str, float]:
    """All indicators over `batches` ({"x": [B, S, M, T] dB, "mask": [B, S]}), averaged
    over windows whose mix is present; the Fréchet distance compares real mixes with as
    many mixes sampled from the prior."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    mix, sources = cfg.data.sources.index("mix"), cfg.data.sources
    sums, counts, moments, real, fake = defaultdict(float), defaultdict(int), None, [], []
    for batch in batches:
        x = torch.as_tensor(batch["x"], device=device).float()
        mask = torch.as_tensor(batch["mask"], device=device).bool()
        out = model(x, mask)
        recon = out.recon.float()
        keep = mask[:, mix]
        ref, est = x[keep, mix], recon[keep, mix]
        counts["mix"] += int(keep.sum())
        counts["rows"] += x.shape[0]
        sums["recon_error_db"] += float(recon_error_db(ref, est).sum())
        sums["lsd_db"] += float(lsd_db(ref, est).sum())
        sums["similarity_pct"] += float(similarity_pct(ref, est).sum())
        sums["temporal_fidelity"] += float(temporal_fidelity(ref, est).sum())
        fill_ref, fill_est = _fill_in(model, x, mask, mix)
        _add(sums, counts, "fill/temporal_fidelity", temporal_fidelity(fill_ref, fill_est))
        _add(sums, counts, "fill/recon_error_db", recon_error_db(fill_ref, fill_est))
        for i, k in enumerate(kl_per_dim(out.kl)):
            sums[f"kl_level{i}"] += float(k.sum()) * x.shape[0]
        for slot in output_slots(cfg):
            there = mask[:, slot]
            _add(sums, counts, f"recon_error_db/{sources[slot]}",
                 recon_error_db(x[there, slot], recon[there, slot]))
        batch_moments = unit_moments(out.mu)
        moments = batch_moments if moments is None else [
            a + b for a, b in zip(moments, batch_moments)]
        real.append(cepstral_features(ref).cpu())
        fake.append(cepstral_features(model.generate(x.shape[0], x.shape[-1])[:, mix].float())
                    .cpu())
    model.train(was_training)
    empty = torch.empty(0, 2 * (CEPSTRA - 1), dtype=torch.float64)
    return _summarise(sums, counts, moments, torch.cat([empty, *real]), torch.cat([empty, *fake]))


def _add(sums: dict, counts: dict, key: str, values: torch.Tensor) -> None:
    """Running sum and count of per-window `values` under `key` (its own denominator)."""
    sums[key] += float(values.sum())
    counts[key] += values.numel()


def _fill_in(model, x: torch.Tensor, mask: torch.Tensor, mix: int):
    """(real mix, mix generated from the stems alone) [n, M, T] dB for the windows that
    have both; none for a model that reads only the mix (it cannot fill in)."""
    stems = mask.clone()
    stems[:, mix] = False
    both = mask[:, mix] & stems.any(dim=1)
    if len(model.in_slots) == 1 or not bool(both.any()):
        return x[:0, mix], x[:0, mix]
    fill = model.generate(int(both.sum()), x.shape[-1], cond_x=x[both], cond_mask=stems[both])
    return x[both, mix], fill[:, mix].float()


def _summarise(sums, counts, moments, real, fake) -> dict[str, float]:
    """Running sums -> means: over mix windows, KL over all rows, per-source over presence."""
    result = {"windows": counts["mix"],
              "active_units": sum(active_units(moments)) if moments else 0,
              "frechet_distance": frechet_distance(real, fake) if len(real) > 1 else math.nan}
    for key, total in sums.items():
        count = counts[key if "/" in key else "rows" if key.startswith("kl_") else "mix"]
        result[key] = total / count if count else math.nan
    return result


def evaluate_manifest(cfg: Config, model, manifest_uri: str) -> dict:
    """Indicators over every window of `manifest_uri` (all splits, through the same
    ingestion as training) plus the files it quarantined."""
    from msvae.data.pipeline import piece_dataset, window_dataset
    from msvae.data.report import merge
    from msvae.manifest import load_manifest

    pieces = piece_dataset(cfg, load_manifest(cfg, manifest_uri)).materialize()
    report = merge(json.loads(r["report"]) for r in pieces.select_columns(["report"]).iter_rows())
    batches = window_dataset(pieces, cfg).iter_batches(batch_size=EVAL_BATCH,
                                                       batch_format="numpy")
    return {**evaluate(model, batches, cfg), "quarantined": report["quarantined"]}
