"""Reproduce the shipped small audio model: the default config on the shipped example clip.

The clip (src/tunesmith/assets/examples/audio/example.wav) is a public-domain tune rendered with the
FluidR3_GM piano (MIT). 22,050 Hz and a 1024-point FFT keep the model small and fast. The report holds
the held-out one-step error and the free-running figures of 20 s generated with the default settings
(tunesmith.evaluate.audio: silent seconds, level span, log-mel distance, flux ratio, pair correlation).

    .venv/bin/python scripts/train_default_audio_model.py [--epochs 40]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from tunesmith.assets import MODELS, example_clip
from tunesmith.audio_model.train import train_audio_model
from tunesmith.core import checkpoint
from tunesmith.core.files import write_json
from tunesmith.evaluate.audio import evaluate_audio_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(MODELS / "audio-default"))
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    result = train_audio_model(
        [example_clip()],
        out,
        epochs=args.epochs,
        seed=args.seed,
        sample_rate=22050,
        n_fft=1024,
        hop_length=256,
        units=128,
        layers=2,
        progress=True,
    )
    (out / "train_state.safetensors").unlink(missing_ok=True)
    saved = checkpoint.load_config(out)
    saved.pop("clips", None)  # this machine's path; the shipped default's clip is the example clip
    write_json(out / checkpoint.CONFIG, saved)
    wall = round(time.perf_counter() - start, 1)
    free = evaluate_audio_model(out, example_clip(), seconds=20.0, n=2, seed=args.seed)
    write_json(
        out / "report.json",
        {
            "model": "audio-default",
            "clip": example_clip().name,
            "epochs": args.epochs,
            "seed": args.seed,
            "wall_seconds": wall,
            "windows": result["windows"],
            "heldout": result["eval"],
            "free_running_20s": {"summary": free["summary"], "goals_met": free["goals_met"], "settings": "defaults, n=2"},
            "command": f"python scripts/train_default_audio_model.py --epochs {args.epochs} --seed {args.seed}",
        },
    )
    print(result["eval"], free["summary"])


if __name__ == "__main__":
    main()
