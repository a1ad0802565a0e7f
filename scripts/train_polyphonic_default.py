"""Rebuild the shipped polyphonic default (``--model polyphonic-default``) from Bach's chorales.

Corpus: the four-part chorales of J. S. Bach (d. 1750, public domain) as MusicXML in music21's corpus
(``music21/corpus/bach``, installed from PyPI; the encodings ship under music21's BSD licence). Each chorale is
read as two parts: the soprano (the highest part) is the melody, alto + tenor + bass the accompaniment
(``tunesmith prepare --polyphonic``; doubling instrument parts fold into the same two).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_polyphonic_default.py [--max-minutes 40] [--steps 8000]

Writes src/tunesmith/assets/models/polyphonic-default/ (weights, config.json, log.jsonl, plots/, report.json with
the held-out loss, steps, wall time and corpus). The corpus is prepared in a temporary folder and not shipped.
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

from tunesmith.assets import MODELS
from tunesmith.core.files import write_json
from tunesmith.data.corpus import prepare_corpus
from tunesmith.melody.polyphonic import train_polyphonic_model
from tunesmith.music.polyphony import PolyphonySettings

SHAPE = {"d_model": 96, "heads": 4, "transformer_layers": 3, "learning_rate": 2e-3, "warmup_steps": 50}


def chorale_files() -> list[Path]:
    root = Path(music21.__file__).parent / "corpus" / "bach"
    return sorted(p for p in root.iterdir() if p.suffix in (".mxl", ".xml"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--max-minutes", type=float, default=40.0)
    parser.add_argument("--out", default=str(MODELS / "polyphonic-default"))
    parser.add_argument("--work", default=None, help="keep the prepared corpus here (default: a temporary folder)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="tunesmith-chorales-"))
    files = chorale_files()
    started = time.perf_counter()
    report = prepare_corpus(
        files[0].parent, work / "corpus", files=files, settings=PolyphonySettings(parts=2), workers=1, progress=True
    )
    prepare_seconds = time.perf_counter() - started
    print(report.summary())
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    result = train_polyphonic_model(
        work / "corpus",
        out,
        steps=args.steps,
        max_seconds=args.max_minutes * 60,
        eval_every=50,
        checkpoint_every=50,
        patience=10,
        seed=0,
        **SHAPE,
    )
    os.remove(out / "train_state.safetensors")  # the optimizer state is for resuming, not for shipping
    (out / ".tunesmith.lock").unlink(missing_ok=True)
    config = json.loads((out / "config.json").read_text())
    config["corpus"] = "music21 corpus/bach (Bach chorales), prepared with tunesmith prepare --polyphonic"
    write_json(out / "config.json", config)
    training = {
        "steps": result["step"],
        "best_step": result.get("best_step"),
        "wall_seconds": round(result["seconds"], 1),
        "threads": result["threads"],
        "train_tokens_per_second": round(result["step"] * 16 * 256 / result["seconds"]),
        "machine": f"{platform.processor() or platform.machine()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
    }
    write_report(out, work / "corpus", report, prepare_seconds, len(files), training)
    print(json.dumps(json.loads((out / "report.json").read_text()), indent=2))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def write_report(out: Path, corpus: Path, report, prepare_seconds: float, files: int, training: dict) -> None:
    """report.json: the corpus, the training run, and the shipped (best) weights' held-out figures and polyphony
    statistics and realism test of 8-bar continuations of the held-out chorales' first 2 bars beside the real bars 3-10."""
    from tunesmith.evaluate.polyphony import evaluate_polyphonic
    from tunesmith.melody.polyphonic import PolyTokens, load_polyphonic_model

    net, saved = load_polyphonic_model(out)
    evaluation = evaluate_polyphonic(out, corpus, pieces=len(PolyTokens(corpus, "eval")), primer_bars=2, bars=8, seed=0)
    write_json(
        out / "report.json",
        {
            "model": "polyphonic-default",
            "corpus": {
                "source": "J. S. Bach, four-part chorales (public domain), MusicXML from music21's corpus (BSD licence)",
                "music21": music21.__version__,
                "files": files,
                "pieces": report.melodies,
                "tokens": report.steps,
                "skipped": report.skip_counts,
                "meters": report.meters,
                "parts": "melody = soprano (highest part), accompaniment = the other parts",
                "prepare_seconds": round(prepare_seconds, 1),
            },
            "config": saved["config"],
            "parameters": sum(p.numel() for p in net.parameters()),
            "weights_bytes": (out / "model.safetensors").stat().st_size,
            **training,
            "heldout": evaluation["likelihood"],
            "continuations": evaluation["continuations"],
            "polyphony_real": evaluation["real"],
            "polyphony_generated": evaluation["generated"],
            "realism": evaluation["realism"],
        },
    )


if __name__ == "__main__":
    main()
