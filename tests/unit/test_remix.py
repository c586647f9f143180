"""Remix augmentation (msvae.train.remix): the mix is the stems' power sum, stems come from
other rows at gains within range, absent stays absent, draws repeat under the seed, and the
training step feeds the model remixed rows when train.remix_share > 0."""

import math

import pytest
import torch

from msvae.config import load
from msvae.data.features import FLOOR_DB
from msvae.model import build_model
from msvae.train.remix import power_sum_db, remix, remix_generator
from msvae.train.step import optimizer_for, train_step

torch.set_num_threads(1)
MIX = 0  # slot order mix, instrument, vocal, ambience
CPU = torch.device("cpu")
DEVICES = [CPU] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def _batch(rows: int = 12, seed: int = 0, device=CPU) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = (-50 + 10 * torch.randn(rows, 4, 6, 8, generator=g)).clamp_min(FLOOR_DB)
    mask = torch.ones(rows, 4, dtype=torch.bool)
    mask[1, 2] = mask[4, 2] = mask[7, 3] = False  # no vocal in rows 1, 4; no ambience in 7
    mask[9, 1:] = False  # a mix-only row
    x[~mask] = FLOOR_DB
    return {"x": x.to(device), "mask": mask.to(device), "piece": list(range(rows))}


def _remix(batch, share=0.5, gain=6.0, seed=0, step=0, rank=0):
    return remix(batch, share, gain, MIX, remix_generator(seed, step, rank, batch["x"].device))


def _changed(a: dict, b: dict) -> torch.Tensor:
    return (a["x"] != b["x"]).flatten(1).any(dim=1) | (a["mask"] != b["mask"]).any(dim=1)


def test_mix_is_the_power_sum_of_the_chosen_stems():
    x = torch.full((2, 4, 3, 5), FLOOR_DB)
    x[0, 1], x[0, 2] = -60.0, -70.0  # row 0: instrument -60 dB, vocal -70 dB
    x[1, 1], x[1, 2] = -50.0, -50.0  # row 1: two stems at -50 dB
    mask = torch.tensor([[True, True, True, False]] * 2)
    x[:, 0] = 0.0  # the real mixes, replaced
    out = _remix({"x": x, "mask": mask}, share=1.0, gain=0.0)
    # each row takes the other row's stems (the only other row), at gain 0
    assert torch.equal(out["x"][0, 1:], x[1, 1:]) and torch.equal(out["x"][1, 1:], x[0, 1:])
    assert torch.allclose(out["x"][0, 0], torch.tensor(10 * math.log10(2e-5)))  # -46.99 dB
    assert torch.allclose(out["x"][1, 0], torch.tensor(10 * math.log10(1e-6 + 1e-7)))
    assert torch.equal(out["mask"], mask)


def test_power_sum_is_floored_and_ignores_absent_slots():
    db = torch.tensor([[[[-20.0]], [[-100.0]], [[-100.0]]]])
    assert power_sum_db(db, torch.tensor([[False, False, False]])).item() == FLOOR_DB
    assert power_sum_db(db, torch.tensor([[False, True, False]])).item() == pytest.approx(
        FLOOR_DB)
    assert power_sum_db(db, torch.tensor([[True, True, True]])).item() == pytest.approx(-20.0)


@pytest.mark.parametrize("share, rows", [(0.25, 3), (0.5, 6), (1.0, 11)])
def test_the_share_of_rows_with_stems_is_remixed(share, rows):
    batch = _batch()
    out = _remix(batch, share=share)
    changed = _changed(batch, out)
    assert int(changed.sum()) == rows  # round(share * 12), at most the 11 rows with a stem
    assert not changed[9]  # the mix-only row is never remixed


def _donor_and_gain(x, out, r, s):
    """The row whose stem s, shifted by one constant, is row r's remixed stem s."""
    diff = out[r, s][None] - x[:, s]
    spread = diff.flatten(1).std(dim=1)
    j = int(spread.argmin())
    assert spread[j] < 1e-4 < spread.sort().values[1]  # exactly one row fits
    return j, float(diff[j].mean())


def test_stems_come_from_other_rows_that_have_them_at_gains_in_range():
    batch = _batch(seed=1)
    x, mask = batch["x"], batch["mask"]
    out = _remix(batch, share=1.0, gain=6.0)
    gains, donors = [], set()
    for r in torch.nonzero(_changed(batch, out)).flatten().tolist():
        for s in range(1, 4):
            if not mask[r, s]:
                continue
            j, gain = _donor_and_gain(x, out["x"], r, s)
            assert j != r and mask[j, s]
            donors.add(j)
            gains.append(gain)
    assert all(abs(g) <= 6.0 + 1e-4 for g in gains)
    assert max(gains) > 3 and min(gains) < -3  # spread over the range, not one value
    assert len(donors) > 3


def test_gains_never_take_a_stem_below_the_floor():
    batch = _batch()
    batch["x"][:, 1:, 0] = FLOOR_DB  # the lowest band of every stem is silent
    out = _remix(batch, share=1.0, gain=40.0)
    assert out["x"].min() == FLOOR_DB
    assert bool((out["x"][:, 1:, 0] > FLOOR_DB).any())  # raised by the positive gains


def test_absent_stems_stay_absent_and_the_mix_becomes_present():
    batch = _batch()
    batch["mask"][2, MIX] = False  # stems without their mix
    out = _remix(batch, share=1.0)
    stems = batch["mask"][:, 1:]
    assert torch.equal(out["mask"][:, 1:], stems)
    assert torch.all(out["x"][:, 1:][~stems] == FLOOR_DB)
    assert out["mask"][2, MIX]
    assert torch.equal(out["x"][9], batch["x"][9]) and not out["mask"][9, 1:].any()


def test_same_seed_same_remix_other_seed_step_or_rank_another():
    batch = _batch()
    first = _remix(batch, seed=3, step=5, rank=0)
    assert torch.equal(first["x"], _remix(batch, seed=3, step=5, rank=0)["x"])
    for other in ({"seed": 4, "step": 5, "rank": 0}, {"seed": 3, "step": 6, "rank": 0},
                  {"seed": 3, "step": 5, "rank": 1}):
        assert not torch.equal(first["x"], _remix(batch, **other)["x"]), other


@pytest.mark.parametrize("device", DEVICES, ids=str)
def test_keeps_the_batch_shape_dtype_device_and_other_keys(device):
    batch = _batch(device=device)
    out = _remix(batch)
    assert out["x"].shape == batch["x"].shape and out["x"].dtype == torch.float32
    assert out["mask"].shape == batch["mask"].shape and out["mask"].dtype == torch.bool
    assert out["x"].device == out["mask"].device == batch["x"].device
    assert out["piece"] == batch["piece"]
    assert bool(_changed(batch, out).any())


def _seen(kind: str, share: float, rank: int = 0) -> tuple[dict, torch.Tensor]:
    """(the batch given to train_step, the x its model's forward received)."""
    cfg = load(overrides=["data.window_s=0.512", "data.hop_s=0.256", "data.n_mels=16",
                          "model.channels=16", "model.latent_dim=4", "model.heads=2",
                          "model.attention_depth=1", f"model.kind={kind}",
                          f"train.remix_share={share}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    got = []
    model.register_forward_pre_hook(lambda _, args: got.append(args[0].clone()))
    g = torch.Generator().manual_seed(0)
    batch = {"x": -50 + 10 * torch.randn(8, 4, 16, 32, generator=g),
             "mask": torch.ones(8, 4, dtype=torch.bool)}
    parts = train_step(model, optimizer_for(model, cfg), batch, 0, cfg, rank)
    assert torch.isfinite(parts["loss"])
    return batch, got[0]


@pytest.mark.parametrize("kind", ["msvae", "single"])
def test_train_step_feeds_the_model_remixed_rows(kind):
    batch, seen = _seen(kind, share=0.5)
    remixed = (seen != batch["x"]).flatten(1).any(dim=1)
    assert int(remixed.sum()) == 4  # round(0.5 * 8) rows
    mixes = power_sum_db(seen[:, 1:], batch["mask"][:, 1:])
    assert torch.allclose(seen[remixed, MIX], mixes[remixed], atol=1e-4)
    assert not torch.allclose(seen[remixed, MIX], batch["x"][remixed, MIX])
    _, plain = _seen(kind, share=0.0)
    assert torch.equal(plain, batch["x"])
    _, other_rank = _seen(kind, share=0.5, rank=1)
    assert not torch.equal(other_rank, seen)
