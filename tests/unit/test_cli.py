"""Every subcommand says what it does, fast; a bad config is one line and exit status 2."""

import subprocess
import sys

import pytest

from msvae.cli import build_parser, main


def _subcommands(parser):
    for action in parser._subparsers._group_actions:
        yield from action.choices.items()


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    names = []
    for name, sub in _subcommands(parser):
        names.append(name)
        assert sub.format_help().strip()
        if sub._subparsers is not None:
            for child, leaf in _subcommands(sub):
                assert leaf.description or leaf.format_help(), child
    assert {"services", "demo"} <= set(names)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(n in out for n in names)


HEAVY = ("torch", "ray", "mlflow", "pandas")  # seconds of imports between them

HELP_EVERY_COMMAND = """
import contextlib, io, sys
from msvae.cli import build_parser, main
names = build_parser()._subparsers._group_actions[0].choices
for argv in [["--help"]] + [[name, "--help"] for name in names]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))))
"""


def test_help_imports_no_heavy_library():
    """`msvae --help` and `msvae COMMAND --help` import none of HEAVY: the command modules
    defer them into their handlers (`msvae --help` took 2-9 s with torch imported)."""
    top = subprocess.run([sys.executable, "-X", "importtime", "-m", "msvae", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert top.returncode == 0 and "COMMAND" in top.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in top.stderr.splitlines() if line.startswith("import time:")}
    assert "msvae" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))
    every = subprocess.run([sys.executable, "-c", HELP_EVERY_COMMAND, *HEAVY],
                           capture_output=True, text=True, timeout=120)
    assert every.returncode == 0, every.stderr[-2000:]
    assert every.stdout.split() == []


def test_config_error_is_one_line(capsys):
    assert main(["services", "status", "--set", "train.nope=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msvae: error: train.nope: unknown key") and "\n" not in err


def test_a_missing_manifest_is_one_line_naming_it(capsys, tmp_path):
    missing = tmp_path / "nowhere" / "manifest.csv"
    assert main(["prepare", "--manifest", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"msvae: error: {missing}: no such object"


def test_cluster_check_passes_the_shipped_files_and_names_a_bad_field(capsys, tmp_path):
    shipped = ["cluster/aws.yaml", "cluster/kuberay/raycluster.yaml", "cluster/kuberay/rayjob.yaml"]
    assert main(["cluster", "check", *shipped]) == 0
    assert capsys.readouterr().out.count(": ok") == 3
    bad = tmp_path / "job.yaml"
    bad.write_text("apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: x}\nspec: {}\n")
    assert main(["cluster", "check", str(bad)]) == 1
    assert f"{bad}: spec.entrypoint: missing" in capsys.readouterr().out


def test_a_missing_extra_is_one_line_naming_the_extra(capsys, monkeypatch):
    import importlib.util

    from msvae.corpus import scores
    from msvae.errors import MissingExtra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "music21" else real(name, *a))
    with pytest.raises(MissingExtra, match=r"music21 is not installed: .*msvae\[corpus\]"):
        scores.candidates()
