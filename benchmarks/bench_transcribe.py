"""Transcription quality and speed: note F1 (mir_eval, onset 50 ms, pitch 50 cents, offsets ignored)
and real-time factor (audio seconds / wall seconds) per instrument, for the default method and pyin.

Folk tunes from tests/data/folk are cut to their first 20 s, rendered with the GM piano, nylon guitar
and music box, transcribed, and scored against the tune on the step grid the transcriber chose.
Prints ONE JSON object; ``--quick`` scores one short clip (the test suite checks the JSON shape with it).
Targets: default method >= 20x real time and F1 >= 0.8 on every instrument, on 2 CPU cores.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TEST_FOLK, emit, machine, quick  # noqa: E402
from tunesmith.audio.render import render  # noqa: E402
from tunesmith.audio.transcribe import note_f1, transcribe  # noqa: E402
from tunesmith.music.midi import melody_from_score, read_score  # noqa: E402

INSTRUMENTS = ("piano", "guitar", "music-box")
METHODS = ("auto", "pyin")


def clips(seconds: float, count: int):
    for path in sorted(TEST_FOLK.glob("*.mid"))[:count]:
        melody = melody_from_score(read_score(path))
        yield path.stem, melody.with_length(int(seconds / melody.seconds_per_step()))


def main() -> None:
    is_quick = quick()
    seconds, count = (4.0, 1) if is_quick else (20.0, 3)
    tunes = list(clips(seconds, count))
    transcribe((np.sin(np.arange(22050) * 0.1).astype(np.float32), 22050))  # warm up imports and caches
    figures: dict = {}
    for instrument in INSTRUMENTS:
        renders = [(melody, render(melody, instrument, sample_rate=44100)) for _, melody in tunes]
        for method in METHODS:
            scores, audio_s, wall_s = [], 0.0, 0.0
            for melody, (samples, sr) in renders:
                start = time.perf_counter()
                estimate = transcribe((samples, sr), method=method)
                wall_s += time.perf_counter() - start
                audio_s += samples.size / sr
                scores.append(note_f1(melody, estimate))
            figures[f"{instrument}/{method}"] = {
                "f1": round(float(np.mean([s["f1"] for s in scores])), 3),
                "precision": round(float(np.mean([s["precision"] for s in scores])), 3),
                "recall": round(float(np.mean([s["recall"] for s in scores])), 3),
                "realtime_factor": round(audio_s / wall_s, 1),
                "audio_seconds": round(audio_s, 1),
            }
    emit(
        {
            "benchmark": "transcribe",
            "quick": is_quick,
            "machine": machine(),
            "clips": [name for name, _ in tunes],
            "clip_seconds": seconds,
            "figures": figures,
        }
    )


if __name__ == "__main__":
    main()
