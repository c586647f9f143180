"""The latent prior (prior.kind transformer): tokens fold and unfold the ladder's latents,
it is causal, it learns time structure, it never changes the VAE's update, and the model
samples through it at any length."""

import copy

import torch

from msvae.config import load
from msvae.model import build_model, count_parameters
from msvae.model.latent_prior import LatentPrior, from_tokens, to_tokens

torch.set_num_threads(1)
BASE = ["data.window_s=0.512", "data.hop_s=0.256", "data.n_mels=16", "model.channels=16",
        "model.latent_dim=4", "model.heads=2", "model.attention_depth=1"]


def _model(prior: str, levels: int = 2):
    torch.manual_seed(0)
    cfg = load(overrides=[*BASE, f"model.levels={levels}", f"prior.kind={prior}"])
    return build_model(cfg), cfg


def test_tokens_fold_every_level_into_its_coarsest_step_and_back():
    mus = [torch.randn(2, 3, 16), torch.randn(2, 5, 8), torch.randn(2, 4, 4)]
    tokens = to_tokens(mus)
    assert tokens.shape == (2, 4, 3 * 4 + 5 * 2 + 4)
    # coarsest step 1 holds finest frames 4..7
    assert torch.equal(tokens[0, 1, :12].view(3, 4), mus[0][0, :, 4:8])
    back = from_tokens(tokens, [3, 5, 4])
    assert all(torch.equal(a, b) for a, b in zip(back, mus))


def test_a_token_sees_only_the_tokens_before_it():
    prior = LatentPrior(6, 16, 2, 2, 8)
    torch.nn.init.normal_(prior.out.weight)
    tokens = torch.randn(1, 8, 6)
    later = tokens.clone()
    later[0, 5] += 10
    a, b = prior._stats(tokens)[0], prior._stats(later)[0]
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-5)  # token 5 itself and before
    assert not torch.allclose(a[0, 6:], b[0, 6:], atol=1e-3)


def test_it_learns_slow_sequences_and_samples_them_past_its_context():
    """Trained on smooth random walks (lag-1 correlation ~0.97), its samples hold the
    structure (a prior drawing tokens independently scores ~0), also beyond `context`."""
    torch.manual_seed(0)
    walks = torch.randn(256, 16, 4).cumsum(1) * 0.3
    walks = walks - walks.mean(1, keepdim=True)
    prior = LatentPrior(4, 32, 2, 2, 16)
    optimizer = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for step in range(300):
        batch = walks[torch.randint(0, 256, (32,))]
        loss = prior.nll(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    prior.low.copy_(walks.amin((0, 1)))
    prior.high.copy_(walks.amax((0, 1)))
    samples = prior.sample(16, 40, 1.0, torch.Generator().manual_seed(1))
    assert samples.shape == (16, 40, 4)
    assert (samples >= prior.low).all() and (samples <= prior.high).all()
    d = samples - samples.mean(1, keepdim=True)
    lag1 = float((d[:, 1:] * d[:, :-1]).sum() / (d * d).sum())
    assert lag1 > 0.7, lag1


def test_the_prior_is_fitted_after_the_vae_and_leaves_it_as_it_was():
    from msvae.train.prior_fit import fit_latent_prior

    model, cfg = _model("transformer")
    cfg = load(overrides=[*BASE, "prior.kind=transformer", "prior.steps=150"])
    assert not any(p.requires_grad for p in model.latent_prior.parameters())  # while training
    g = torch.Generator().manual_seed(0)
    x = -30 + 10 * torch.randn(48, 4, 16, 32, generator=g).cumsum(-1) / 4  # slow changes
    mask = torch.ones(48, 4, dtype=torch.bool)
    before = copy.deepcopy(model.state_dict())
    figures = fit_latent_prior(cfg, model, x, mask)
    assert figures["prior/nll"] < figures["prior/nll_before"] and figures["prior/windows"] == 48
    assert figures["prior/nll_given_stems"] < figures["prior/nll_before"]
    after = model.state_dict()
    moved = {k for k in after if not torch.equal(after[k], before[k])}
    assert moved and all(k.startswith("latent_prior.") for k in moved)
    assert torch.isfinite(model.latent_prior.low).all()  # samples stay in the fitted range
    assert (model.latent_prior.low < model.latent_prior.high).all()
    assert count_parameters(model) == count_parameters(_model("ladder")[0])


def test_samples_come_from_the_latent_prior_at_any_length():
    model, cfg = _model("transformer", levels=3)
    model.eval()
    torch.manual_seed(0)
    short = model.generate(2, 32)
    long = model.generate(2, 100)  # over three windows of 32 frames
    assert short.shape == (2, 4, 16, 32) and long.shape == (2, 4, 16, 100)
    assert torch.isfinite(long).all()
    torch.nn.init.normal_(model.latent_prior.out.bias)  # a different prior, other samples
    torch.manual_seed(0)
    assert not torch.allclose(model.generate(2, 32), short)


def test_stem_subsets_are_non_empty_subsets_of_the_stems_never_the_mix():
    from msvae.train.prior_fit import stem_subsets

    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [1, 0, 0, 0]] * 200, dtype=torch.bool)
    subsets = stem_subsets(mask, 0)
    assert not subsets[:, 0].any()  # the mix is what the prior fills in
    assert not (subsets & ~mask).any()  # only stems the window has
    assert subsets[mask[:, 1:].any(1)].any(1).all() and not subsets[2::3].any()
    seen = {tuple(row.tolist()) for row in subsets[0::3]}
    assert len(seen) == 7  # every non-empty subset of three stems, the single ones included


def test_a_condition_is_the_mean_s_starting_point_and_a_row_without_one_gets_the_null():
    prior = LatentPrior(6, 16, 2, 2, 8)
    tokens, cond = torch.randn(2, 8, 6), torch.randn(2, 8, 6)
    mu, _ = prior._stats(tokens, cond)
    assert torch.allclose(mu, cond)  # an untrained prior: the stems' own latents
    torch.nn.init.normal_(prior.out.weight)
    given = torch.tensor([True, False])
    mu, _ = prior._stats(tokens, cond, given)
    alone, _ = prior._stats(tokens)
    assert torch.allclose(mu[1], alone[1]) and not torch.allclose(mu[0], alone[0])


def test_fill_ins_missing_a_stem_come_from_the_arranging_prior_the_others_from_the_encoder():
    def fills(conditioned: str, fitted: bool = True):
        torch.manual_seed(0)
        model = build_model(load(overrides=[*BASE, "prior.kind=transformer",
                                            f"prior.conditioned={conditioned}"])).eval()
        if fitted:  # as msvae.train.prior_fit leaves it
            model.latent_prior.low.fill_(-10.0)
            model.latent_prior.high.fill_(10.0)
        torch.manual_seed(1)
        x = -40 + 10 * torch.randn(3, 4, 16, 32)
        given = torch.tensor([[0, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=torch.bool)
        out = []
        for _ in range(2):
            torch.manual_seed(0)
            out.append(model.generate(3, 32, cond_x=x, cond_mask=given))
            torch.nn.init.normal_(model.latent_prior.out.bias)  # another prior
        return out

    before, after = fills("0.75")
    assert not torch.allclose(before[0], after[0])  # vocal alone: the prior arranges
    assert torch.equal(before[1:], after[1:])  # the mix, or every stem: the encoder
    before, after = fills("0")
    assert torch.equal(before, after)  # not arranging: the prior samples only from nothing
    before, after = fills("0.75", fitted=False)
    assert torch.equal(before, after)  # not fitted yet (the VAE's validation): the encoder


def test_a_model_registered_before_the_prior_arranged_still_loads(tmp_path):
    """Its weights lack the condition's: it loads, and fill-ins come from the encoder."""
    from types import SimpleNamespace

    import yaml

    from msvae.tracking.pyfunc import MsvaePyfunc

    cfg = load(overrides=[*BASE, "prior.kind=transformer"])
    state = {k: v for k, v in build_model(cfg).state_dict().items()
             if not k.startswith(("latent_prior.cond.", "latent_prior.null"))}
    torch.save(state, tmp_path / "w.pt")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    served = MsvaePyfunc()
    served.load_context(SimpleNamespace(artifacts={"config": str(tmp_path / "c.yaml"),
                                                   "weights": str(tmp_path / "w.pt")}))
    assert not served.model.arranges
    assert torch.equal(served.model.latent_prior.out.weight, state["latent_prior.out.weight"])
