"""Free-running audio quality: what 20 s of generation sounds like, in figures; prints one JSON object.

    .venv/bin/python benchmarks/bench_audio_free_running.py [--epochs 30] [--seconds 20] [--with-magnet] [--quick]

Cases (figures from tunesmith.evaluate.audio, the same as shared/tools/audio_quality.py):
  default           the shipped audio-default on its own example clip, default generation settings
  default_plain     the same model with the old settings (no sampling noise, no level control)
  trained           a default-config model trained ``--epochs`` on another real recording (``--train-clip``),
                    seeded with that recording
  trained_unseen    the same model seeded with a recording it never heard (``--unseen-clip``), measured
                    against that recording
  magnet, magnet_unseen   with ``--with-magnet``: MAGNet's own ref/train.py (same recording, epochs, seed,
                    1 thread) and its generate.py run twice as it is (800 frames = 9.7 s; random jumps
                    from OS entropy, so two runs differ) on the same two seeds
Every case has ``goals_met`` (0 silent seconds, level span within the clip's + 12 dB, log-mel distance
<= 7 dB, outputs differ: log-mel correlation < 0.95); ours also ``better_than_magnet`` per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tunesmith.assets import example_clip
from tunesmith.audio_model import load_audio_model, train_audio_model
from tunesmith.evaluate.audio import free_running_figures, meets_goals

sys.path.insert(0, str(Path(__file__).parent))
from _common import CLIPS, SHARED  # noqa: E402 - the shared data, wherever this checkout is

TRAIN_CLIP = CLIPS / "bach-bwv66.6-guitar-30s.wav"
UNSEEN_CLIP = CLIPS / "bach-bwv66.6-musicbox-30s.wav"
REFERENCE = SHARED / "reference" / "baselines" / "magnet" / "ref"


def ours(model, clip: Path, seconds: float, n: int, **settings) -> dict:
    started = time.perf_counter()
    outs = model.generate(clip, seconds=seconds, n=n, seed=0, **settings)
    elapsed = time.perf_counter() - started
    figures = free_running_figures(clip, outs, model.config.sample_rate)
    summary = figures["summary"]
    return {
        "seed_clip": clip.name,
        "real_time_factor": round(elapsed / (seconds * n), 4),
        **summary,
        "goals_met": meets_goals(summary),
    }


def magnet(clip: Path, unseen: Path, tmp: Path, epochs: int, n: int) -> dict:
    """MAGNet's ref/train.py then its generate.py (as written, 800 frames) ``n`` times per seed clip."""
    work = tmp / "magnet"
    shutil.copytree(REFERENCE, work)
    shutil.copy(clip, work / "clip.wav")  # it caches its windows next to the audio
    shutil.copy(unseen, work / "unseen.wav")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MAGNET_SEED="0")
    started = time.perf_counter()
    train_env = dict(env, MAGNET_AUDIO=str(work / "clip.wav"), MAGNET_EPOCHS=str(epochs), MAGNET_OUT=str(work / "w.pth"))
    subprocess.run([sys.executable, "train.py"], cwd=work, env=train_env, check=True, capture_output=True, text=True)
    train_s = time.perf_counter() - started
    result = {"train_s": round(train_s, 1), "epochs": epochs}
    for name, seed_clip in (("magnet", work / "clip.wav"), ("magnet_unseen", work / "unseen.wav")):
        for cache in work.glob("*_frames.npy"):  # its cache is keyed on the path only: start clean for each clip
            cache.unlink()
        outs = []
        for i in range(n):
            out = work / f"{name}_{i}.wav"
            gen_env = dict(env, MAGNET_AUDIO=str(seed_clip), MAGNET_CKPT=str(work / "w.pth"), MAGNET_GEN_OUT=str(out))
            subprocess.run([sys.executable, "generate.py"], cwd=work, env=gen_env, check=True, capture_output=True, text=True)
            outs.append(out)
        summary = free_running_figures(seed_clip, outs)["summary"]
        result[name] = {"seed_clip": (clip if name == "magnet" else unseen).name, **summary, "goals_met": meets_goals(summary)}
    return result


def better(ours: dict, theirs: dict) -> dict[str, bool]:
    """Per figure, is ours better than MAGNet's (level span and flux: nearer the clip's own)?"""
    better = {
        "silent_seconds": ours["worst_silent_seconds"] <= theirs["worst_silent_seconds"],
        "level_span_db": abs(ours["worst_level_span_db"] - ours["clip_level_span_db"])
        < abs(theirs["worst_level_span_db"] - theirs["clip_level_span_db"]),
        "mel_l1_db": ours["worst_mel_l1_db"] < theirs["worst_mel_l1_db"],
        "flux_ratio": abs(np.log(max(ours["min_flux_ratio"], 1e-3))) < abs(np.log(max(theirs["min_flux_ratio"], 1e-3))),
        "pair_corr": (ours["pair_corr"] or 1.0) < (theirs["pair_corr"] or 1.0),
    }
    return {k: bool(v) for k, v in better.items()}


def tune(seconds: float, sr: int, seed: int) -> np.ndarray:
    """A plucked tune of harmonic tones (for --quick)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(int(0.25 * sr)) / sr
    for start in range(0, len(out) - len(t), len(t)):
        f0 = 220.0 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
        out[start : start + len(t)] += 0.3 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-6 * t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="audio-default", help="the model of the 'default' case")
    parser.add_argument("--clip", type=Path, default=example_clip(), help="its clip")
    parser.add_argument("--train-clip", type=Path, default=TRAIN_CLIP)
    parser.add_argument("--unseen-clip", type=Path, default=UNSEEN_CLIP)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("-n", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--with-magnet", action="store_true", help="also MAGNet's own train.py + generate.py (a few minutes)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases: dict = {}
    timing: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config: dict = {}
        if args.quick:
            sr = 16000
            for name, seed in (("train", 0), ("unseen", 1)):
                sf.write(tmp / f"{name}.wav", tune(4.0, sr, seed), sr)
            args.train_clip, args.unseen_clip, args.clip = tmp / "train.wav", tmp / "unseen.wav", tmp / "train.wav"
            config = dict(sample_rate=sr, n_fft=512, hop_length=128, sequence_length=16, units=32, batch_size=32)
            args.epochs, args.seconds, args.with_magnet = 2, 3.0, False
        started = time.perf_counter()
        train_audio_model(args.train_clip, tmp / "trained", config, epochs=args.epochs, progress=False, threads=args.threads)
        timing["train_s"] = round(time.perf_counter() - started, 1)
        trained = load_audio_model(tmp / "trained")
        model = trained if args.quick else load_audio_model(args.model)
        cases["default"] = ours(model, args.clip, args.seconds, args.n)
        cases["default_plain"] = ours(model, args.clip, args.seconds, args.n, temperature=0.0, level_control=False)
        cases["trained"] = ours(trained, args.train_clip, args.seconds, args.n)
        cases["trained_unseen"] = ours(trained, args.unseen_clip, args.seconds, args.n)
        print(json.dumps({"so_far": cases, "timing": timing}), file=sys.stderr, flush=True)  # a late failure loses nothing
        if args.with_magnet and REFERENCE.is_dir():
            reference = magnet(args.train_clip, args.unseen_clip, tmp, args.epochs, args.n)
            timing["magnet_train_s"] = reference.pop("train_s")
            timing["train_speedup_vs_magnet"] = round(timing["magnet_train_s"] / timing["train_s"], 2)
            cases["magnet"], cases["magnet_unseen"] = reference["magnet"], reference["magnet_unseen"]
            cases["trained"]["better_than_magnet"] = better(cases["trained"], cases["magnet"])
            cases["trained_unseen"]["better_than_magnet"] = better(cases["trained_unseen"], cases["magnet_unseen"])
            cases["default"]["better_than_magnet"] = better(cases["default"], cases["magnet"])
    print(
        json.dumps(
            {
                "benchmark": "audio_free_running",
                "quick": args.quick,
                "seconds": args.seconds,
                "n": args.n,
                "epochs": args.epochs,
                "train_clip": str(args.train_clip),
                "unseen_clip": str(args.unseen_clip),
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "device": "cuda" if torch.cuda.is_available() else "cpu",
                    "load1": round(os.getloadavg()[0], 2),
                },
                "timing": timing,
                "figures": cases,
            }
        )
    )


if __name__ == "__main__":
    main()
