"""What every model shares: the output record, dB scaling, input slots and generation.

Models work in "units": dB mapped by a fixed affine map, u = (dB - DB_OFFSET) / DB_SCALE,
chosen so music's log-mel has about zero mean and unit spread (the demo corpus: mean
-21 dB, std 15 dB). Gradient descent then learns the movement over time within a few
hundred steps; with the earlier -50 dB / 50 dB map (inputs squeezed to a spread of 0.3)
it learned little besides the average spectrum (benchmarks/quality.py, docs/ablations.md). Never
data-dependent, so any window scales alike.
A model reads `in_slots` and reconstructs `out_slots` (source indices in cfg.data.sources);
slots it does not produce hold FLOOR_DB (silence) in `recon`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from msvae.config import Config
from msvae.data.features import FLOOR_DB

DB_OFFSET = -25.0  # dB, maps to 0 units
DB_SCALE = 15.0  # dB per unit


@dataclass
class ModelOutput:
    """recon [B, S, M, T] dB; kl per level [B, D_l, T_l] nats; mu per level [B, D_l, T_l]."""

    recon: torch.Tensor
    kl: list[torch.Tensor]
    mu: list[torch.Tensor]


def to_units(db: torch.Tensor) -> torch.Tensor:
    return (db - DB_OFFSET) / DB_SCALE


def to_db(units: torch.Tensor) -> torch.Tensor:
    return units * DB_SCALE + DB_OFFSET


def output_slots(cfg: Config) -> list[int]:
    """Source slots a model reconstructs (and the loss counts): the mix, or all for msvae."""
    if cfg.model.kind == "msvae":
        return list(range(len(cfg.data.sources)))
    return [cfg.data.sources.index("mix")]


class AudioVAE(nn.Module):
    """Base: slot bookkeeping, padding, source dropout and `generate`.

    Subclasses set `stride` (frames per top latent step) and define
    encode_decode(u [B, S_in, M, T] units, seen [B, S_in] bool, sample) -> (y, kl, mu) and
    prior(n, frames) -> y, where y is [B, S_out, M, >= frames] units for `out_slots`.
    """

    stride: int

    def __init__(self, cfg: Config):
        super().__init__()
        self.n_sources = len(cfg.data.sources)
        self.out_slots = output_slots(cfg)
        self.in_slots = self.out_slots  # every model reads what it reconstructs
        multi = len(self.in_slots) > 1
        self.source_dropout = cfg.model.source_dropout if multi else 0.0
        self.mix_only_rows = cfg.model.mix_only_rows if multi else 0.0
        self.stems_only_rows = cfg.model.stems_only_rows if multi else 0.0
        self.mix_in = self.in_slots.index(cfg.data.sources.index("mix"))

    def forward(self, x, mask, sample: bool | None = None) -> ModelOutput:
        """x [B, S, M, T] dB, mask [B, S] presence; samples z in training, uses means in eval."""
        sample = self.training if sample is None else sample
        hiding = self.source_dropout > 0 or self.mix_only_rows > 0 or self.stems_only_rows > 0
        return self._run(x, mask, sample, hide=self.training and hiding)

    @torch.no_grad()
    def generate(self, n: int, frames: int, cond_x=None, cond_mask=None) -> torch.Tensor:
        """[n, S, M, frames] dB: prior samples, or given slots kept and the rest generated.

        Rows whose model-read slots are all absent are sampled from the prior; the others
        are filled in from what is present (`fill`).
        """
        if cond_x is None:
            return self._prior_db(n, frames)
        cond_x = torch.as_tensor(cond_x, device=self.device).float()[..., :frames]
        cond_mask = torch.as_tensor(cond_mask, device=self.device).bool()
        out = self.fill(cond_x, cond_mask).clamp_min(FLOOR_DB)
        free = ~cond_mask[:, self.in_slots].any(dim=1)
        if bool(free.any()):  # drawn only where needed: a latent prior samples step by step
            out[free] = self._prior_db(int(free.sum()), frames)
        return torch.where(cond_mask[..., None, None], cond_x, out)

    def _prior_db(self, n: int, frames: int) -> torch.Tensor:
        """n prior samples [n, S, M, frames] dB, none below the features' floor (log_mel
        clamps there)."""
        return self._place(self.prior(n, frames)[..., :frames]).clamp_min(FLOOR_DB)

    def fill(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, S, M, T] dB with every slot generated: a draw from the posterior given the
        present slots (x dB, mask [B, S])."""
        return self._run(x, mask, sample=True, hide=False).recon

    def _run(self, x, mask, sample: bool, hide: bool) -> ModelOutput:
        x = torch.as_tensor(x, device=self.device).float()
        mask = torch.as_tensor(mask, device=self.device).bool()
        seen = mask[:, self.in_slots]
        if hide:
            seen = self._hide(seen)
        silence = (FLOOR_DB - DB_OFFSET) / DB_SCALE  # hidden slots and padding, units
        u = torch.where(seen[..., None, None], to_units(x[:, self.in_slots]), silence)
        frames = u.shape[-1]
        u = F.pad(u, (0, -frames % self.stride), value=silence)
        y, kl, mu = self.encode_decode(u, seen, sample)
        return ModelOutput(self._place(y[..., :frames]), kl, mu)

    def _hide(self, seen: torch.Tensor) -> torch.Tensor:
        """Training-time hiding: each present source with chance source_dropout (never all
        of a row's), then, of the rows that have a mix and a stem, a mix_only_rows share keep
        only the mix and a stems_only_rows share only their stems (the fill-in case)."""
        kept = seen & (torch.rand(seen.shape, device=seen.device) >= self.source_dropout)
        seen = torch.where(kept.any(dim=1, keepdim=True), kept, seen)
        mix = torch.zeros_like(seen)
        mix[:, self.mix_in] = True
        both = seen[:, self.mix_in] & (seen & ~mix).any(dim=1)
        draw = torch.rand(seen.shape[0], device=seen.device)
        only_mix = both & (draw < self.mix_only_rows)
        only_stems = both & (draw >= self.mix_only_rows) & (
            draw < self.mix_only_rows + self.stems_only_rows)
        seen = torch.where(only_stems[:, None], seen & ~mix, seen)
        return torch.where(only_mix[:, None], mix, seen)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _place(self, y: torch.Tensor) -> torch.Tensor:
        """[B, S_out, M, T] units -> [B, S, M, T] float32 dB, FLOOR_DB in slots not produced."""
        if len(self.out_slots) == self.n_sources:
            return to_db(y)
        full = y.new_full((y.shape[0], self.n_sources, *y.shape[2:]), FLOOR_DB)
        index = torch.tensor(self.out_slots, device=y.device)
        return full.index_copy(1, index, to_db(y))
