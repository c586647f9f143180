"""`single` and `msvae`: the improved model, a ladder VAE with attention.

Bottom-up, the fused input stream is refined, then halved before each further level;
level l's feature sits at T / 2^l frames, so the finest latent follows every frame
(measured: 0.53 -> 0.60 validation temporal fidelity against a finest latent at T / 2,
at the same latent numbers per frame; docs/ablations.md). Top-down, from a learned constant at the
coarsest scale, each level draws z_l from q(z_l | h_l, d) (or the prior p(z_l | d) when
generating) and adds it into the decoder state d, which is then refined and doubled in
rate (but at the finest level), as in ladder VAEs / NVAE.
Temporal self-attention runs at the coarsest scale on both sides; one head per output slot
turns d back into mels. `single` reads and writes the mix; `msvae` every source.
With `model.mix_head` "power_sum" (msvae), the mix slot is the power sum of the stems'
heads plus the mix head's own output times a gate that starts at 0: a mix is its stems'
sum, so at the start the mix is exactly that sum and the stems' heads learn from the mix.
With `prior.kind` "transformer", prior samples come from a causal transformer over the
latents instead (msvae.model.latent_prior, fitted after the VAE by msvae.train.prior_fit),
decoded from its draws as reconstructions are from posterior means; with
`prior.conditioned` > 0 it also fills in windows given some stems but not all and no mix,
drawing their latents given the encoder's latents of those stems (the arrangement task).
"""

from __future__ import annotations

import torch
from torch import nn

from msvae.config import Config
from msvae.data.features import power_sum_db, window_frames
from msvae.model.base import AudioVAE, to_db, to_units
from msvae.model.blocks import ResBlock, TemporalAttention, down, full_precision, up
from msvae.model.encoder import SourceEncoder
from msvae.model.latent import LadderLevel
from msvae.model.latent_prior import LatentPrior, from_tokens, to_tokens


class LadderVAE(AudioVAE):
    """Hierarchical VAE with `cfg.model.levels` latent levels at `channels` width."""

    def __init__(self, cfg: Config, channels: int):
        super().__init__(cfg)
        mc, c, m = cfg.model, channels, cfg.data.n_mels
        s_in, s_out = len(self.in_slots), len(self.out_slots)
        self.stride, self.channels = 2 ** (mc.levels - 1), c
        self.encoder = SourceEncoder(s_in, m, c, mc.heads, mc.dropout)
        self.bottom_up = nn.ModuleList(
            nn.Sequential(ResBlock(c, mc.dropout), down(c) if level else nn.Identity())
            for level in range(mc.levels))
        self.enc_attention = TemporalAttention(c, mc.heads, mc.attention_depth, mc.dropout)
        self.top = nn.Parameter(torch.zeros(1, c, 1))
        self.levels = nn.ModuleList(LadderLevel(c, mc.latent_dim) for _ in range(mc.levels))
        self.dec_attention = TemporalAttention(c, mc.heads, mc.attention_depth, mc.dropout)
        self.refine = nn.ModuleList(ResBlock(c, mc.dropout) for _ in range(mc.levels))
        self.ups = nn.ModuleList(up(c) if level else nn.Identity() for level in range(mc.levels))
        self.out = nn.Sequential(
            ResBlock(c, mc.dropout), nn.Conv1d(c, s_out * c, 1), nn.SiLU(),
            nn.Conv1d(s_out * c, s_out * m, 3, padding=1, groups=s_out))  # a head per slot
        self.s_out, self.n_mels = s_out, m
        # power_sum: one scalar, 0 at the start, so the mix starts as the stems' power sum
        self.mix_gate = (nn.Parameter(torch.zeros(()))
                         if mc.mix_head == "power_sum" and s_out > 1 else None)
        self.mix_out = self.out_slots.index(cfg.data.sources.index("mix"))
        self.temperature = cfg.prior.temperature
        self.arrange_temperature = cfg.prior.arrange_temperature
        self.latent_prior = None
        self.arranges = cfg.prior.kind == "transformer" and cfg.prior.conditioned > 0
        if cfg.prior.kind == "transformer":
            steps = -(-window_frames(cfg.data) // self.stride)
            token = mc.latent_dim * sum(2 ** level for level in range(mc.levels))
            with torch.random.fork_rng(devices=[]):  # training draws the same numbers as without
                self.latent_prior = LatentPrior(token, cfg.prior.width, cfg.prior.layers,
                                                mc.heads, steps)
            # fitted after the VAE (msvae.train.prior_fit): no gradient while the VAE trains,
            # so DDP and the optimiser leave it alone
            self.latent_prior.requires_grad_(False)

    def encode_decode(self, u, seen, sample):
        h = self.encoder(u, seen)
        features = []
        for stage in self.bottom_up:
            h = stage(h)
            features.append(h)
        features[-1] = self.enc_attention(features[-1])
        return self._top_down(features, u.shape[0], features[-1].shape[-1], sample)

    def prior(self, n, frames):
        steps = -(-frames // self.stride)
        if self.latent_prior is None:
            return self._top_down(None, n, steps, True)[0]
        return self.decode_tokens(self.latent_prior.sample(n, steps, self.temperature))

    def fill(self, x, mask):
        """As AudioVAE.fill where the mix or every stem is given (the mix is then their sum:
        nothing to invent); rows given some stems only, when the latent prior arranges and
        is fitted (not in the VAE's own validation), are drawn from it given those stems'
        latent tokens."""
        filled = super().fill(x, mask)
        seen = mask[:, self.in_slots]
        stems = torch.cat([seen[:, :self.mix_in], seen[:, self.mix_in + 1:]], dim=1)
        arrange = stems.any(dim=1) & ~stems.all(dim=1) & ~seen[:, self.mix_in]
        if not (self.arranges and self.latent_prior.fitted) or not bool(arrange.any()):
            return filled
        given = to_tokens(self._run(x[arrange], mask[arrange], sample=False, hide=False).mu)
        tokens = self.latent_prior.sample(len(given), given.shape[1],
                                          self.arrange_temperature, cond=given)
        filled[arrange] = self._place(self.decode_tokens(tokens)[..., :x.shape[-1]])
        return filled

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Latent tokens [n, steps, D] (msvae.model.latent_prior) -> y [n, S_out, M, frames]
        units, decoded as reconstructions are (no sampling)."""
        zs = from_tokens(tokens, [level.inject.in_channels for level in self.levels])
        return self._top_down(None, tokens.shape[0], tokens.shape[1], False, zs)[0]

    def _top_down(self, features, n: int, steps: int, sample: bool, zs=None):
        """Decode from the top level down; features None samples every level's prior, or
        takes the latents `zs` (per level, finest first) when given."""
        d = self.top.expand(n, -1, steps)
        kls, mus = [], []
        for i in reversed(range(len(self.levels))):
            d, kl, mu = self.levels[i](d, None if features is None else features[i], sample,
                                       None if zs is None else zs[i])
            d = self.refine[i](d)
            if i == len(self.levels) - 1:
                d = self.dec_attention(d)
            d = self.ups[i](d)
            kls.insert(0, kl)
            mus.insert(0, mu)
        y = full_precision(self.out, d)
        y = y.view(n, self.s_out, self.n_mels, y.shape[-1])
        if self.mix_gate is not None:
            y = self._mix_from_stems(y)
        return y, kls, mus

    def _mix_from_stems(self, y):
        """y [B, S_out, M, T] units with the mix slot replaced by the stems' power sum,
        10 log10(sum 10^(dB/10)), plus mix_gate times the mix head's own output."""
        stems = torch.cat([y[:, :self.mix_out], y[:, self.mix_out + 1:]], dim=1)
        mix = to_units(power_sum_db(to_db(stems))) + self.mix_gate * y[:, self.mix_out]
        return torch.cat([y[:, :self.mix_out], mix[:, None], y[:, self.mix_out + 1:]], dim=1)
