"""First-run behaviour of the `mae` command: help that helps (and answers without torch), and
`--resume` that says what it does."""
import argparse
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def walk(parser: argparse.ArgumentParser, name: str = ""):
    """(command name, parser) for a parser and every subcommand below it."""
    yield name or parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from walk(sub, f"{name or parser.prog} {sub_name}")


def parsers():
    from tools.benchmark.cli import build_parser as bench_parser
    from tools.cli import build_parser

    return [*walk(build_parser()), *walk(bench_parser())]


def test_every_option_of_every_subcommand_has_help_and_shows_its_default():
    seen = 0
    for name, parser in parsers():
        formatter = parser._get_formatter()
        for a in parser._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            seen += 1
            assert a.help, f"{name} {a.option_strings or a.dest}: no help text"
            shown = formatter._get_help_string(a) % dict(default=a.default)
            if a.option_strings and a.default is not None and a.default is not False and a.default not in ({}, []):
                assert str(a.default) in shown or "(default: " in a.help, \
                    f"{name} {a.option_strings}: default {a.default!r} not shown"
    assert seen > 60  # every subcommand was walked (train, test, ..., bench pretrain/table2/loader/precision)


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"], ["bench", "pretrain", "--help"], ["train", "-h"]])
def test_help_answers_without_importing_torch(argv):
    code = ("import sys\nfrom tools.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    assert e.code == 0, e.code\nheavy = [m for m in ('torch', 'mmengine', 'timm') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    r = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "usage: mae" in r.stdout and "HEAVY []" in r.stdout, r.stdout[-500:]


def test_resume_with_nothing_saved_starts_fresh_and_says_so(demo_config, tiny_options, tmp_path, capsys):
    from tools.train import train

    runner = train(demo_config, work_dir=str(tmp_path), resume=True, options=dict(tiny_options, max_epochs=1))
    assert runner is not None and (tmp_path / "epoch_1.pth").exists()
    assert f"nothing to resume in {tmp_path}: starting fresh" in capsys.readouterr().out


def test_strict_resume_with_nothing_saved_is_an_error(demo_config, tiny_options, tmp_path):
    from tools.train import ConfigError, train

    with pytest.raises(ConfigError, match="--resume=strict: nothing to resume in"):
        train(demo_config, work_dir=str(tmp_path), resume="strict", options=dict(tiny_options, max_epochs=1))
    assert not (tmp_path / "epoch_1.pth").exists()


def test_resuming_a_finished_run_leaves_it_untouched_unless_max_epochs_was_raised(
        demo_config, tiny_options, tmp_path, capsys):
    from tools.train import train

    opts = dict(tiny_options, max_epochs=1, warmup_epochs=0)
    train(demo_config, work_dir=str(tmp_path), options=opts)
    outputs = {f: os.stat(tmp_path / f).st_mtime_ns for f in ("checkpoint-final.pth", "reconstruction.png")}
    capsys.readouterr()
    assert train(demo_config, work_dir=str(tmp_path), resume=True, options=opts) is None
    assert "already finished (epoch 1 of 1, epoch_1.pth); nothing to do" in capsys.readouterr().out
    assert {f: os.stat(tmp_path / f).st_mtime_ns for f in outputs} == outputs
    runner = train(demo_config, work_dir=str(tmp_path), resume=True, options=dict(opts, max_epochs=2))
    assert runner.iter == 8 and (tmp_path / "epoch_2.pth").exists()


def test_resume_option_forms():
    from tools.cli import build_parser

    p = build_parser()
    assert p.parse_args(["train", "c.py"]).resume is None
    assert p.parse_args(["train", "c.py", "--resume"]).resume == "auto"
    assert p.parse_args(["train", "c.py", "--resume=strict"]).resume == "strict"
    with pytest.raises(SystemExit):
        p.parse_args(["train", "c.py", "--resume=sometimes"])
