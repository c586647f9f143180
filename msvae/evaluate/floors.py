"""The floors every model must beat, scored with the same indicators on the same windows.

- time mean: each window's own average spectrum repeated over its frames; it knows the
  window's timbre but nothing of its movement in time (temporal fidelity exactly 0).
- frame PCA: each log-mel frame (dB) projected onto the top k principal components of
  the training frames, k = the numbers per frame the model's latents carry; the linear
  model with the same budget. A model below it is a defect, not a result.
"""

from __future__ import annotations

import math

import torch

from msvae.evaluate.indicators import WINDOW_INDICATORS


def time_mean(x_db: torch.Tensor) -> torch.Tensor:
    """[..., M, T] dB -> each window's time-mean spectrum repeated over its T frames."""
    return x_db.mean(-1, keepdim=True).expand_as(x_db)


@torch.no_grad()
def latents_per_frame(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> int:
    """Latent numbers (posterior means, all levels) per input frame of `model`, rounded up:
    the budget the PCA floor gets. x [B, S, M, T] dB, mask [B, S]."""
    was_training = model.training
    model.eval()
    out = model(x[:1], mask[:1])
    model.train(was_training)
    return math.ceil(sum(m[0].numel() for m in out.mu) / x.shape[-1])


class FramePCA:
    """Principal components of log-mel frames: fit on training frames, then project and
    reconstruct any window with the top `k`."""

    def __init__(self, x_db: torch.Tensor, k: int):
        """x_db [..., M, T] training windows (dB); k components (at most M)."""
        frames = x_db.double().movedim(-1, -2).reshape(-1, x_db.shape[-2])  # [N, M]
        self.mean = frames.mean(0)
        _, _, vh = torch.linalg.svd(frames - self.mean, full_matrices=False)
        self.basis = vh[:k]  # [k, M]

    def reconstruct(self, x_db: torch.Tensor) -> torch.Tensor:
        """[..., M, T] dB -> the same shape, every frame through the k components."""
        frames = x_db.double().movedim(-1, -2) - self.mean  # [..., T, M]
        out = frames @ self.basis.T @ self.basis + self.mean
        return out.movedim(-2, -1).to(x_db.dtype)


def pca_floor(model: torch.nn.Module, train_db: torch.Tensor) -> FramePCA:
    """The frame-PCA floor of `model`: fitted on training mix windows [N, M, T] dB with as
    many components as the model's latents carry per frame (latents_per_frame)."""
    sources = model.n_sources
    x = torch.full((1, sources, *train_db.shape[1:]), -50.0)
    k = latents_per_frame(model, x, torch.ones(1, sources, dtype=torch.bool))
    return FramePCA(train_db, k)


def floor_windows(train_db: torch.Tensor, test_db: torch.Tensor,
                  k: int) -> dict[str, dict[str, torch.Tensor]]:
    """The floors' indicators per window of `test_db` [n, M, T] dB, the PCA fitted on
    `train_db` [N, M, T] with `k` components: {"time_mean": {key: [n]}, "pca": {...}}."""
    return fitted_floor_windows(test_db, FramePCA(train_db, k))


def fitted_floor_windows(test_db: torch.Tensor,
                         pca: FramePCA | None) -> dict[str, dict[str, torch.Tensor]]:
    """As floor_windows with the PCA already fitted, so a stream of batches fits it once;
    without one (no training windows to fit it on) the time-mean floor alone."""
    predictions = {"time_mean": time_mean(test_db)}
    if pca is not None:
        predictions["pca"] = pca.reconstruct(test_db)
    return {name: {key: fn(test_db, est) for key, fn in WINDOW_INDICATORS.items()}
            for name, est in predictions.items()}


def floor_scores(train_db: torch.Tensor, test_db: torch.Tensor, k: int) -> dict[str, dict]:
    """The floors' indicators on `test_db` averaged over its windows (see floor_windows):
    {"time_mean": {key: mean}, "pca": {...}}."""
    return {name: {key: float(values.mean()) for key, values in row.items()}
            for name, row in floor_windows(train_db, test_db, k).items()}
