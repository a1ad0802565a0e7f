"""Audio model: real synthesized audio written to WAV, trained, generated, resumed, and broken on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from conftest import plucked_tune
from tunesmith.audio.io import load_audio
from tunesmith.audio_model import (
    MAGNET_ALIASES,
    AudioConfig,
    audio_config_from_file,
    griffin_lim,
    load_audio_model,
    magnitudes,
    train_audio_model,
)
from tunesmith.audio_model.spectra import spectral_convergence
from tunesmith.core.checkpoint import read_log
from tunesmith.core.errors import BadInputError
from tunesmith.outputs.audio_generation import generate_audio

SR = 16000
SMALL = dict(sample_rate=SR, n_fft=512, hop_length=128, sequence_length=16, units=32, batch_size=32, learning_rate=3e-3)
BENCH_CLIP = Path("/work/shared/data/clips/bach-bwv66.6-piano-30s.wav")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "melody.wav"
    sf.write(path, plucked_tune(), SR)
    return path


@pytest.fixture(scope="module")
def trained(clip, tmp_path_factory) -> Path:
    model_dir = tmp_path_factory.mktemp("model")
    train_audio_model(clip, model_dir, SMALL, epochs=4, progress=False, threads=1)
    return model_dir


def centroids(audio: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    mags = magnitudes(audio, n_fft, hop).numpy()
    freqs = np.linspace(0, SR / 2, mags.shape[1])
    loud = mags.sum(1) > 1e-3 * mags.sum(1).max()
    return (mags[loud] @ freqs) / mags[loud].sum(1)


def test_training_lowers_held_out_loss(trained):
    evals = [r for r in read_log(trained) if r["split"] == "eval"]
    assert len(evals) == 4
    assert evals[-1]["mse"] < evals[0]["mse"]
    assert evals[-1]["mse"] < evals[-1]["persistence_mse"]  # learnt more than "repeat the last frame"
    for name in ("config.json", "model.safetensors", "train_state.safetensors", "log.jsonl"):
        assert (trained / name).is_file()


def test_generation_length_rate_and_spectrum(trained, clip, tmp_path):
    model = load_audio_model(trained)
    assert model.config.sample_rate == SR and model.config.sequence_length == 16
    outs = model.generate(clip, seconds=2.0, n=2, random_chance=0.05, seed=3)
    assert len(outs) == 2
    lo, hi = np.percentile(centroids(load_audio(clip, SR)[0]), [0, 100])
    for audio in outs:
        assert audio.dtype == np.float32 and audio.shape == (2 * SR,)
        assert np.isfinite(audio).all() and audio.std() > 1e-3
        assert lo <= np.median(centroids(audio)) <= hi
    again = model.generate(clip, seconds=2.0, n=2, random_chance=0.05, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(outs, again))
    summary = generate_audio(trained, clip, tmp_path / "gen", seconds=1.0, n=2, griffin_lim_iters=8)
    for path in summary["outputs"]:
        data, rate = sf.read(path)
        assert rate == SR and len(data) == SR
    assert json.loads((tmp_path / "gen" / "generation.json").read_text())["n"] == 2


def test_seed_clip_at_another_rate_is_resampled(trained, tmp_path):
    other = tmp_path / "seed.flac"
    sf.write(other, plucked_tune(2.0, seed=5)[::2], SR // 2)  # 8 kHz, never seen in training
    model = load_audio_model(trained)
    (audio,) = model.generate(other, seconds=0.5, griffin_lim_iters=4)
    assert audio.shape == (SR // 2,)
    assert any("resampled" in note for note in model.notes)


def test_resume_reproduces_uninterrupted_run(clip, tmp_path):
    config = dict(SMALL, units=16, dropout=0.1, layers=2)
    train_audio_model(clip, tmp_path / "straight", config, epochs=2, seed=7, progress=False, threads=1)
    train_audio_model(clip, tmp_path / "resumed", config, epochs=1, seed=7, progress=False, threads=1)
    train_audio_model(clip, tmp_path / "resumed", epochs=2, seed=7, resume=True, progress=False, threads=1)
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_magnet_aliases_map_to_the_same_config(tmp_path):
    magnet = {
        "loss_type": "MSLE",
        "number_rnn_layers": 3,
        "rnn_number_units": 128,
        "opt": "Adamax",
        "learning_rate": 0.001,
        "amount_epochs": 200,
        "batch_size": 64,
        "sequence_length": 40,
        "random_chance": 0.05,
        "impulse_scale": 1.0,
        "n_fft": 2048,
        "hop_length": 512,
    }
    (tmp_path / "magnet.json").write_text(json.dumps(magnet))
    (tmp_path / "ours.toml").write_text(
        'loss = "msle"\nlayers = 3\nunits = 128\noptimizer = "adamax"\nlearning_rate = 0.001\nepochs = 200\n'
        "batch_size = 64\nsequence_length = 40\nrandom_chance = 0.05\nimpulse_scale = 1.0\nn_fft = 2048\n"
        "hop_length = 512\n"
    )
    assert audio_config_from_file(tmp_path / "magnet.json") == audio_config_from_file(tmp_path / "ours.toml")
    assert set(MAGNET_ALIASES.values()) <= set(AudioConfig.__dataclass_fields__)
    with pytest.raises(BadInputError, match="optimizer"):
        AudioConfig(optimizer="lbfgs")


def test_bad_inputs_raise_naming_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    nan = tmp_path / "nan.wav"
    bad = plucked_tune(1.0)
    bad[100] = np.nan
    sf.write(nan, bad, SR, subtype="FLOAT")
    short = tmp_path / "short.wav"
    sf.write(short, plucked_tune(0.01), SR)
    for path in (empty, text, nan, short):
        with pytest.raises(BadInputError, match=path.name):
            load_audio(path, SR, min_samples=512)
        with pytest.raises(BadInputError, match=path.name):
            train_audio_model(path, tmp_path / "m", SMALL, epochs=1, progress=False)


def test_griffin_lim_recovers_a_known_magnitude():
    t = np.arange(SR) / SR
    signal = (np.sin(2 * np.pi * 440 * t) * np.exp(-2 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    target = magnitudes(signal, 512, 128)
    audio = griffin_lim(torch.stack([target, target]), 512, 128, n_iter=32, length=SR, seed=1)
    assert audio.shape == (2, SR)
    ours = spectral_convergence(target, magnitudes(audio[0], 512, 128))
    import librosa

    theirs = librosa.griffinlim(target.T.numpy(), n_iter=32, hop_length=128, n_fft=512, random_state=0, length=SR)
    assert ours < 0.25 and ours < spectral_convergence(target, magnitudes(theirs, 512, 128)) + 0.05
    assert torch.equal(audio, griffin_lim(torch.stack([target, target]), 512, 128, n_iter=32, length=SR, seed=1))


@pytest.mark.skipif(not BENCH_CLIP.is_file(), reason="benchmark clip not present")
def test_piano_excerpt_beats_persistence(tmp_path):
    audio, _ = load_audio(BENCH_CLIP, 22050)
    excerpt = tmp_path / "piano5s.wav"
    sf.write(excerpt, audio[: 5 * 22050], 22050)
    config = dict(sample_rate=22050, n_fft=1024, hop_length=256, sequence_length=24, units=64, batch_size=32)
    train_audio_model(excerpt, tmp_path / "m", config, epochs=3, progress=False, threads=1)
    evals = [r for r in read_log(tmp_path / "m") if r["split"] == "eval"]
    assert evals[-1]["mse"] < evals[-1]["persistence_mse"]


@pytest.mark.parametrize("script", ["bench_audio_train.py", "bench_audio_generate.py"])
def test_benchmarks_quick_print_one_json_object(script):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / script), "--quick"], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["quick"] and result["machine"]["cpu_count"] >= 1 and result["figures"]


def test_batches_embed_distinct_frames_once_in_few_shapes(clip):
    """The shared-frame trick changes cost, not results: equal to running the gathered windows; 64-row shapes."""
    from tunesmith.audio_model.spectra import build_frame_set
    from tunesmith.audio_model.train import AudioTask, load_clips

    config = AudioConfig(**SMALL, precision="fp32")
    data = build_frame_set(load_clips(clip, SR, config.n_fft)[0], config.n_fft, config.hop_length, config.sequence_length)
    task = AudioTask(config, data, torch.device("cpu"))
    torch.nn.init.normal_(task.model.head.weight, std=0.1)  # a head that is not the zero (persistence) start
    rows = []
    task.model.embed.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    for index in range(3):
        starts = task.batch(0, index)
        with torch.no_grad():
            shared = task._predict(starts)
            plain, _ = task.model(task.features[starts[:, None] + task.offsets], last_only=True)
        torch.testing.assert_close(shared, plain[:, 0], rtol=1e-5, atol=1e-5)
    assert all(n % 64 == 0 for n in rows[::2]) and len(set(rows[::2])) <= 3
    assert rows[::2][0] < config.batch_size * config.sequence_length  # fewer rows than window positions


def test_training_loop_reuses_freed_memory():
    import platform

    from tunesmith.core.allocator import release_freed_memory, reuse_freed_memory

    on_glibc = platform.libc_ver()[0] == "glibc"  # mallopt exists only there; elsewhere a documented no-op
    assert reuse_freed_memory() is on_glibc and reuse_freed_memory() is on_glibc  # idempotent
    release_freed_memory()
