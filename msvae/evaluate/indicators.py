"""The indicators, defined once as pure functions: reconstruction error, log-spectral
distance, similarity of reconstructions, temporal fidelity and Fréchet distance
(msvae.evaluate.score runs a model over them; msvae.evaluate.floors gives the trivial and
linear predictors' values; msvae.evaluate.reference scores generated audio against the
training set in this feature space, standardised).

Inputs are log-mel windows in dB [..., M, T] (msvae.data.features.log_mel).
"""

from __future__ import annotations

import math

import torch

CEPSTRA = 20  # cepstral coefficients in the feature space (c0, the level, is dropped)
STILL_DB = 1e-6  # dB; an RMS movement over time below this is rounding, not movement


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


def temporal_fidelity(ref_db: torch.Tensor, est_db: torch.Tensor) -> torch.Tensor:
    """Does the output follow the reference over time? Per window, the Pearson correlation
    between reference and output log-mel deviations from their own time mean per mel band:

        r = sum_{m,t} a_mt b_mt / sqrt(sum a_mt^2 * sum b_mt^2),
        a_mt = ref_mt - mean_t ref_mt,  b_mt = est_mt - mean_t est_mt   (dB)

    1: the same movements over time; 0: none (an average spectrum repeated over the window
    scores exactly 0, since b = 0; so does any window whose RMS deviation is under
    STILL_DB, which is rounding). [..., M, T] -> [...], unitless in [-1, 1].
    """
    a = ref_db.double() - ref_db.double().mean(-1, keepdim=True)
    b = est_db.double() - est_db.double().mean(-1, keepdim=True)
    energy_a, energy_b = a.pow(2).sum((-2, -1)), b.pow(2).sum((-2, -1))
    still = STILL_DB ** 2 * a.shape[-1] * a.shape[-2]  # below this a window does not move
    moving = (energy_a > still) & (energy_b > still)
    r = (a * b).sum((-2, -1)) / (energy_a * energy_b).sqrt().clamp_min(1e-30)
    return torch.where(moving, r, torch.zeros_like(r))


def cepstral_features(db: torch.Tensor) -> torch.Tensor:
    """The fixed feature space, dB: per window, mean and std over time of cepstral
    coefficients 1..19 (orthonormal DCT-II of the dB mel frame). [..., M, T] -> [..., 38]."""
    m = db.shape[-2]
    k = torch.arange(1, CEPSTRA, dtype=torch.float64, device=db.device)[:, None]
    n = torch.arange(m, dtype=torch.float64, device=db.device)[None, :]
    dct = math.sqrt(2.0 / m) * torch.cos(math.pi * k * (2 * n + 1) / (2 * m))  # [19, M]
    c = dct @ db.double()  # [..., 19, T]
    return torch.cat([c.mean(-1), c.std(-1, correction=0)], dim=-1)


def recon_similarity_pct(ref_db: torch.Tensor, est_db: torch.Tensor) -> torch.Tensor:
    """Similarity of a reconstruction per window, percent: 100 * cosine(f(ref), f(est)) with
    f the cepstral features above, uncentred (100: same timbre and its variation; 0:
    unrelated; an average spectrum repeated over the window scores over 90 on music, so read
    it beside the floors). [..., M, T] -> [...]."""
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


def coherence(db: torch.Tensor) -> torch.Tensor:
    """Temporal coherence per window: the lag-1 correlation of the log-mel's deviations from
    its time mean, how much each frame resembles the next (held notes: near 1; a texture
    redrawn every frame: near 0). [..., M, T] -> [...]."""
    d = db.double() - db.double().mean(-1, keepdim=True)
    return (d[..., 1:] * d[..., :-1]).sum((-2, -1)) / d.pow(2).sum((-2, -1)).clamp_min(1e-12)


def motion_db(db: torch.Tensor) -> torch.Tensor:
    """Motion per window, dB: the standard deviation over time of each mel band, averaged
    over bands (a static spectrum: 0; real music here about 6). [..., M, T] -> [...]."""
    return db.double().std(-1, correction=0).mean(-1)


def level_db(db: torch.Tensor) -> torch.Tensor:
    """Level per window, dB: 10 log10 of the mean mel power. [..., M, T] -> [...]."""
    return 10 * torch.log10(torch.pow(10.0, db.double() / 10).mean((-2, -1)))


WINDOW_INDICATORS = {  # output window against its reference, one value per window
    "recon_error_db": recon_error_db, "lsd_db": lsd_db,
    "recon_similarity_pct": recon_similarity_pct, "temporal_fidelity": temporal_fidelity}
GENERATED_INDICATORS = {"coherence": coherence, "motion_db": motion_db}  # one generated window

INDICATORS = {  # what every report shows: key -> (label, unit, which way is better)
    "recon_error_db": ("reconstruction error", "dB", "lower"),
    "lsd_db": ("log-spectral distance", "dB", "lower"),
    "recon_similarity_pct": ("reconstruction similarity", "%", "higher"),
    "similarity_pct": ("similarity of generated audio", "%", "higher"),
    "temporal_fidelity": ("temporal fidelity", "", "higher"),
    "fill/temporal_fidelity": ("temporal fidelity from the stems", "", "higher"),
    "fill/similarity_pct": ("similarity from the stems", "%", "higher"),
    "fill/coherence": ("coherence of the mix from the stems", "", "near real"),
    "fill/motion_db": ("motion of the mix from the stems", "dB", "near real"),
    "fill/level_db": ("level of the mix from the stems minus the real mix's", "dB", "near 0"),
    "alone/coherence": ("coherence of the mix from the ambience alone", "", "near real"),
    "alone/motion_db": ("motion of the mix from the ambience alone", "dB", "near real"),
    "alone/level_db": ("level of the mix from the ambience alone minus the real mix's", "dB",
                       "near 0"),
    "frechet_distance": ("Fréchet distance", "", "lower"),
    "sample/coherence": ("coherence of prior samples", "", "near real"),
    "sample/motion_db": ("motion of prior samples", "dB", "near real"),
    "active_units": ("active units", "", "higher"),
}
FILL_PREFIXES = ("fill/", "alone/")  # the fill-in cases' keys (msvae.evaluate.score)
ARROWS = {"higher": "↑", "lower": "↓", "near real": "≈ real", "near 0": "≈ 0"}
REAL = {  # generated-audio figures -> the same figure of the real held-out windows
    "similarity_pct": "real/similarity_pct", "frechet_distance": "real/frechet_distance",
    "sample/coherence": "real/coherence", "sample/motion_db": "real/motion_db",
    "fill/coherence": "real/coherence", "fill/motion_db": "real/motion_db",
    "alone/coherence": "real/coherence", "alone/motion_db": "real/motion_db"}
