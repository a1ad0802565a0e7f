"""Reproduce the shipped default melody model exactly.

Corpus: the public-domain tune collections bundled with music21 (installed from PyPI): O'Neill's Music
of Ireland (1850), Ryan's Mammoth Collection (1883) and Aird's Selection of Scotch, English, Irish and
Foreign Airs (1782-1803). The tunes are in the public domain; the ABC transcriptions ship in music21's
corpus under its BSD licence. music21's essenFolksong collection is NOT used (non-commercial licence).

    .venv/bin/python scripts/train_default_model.py [--steps 4000] [--config transformer]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import music21
import torch

from tunesmith.assets import MODELS
from tunesmith.files import write_json
from tunesmith.melody.train import train_melody_model
from tunesmith.music.corpus import prepare_corpus

COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="transformer")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="bf16", help="bf16 autocast (fast on AVX512-BF16 CPUs) or fp32")
    parser.add_argument("--out", default=str(MODELS / "melody-default"))
    args = parser.parse_args()
    corpus_root = Path(music21.__file__).parent / "corpus"
    work = Path(tempfile.mkdtemp(prefix="tunesmith-default-"))
    for name in COLLECTIONS:
        shutil.copytree(corpus_root / name, work / "abc" / name)
    report = prepare_corpus(work / "abc", work / "corpus", progress=True)
    print(report.summary())
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    result = train_melody_model(
        work / "corpus",
        out,
        args.config,
        steps=args.steps,
        seed=args.seed,
        eval_every=200,
        checkpoint_every=200,
        progress=True,
        precision=args.precision,
    )
    wall = time.perf_counter() - start
    config = json.loads((out / "config.json").read_text())["config"]
    (out / "train_state.safetensors").unlink(missing_ok=True)  # resume state is not needed to generate
    write_json(
        out / "report.json",
        {
            "model": "melody-default",
            "config": args.config,
            "steps": result["step"],
            "seed": args.seed,
            "precision": args.precision,
            "batch_size": config["batch_size"],
            "train_sequences_seen": result["step"] * config["batch_size"],
            "wall_seconds": round(wall, 1),
            "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version()},
            "corpus": {
                "collections": list(COLLECTIONS),
                "music21": music21.__version__,
                "files": report.files_found,
                "train_melodies": report.melodies["train"],
                "eval_melodies": report.melodies["eval"],
                "train_steps": report.steps["train"],
                "eval_steps": report.steps["eval"],
                "licence": "tunes public domain; ABC transcriptions from music21's corpus (BSD-3-Clause)",
            },
            "heldout": result["eval"],
            "command": f"python scripts/train_default_model.py --config {args.config} --steps {args.steps} --seed {args.seed} "
            f"--precision {args.precision}",
        },
    )
    shutil.copytree(work / "corpus", out / "eval-corpus", ignore=shutil.ignore_patterns("train-*", "parts"))
    print(json.dumps(result["eval"], indent=2))


if __name__ == "__main__":
    main()
