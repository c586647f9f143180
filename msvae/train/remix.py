"""Remix augmentation: training rows whose stems come from other rows of the batch, each at
a random gain, and whose mix is the power sum of those stems (as source separation trains
on random-track mixes). Pure torch on the batch's device, no host synchronisation.

Values are log-mel dB (10*log10 of mel power, floored at FLOOR_DB); a gain in dB is added.
"""

from __future__ import annotations

import numpy as np
import torch

from msvae.data import features
from msvae.data.features import FLOOR_DB


def remix_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The remix draws of one step on one rank: seeded from (train.seed, step, rank), so a
    run (and its resume) repeats them exactly and every rank draws its own."""
    state = np.random.SeedSequence([seed % 2**64, step, rank]).generate_state(1, np.uint64)
    return torch.Generator(device=device).manual_seed(int(state[0]))


def power_sum_db(db: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """[B, S, M, T] dB and [B, S] presence -> [B, M, T] dB of the present slots' summed
    power (sources add in power when uncorrelated), floored at FLOOR_DB."""
    given = torch.where(present[..., None, None], db.float(), -torch.inf)
    return features.power_sum_db(given, dim=1).clamp_min(FLOOR_DB)


def remix(batch: dict, share: float, gain_db: float, mix: int,
          generator: torch.Generator) -> dict:
    """`batch` ({"x": [B, S, M, T] dB, "mask": [B, S] bool}) with round(share * B) of its
    rows that have a stem (at most all of them) replaced by remixes; other keys kept.

    A remixed row keeps its presence pattern: each of its present stems is that stem of
    another row that has it (itself only when no other row does), plus a gain uniform in
    [-gain_db, +gain_db] dB (floored at FLOOR_DB); slot `mix` becomes the power sum of the
    row's stems. A fixed count, not a per-row coin, keeps the share of every step exact at
    the small batches each worker sees. Rows without a stem (mix-only pieces) stay as
    they are.
    """
    x, mask = batch["x"], batch["mask"]
    rows, slots = mask.shape
    device = x.device
    stem_mask = mask.clone()
    stem_mask[:, mix] = False
    has_stem = stem_mask.any(dim=1)
    # the first round(share * B) rows with a stem, in a random order, are remixed
    keys = torch.where(has_stem, torch.rand(rows, device=device, generator=generator), 2.0)
    picked = (keys.argsort().argsort() < round(share * rows)) & has_stem
    other = ~torch.eye(rows, dtype=torch.bool, device=device)
    out = x.clone()
    for s in range(slots):
        if s == mix:
            continue
        donors = mask[None, :, s] & other
        donors = torch.where(donors.any(dim=1, keepdim=True), donors, mask[None, :, s])
        # a uniform choice among each row's donors: the one with the largest random key
        keys = torch.rand(rows, rows, device=device, generator=generator)
        donor = torch.where(donors, keys, -1.0).argmax(dim=1)
        gain = (2 * torch.rand(rows, device=device, generator=generator) - 1) * gain_db
        moved = (x[donor, s] + gain[:, None, None].to(x.dtype)).clamp_min(FLOOR_DB)
        out[:, s] = torch.where(mask[:, s, None, None], moved, x[:, s])
    out[:, mix] = power_sum_db(out, stem_mask).to(x.dtype)
    remixed_mask = mask.clone()
    remixed_mask[:, mix] = True
    return {**batch, "x": torch.where(picked[:, None, None, None], out, x),
            "mask": torch.where(picked[:, None], remixed_mask, mask)}
