"""After the VAE: fit its latent prior (prior.kind transformer) on the posterior means of
training windows, the VAE frozen.

Fitted beside the VAE instead (on the moving latents of every step), the prior matched the
final latents so poorly that its samples drifted out of range within one window (motion
34 dB against 4.5 for real windows); fitted on the finished VAE's latents it holds them
(benchmarks/quality.py, docs/generation.md). To arrange (prior.conditioned > 0), a share of
the rows that have stems is conditioned on the latents of a random non-empty subset of
them, each stem kept with chance 1/2, the rest unconditioned. Pure torch: the driver runs
it before logging the model (msvae.train.finish), unit tests on a plain model.
"""

from __future__ import annotations

import time

import torch

from msvae.config import Config
from msvae.generate.complete import fill_in_case
from msvae.model.latent_prior import to_tokens
from msvae.train.checkpoint import seed_everything

TOKEN_BATCH = 64  # windows per encoder pass
SUBSETS = 2  # stem subsets drawn per window to condition on


@torch.no_grad()
def latent_tokens(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Posterior means of windows x [W, S, M, T] dB given `mask` [W, S] as latent tokens
    [W, steps, D] (msvae.model.latent_prior.to_tokens), the model in eval mode."""
    model.eval()
    return torch.cat([to_tokens(model(x[i:i + TOKEN_BATCH], mask[i:i + TOKEN_BATCH]).mu)
                      for i in range(0, len(x), TOKEN_BATCH)])


def stem_subsets(mask: torch.Tensor, mix: int) -> torch.Tensor:
    """[W, S] presence -> [W, S] a random non-empty subset of each row's stems (each kept with
    chance 1/2, else one of them at random); all False in rows without a stem."""
    stems, _ = fill_in_case(mask, mix)
    kept = stems & (torch.rand(stems.shape) < 0.5)
    one = torch.zeros_like(stems).scatter_(
        1, torch.multinomial(stems.float() + 1e-9, 1), True) & stems
    return torch.where(kept.any(dim=1, keepdim=True), kept, one)


def fit_latent_prior(cfg: Config, model, x: torch.Tensor, mask: torch.Tensor) -> dict:
    """Fit `model.latent_prior` for prior.steps AdamW steps at prior.lr on batches of
    prior.batch_size of the windows' tokens, seeded by train.seed, a prior.conditioned share
    of the rows with stems conditioned on one of SUBSETS subsets of them; the VAE's weights
    are untouched; the prior's token range is set to theirs. Returns the NLL (nats per
    token) of all tokens before and after, unconditioned and given the first subsets."""
    prior = model.latent_prior
    seed_everything(cfg.train.seed)
    tokens = latent_tokens(model, x, mask)
    prior.low.copy_(tokens.amin((0, 1)))
    prior.high.copy_(tokens.amax((0, 1)))
    subsets = [stem_subsets(mask, cfg.data.sources.index("mix"))
               for _ in range(SUBSETS if cfg.prior.conditioned > 0 else 0)]
    conds = torch.stack([latent_tokens(model, x, s) for s in subsets]) if subsets else None
    has_stems = subsets[0].any(dim=1) if subsets else torch.zeros(len(x), dtype=torch.bool)
    before = _nll(prior, tokens)
    prior.requires_grad_(True)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=cfg.prior.lr)
    prior.train()
    for _ in range(cfg.prior.steps):
        rows = torch.randint(0, len(tokens), (cfg.prior.batch_size,))
        given = has_stems[rows] & (torch.rand(len(rows)) < cfg.prior.conditioned)
        cond = None if conds is None else conds[torch.randint(0, len(conds), (len(rows),)), rows]
        loss = prior.nll(tokens[rows], cond, given)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimizer.step()
    prior.requires_grad_(False)
    model.eval()
    figures = {"prior/nll_before": before, "prior/nll": _nll(prior, tokens),
               "prior/windows": len(tokens)}
    if conds is not None and bool(has_stems.any()):
        figures["prior/nll_given_stems"] = _nll(prior, tokens[has_stems], conds[0, has_stems])
    return figures


@torch.no_grad()
def _nll(prior, tokens: torch.Tensor, cond: torch.Tensor | None = None) -> float:
    """The prior's NLL of every token (given `cond` when not None), nats per token, in
    batches of TOKEN_BATCH windows."""
    parts = [float(prior.nll(tokens[i:i + TOKEN_BATCH],
                             None if cond is None else cond[i:i + TOKEN_BATCH]))
             * len(tokens[i:i + TOKEN_BATCH]) for i in range(0, len(tokens), TOKEN_BATCH)]
    return sum(parts) / len(tokens)


def fit_on_training_data(cfg: Config, model) -> dict:
    """fit_latent_prior on up to prior.windows windows of train.dataset's train split (Ray
    Data reads them), plus the seconds it took."""
    from msvae.evaluate.training_set import split_windows

    started = time.perf_counter()
    x, mask = split_windows(cfg, cfg.train.dataset, "train", cfg.prior.windows)
    return {**fit_latent_prior(cfg, model, x, mask),
            "prior/seconds": time.perf_counter() - started}
