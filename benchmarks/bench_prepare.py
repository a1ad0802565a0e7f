"""Corpus preparation speed: files/s and melodies/s over the 2,100 folk-tune MIDI files.

Reference (Magenta 2.1.4 here: convert_dir_to_note_sequences + melody_rnn_create_dataset): 1,890 files
in 28.8 s = 66 files/s, 1,522 melodies. ``--quick`` uses the small test corpus and leaves Ray out.

``engines``: the process engine with 1 and 2 workers and the Ray engine with a local Ray of 1 and 2 CPUs
(Ray's start-up timed apart, as a cluster is started once); ``rerun``: the same command again, where every
file is already done: what the driver alone costs per file (listing, hashing, rebuilding the shards).
``lakh_176k``: those rates carried over to 176,000 files, assuming files like these (see docs/cluster.md).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine, peak_rss_mb, quick  # noqa: E402
from tunesmith.data.corpus import find_corpus_files, prepare_corpus  # noqa: E402
from tunesmith.music.midi import ExtractionSettings  # noqa: E402

MAGENTA_FILES_PER_S = 1890 / 28.8
LAKH_FILES = 176_000


def timed_prepare(source: Path, out: Path, **kwargs) -> dict:
    start = time.perf_counter()
    report = prepare_corpus(source, out, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    melodies = report.melodies["train"] + report.melodies["eval"]
    return {
        "files": report.files_found,
        "files_processed": report.files_processed,
        "seconds": round(seconds, 3),
        "files_per_s": round(report.files_found / seconds, 1),
        "melodies": melodies,
        "melodies_per_s": round(melodies / seconds, 1),
        "skip_counts": report.skip_counts,
    }


def settings_runs(source: Path) -> dict:
    """Process engine, 1 and 2 workers, Magenta's polyphony rule and ours."""
    results = {}
    for workers in (1, 2):
        for label, ignore in (("keep_highest", True), ("magenta_discard_polyphonic", False)):
            with tempfile.TemporaryDirectory() as tmp:
                results[f"workers{workers}_{label}"] = timed_prepare(
                    source, Path(tmp) / "c", workers=workers, settings=ExtractionSettings(ignore_polyphonic_notes=ignore)
                )
    return results


def engine_runs(source: Path) -> dict:
    """files/s per engine and worker count, plus a rerun on the finished output (nothing left to do)."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            runs[f"process_workers{workers}"] = timed_prepare(source, Path(tmp) / f"p{workers}", workers=workers)
        runs["rerun_all_done"] = timed_prepare(source, Path(tmp) / "p2", workers=2)
        if quick() or importlib.util.find_spec("ray") is None:
            return {**runs, "ray": "skipped (--quick or Ray not installed)"}
        import ray

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        for cpus in (1, 2):
            start = time.perf_counter()
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            ray_start = time.perf_counter() - start
            try:
                runs[f"ray_cpus{cpus}"] = {
                    **timed_prepare(source, Path(tmp) / f"r{cpus}", engine="ray"),
                    "ray_start_s": round(ray_start, 2),
                }
            finally:
                ray.shutdown()
    return runs


def lakh_estimate(runs: dict, source: Path) -> dict:
    """176,000 files at the measured rates: per core (1 worker), and the driver's own per-file cost."""
    per_core = runs["process_workers1"]["files_per_s"]
    driver = runs["rerun_all_done"]["files_per_s"]
    mean_kb = sum(p.stat().st_size for p in find_corpus_files(source)) / runs["process_workers1"]["files"] / 1024
    estimate = {
        "files": LAKH_FILES,
        "per_core_files_per_s": per_core,
        "driver_files_per_s": driver,
        "mean_file_kb_measured": round(mean_kb, 1),
        "assumes": "files as costly as these; linear scaling in cores",
    }
    for cores in (16, 64, 256):
        seconds = max(LAKH_FILES / (per_core * cores), LAKH_FILES / driver)
        estimate[f"minutes_{cores}_cores"] = round(seconds / 60, 2)
    return estimate


def main() -> None:
    source = TEST_FOLK if quick() or not FOLK.is_dir() else FOLK
    results = settings_runs(source)
    engines = engine_runs(source)
    best = results["workers2_magenta_discard_polyphonic"]
    emit(
        {
            "benchmark": "prepare",
            "machine": machine(),
            "corpus": str(source),
            "results": results,
            "engines": engines,
            "lakh_176k": lakh_estimate(engines, source),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "goal_files_per_s": 1000,
            "magenta_files_per_s": round(MAGENTA_FILES_PER_S, 1),
            "speedup_vs_magenta": round(best["files_per_s"] / MAGENTA_FILES_PER_S, 1),
        }
    )


if __name__ == "__main__":
    main()
