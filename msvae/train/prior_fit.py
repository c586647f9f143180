"""After the VAE: fit its latent prior (prior.kind transformer) on the posterior means of
training windows, the VAE frozen.

Fitted beside the VAE instead (on the moving latents of every step), the prior matched the
final latents so poorly that its samples drifted out of range within one window (motion
34 dB against 4.5 for real windows); fitted on the finished VAE's latents it holds them
(benchmarks/quality.py, docs/generation.md). Pure torch: the driver runs it before logging
the model (msvae.train.finish), unit tests on a plain model.
"""

from __future__ import annotations

import time

import torch

from msvae.config import Config
from msvae.model.latent_prior import to_tokens
from msvae.train.checkpoint import seed_everything

TOKEN_BATCH = 64  # windows per encoder pass


@torch.no_grad()
def latent_tokens(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Posterior means of windows x [W, S, M, T] dB given `mask` [W, S] as latent tokens
    [W, steps, D] (msvae.model.latent_prior.to_tokens), the model in eval mode."""
    model.eval()
    return torch.cat([to_tokens(model(x[i:i + TOKEN_BATCH], mask[i:i + TOKEN_BATCH]).mu)
                      for i in range(0, len(x), TOKEN_BATCH)])


def fit_latent_prior(cfg: Config, model, x: torch.Tensor, mask: torch.Tensor) -> dict:
    """Fit `model.latent_prior` for prior.steps AdamW steps at prior.lr on batches of
    prior.batch_size of the windows' tokens, seeded by train.seed; the VAE's weights are
    untouched; the prior's token range is set to theirs. Returns the NLL (nats per token)
    of all tokens before and after."""
    prior = model.latent_prior
    tokens = latent_tokens(model, x, mask)
    prior.low.copy_(tokens.amin((0, 1)))
    prior.high.copy_(tokens.amax((0, 1)))
    seed_everything(cfg.train.seed)
    before = _nll(prior, tokens)
    prior.requires_grad_(True)
    optimizer = torch.optim.AdamW(prior.parameters(), lr=cfg.prior.lr)
    prior.train()
    for _ in range(cfg.prior.steps):
        loss = prior.nll(tokens[torch.randint(0, len(tokens), (cfg.prior.batch_size,))])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prior.parameters(), 1.0)
        optimizer.step()
    prior.requires_grad_(False)
    model.eval()
    return {"prior/nll_before": before, "prior/nll": _nll(prior, tokens),
            "prior/windows": len(tokens)}


@torch.no_grad()
def _nll(prior, tokens: torch.Tensor) -> float:
    """The prior's NLL of every token, nats per token, in batches of TOKEN_BATCH windows."""
    parts = [float(prior.nll(tokens[i:i + TOKEN_BATCH])) * len(tokens[i:i + TOKEN_BATCH])
             for i in range(0, len(tokens), TOKEN_BATCH)]
    return sum(parts) / len(tokens)


def fit_on_training_data(cfg: Config, model) -> dict:
    """fit_latent_prior on up to prior.windows windows of train.dataset's train split (Ray
    Data reads them), plus the seconds it took."""
    from msvae.evaluate.training_set import split_windows

    started = time.perf_counter()
    x, mask = split_windows(cfg, cfg.train.dataset, "train", cfg.prior.windows)
    return {**fit_latent_prior(cfg, model, x, mask),
            "prior/seconds": time.perf_counter() - started}
