"""Reproduce the shipped default melody model exactly.

Corpus: the public-domain tune collections bundled with music21 (installed from PyPI): O'Neill's Music
of Ireland (1850), Ryan's Mammoth Collection (1883) and Aird's Selection of Scotch, English, Irish and
Foreign Airs (1782-1803). The tunes are in the public domain; the ABC transcriptions ship in music21's
corpus under its BSD licence. music21's essenFolksong collection is NOT used (non-commercial licence).

    .venv/bin/python scripts/train_default_model.py [--steps 4000] [--config transformer]
        [--init-from MODEL_DIR] [--max-minutes M] [--learning-rate LR]

The report (report.json beside the weights) states the held-out loss on the model's own split, the loss on the
shared held-out folk tunes whose notes are NOT in the training corpus (dedupe by notes, not by name: see
``unseen_files``), and the form figures of generation with default settings (benchmarks/bench_form.py's setup).
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
from tunesmith.core.files import write_json
from tunesmith.data.corpus import prepare_corpus
from tunesmith.melody.train import train_melody_model

COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="transformer")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="bf16", help="bf16 autocast (fast on AVX512-BF16 CPUs) or fp32")
    parser.add_argument("--out", default=str(MODELS / "melody-default"))
    parser.add_argument("--init-from", help="warm start from this model's weights (e.g. the previous default)")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training wall time")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--heldout", default="/work/shared/data/folk-melodies/heldout", help="extra held-out MIDI folder")
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
        eval_every=args.eval_every,
        checkpoint_every=args.eval_every,
        progress=True,
        precision=args.precision,
        init_from=args.init_from,
        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
        **({"learning_rate": args.learning_rate} if args.learning_rate else {}),
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
            "init_from": args.init_from,
            "command": f"python scripts/train_default_model.py --config {args.config} --steps {args.steps} --seed {args.seed} "
            f"--precision {args.precision}"
            + (f" --init-from {args.init_from}" if args.init_from else "")
            + (f" --max-minutes {args.max_minutes:g}" if args.max_minutes else "")
            + (f" --learning-rate {args.learning_rate:g}" if args.learning_rate else ""),
        },
    )
    shutil.copytree(work / "corpus", out / "eval-corpus", ignore=shutil.ignore_patterns("train-*", "parts"))
    print(json.dumps(result["eval"], indent=2))
    report = json.loads((out / "report.json").read_text())
    if args.heldout and Path(args.heldout).is_dir():
        report["shared_heldout"] = heldout_figures(out, work / "corpus", Path(args.heldout))
    report["form"] = form_figures(out, Path(args.heldout) if args.heldout else None)
    write_json(out / "report.json", report)
    strip_machine_paths(out)
    print(json.dumps({k: report[k] for k in ("shared_heldout", "form") if k in report}, indent=2))


def strip_machine_paths(out: Path) -> None:
    """The training machine's temp folders mean nothing on a user's machine: drop them from the shipped JSON."""
    for path, key in (
        (out / "config.json", "corpus"),
        (out / "config.json", "init_from"),
        (out / "eval-corpus" / "corpus.json", "out_dir"),
    ):
        data = json.loads(path.read_text())
        data.pop(key, None)
        write_json(path, data)


def _signature(events, notes: int = 12) -> list[tuple]:
    """Every run of ``notes`` notes as (pitch interval, onset gap) pairs: the same tune in any key gives the same runs."""
    import numpy as np

    onsets = np.flatnonzero(events >= 0)
    pitches = events[onsets].astype(int)
    pairs = list(zip(np.diff(pitches).tolist(), np.diff(onsets).tolist()))
    return [tuple(pairs[i : i + notes - 1]) for i in range(max(0, len(pairs) - notes + 2))]


def unseen_files(folder: Path, corpus: Path) -> tuple[list[Path], list[Path]]:
    """(unseen, seen): a file is seen when any run of 12 of its notes occurs anywhere in a training melody.

    Strict on purpose: a variant or a tune quoting a trained phrase counts as seen (68 of the 210 shared held-out
    files; by name 71 come from the trained collections, by the first 12 notes alone 56 are found).
    """
    import numpy as np

    from tunesmith.data.corpus import load_split
    from tunesmith.evaluate.form import melodies_from_midi_folder

    events, offsets, _ = load_split(corpus, "train")
    known = set()
    for i in range(len(offsets) - 1):
        known.update(_signature(np.asarray(events[offsets[i] : offsets[i + 1]], dtype=np.int64)))
    unseen, seen = [], []
    for melody in melodies_from_midi_folder(folder):
        runs = _signature(melody.events.astype(np.int64))
        path = folder / f"{melody.name}.mid"
        (seen if any(run in known for run in runs) else unseen).append(path)
    return unseen, seen


def heldout_figures(model_dir: Path, corpus: Path, folder: Path) -> dict:
    """Likelihood on the shared held-out tunes whose notes are not in the training corpus."""
    from tunesmith.evaluate import likelihood

    unseen, seen = unseen_files(folder, corpus)
    with tempfile.TemporaryDirectory(prefix="tunesmith-unseen-") as tmp:
        for path in unseen:
            shutil.copy(path, Path(tmp) / path.name)
        lik = likelihood(model_dir, data=tmp)
    return {
        "folder": str(folder),
        "files": len(unseen) + len(seen),
        "files_in_training_notes": len(seen),
        "files_unseen": len(unseen),
        "unseen_loss": lik["eval"]["loss"],
        "unseen_melodies": lik["eval"]["melodies"],
        "unseen_steps": lik["eval"]["steps"],
        "rule": "seen = any run of 12 of a file's notes (intervals + onset gaps) occurs in a training melody",
    }


def form_figures(model_dir: Path, heldout: Path | None) -> dict:
    """Form figures of 100 melodies from "C4", 144 new steps, default settings, bars 2-9, vs the held-out tunes."""
    from tunesmith.evaluate.form import compare_form, form_statistics, melodies_from_midi_folder
    from tunesmith.outputs.compose import generate_to_dir

    with tempfile.TemporaryDirectory(prefix="tunesmith-form-") as tmp:
        generate_to_dir(str(model_dir), "C4", tmp, n=100, steps=144)
        generated = form_statistics(melodies_from_midi_folder(tmp), 1, 8)
    if heldout is None or not heldout.is_dir():
        return {"generated": generated}
    reference = form_statistics(melodies_from_midi_folder(heldout), 1, 8)
    return {"setup": "primer C4, n 100, 144 new steps, default settings; bars 2-9", **compare_form(generated, reference)}


if __name__ == "__main__":
    main()
