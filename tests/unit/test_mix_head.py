"""model.mix_head power_sum: msvae's mix slot is its stems' power sum plus a gated residual."""

import pytest
import torch

from msvae.config import load
from msvae.model import build_model, count_parameters
from msvae.model.base import to_units

TINY = ["data.n_mels=16", "model.channels=16", "model.latent_dim=4", "model.heads=2",
        "model.attention_depth=1"]
torch.set_num_threads(1)


def tiny(*extra):
    return load(overrides=[*TINY, *extra])


def seeded(cfg, seed=0):
    torch.manual_seed(seed)
    return build_model(cfg)


def batch(cfg, b=3, t=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = -45 + 12 * torch.randn(b, len(cfg.data.sources), cfg.data.n_mels, t, generator=g)
    return x, torch.ones(b, len(cfg.data.sources), dtype=torch.bool)


def power_sum_db(stems_db: torch.Tensor) -> torch.Tensor:
    """10 log10 of the summed powers over dim 1, in float64, dB."""
    return 10 * torch.log10((10 ** (stems_db.double() / 10)).sum(dim=1))


def split(recon, cfg):
    """recon [B, S, M, T] dB -> (mix [B, M, T], stems [B, S-1, M, T])."""
    mix = cfg.data.sources.index("mix")
    stems = [i for i in range(len(cfg.data.sources)) if i != mix]
    return recon[:, mix], recon[:, stems]


@pytest.mark.parametrize("sources", [None, "[instrument,mix,vocal]"])
@pytest.mark.parametrize("levels", ["model.levels=1", "model.levels=3"])
def test_mix_starts_as_the_power_sum_of_the_stems(sources, levels):
    extra = [levels] + ([f"data.sources={sources}"] if sources else [])
    cfg = tiny("model.kind=msvae", "model.mix_head=power_sum", *extra)
    model = seeded(cfg).eval()
    x, mask = batch(cfg)
    out = model(x, mask)
    mix, stems = split(out.recon, cfg)
    assert out.recon.shape == x.shape and torch.isfinite(out.recon).all()
    assert (mix.double() - power_sum_db(stems)).abs().max() < 1e-4  # dB
    assert (mix > stems.max(dim=1).values).all()  # a sum of powers is above each of them


def test_the_residual_is_the_own_mix_head_times_the_gate():
    """With the gate at g, the mix is the power sum plus g times what mix_head own outputs
    (same seed, same weights), in units."""
    own = seeded(tiny("model.kind=msvae")).eval()
    cfg = tiny("model.kind=msvae", "model.mix_head=power_sum")
    summed = seeded(cfg).eval()
    with torch.no_grad():
        summed.mix_gate.fill_(0.5)
    x, mask = batch(cfg)
    mix, stems = split(summed(x, mask).recon, cfg)
    own_mix, own_stems = split(own(x, mask).recon, cfg)
    assert torch.equal(stems, own_stems)
    residual = to_units(mix.double()) - to_units(power_sum_db(stems))
    assert torch.allclose(residual, 0.5 * to_units(own_mix.double()), atol=1e-5)


@pytest.mark.parametrize("mix_head, reach", [("own", False), ("power_sum", True)])
def test_a_mix_only_loss_reaches_the_stem_heads(mix_head, reach):
    cfg = tiny("model.kind=msvae", f"model.mix_head={mix_head}")
    model = seeded(cfg)
    x, mask = batch(cfg)
    mix, _ = split(model(x, mask, sample=False).recon, cfg)
    mix.square().mean().backward()
    last = model.out[-1].weight.grad.view(model.s_out, cfg.data.n_mels, -1)  # per slot
    stem_grads = [last[i].abs().sum() for i in range(model.s_out) if i != model.mix_out]
    assert all((g > 0) == reach for g in stem_grads)
    if reach:  # the gate learns from the first step, though it starts at 0
        assert model.mix_gate.grad is not None and model.mix_gate.grad != 0


@pytest.mark.parametrize("kind", ["single", "msvae"])
def test_default_and_single_are_unchanged(kind):
    """mix_head own is the default; single has one output slot, so power_sum changes nothing
    for it; msvae gains one parameter, the gate, and every other weight is the same."""
    assert tiny().model.mix_head == "own"
    own = seeded(tiny(f"model.kind={kind}"))
    summed = seeded(tiny(f"model.kind={kind}", "model.mix_head=power_sum"))
    assert own.mix_gate is None
    a, b = own.state_dict(), summed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(b) - set(a) == (set() if kind == "single" else {"mix_gate"})
    assert count_parameters(summed) - count_parameters(own) == (kind == "msvae")
    x, mask = batch(tiny())
    same = torch.equal(own.eval()(x, mask).recon, summed.eval()(x, mask).recon)
    assert same == (kind == "single")


def test_generation_draws_the_mix_as_the_stems_power_sum():
    cfg = tiny("model.kind=msvae", "model.mix_head=power_sum")
    model = seeded(cfg).eval()
    free = model.generate(2, 30)
    assert free.shape == (2, 4, 16, 30) and torch.isfinite(free).all()
    mix, stems = split(free, cfg)
    assert (mix.double() - power_sum_db(stems)).abs().max() < 1e-4
    x, _ = batch(cfg)
    stems_given = torch.tensor([[False, True, True, True]] * 3)  # the fill-in case
    filled = model.generate(3, 30, cond_x=x, cond_mask=stems_given)
    assert torch.equal(filled[:, 1:], x[:, 1:]) and torch.isfinite(filled).all()


def test_power_sum_runs_in_float32_under_bf16_autocast():
    cfg = tiny("model.kind=msvae", "model.mix_head=power_sum")
    model = seeded(cfg)
    x, mask = batch(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, mask)
    mix, stems = split(out.recon, cfg)
    assert out.recon.dtype == torch.float32
    assert (mix.double() - power_sum_db(stems)).abs().max() < 1e-4
