"""Every subcommand says what it does; a bad config is one line and exit status 2."""

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


def test_config_error_is_one_line(capsys):
    assert main(["services", "status", "--set", "train.nope=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("msvae: error: train.nope: unknown key") and "\n" not in err
