"""Polyphony (issue #33): preparation, training and sampling speed of the polyphonic path on this machine.

* prepare: ``prepare --polyphonic`` of N two-track piano MIDI files made here (16ths, triplets, chords), 1 worker;
* train: optimiser steps of the shipped default's shape (3 x 96, 16 windows of 256 tokens) on 1 thread;
* sample: 8 continuations of 8 bars each of a typed-chords primer with ``polyphonic-default``, as one batch.
Magenta's polyphony_rnn beside the shipped default (it installs on Python 3.11 with hand-picked dependencies, in its
own venv): the recipe is benchmarks/baselines/magenta_polyphony/, the figures are in results.md.

    OMP_NUM_THREADS=1 python benchmarks/bench_polyphony.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import symusic  # noqa: E402
import torch  # noqa: E402

from _common import emit, machine, quick  # noqa: E402
from tunesmith.data.corpus import prepare_corpus  # noqa: E402
from tunesmith.melody.polyphonic import PolyphonicConfig, PolyphonicTask, PolyTokens, generate_polyphonic  # noqa: E402
from tunesmith.music.polyphony import PolyphonySettings  # noqa: E402


def piano_file(path: Path, seed: int, bars: int = 16) -> None:
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, 60.0 + seed * 0.25))  # every file its own bytes: none is deduplicated
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    right, left = symusic.Track("right", 0, False), symusic.Track("left", 0, False)
    for bar in range(bars):
        t = bar * 1920
        for i in range(4):
            right.notes.append(symusic.Note(t + i * 120, 120, 72 + (i * 2 + seed + bar) % 12, 90))
        for i in range(3):
            right.notes.append(symusic.Note(t + 480 + i * 160, 160, 76 - (i + seed) % 5, 80))
        right.notes.append(symusic.Note(t + 960, 960, 79 - bar % 3, 100))
        for half in (0, 960):
            for pitch in (48, 52, 55):
                left.notes.append(symusic.Note(t + half, 960, pitch + (bar + seed) % 5, 60))
    score.tracks.extend([right, left])
    score.dump_midi(str(path))


def main() -> None:
    n_files = 60 if quick() else 400
    steps = 5 if quick() else 30
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for i in range(n_files):
            piano_file(src / f"piece{i:04d}.mid", i)
        started = time.perf_counter()
        report = prepare_corpus(src, Path(tmp) / "corpus", settings=PolyphonySettings(), workers=1, progress=False)
        prepare_s = time.perf_counter() - started
        torch.set_num_threads(1)
        cfg = PolyphonicConfig(d_model=96, heads=4, transformer_layers=3)
        task = PolyphonicTask(cfg, PolyTokens(Path(tmp) / "corpus", "train"), None)
        optimizer = task.make_optimizer()
        started = time.perf_counter()
        for step in range(steps):
            loss, _ = task.loss(task.batch(0, step))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train_s = time.perf_counter() - started
    started = time.perf_counter()
    pieces = generate_polyphonic("polyphonic-default", "C4 E4 G4 | F4 A4 C5", 8, bars=10, seed=0)
    sample_s = time.perf_counter() - started
    emit(
        {
            "benchmark": "polyphony",
            "machine": machine(),
            "prepare": {
                "files": n_files,
                "seconds": round(prepare_s, 2),
                "files_per_second": round(n_files / prepare_s, 1),
                "tokens": report.steps,
            },  # fmt: skip
            "train": {
                "steps": steps,
                "seconds_per_step": round(train_s / steps, 3),
                "tokens_per_second": round(steps * cfg.batch_size * cfg.train_window / train_s),
            },  # fmt: skip
            "sample": {"pieces": 8, "new_bars": 8, "seconds": round(sample_s, 2), "notes": sum(len(p) for p in pieces)},
        }
    )


if __name__ == "__main__":
    main()
