"""The demo's listening examples: the window whose vocal rests is the one picked for the
fill-in row, and the prior sample is LONG_SAMPLE_S long, one continuous WAV."""

import soundfile as sf
import torch

from msvae.config import load
from msvae.data.features import FLOOR_DB
from msvae.demo.run import LONG_SAMPLE_S, listening_examples, resting_window
from msvae.model import build_model

torch.set_num_threads(1)


def test_the_fill_in_row_takes_the_window_whose_vocal_rests(tmp_path):
    cfg = load(overrides=["data.window_s=0.512", "data.hop_s=0.256", "data.n_mels=16",
                          "model.channels=16", "model.latent_dim=4", "model.heads=2",
                          "model.attention_depth=1", "prior.kind=transformer"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    x = -30 + 5 * torch.randn(3, 4, 16, 32)
    vocal = cfg.data.sources.index("vocal")
    x[1, vocal, :, 4:] = FLOOR_DB  # window 1: the voice sings a moment, then rests
    x[2, vocal] += 10  # window 2: loud throughout
    mask = torch.ones(3, 4, dtype=torch.bool)
    mix = cfg.data.sources.index("mix")
    assert resting_window(x, mask, mix, vocal) == 1
    no_mix = mask.clone()
    no_mix[1, mix] = False
    assert resting_window(x, no_mix, mix, vocal) != 1  # it needs a mix to compare with
    files = listening_examples(cfg, model, {"x": x.numpy(), "mask": mask.numpy()}, tmp_path)
    names = {f.name for f in files}
    assert {"reconstructed_mix.wav", "from_stems_mix.wav", "from_that_vocal_mix.wav",
            "prior_sample_8_s_mix.wav", "demo_mels.png"} == names
    wave, rate = sf.read(tmp_path / "prior_sample_8_s_mix.wav")
    assert abs(len(wave) / rate - LONG_SAMPLE_S) < 0.05
