"""The CLI: every option has help text, library defaults are shown and applied, `default` means the right model."""

import argparse
import inspect
import json
import subprocess
import sys

import pytest

from tunesmith.assets import example_clip, example_midis
from tunesmith.cli import COMMANDS, _defaults, build_parser


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith", "--quiet", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def _subparser(path):
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser.complete()  # options from settings dataclasses are added when a command is parsed


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c.path) for c in COMMANDS])
def test_every_option_has_help_and_the_library_default(cmd):
    parser = _subparser(cmd.path)
    written = {a.dest: a.help or "" for a in parser._actions}  # as written, before --help adds the defaults
    text = " ".join(parser.format_help().split())  # help wraps lines
    defaults = _defaults(cmd.defaults_from) if cmd.defaults_from else {}
    for action in parser._actions:
        if action.dest == "help" or isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"tunesmith {' '.join(cmd.path)} {action.option_strings or action.dest}: no help text"
        library = defaults.get(action.dest)
        shows = (
            action.option_strings and not isinstance(action, argparse._StoreTrueAction) and "default:" not in written[action.dest]
        )
        if shows and library not in (None, False, ()):
            assert f"(default: {library if not isinstance(library, (list, tuple)) else ','.join(map(str, library))})" in text


def test_options_are_library_parameters():
    """An option named like no parameter of the command's library function would be silently dropped or refused."""
    parser = _subparser(("melody", "generate"))
    names = {a.dest for a in parser._actions if a.option_strings} - {"help", "model", "out_dir", "primer", "threads"}
    from tunesmith.melody.generate import GenerationSettings
    from tunesmith.outputs.compose import generate_to_dir

    accepted = set(inspect.signature(generate_to_dir).parameters) | set(inspect.signature(GenerationSettings).parameters)
    assert names <= accepted, names - accepted


def test_absent_options_keep_library_defaults():
    args = build_parser().parse_args(["melody", "generate", "-o", "out", "--temperature", "0.5"])
    given = {k for k in vars(args) if not k.startswith("_") and k not in ("quiet", "command", "melody_command")}
    assert given == {"model", "out_dir", "temperature"}  # steps, n, ... come from generate_to_dir/GenerationSettings


@pytest.mark.slow  # 8 s on two busy cores
def test_cli_verbs_end_to_end(tmp_path):
    midi = example_midis()[0]
    proc = run_cli("melody", "generate", "--primer", "C4", "-n", "2", "--steps", "32", "--seed", "3", "-o", tmp_path / "gen")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "gen" / "generation.json").read_text())
    assert report["n"] == 2 and report["settings"]["steps"] == 32 and report["settings"]["seed"] == 3
    proc = run_cli("render", midi, "--instrument", "music-box", "-o", tmp_path / "tune.wav")
    assert proc.returncode == 0 and (tmp_path / "tune.wav").stat().st_size > 10_000, proc.stderr
    proc = run_cli("plot", midi, "-o", tmp_path / "roll.png", "--width", "600")
    assert proc.returncode == 0 and (tmp_path / "roll.png").is_file(), proc.stderr
    # 'default' is the shipped audio model for the audio command (it loaded the melody model and failed)
    proc = run_cli(
        "audio", "generate", "--model", "default", "--seed-clip", example_clip(), "--seconds", "1", "-o", tmp_path / "a"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "a" / "generation.json").read_text())["outputs"]


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_bad_values_are_refused_without_a_traceback(tmp_path):
    proc = run_cli("melody", "generate", "--steps", "lots", "-o", tmp_path / "x")
    assert proc.returncode == 2 and "invalid int value" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("render", tmp_path / "missing.mid", "-o", tmp_path / "x.wav")
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


@pytest.mark.slow  # two short trainings and an evaluation
def test_fine_tune_from_the_default_and_evaluate_warns_about_small_corpora(tmp_path, capsys):
    """`melody train --init-from default` fine-tunes the shipped model; `evaluate` of a model trained from scratch
    on 48 tunes says in plain words that it is too few, and what to do."""
    from conftest import FOLK
    from tunesmith.cli import main
    from tunesmith.core.checkpoint import load_config

    assert (
        main(["--quiet", "melody", "train", str(FOLK), "-o", str(tmp_path / "tuned"), "--init-from", "default", "--steps", "2"])
        == 0
    )
    assert load_config(tmp_path / "tuned")["init_from"] == "default"
    scratch = ["--quiet", "melody", "train", str(FOLK), "-o", str(tmp_path / "scratch"), "--config", "basic_rnn"]
    assert main([*scratch, "--steps", "2", "--batch-size", "8", "--layers", "16"]) == 0
    capsys.readouterr()
    argv = ["evaluate", "--model", str(tmp_path / "scratch"), "-n", "4", "--realism", "0", "-o", str(tmp_path / "report")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "warning: The model learnt from only" in out and "--init-from default" in out
