"""A prior with time structure: a small causal transformer over the ladder's latents.

The ladder's own top-down prior starts from a learned constant and draws every frame of
the finest level on its own, so its samples flicker frame to frame (demo: lag-1 coherence
0.76 against 0.90 for real music). Here each coarsest step becomes one token holding that
step's latents of every level (the finer levels' frames folded in), and a causal
transformer models p(token_k | tokens before k) as a diagonal Gaussian, like an
autoregressive prior over a VAE's latents (VQ-VAE/Jukebox style, here continuous). It is
fitted after the VAE on its posterior means, the VAE frozen (msvae.train.prior_fit);
samples are decoded like reconstructions (from means), and longer than one window by
hopping its window by half (`LatentPrior.sample`).

The same prior arranges: each token may be conditioned on the token at its step of the
latents the encoder gives for some stems alone (`cond`), so p(t_k | t_<k, c) draws a
whole piece around a given vocal or ambience instead of the encoder's one average guess
(which, given only ambience, decoded to one static spectrum: motion 1.2 dB against 4.5).
Given, the condition is also the mean's starting point: the prior learns how the latents of
the whole piece differ from those of the stems alone (the more stems, the less; without this
skip the mix drawn from every stem scored 0.43 temporal fidelity, with it 0.51,
docs/generation.md). Without a condition a learned null vector stands in: the unconditional
prior.
"""

from __future__ import annotations

import torch
from torch import nn

from msvae.model.latent import split


def to_tokens(mus: list[torch.Tensor]) -> torch.Tensor:
    """Per level [B, D, T_l] (finest first, T_l = steps * 2^(L-1-l)) -> [B, steps, sum D*f_l],
    one token per coarsest step."""
    steps = mus[-1].shape[-1]
    return torch.cat([m.reshape(m.shape[0], m.shape[1], steps, -1).permute(0, 2, 1, 3)
                      .flatten(2) for m in mus], dim=-1)


def from_tokens(tokens: torch.Tensor, dims: list[int]) -> list[torch.Tensor]:
    """Inverse of to_tokens for levels of `dims` channels (finest first)."""
    n, steps, _ = tokens.shape
    folds = [2 ** (len(dims) - 1 - level) for level in range(len(dims))]
    parts = tokens.split([d * f for d, f in zip(dims, folds)], dim=-1)
    return [p.reshape(n, steps, d, f).permute(0, 2, 1, 3).reshape(n, d, steps * f)
            for p, d, f in zip(parts, dims, folds)]


class LatentPrior(nn.Module):
    """p(t_k | t_<k, c_k), diagonal Gaussian, over sequences of up to `context` tokens; c_k
    the condition's token at step k, or a learned null vector where a row has none."""

    def __init__(self, token_dim: int, width: int, layers: int, heads: int, context: int):
        super().__init__()
        self.context = context
        self.inp = nn.Linear(token_dim, width)
        self.start = nn.Parameter(torch.zeros(1, 1, width))
        self.cond = nn.Linear(token_dim, width)
        self.null = nn.Parameter(torch.zeros(1, 1, width))
        self.position = nn.Parameter(torch.randn(1, context, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, 2 * token_dim)
        # per dimension, the range of the tokens it was fitted on: drawn tokens are kept
        # inside it (msvae.train.prior_fit sets it)
        self.register_buffer("low", torch.full((token_dim,), -torch.inf))
        self.register_buffer("high", torch.full((token_dim,), torch.inf))
        nn.init.zeros_(self.out.weight)  # starts as a standard normal per token
        nn.init.zeros_(self.out.bias)

    @property
    def fitted(self) -> bool:
        """Whether msvae.train.prior_fit has fitted it (and set its token range)."""
        return bool(torch.isfinite(self.low).all())

    def _stats(self, tokens: torch.Tensor, cond: torch.Tensor | None = None,
               given: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens [B, K, D] (K <= context) -> (mu, logvar) [B, K, D] of each token given the
        ones before it and the condition `cond` [B, K, D] (None: none) in the rows where
        `given` [B] (default every row)."""
        k = tokens.shape[1]
        h = torch.cat([self.start.expand(len(tokens), -1, -1), self.inp(tokens[:, :-1])], 1)
        base = torch.zeros((), device=h.device)
        if cond is None:
            h = h + self.null
        else:
            c = cond[:, :k].float()
            given = (torch.ones(len(h), dtype=torch.bool, device=h.device) if given is None
                     else given)[:, None, None]
            h = h + torch.where(given, self.cond(c), self.null)
            base = torch.where(given, c, 0.0)
        mask = nn.Transformer.generate_square_subsequent_mask(k, device=tokens.device)
        h = self.body(h + self.position[:, :k], mask=mask, is_causal=True)
        mu, logvar = split(self.out(h).transpose(1, 2))
        return base + mu.transpose(1, 2), logvar.transpose(1, 2)

    def nll(self, tokens: torch.Tensor, cond: torch.Tensor | None = None,
            given: torch.Tensor | None = None) -> torch.Tensor:
        """Gaussian negative log-likelihood of windows of tokens [B, K, D] (conditioned as in
        _stats), nats per token (summed over D, constant dropped, averaged over B and K)."""
        tokens = tokens[:, :self.context].float()
        mu, logvar = self._stats(tokens, cond, given)
        return (0.5 * (logvar + (tokens - mu) ** 2 / logvar.exp())).sum(-1).mean()

    @torch.no_grad()
    def sample(self, n: int, steps: int, temperature: float,
               generator: torch.Generator | None = None,
               cond: torch.Tensor | None = None) -> torch.Tensor:
        """[n, steps, D] tokens drawn one at a time (noise scaled by `temperature`), each
        given the condition's token at its step when `cond` [n, >= steps, D] is given. Past
        `context` tokens the window hops by half of it, as the data's windows do: the last
        half-window drawn becomes the first half of a new window, at the positions a window's
        first half had in training, and the second half is drawn after it. Each token is
        kept within the fitted tokens' range per dimension (`low`, `high`): past two
        windows, unclamped draws drifted out of it (down to -590 dB after 6 s). (Sliding one token
        at a time put every later token at the window's end, where the windows the prior was
        fitted on are calmer: motion fell from 6 dB to 2-3 after the first window.)"""
        device = self.start.device
        width = self.out.out_features // 2
        tokens = torch.zeros(n, 0, width, device=device)
        while tokens.shape[1] < steps:
            window = tokens[:, -(self.context // 2):] if tokens.shape[1] else tokens
            kept = window.shape[1]
            while (window.shape[1] < self.context
                   and tokens.shape[1] + window.shape[1] - kept < steps):
                padded = torch.cat([window, window.new_zeros(n, 1, width)], dim=1)
                first = tokens.shape[1] - kept  # the step the window starts at
                mu, logvar = self._stats(padded, None if cond is None
                                         else cond[:, first:first + padded.shape[1]])
                noise = torch.randn(mu[:, -1:].shape, generator=generator, device=device)
                drawn = mu[:, -1:] + temperature * noise * (0.5 * logvar[:, -1:]).exp()
                window = torch.cat([window, torch.maximum(torch.minimum(drawn, self.high),
                                                          self.low)], dim=1)
            tokens = torch.cat([tokens, window[:, kept:]], dim=1)
        return tokens
