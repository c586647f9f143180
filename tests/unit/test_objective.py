"""The reshaped ELBO: schedules, free bits, KL, balancing, slot accounting, active units."""

import math

import pytest
import torch

from msvae.config import ObjectiveConfig, load
from msvae.model import ModelOutput
from msvae.model.latent import gaussian_kl
from msvae.model.objective import (
    active_units,
    as_floats,
    balance_weights,
    beta_at,
    free_bits,
    kl_per_dim,
    loss,
    unit_moments,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("schedule,step,expected", [
    ("constant", 0, 2.0), ("constant", 10**6, 2.0),
    ("linear", 0, 0.0), ("linear", 25, 0.5), ("linear", 100, 2.0), ("linear", 500, 2.0),
    ("sigmoid", 50, 1.0), ("sigmoid", 0, 2.0 / (1 + math.exp(6))),
    ("sigmoid", 75, 2.0 / (1 + math.exp(-3))), ("sigmoid", 100, 2.0),
    # cyclical: W=100, M=4 -> period 25, R=0.5 -> rises over 12.5 steps then holds
    ("cyclical", 0, 0.0), ("cyclical", 5, 0.8), ("cyclical", 13, 2.0), ("cyclical", 24, 2.0),
    ("cyclical", 25, 0.0), ("cyclical", 30, 0.8), ("cyclical", 99, 2.0), ("cyclical", 100, 2.0),
])
def test_beta_schedules(schedule, step, expected):
    cfg = ObjectiveConfig(beta_schedule=schedule, beta_max=2.0, warmup_steps=100, cycles=4,
                          ratio=0.5)
    assert beta_at(step, cfg) == pytest.approx(expected)


def test_zero_warmup_is_full_beta():
    assert beta_at(0, ObjectiveConfig(beta_schedule="linear", warmup_steps=0)) == 1.0


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.tensor(v, dtype=torch.float64) for v in
                              ([0.3, -1.0], [-0.5, 0.4], [-0.2, 0.5], [0.2, -0.3]))
    z = mu_q + (0.5 * lv_q).exp() * torch.randn(400_000, 2, generator=g, dtype=torch.float64)

    def log_normal(z, mu, lv):
        return -0.5 * (lv + math.log(2 * math.pi) + (z - mu) ** 2 / lv.exp())

    mc = (log_normal(z, mu_q, lv_q) - log_normal(z, mu_p, lv_p)).mean(0)
    assert torch.allclose(gaussian_kl(mu_q, lv_q, mu_p, lv_p), mc, atol=0.01)


def test_free_bits_floor_each_group():
    groups = torch.tensor([0.1, 0.5, 2.0], requires_grad=True)
    total = free_bits(groups, 1.0)
    assert float(total.detach()) == pytest.approx(1.0 + 1.0 + 2.0)
    total.backward()
    assert groups.grad.tolist() == [0.0, 0.0, 1.0]  # no pull on groups under the floor
    assert float(free_bits(groups.detach(), 0.0)) == pytest.approx(2.6)


def _output(kl_value, b=2, s=4, m=3, t=8):
    recon = torch.zeros(b, s, m, t, requires_grad=True)
    kl = [torch.full((b, 4, 4), kl_value, requires_grad=True),
          torch.full((b, 4, 2), kl_value, requires_grad=True)]
    return ModelOutput(recon, kl, [torch.zeros(b, 4, 4), torch.zeros(b, 4, 2)])


def test_loss_applies_free_bits_per_group_and_level():
    cfg = load(overrides=["objective.beta_schedule=constant", "objective.free_bits=0.5"])
    out = _output(0.01)  # group KL: 4 * 0.01 and 2 * 0.01 nats, both under 0.5
    x, mask = torch.zeros(2, 4, 3, 8), torch.ones(2, 4, dtype=torch.bool)
    total, parts = loss(out, x, mask, 0, cfg)
    parts = as_floats(parts)
    assert float(total) == pytest.approx(8 * 0.5)  # 2 levels x 4 groups, each floored
    assert parts["kl/level0"] == pytest.approx(0.16) and parts["kl/level1"] == pytest.approx(0.08)
    assert parts["kl"] == pytest.approx(0.24) and parts["recon"] == 0.0


def test_recon_counts_only_slots_the_model_owns():
    x, mask = torch.zeros(2, 4, 3, 8), torch.ones(2, 4, dtype=torch.bool)
    mask[0, 1] = False
    out = _output(0.0)
    with torch.no_grad():
        out.recon[:, 1] = 10.0  # instrument wrong by 10 dB in both windows
    sigma = 5.0
    _, parts = loss(out, x, mask, 0, load(overrides=["model.kind=vae"]))
    assert float(parts["recon"]) == 0.0  # vae owns only the mix
    _, parts = loss(out, x, mask, 0, load(overrides=["model.kind=msvae"]))
    # window 1 only, one of its 4 present slots wrong: the mean over slots, then over windows
    assert float(parts["recon"]) == pytest.approx(0.5 * (10 / sigma) ** 2 * 3 * 8 / 4 / 2)


def test_the_mix_slot_weighs_mix_weight():
    x, mask = torch.zeros(1, 4, 3, 8), torch.ones(1, 4, dtype=torch.bool)
    out = _output(0.0)
    with torch.no_grad():
        out.recon[:, 0] = 10.0  # only the mix is wrong, by 10 dB
    nll = 0.5 * (10 / 5.0) ** 2 * 3 * 8  # the mix slot's negative log-likelihood, nats
    _, parts = loss(out, x, mask, 0, load(overrides=["objective.mix_weight=3"]))
    assert float(parts["recon"]) == pytest.approx(3 * nll / (3 + 3))  # weighted mean of 4
    _, parts = loss(out, x, mask, 0, load(overrides=["objective.mix_weight=3",
                                                     "model.kind=single"]))
    assert float(parts["recon"]) == pytest.approx(nll)  # one slot: the weight cancels


def test_kl_balance_weights():
    kl = [torch.full((2, 4, 4), 0.3), torch.full((2, 4, 2), 0.1)]
    w = balance_weights(kl)
    assert w.tolist() == pytest.approx([1.5, 0.5])  # mean 1, proportional to KL per unit
    assert [float(g.sum()) for g in kl_per_dim(kl)] == pytest.approx([4 * 4 * 0.3, 4 * 2 * 0.1])


def test_active_units_tell_collapsed_from_healthy_encoder():
    torch.manual_seed(0)
    encoder = torch.nn.Conv1d(16, 6, 3, padding=1)  # log-mel [B, 16, T] -> means [B, 6, T]
    x = torch.randn(64, 16, 32)
    healthy = active_units(unit_moments([encoder(x).detach()]))
    with torch.no_grad():
        encoder.weight[:3] = 0.0  # units 0-2 stop reading x: their mean is the bias
    collapsed = active_units(unit_moments([encoder(x).detach()]))
    assert healthy == [6] and collapsed == [3]


def test_unit_moments_add_across_batches():
    mu = torch.randn(6, 3, 5)
    whole = unit_moments([mu])[0]
    parts = unit_moments([mu[:2]])[0] + unit_moments([mu[2:]])[0]
    assert torch.allclose(whole, parts)
    assert active_units([whole], threshold=0.0) == [3]
