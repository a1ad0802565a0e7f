"""The shipped default model and `tunesmith demo`, `tunesmith models`, and the melody CLI verbs."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import symusic

from tunesmith.assets import BUNDLED, example_midis
from tunesmith.melody.dataset import load_tokens
from tunesmith.melody.generate import load_melody_model
from tunesmith.melody.train import evaluate_tokens

DEFAULT = BUNDLED["default"]


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith", "--quiet", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.mark.slow  # 2 s on two busy cores
def test_default_model_loads_and_generates_from_every_primer_form():
    model = load_melody_model("default")
    assert model.config.name in ("attention_rnn", "lookback_rnn", "basic_rnn", "transformer")
    for primer in ("C4", "#C", "C4 E4 G4", "[60, -2, 62, -1]", str(example_midis()[0]), None):
        melody = model.generate(primer, n=2, steps=64, primer_bars=1 if primer and primer.endswith(".mid") else None)[0]
        assert len(melody) >= 64 and all(48 <= p < 84 for p in melody.pitches)


@pytest.mark.slow  # 3 s on two busy cores
def test_default_model_heldout_loss_matches_its_report():
    report = json.loads((DEFAULT / "report.json").read_text())
    model = load_melody_model("default")
    tokens = load_tokens(DEFAULT / "eval-corpus", "eval", model.encoding)
    measured = evaluate_tokens(model.module, model.encoding, tokens, model.config.max_steps, model.device)
    assert abs(measured["loss"] - report["heldout"]["loss"]) <= 0.01 * report["heldout"]["loss"]
    assert (DEFAULT / "plots" / "loss.png").is_file()


@pytest.mark.slow  # 12 s on two busy cores
def test_demo_writes_every_promised_file(tmp_path):
    proc = run_cli("demo", "-o", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    assert "index.html" in proc.stdout
    out = tmp_path / "demo"
    index = out / "index.html"
    links = re.findall(r'(?:src|href)="([^"#]+)"', index.read_text())
    assert all((out / link).is_file() for link in links)
    for instrument in ("piano", "guitar", "music-box"):
        assert len(list(out.glob(f"primer_*/melody_*_{instrument}.wav"))) >= 6
    assert len(list(out.glob("primer_*/melody_*.mid"))) >= 6
    assert len(list(out.glob("primer_*/melody_*.html"))) >= 6 and len(list(out.glob("primer_*/melody_*.png"))) >= 6
    assert "http://" not in index.read_text() and "https://" not in index.read_text()


@pytest.mark.slow  # 3 s on two busy cores
def test_models_lists_bundled():
    proc = run_cli("models")
    assert proc.returncode == 0 and "default" in proc.stdout and "held-out loss" in proc.stdout


@pytest.mark.slow  # 11 s on two busy cores
def test_generate_cli_writes_midi_and_settings(tmp_path):
    proc = run_cli(
        "melody",
        "generate",
        "--primer",
        "C#4",
        "-n",
        "3",
        "--steps",
        "64",
        "--seed",
        "7",
        "--render",
        "guitar",
        "--plot",
        "-o",
        tmp_path / "out",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "out" / "generation.json").read_text())
    assert data["settings"]["seed"] == 7 and len(data["outputs"]) == 3
    score = symusic.Score(str(tmp_path / "out" / "melody_01.mid"))
    assert score.tracks[0].notes[0].pitch == 61
    assert (tmp_path / "out" / "melody_01_guitar.wav").is_file() and (tmp_path / "out" / "melody_01.html").is_file()
    bad = run_cli("melody", "generate", "--primer", "C4 Q4", "-o", tmp_path / "bad")
    assert bad.returncode == 1 and "Q4" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("melody", "generate", "--model", tmp_path / "nope", "-o", tmp_path / "bad2")
    assert missing.returncode == 1 and "no such model" in missing.stderr


@pytest.mark.slow  # 6 s on two busy cores
def test_train_cli_on_raw_folder(tmp_path):
    from conftest import FOLK

    proc = run_cli(
        "melody",
        "train",
        FOLK,
        "-o",
        tmp_path / "m",
        "--config",
        "basic_rnn",
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--layers",
        "32,32",
        "--eval-every",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Held-out loss" in proc.stdout and (tmp_path / "m" / "corpus" / "corpus.json").is_file()
    assert np.isfinite(json.loads((tmp_path / "m" / "log.jsonl").read_text().splitlines()[-1])["loss"])
    assert Path(tmp_path / "m" / "plots" / "loss.png").is_file()


def test_shipped_files_hold_no_machine_paths():
    """A path of the machine that trained a shipped model means nothing on the user's machine."""
    from tunesmith.assets import ASSETS

    for path in ASSETS.rglob("*.json"):
        text = path.read_text()
        assert not re.search(r'"(/tmp|/work|/home|/root|[A-Z]:\\\\)', text), f"{path} holds a machine path"
