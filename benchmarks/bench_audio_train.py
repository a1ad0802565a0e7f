"""Audio-model training speed, memory and held-out quality on the benchmark clip; prints one JSON object.

    .venv/bin/python benchmarks/bench_audio_train.py [--epochs 3] [--threads 1] [--with-reference] [--quick]

Figures: seconds per epoch (default config and MAGNet's "seed" variant: msle, 3x128, adamax), windows,
peak RSS after our training, held-out one-step MSE vs the persistence baseline. ``--with-reference``
also times MAGNet's own model/step (BatchNorm + LSTM + Linear on materialised windows, Adam, MSE) in
this process on the same machine, for a same-conditions speed ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tunesmith.audio_model import train_audio_model
from tunesmith.audio_model.spectra import load_audio
from tunesmith.training import read_log

CLIP = Path("/work/shared/data/clips/bach-bwv66.6-piano-30s.wav")
REFERENCE = Path("/work/shared/reference/baselines/magnet/ref")


def run(clip: Path, out: Path, config: dict, epochs: int, threads: int) -> dict:
    result = train_audio_model(clip, out, config, epochs=epochs, progress=False, threads=threads)
    rows = read_log(out)
    times = [0.0] + [r["time"] for r in rows if r["split"] == "train"]
    per_epoch = np.diff(times)
    last = [r for r in rows if r["split"] == "eval"][-1]
    return {"s_per_epoch_mean": round(float(per_epoch.mean()), 3), "s_per_epoch_min": round(float(per_epoch.min()), 3),
            "windows": result["windows"], "batches_per_epoch": result["batches_per_epoch"],
            "held_out_mse": round(last["mse"], 4), "persistence_mse": round(last["persistence_mse"], 4),
            "held_out_msle": round(last["msle"], 5), "persistence_msle": round(last["persistence_msle"], 5),
            "train_loss_last_epoch": round([r for r in rows if r["split"] == "train"][-1]["loss"], 5)}


def reference_step_seconds(clip: Path, steps: int, threads: int, seed_variant: bool = False) -> float:
    """Seconds per step of MAGNet's model and training step (materialised 64x1025x40 batch, Adam, MSE)."""
    sys.path.insert(0, str(REFERENCE))
    from model import RNNModel  # MAGNet's own module (reference copy, read-only)

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    audio, _ = load_audio(clip, 44100)
    mags = torch.stft(torch.from_numpy(audio), 2048, 512, window=torch.hann_window(2048), return_complex=True).abs()
    model = RNNModel(1025, 128, 3 if seed_variant else 2, 1025)
    opt = (torch.optim.Adamax if seed_variant else torch.optim.Adam)(model.parameters(), 1e-3, weight_decay=1e-4)
    starts = torch.randint(0, mags.shape[1] - 41, (steps + 2, 64))
    times = []
    for batch in starts:
        x = torch.stack([mags[:, s:s + 40] for s in batch.tolist()])  # as MAGNet's DataLoader yields it
        y = mags[:, batch + 40].T
        t = time.perf_counter()
        opt.zero_grad()
        out = model(x)
        loss = torch.nn.functional.mse_loss(out, y) if not seed_variant else torch.nn.functional.mse_loss(
            torch.log1p(out.clamp(min=1e-7)), torch.log1p(y.clamp(min=1e-7)))
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return float(np.median(times[2:]))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak
PEAK = "import re; print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024)"
CHILD = """
import sys
from tunesmith.audio_model import train_audio_model
train_audio_model(sys.argv[1], sys.argv[2], epochs=1, progress=False, threads=1)
""" + PEAK
FLOOR = """
import torch
p = torch.nn.Parameter(torch.zeros(1)); p.grad = torch.zeros(1); torch.optim.Adam([p]).step()
""" + PEAK


def child_peak_mb(code: str, *args: str) -> float:
    import subprocess

    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def memory_scaling(clip: Path, tmp: Path) -> dict:
    """Peak RSS of a fresh training process on the clip and on the clip tiled to 10x its length.

    torch itself (import + the first optimizer step, which imports torch._dynamo) sets a floor that
    any torch trainer pays; what grows with the audio is the data: MAGNet materialises every window
    (~14 MB per second of audio), we keep each frame once.
    """
    audio, rate = load_audio(clip, None)
    long_clip = tmp / "long.wav"
    sf.write(long_clip, np.tile(audio, 10), rate)
    short_mb = child_peak_mb(CHILD, str(clip), str(tmp / "m_short"))
    long_mb = child_peak_mb(CHILD, str(long_clip), str(tmp / "m_long"))
    seconds = len(audio) / rate
    per_s = (long_mb - short_mb) / (9 * seconds)
    return {"torch_floor_mb": round(child_peak_mb(FLOOR)), "clip_s": round(seconds, 1), "peak_mb_clip": round(short_mb),
            "peak_mb_10x_clip": round(long_mb), "mb_per_audio_second": round(per_s, 3),
            "reference_mb_per_audio_second": 14.0, "reference_peak_mb_30s": 1060}


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
            audio, _ = load_audio(clip, 16000) if clip.is_file() else (np.random.default_rng(0).standard_normal(48000)
                                                                        .astype(np.float32) * 0.1, 0)
            clip = Path(tmp) / "quick.wav"
            sf.write(clip, audio[:3 * 16000], 16000)
            base = dict(sample_rate=16000, n_fft=512, hop_length=128, sequence_length=16, units=32, batch_size=32)
            args.epochs = 1
        figures = {"default": run(clip, Path(tmp) / "default", base, args.epochs, args.threads)}
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seed_variant = dict(base, loss="msle", layers=3, units=base.get("units", 128), optimizer="adamax")
        figures["seed_variant"] = run(clip, Path(tmp) / "seed", seed_variant, args.epochs, args.threads)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        figures["peak_rss_mb_after_default"] = round(rss_ours, 1)
        if not args.quick:
            figures["memory"] = memory_scaling(clip, Path(tmp))
        if args.with_reference and not args.quick and REFERENCE.is_dir():
            per = figures["default"]["batches_per_epoch"]
            ref = reference_step_seconds(clip, 8, args.threads)
            ref_seed = reference_step_seconds(clip, 8, args.threads, seed_variant=True)
            figures["reference"] = {
                "s_per_step": round(ref, 4), "s_per_epoch_at_our_batches": round(ref * per, 3),
                "s_per_epoch_full_data_39_batches": round(ref * 39, 3),
                "seed_variant_s_per_step": round(ref_seed, 4),
                "speedup_default": round(ref * per / figures["default"]["s_per_epoch_min"], 2),
                "speedup_seed_variant": round(ref_seed * per / figures["seed_variant"]["s_per_epoch_min"], 2),
                "note": "MAGNet's model+step timed in this process (no DataLoader, no BatchNorm input copy); "
                        "its measured peak RSS was 1.04-1.06 GB (REPORT.md)"}
    print(json.dumps({
        "benchmark": "audio_train", "clip": str(args.clip), "epochs": args.epochs, "quick": args.quick,
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "device": "cuda" if torch.cuda.is_available() else "cpu",
                    "load1": round(os.getloadavg()[0], 2)},
        "figures": figures}))


if __name__ == "__main__":
    main()
