"""The training step and checkpoints without Ray: an update, the non-finite guard, and a
resume that carries weights, optimiser state and step over exactly."""

import copy

import pytest
import torch

from msvae.config import load
from msvae.model import build_model
from msvae.train import checkpoint as ckpt
from msvae.train.step import NonFiniteLoss, optimizer_for, train_step

torch.set_num_threads(1)
CFG = load(overrides=["data.window_s=0.512", "data.hop_s=0.256", "data.n_mels=16",
                      "model.channels=16", "model.latent_dim=4", "model.heads=2",
                      "model.attention_depth=1", "train.grad_clip=0.5"])


def _batch(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"x": -50 + 10 * torch.randn(4, 4, 16, 32, generator=g),
            "mask": torch.ones(4, 4, dtype=torch.bool)}


def _fresh():
    torch.manual_seed(0)
    model = build_model(CFG)
    return model, optimizer_for(model, CFG)


def test_step_updates_every_trained_weight_and_clips():
    model, optimizer = _fresh()
    before = copy.deepcopy(model.state_dict())
    parts = train_step(model, optimizer, _batch(0), 0, CFG)
    assert {"loss", "recon", "kl", "grad_norm"} <= set(parts)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) > len(before) // 2
    # the reported norm is before clipping; after it the gradients are at most grad_clip
    clipped = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()
                             if p.grad is not None))
    assert float(parts["grad_norm"]) > CFG.train.grad_clip >= float(clipped) - 1e-4


def test_non_finite_loss_raises_before_any_update():
    model, optimizer = _fresh()
    before = copy.deepcopy(model.state_dict())
    bad = _batch(0)
    bad["x"][0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLoss, match=r"^non-finite loss at step 7 .*lower train.lr"):
        train_step(model, optimizer, bad, 7, CFG)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not optimizer.state  # no Adam moments were created


def test_resume_carries_weights_optimiser_state_and_step(tmp_path):
    model, optimizer = _fresh()
    for step in range(3):
        train_step(model, optimizer, _batch(step), step, CFG)
    ckpt.save(tmp_path, model, optimizer, 3)

    resumed, resumed_opt = _fresh()  # different weights until restored
    assert ckpt.restore(tmp_path, resumed, resumed_opt) == 3
    for key, value in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    moments = optimizer.state_dict()["state"]
    assert moments and all(torch.equal(moments[i]["exp_avg_sq"], s["exp_avg_sq"])
                           for i, s in resumed_opt.state_dict()["state"].items())

    # the next step from the original and from the resumed copy are the same step
    for m, opt in ((model, optimizer), (resumed, resumed_opt)):
        torch.manual_seed(42)
        train_step(m, opt, _batch(3), 3, CFG)
    for key, value in model.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key


def test_incomplete_checkpoint_is_refused(tmp_path):
    model, optimizer = _fresh()
    ckpt.save(tmp_path, model, optimizer, 1)
    (tmp_path / ckpt.MARKER).unlink()
    with pytest.raises(ckpt.IncompleteCheckpoint, match="no COMPLETE marker"):
        ckpt.restore(tmp_path, model, optimizer)



def test_rng_state_round_trips_through_a_weights_only_load(tmp_path):
    model, optimizer = _fresh()
    ckpt.seed_everything(5)
    ckpt.save(tmp_path, model, optimizer, 1)
    import random

    import numpy as np
    expected = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.seed_everything(99)
    ckpt.restore(tmp_path, model, optimizer)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]


def test_a_checkpoint_that_would_run_code_fails_with_one_line(tmp_path):
    model, optimizer = _fresh()
    ckpt.save(tmp_path, model, optimizer, 1)
    state = torch.load(tmp_path / ckpt.STATE, weights_only=True)
    state["extra"] = {"payload": copy.copy}  # a global: weights_only refuses to unpickle it
    torch.save(state, tmp_path / ckpt.STATE)
    with pytest.raises(ckpt.BadCheckpoint, match=r"state\.pt: not a loadable checkpoint"):
        ckpt.restore(tmp_path, model, optimizer)
    (tmp_path / ckpt.STATE).write_bytes(b"truncated")
    with pytest.raises(ckpt.BadCheckpoint) as info:
        ckpt.load(tmp_path)
    assert "\n" not in str(info.value)
