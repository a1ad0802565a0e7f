"""Audio-model training speed, memory and held-out quality on the benchmark clip; prints one JSON object.

    .venv/bin/python benchmarks/bench_audio_train.py [--epochs 3] [--threads 1] [--with-reference] [--quick]

Figures: seconds per epoch (default config and MAGNet's "seed" variant: msle, 3x128, adamax), windows,
held-out one-step MSE vs the persistence baseline, fresh-process peak RSS (and torch's own floors).
``--with-reference`` also runs MAGNet's own train.py (../shared/reference/baselines/magnet/ref) on the same
clip, hold-out, seed and threads in a fresh process, for same-conditions speed and memory ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tunesmith.audio.io import load_audio
from tunesmith.audio_model import train_audio_model
from tunesmith.core.checkpoint import read_log

CLIP = Path("/work/shared/data/clips/bach-bwv66.6-piano-30s.wav")
REFERENCE = Path("/work/shared/reference/baselines/magnet/ref")


def run(clip: Path, out: Path, config: dict, epochs: int, threads: int) -> dict:
    result = train_audio_model(clip, out, config, epochs=epochs, progress=False, threads=threads)
    rows = read_log(out)
    times = [0.0] + [r["time"] for r in rows if r["split"] == "train"]
    per_epoch = np.diff(times)
    last = [r for r in rows if r["split"] == "eval"][-1]
    return {
        "s_per_epoch_mean": round(float(per_epoch.mean()), 3),
        "s_per_epoch_min": round(float(per_epoch.min()), 3),
        "windows": result["windows"],
        "batches_per_epoch": result["batches_per_epoch"],
        "held_out_mse": round(last["mse"], 4),
        "persistence_mse": round(last["persistence_mse"], 4),
        "held_out_msle": round(last["msle"], 5),
        "persistence_msle": round(last["persistence_msle"], 5),
        "train_loss_last_epoch": round([r for r in rows if r["split"] == "train"][-1]["loss"], 5),
    }


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak
PEAK = "import re; print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024)"
CHILD = (
    """
import sys
from tunesmith.audio_model import train_audio_model
train_audio_model(sys.argv[1], sys.argv[2], epochs=1, progress=False, threads=1)
"""
    + PEAK
)
TORCH_IMPORT = "import torch\n" + PEAK
# the least any torch trainer of this network needs: one forward/backward of the 2x128 LSTM on one
# batch of 64 windows of 40 frames (no data loading, no optimizer)
TORCH_STEP = (
    """
import torch
torch.set_num_threads(1)
embed, lstm, head = torch.nn.Linear(1025, 128), torch.nn.LSTM(128, 128, 2, batch_first=True), torch.nn.Linear(128, 1025)
out, _ = lstm(embed(torch.randn(64, 40, 1025)))
head(out[:, -1]).square().mean().backward()
"""
    + PEAK
)
# MAGNet's own train.py, run as it is (runpy), with its peak read the same way as ours
REFERENCE_RUN = "import runpy, sys; sys.argv = ['train.py']; runpy.run_path('train.py', run_name='__main__')\n" + PEAK


def run_child(code: str, *args: str, **kwargs) -> str:
    """Run ``code`` in a fresh Python process; its stdout (the last line of which is its peak, see PEAK)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, **kwargs).stdout


def child_peak_mb(code: str, *args: str) -> float:
    return float(run_child(code, *args).strip().splitlines()[-1])


def run_reference(clip: Path, tmp: Path, variant: str, epochs: int, threads: int) -> dict:
    """Run MAGNet's own ref/train.py (hold-out 10%, seeded) in a fresh process; its per-epoch times and peak.

    Its epoch time excludes its evaluation; ours includes evaluation and the checkpoint, so the
    comparison leans its way.
    """
    work = tmp / f"magnet_{variant}"
    shutil.copytree(REFERENCE, work)
    shutil.copy(clip, work / "clip.wav")  # it writes its window cache next to the audio
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        MAGNET_AUDIO=str(work / "clip.wav"),
        MAGNET_EPOCHS=str(epochs),
        MAGNET_HOLDOUT="0.1",
        MAGNET_SEED="0",
        MAGNET_VARIANT=variant,
        MAGNET_OUT=str(work / "weights.pth"),
    )
    out = run_child(REFERENCE_RUN, cwd=work, env=env)
    epochs_s = [float(x) for x in re.findall(r"epoch_s=([\d.]+)", out)]
    val_mse = [float(x) for x in re.findall(r"val_mse=([\d.]+)", out)]
    return {
        "s_per_epoch_mean": round(float(np.mean(epochs_s)), 3),
        "s_per_epoch_min": round(min(epochs_s), 3),
        "batches_per_epoch": int(re.search(r"batches_per_epoch=(\d+)", out).group(1)),
        "held_out_mse": val_mse[-1],
        "peak_rss_mb": round(float(out.strip().splitlines()[-1])),
    }


def memory(clip: Path, tmp: Path) -> dict:
    """Fresh-process peaks: our training on the clip and on the clip tiled 10x, and torch's own floors.

    What grows with the audio is the data: MAGNet materialises every window (~14 MB per second of
    audio), we keep each frame once. Below everything lies torch: its import, and one bare training
    step of this network, which no torch trainer can go under.
    """
    audio, rate = load_audio(clip, None)
    long_clip = tmp / "long.wav"
    sf.write(long_clip, np.tile(audio, 10), rate)
    short_mb = child_peak_mb(CHILD, str(clip), str(tmp / "m_short"))
    long_mb = child_peak_mb(CHILD, str(long_clip), str(tmp / "m_long"))
    seconds = len(audio) / rate
    return {
        "clip_s": round(seconds, 1),
        "peak_mb_clip": round(short_mb),
        "peak_mb_10x_clip": round(long_mb),
        "mb_per_audio_second": round((long_mb - short_mb) / (9 * seconds), 3),
        "reference_mb_per_audio_second": 14.0,
        "torch_import_mb": round(child_peak_mb(TORCH_IMPORT)),
        "torch_bare_step_mb": round(child_peak_mb(TORCH_STEP)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--with-reference", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args()
    base: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip
        if args.quick:  # 3 s at 16 kHz, small network
            audio, _ = (
                load_audio(clip, 16000)
                if clip.is_file()
                else (np.random.default_rng(0).standard_normal(48000).astype(np.float32) * 0.1, 0)
            )
            clip = Path(tmp) / "quick.wav"
            sf.write(clip, audio[: 3 * 16000], 16000)
            base = dict(sample_rate=16000, n_fft=512, hop_length=128, sequence_length=16, units=32, batch_size=32)
            args.epochs = 1
        figures = {"default": run(clip, Path(tmp) / "default", base, args.epochs, args.threads)}
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seed_variant = dict(base, loss="msle", layers=3, units=base.get("units", 128), optimizer="adamax")
        figures["seed_variant"] = run(clip, Path(tmp) / "seed", seed_variant, args.epochs, args.threads)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        figures["peak_rss_mb_after_default"] = round(rss_ours, 1)
        if not args.quick:
            figures["memory"] = memory(clip, Path(tmp))
        if args.with_reference and not args.quick and REFERENCE.is_dir():
            ref = {variant: run_reference(clip, Path(tmp), variant, args.epochs, args.threads) for variant in ("ref", "seed")}
            mem = figures["memory"]
            figures["reference"] = {
                "default": ref["ref"],
                "seed_variant": ref["seed"],
                "speedup_default": round(ref["ref"]["s_per_epoch_mean"] / figures["default"]["s_per_epoch_mean"], 2),
                "speedup_seed_variant": round(ref["seed"]["s_per_epoch_mean"] / figures["seed_variant"]["s_per_epoch_mean"], 2),
                "peak_rss_ratio": round(ref["ref"]["peak_rss_mb"] / mem["peak_mb_clip"], 2),
                "peak_above_torch_step_ratio": round(
                    (ref["ref"]["peak_rss_mb"] - mem["torch_bare_step_mb"]) / (mem["peak_mb_clip"] - mem["torch_bare_step_mb"]), 2
                ),
                "note": "MAGNet's ref/train.py run as it is in a fresh process (same clip, hold-out, seed and threads); "
                "its epoch time excludes its evaluation, ours includes evaluation and checkpoint",
            }
    print(
        json.dumps(
            {
                "benchmark": "audio_train",
                "clip": str(args.clip),
                "epochs": args.epochs,
                "quick": args.quick,
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "device": "cuda" if torch.cuda.is_available() else "cpu",
                    "load1": round(os.getloadavg()[0], 2),
                },
                "figures": figures,
            }
        )
    )


if __name__ == "__main__":
    main()
