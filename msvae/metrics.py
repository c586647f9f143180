"""The indicators, defined once: reconstruction error, log-spectral distance, similarity,
Fréchet distance, plus `evaluate`, which runs a model over batches and returns them all.

Inputs are log-mel windows in dB [..., M, T] (msvae.features.log_mel). Headline figures
use the mix slot for every model so that vae, single and msvae compare on the same
target; msvae also gets per-source reconstruction errors.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch

from msvae.config import Config
from msvae.model import output_slots
from msvae.objective import active_units, kl_per_dim, unit_moments

CEPSTRA = 20  # cepstral coefficients in the feature space (c0, the level, is dropped)


def recon_error_db(ref_db: torch.Tensor, est_db: torch.Tensor) -> torch.Tensor:
    """Reconstruction error per window, dB (lower is better; 0 dB: error as loud as signal).

    10 * log10( sum_{m,t} (A_est - A_ref)^2 / sum_{m,t} A_ref^2 ), A = 10^(dB / 20) the mel
    magnitude: the spectral error power relative to the reference power. [..., M, T] -> [...].
    """
    ref, est = torch.pow(10.0, ref_db.double() / 20), torch.pow(10.0, est_db.double() / 20)
    return 10 * torch.log10((est - ref).pow(2).sum((-2, -1)) / ref.pow(2).sum((-2, -1)))


def lsd_db(ref_db: torch.Tensor, est_db: torch.Tensor) -> torch.Tensor:
    """Log-spectral distance per window, dB: mean over frames t of
    sqrt( mean over mel bands m of (dB_est - dB_ref)^2 ). [..., M, T] -> [...]."""
    return (est_db.double() - ref_db.double()).pow(2).mean(-2).sqrt().mean(-1)


def cepstral_features(db: torch.Tensor) -> torch.Tensor:
    """The fixed feature space, dB: per window, mean and std over time of cepstral
    coefficients 1..19 (orthonormal DCT-II of the dB mel frame). [..., M, T] -> [..., 38]."""
    m = db.shape[-2]
    k = torch.arange(1, CEPSTRA, dtype=torch.float64, device=db.device)[:, None]
    n = torch.arange(m, dtype=torch.float64, device=db.device)[None, :]
    dct = math.sqrt(2.0 / m) * torch.cos(math.pi * k * (2 * n + 1) / (2 * m))  # [19, M]
    c = dct @ db.double()  # [..., 19, T]
    return torch.cat([c.mean(-1), c.std(-1, correction=0)], dim=-1)


def similarity_pct(ref_db: torch.Tensor, est_db: torch.Tensor) -> torch.Tensor:
    """Similarity per window, percent: 100 * cosine(f(ref), f(est)) with f the cepstral
    features above (100: same timbre and its variation; 0: unrelated). [..., M, T] -> [...]."""
    f_ref, f_est = cepstral_features(ref_db), cepstral_features(est_db)
    return 100 * torch.nn.functional.cosine_similarity(f_ref, f_est, dim=-1, eps=1e-12)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature rows [N, F], dB^2 (FAD-style):
    |mu_r - mu_f|^2 + tr(S_r + S_f - 2 (S_r^1/2 S_f S_r^1/2)^1/2)."""
    real, fake = real.double(), fake.double()
    mu_r, mu_f = real.mean(0), fake.mean(0)
    s_r, s_f = torch.cov(real.T), torch.cov(fake.T)
    vals, vecs = torch.linalg.eigh(s_r)
    root_r = vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root_r @ s_f @ root_r).clamp_min(0).sqrt().sum()
    return float((mu_r - mu_f).pow(2).sum() + torch.trace(s_r) + torch.trace(s_f) - 2 * cross)


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
        for i, k in enumerate(kl_per_dim(out.kl)):
            sums[f"kl_level{i}"] += float(k.sum()) * x.shape[0]
        for slot in output_slots(cfg):
            there = mask[:, slot]
            sums[f"recon_error_db/{sources[slot]}"] += float(
                recon_error_db(x[there, slot], recon[there, slot]).sum())
            counts[f"recon_error_db/{sources[slot]}"] += int(there.sum())
        batch_moments = unit_moments(out.mu)
        moments = batch_moments if moments is None else [
            a + b for a, b in zip(moments, batch_moments)]
        real.append(cepstral_features(ref).cpu())
        fake.append(cepstral_features(model.generate(x.shape[0], x.shape[-1])[:, mix].float())
                    .cpu())
    model.train(was_training)
    empty = torch.empty(0, 2 * (CEPSTRA - 1), dtype=torch.float64)
    return _summarise(sums, counts, moments, torch.cat([empty, *real]), torch.cat([empty, *fake]))


def _summarise(sums, counts, moments, real, fake) -> dict[str, float]:
    """Running sums -> means: over mix windows, KL over all rows, per-source over presence."""
    result = {"windows": counts["mix"],
              "active_units": sum(active_units(moments)) if moments else 0,
              "frechet_distance": frechet_distance(real, fake) if len(real) > 1 else math.nan}
    for key, total in sums.items():
        count = counts[key if "/" in key else "rows" if key.startswith("kl_") else "mix"]
        result[key] = total / count if count else math.nan
    return result
