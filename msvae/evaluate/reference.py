"""Generated audio judged against the training set, in a feature space standardised with
training statistics (the paper scores generated audio; DESIGN.md's indicator 2).

A FeatureReference holds, for the cepstral features of msvae.evaluate.indicators, the
per-dimension mean and std over training mix windows and a seeded bank of at most
REFERENCE_WINDOWS standardised training rows. Standardising weighs every feature dimension
by its spread in real music, so the level-like dimensions that make an uncentred cosine of
any two music spectra high stop dominating. Pure torch: no model, no Ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from msvae.evaluate.indicators import cepstral_features, frechet_distance

REFERENCE_WINDOWS = 1000  # training windows in the bank (and read to build it)
FRECHET_WINDOWS = 200  # generated windows per Fréchet distance: enough for a 38-dim covariance
STD_FLOOR_DB = 1e-3  # a feature dimension moving less than this over training is constant
BANK_SEED = 0  # the bank's subsample of the training windows


@dataclass(frozen=True)
class FeatureReference:
    """Training statistics of the cepstral features and a bank of standardised training rows."""

    mean: torch.Tensor  # [F] dB, over the training windows
    std: torch.Tensor  # [F] dB, floored at STD_FLOOR_DB
    bank: torch.Tensor  # [K, F] standardised training rows, K <= REFERENCE_WINDOWS

    @classmethod
    def from_windows(cls, train_db: torch.Tensor, seed: int = BANK_SEED) -> FeatureReference:
        """From training mix windows [N, M, T] dB (N >= 1): statistics over all N, the bank a
        seeded subsample of at most REFERENCE_WINDOWS of them."""
        features = cepstral_features(train_db)  # [N, F]
        mean = features.mean(0)
        std = features.std(0, correction=0).clamp_min(STD_FLOOR_DB)
        keep = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
        return cls(mean, std, (features[keep[:REFERENCE_WINDOWS]] - mean) / std)

    def standardise(self, db: torch.Tensor) -> torch.Tensor:
        """[..., M, T] dB -> standardised cepstral features [..., F] (unitless)."""
        return (cepstral_features(db).to(self.mean.device) - self.mean) / self.std


def closeness_pct(d2: torch.Tensor, dims: int) -> torch.Tensor:
    """Similarity, percent, of two points at squared distance `d2` in the standardised
    feature space of `dims` dimensions: 100 * exp(-d2 / 2F), in (0, 100] (100: the same
    features; 37: as far apart as two training windows are on average, E[d^2] = 2F there)."""
    return 100 * torch.exp(-d2 / (2 * dims))


def similarity_pct(reference: FeatureReference, generated_db: torch.Tensor) -> torch.Tensor:
    """Similarity of generated audio per window, percent (closeness_pct): d the Euclidean
    distance of its standardised features to the nearest training window in the bank. Not
    a cosine: that ignores how far out a window lies, and ranked an average spectrum above
    real held-out music. [n, M, T] -> [n]."""
    d2 = torch.cdist(reference.standardise(generated_db), reference.bank).pow(2).min(-1).values
    return closeness_pct(d2, reference.bank.shape[-1])


def paired_similarity_pct(reference: FeatureReference, ref_db: torch.Tensor,
                          est_db: torch.Tensor) -> torch.Tensor:
    """Similarity per window of an output to its own reference, percent (closeness_pct, the
    scale of similarity_pct): d the distance between their standardised features (the mix
    generated from the stems vs the real mix; 100: the same, 37: as unrelated as two
    training windows). A cosine here went negative (-11 %) for outputs on the far side of
    the training mean. [..., M, T] -> [...]."""
    d2 = (reference.standardise(ref_db) - reference.standardise(est_db)).pow(2).sum(-1)
    return closeness_pct(d2, reference.bank.shape[-1])


def generated_frechet(reference: FeatureReference, generated_db: torch.Tensor) -> float:
    """Fréchet distance between the training bank (real) and generated windows [n, M, T] dB
    (fake) in the standardised space, unitless; n should be at least FRECHET_WINDOWS."""
    return frechet_distance(reference.bank, reference.standardise(generated_db))
