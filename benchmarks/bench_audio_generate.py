"""Audio-model generation speed: 20 s of audio incl. Griffin-Lim, as a real-time factor; prints one JSON object.

    .venv/bin/python benchmarks/bench_audio_generate.py [--model DIR] [--seconds 20] [--threads 1] [--quick]

Generation uses the model's default settings (sampling noise, level control); the frame loop is also
timed without them. Without ``--model`` a default-config model is trained for one epoch on the benchmark clip first
(speed does not depend on how well it is trained). Also times our batched fast Griffin-Lim against
librosa.griffinlim on the same 800 frames x 32 iterations (warm, second call).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tunesmith.audio.io import load_audio
from tunesmith.audio_model import load_audio_model, train_audio_model
from tunesmith.audio_model.spectra import griffin_lim, spectral_convergence

CLIP = Path("/work/shared/data/clips/bach-bwv66.6-piano-30s.wav")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="default: all cores (the goal is on 2)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip, model_dir = args.clip, args.model
        if args.quick:
            audio, _ = (
                load_audio(clip, 16000)
                if clip.is_file()
                else (np.random.default_rng(0).standard_normal(48000).astype(np.float32) * 0.1, 0)
            )
            clip = Path(tmp) / "quick.wav"
            sf.write(clip, audio[: 3 * 16000], 16000)
            args.seconds = 2.0
        if model_dir is None:
            model_dir = Path(tmp) / "model"
            small = dict(sample_rate=16000, n_fft=512, hop_length=128, sequence_length=16, units=32) if args.quick else {}
            train_audio_model(clip, model_dir, small, epochs=1, progress=False, threads=args.threads)
            torch.set_num_threads(args.threads)
        model = load_audio_model(model_dir)
        c = model.config
        model.generate(clip, seconds=1.0, n=args.n, griffin_lim_iters=2)  # warm-up
        t = time.perf_counter()
        seed = model.seed_frames(clip)
        mags = model.generate_frames(
            seed, int(args.seconds * c.sample_rate) // c.hop_length + 1, n=args.n, random_chance=0.02, seed_value=0
        )
        frames_s = time.perf_counter() - t
        t = time.perf_counter()  # the same loop without sampling noise and level control: what they cost
        model.generate_frames(
            seed,
            int(args.seconds * c.sample_rate) // c.hop_length + 1,
            n=args.n,
            random_chance=0.02,
            temperature=0.0,
            level_control=False,
            seed_value=0,
        )
        frames_plain_s = time.perf_counter() - t
        t = time.perf_counter()
        griffin_lim(mags, c.n_fft, c.hop_length, 32)
        gl_s = time.perf_counter() - t
        t = time.perf_counter()
        outs = model.generate(clip, seconds=args.seconds, n=args.n, random_chance=0.02, seed=0)
        total_s = time.perf_counter() - t
        # Griffin-Lim vs librosa on the clip's true magnitudes: 800 frames x 32 iterations
        import librosa

        true = seed[:800].cpu()
        librosa.griffinlim(true.T.numpy()[:, :50], n_iter=2, hop_length=c.hop_length, n_fft=c.n_fft)  # JIT warm-up
        t = time.perf_counter()
        ref = librosa.griffinlim(true.T.numpy(), n_iter=32, hop_length=c.hop_length, n_fft=c.n_fft, random_state=0)
        librosa_s = time.perf_counter() - t
        t = time.perf_counter()
        ours = griffin_lim(true, c.n_fft, c.hop_length, 32)
        ours_s = time.perf_counter() - t
        sc = {
            name: round(
                spectral_convergence(
                    true[: len(true) - 1],
                    torch.stft(torch.as_tensor(y), c.n_fft, c.hop_length, window=torch.hann_window(c.n_fft), return_complex=True)
                    .abs()
                    .T[: len(true) - 1],
                ),
                4,
            )
            for name, y in (("ours", ours), ("librosa", ref))
        }
    print(
        json.dumps(
            {
                "benchmark": "audio_generate",
                "clip": str(args.clip),
                "quick": args.quick,
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "device": str(model.device),
                    "load1": round(os.getloadavg()[0], 2),
                },
                "figures": {
                    "seconds": args.seconds,
                    "n": args.n,
                    "sample_rate": c.sample_rate,
                    "frames_s": round(frames_s, 3),
                    "frames_s_without_sampling_and_level_control": round(frames_plain_s, 3),
                    "griffin_lim_s": round(gl_s, 3),
                    "total_s": round(total_s, 3),
                    "real_time_factor": round(total_s / (args.seconds * args.n), 4),
                    "output_rms": round(float(np.sqrt(np.mean(outs[0] ** 2))), 4),
                    "gl_800_frames_32_iter_s": {"ours": round(ours_s, 3), "librosa": round(librosa_s, 3)},
                    "gl_spectral_convergence": sc,
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
