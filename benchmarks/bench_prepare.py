"""Corpus preparation speed: files/s and melodies/s over the 2,100 folk-tune MIDI files.

Reference (Magenta 2.1.4 here: convert_dir_to_note_sequences + melody_rnn_create_dataset): 1,890 files
in 28.8 s = 66 files/s, 1,522 melodies. ``--quick`` uses the small test corpus.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine, quick  # noqa: E402
from tunesmith.music.corpus import prepare_corpus  # noqa: E402
from tunesmith.music.midi import ExtractionSettings  # noqa: E402

MAGENTA_FILES_PER_S = 1890 / 28.8


def main() -> None:
    source = TEST_FOLK if quick() or not FOLK.is_dir() else FOLK
    results = {}
    for workers in (1, 2):
        for label, ignore in (("keep_highest", True), ("magenta_discard_polyphonic", False)):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                report = prepare_corpus(source, Path(tmp) / "c", workers=workers, progress=False,
                                        settings=ExtractionSettings(ignore_polyphonic_notes=ignore))
                seconds = time.perf_counter() - start
            melodies = report.melodies["train"] + report.melodies["eval"]
            results[f"workers{workers}_{label}"] = {
                "files": report.files_found, "seconds": round(seconds, 3),
                "files_per_s": round(report.files_found / seconds, 1), "melodies": melodies,
                "melodies_per_s": round(melodies / seconds, 1), "skip_counts": report.skip_counts,
            }
    best = results["workers2_magenta_discard_polyphonic"]
    emit({"benchmark": "prepare", "machine": machine(), "corpus": str(source), "results": results,
          "goal_files_per_s": 1000, "magenta_files_per_s": round(MAGENTA_FILES_PER_S, 1),
          "speedup_vs_magenta": round(best["files_per_s"] / MAGENTA_FILES_PER_S, 1)})


if __name__ == "__main__":
    main()
