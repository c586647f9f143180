"""Config loading: defaults, YAML, overrides, and one-line errors naming the key."""

import pytest

from msvae.config import ConfigError, load


def _write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_load_and_flatten():
    cfg = load()
    assert cfg.model.kind == "msvae"
    flat = cfg.flat()
    assert flat["train.lr"] == cfg.train.lr
    assert all("." in k for k in flat)


def test_yaml_and_overrides(tmp_path):
    path = _write(tmp_path, "train:\n  lr: 0.001\nmodel:\n  kind: vae\n")
    cfg = load(path, ["train.lr=3e-4", "data.sources=[mix, vocal]", "train.steps=7"])
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.model.kind == "vae"
    assert cfg.data.sources == ["mix", "vocal"]
    assert cfg.train.steps == 7


def test_extends_merges_sections(tmp_path):
    _write(tmp_path, "train:\n  lr: 0.01\n  steps: 9\n", "base.yaml")
    path = _write(tmp_path, "extends: base.yaml\ntrain:\n  steps: 3\n")
    cfg = load(path)
    assert (cfg.train.lr, cfg.train.steps) == (0.01, 3)


@pytest.mark.parametrize("overrides, key", [
    (["train.lrr=1"], "train.lrr"),
    (["nosuch.x=1"], "nosuch"),
    (["train.steps=abc"], "train.steps"),
    (["train.steps=1.5"], "train.steps"),
    (["train.use_gpu=1"], "train.use_gpu"),
    (["train.steps=0"], "train.steps"),
    (["model.kind=transformer"], "model.kind"),
    (["data.window_s=-1"], "data.window_s"),
    (["data.reference=vocal", "data.sources=[mix]"], "data.reference"),
    (["model.heads=3"], "model.heads"),
    (["corpus.test_share=0.6"], "corpus.test_share"),
    (["corpus.valid_share=0.5", "corpus.test_share=0.5"], "corpus.test_share"),
    (["compare.lrs=[1.0e-3, 0]"], "compare.lrs[1]"),
])
def test_errors_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        load(None, overrides)
    message = str(err.value)
    assert message.startswith(key), message
    assert "\n" not in message


def test_yaml_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"):
        load(_write(tmp_path, "train: [unclosed\n"))
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="train.lr: expected a number"):
        load(_write(tmp_path, "train:\n  lr: fast\n", "d.yaml"))
