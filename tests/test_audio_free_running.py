"""Free-running audio generation: a model trained with the defaults keeps making sound for many
seconds from its own output, the n outputs differ, and the figures agree with the shared measuring tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import plucked_tune
from tunesmith.audio_model import load_audio_model, train_audio_model
from tunesmith.evaluate.audio import free_running_figures, meets_goals

SR = 16000
TINY = dict(sample_rate=SR, n_fft=512, hop_length=128, sequence_length=16, units=32, batch_size=32)
QUALITY_TOOL = Path("/work/shared/tools/audio_quality.py")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("free")
    clip = root / "tune.wav"
    sf.write(clip, plucked_tune(), SR)
    train_audio_model(clip, root / "model", TINY, epochs=6, progress=False, threads=1)
    return clip, root / "model"


@pytest.mark.slow  # 26 s on two busy cores
def test_free_running_generation_keeps_making_sound(tiny):
    """12 s from 6 s of training audio, default generation settings: no silence, no swell, outputs differ."""
    clip, model_dir = tiny
    outs = load_audio_model(model_dir).generate(clip, seconds=12.0, n=2, seed=0)
    figures = free_running_figures(clip, outs, SR)
    summary = figures["summary"]
    assert all(r["finite"] for r in figures["outputs"])
    assert summary["worst_silent_seconds"] == 0, summary
    assert summary["worst_level_span_db"] <= summary["clip_level_span_db"] + 12, summary
    assert summary["pair_corr"] < 0.95, summary
    assert summary["min_flux_ratio"] > 0.2, summary  # not a frozen drone
    goals = meets_goals(summary)
    assert goals["silent_seconds"] and goals["level_span_db"] and goals["pair_corr"], goals


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_outputs_differ_but_repeat_for_a_seed(tiny):
    clip, model_dir = tiny
    model = load_audio_model(model_dir)
    a = model.generate(clip, seconds=4.0, n=2, seed=1)
    b = model.generate(clip, seconds=4.0, n=2, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # the spectrograms differ, not only Griffin-Lim's random phases
    assert free_running_figures(clip, a, SR)["summary"]["pair_corr"] < 0.95


@pytest.mark.slow  # 3 s on two busy cores
@pytest.mark.skipif(not QUALITY_TOOL.is_file(), reason="the shared measuring tool is not on this machine")
def test_figures_agree_with_the_shared_tool(tiny, tmp_path):
    clip, model_dir = tiny
    outs = load_audio_model(model_dir).generate(clip, seconds=4.0, n=2, seed=2)
    paths = []
    for i, audio in enumerate(outs):
        paths.append(tmp_path / f"out{i}.wav")
        sf.write(paths[-1], audio, SR)
    ours = free_running_figures(clip, paths)
    done = subprocess.run([sys.executable, str(QUALITY_TOOL), str(clip), *map(str, paths)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    for mine, theirs in zip(ours["outputs"], lines[:2]):
        for key in ("level_span_db", "silent_seconds", "mel_l1_db", "flux_ratio"):
            assert mine[key] == pytest.approx(theirs[key], abs=0.02), key
    assert ours["summary"]["pair_corr"] == pytest.approx(lines[-1]["pair_corr"], abs=0.002)
    assert ours["summary"]["clip_level_span_db"] == pytest.approx(lines[0]["ref_level_span_db"], abs=0.1)
