"""Reliability at scale: thousands of mutated MIDI/audio files and kill -9 at 20 moments of two trainings.

Prints ONE JSON object: machine facts; for every input path (corpus preparation, primer parsing, audio
loading for training, transcription) how many mutated files were tried, their outcomes (results, refusals
counted by TunesmithError subclass, crashes = any other exception, which must be 0) and the slowest file;
peak RSS; and for a melody and an audio training run SIGKILLed at 20 random moments and resumed each time,
how many kills were survived (the train state loaded, the resume went on from the last complete
checkpoint) and whether the final weights equal an uninterrupted run's bit for bit.

``data_safety`` (issue 20; the cases live in tests/data_safety.py and tests/test_data_safety.py asserts them)
tries, as a user would, every way a run could lose or mix data: a folder of other
files under ``-o``, training over a trained model, two runs at one folder at once, kill -9 on prepare (its
workers) and on video (its temp files), Ctrl-C then resume, a full disk (a real tmpfs when run as root, else
ENOSPC raised at the write), ``-o`` that is a file / under a file / read-only for ten commands, leftovers of
a larger generation, torchrun on a raw folder, and damaged inputs' messages. It counts the cases tried, the
tracebacks (any exception but a TunesmithError, or "Traceback" in a CLI's stderr) and the cases that lost or
mixed data; the last two must be 0.

``--quick`` uses small counts and one kill per run (a shape check run by the test suite); ``--safety-only``
runs only the data_safety section.
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fuzzing  # noqa: E402
from _common import TEST_FOLK, emit, machine, peak_rss_mb, quick  # noqa: E402
from data_safety import safety_figures  # noqa: E402
from tunesmith.core.errors import TunesmithError  # noqa: E402

QUICK = quick()
MIDI_FILES = 60 if QUICK else 1000
AUDIO_FILES = 30 if QUICK else 1000
TRANSCRIBE_FILES = 10 if QUICK else 200
KILLS = 1 if QUICK else 20
SAFETY_ONLY = "--safety-only" in sys.argv
PY = [sys.executable, "-m", "tunesmith", "--quiet"]


class Tally:
    """Outcomes of one input path: ok / refused by TunesmithError class / crashed, and the slowest file."""

    def __init__(self) -> None:
        self.outcomes: Counter = Counter()
        self.crashes: list[str] = []
        self.max_seconds, self.slowest = 0.0, None
        self.tried = 0

    def run(self, label: str, fn) -> None:
        self.tried += 1
        started = time.perf_counter()
        try:
            fn()
            self.outcomes["ok"] += 1
        except TunesmithError as exc:
            self.outcomes[type(exc).__name__] += 1
        except Exception as exc:  # a crash: what the benchmark exists to find
            self.outcomes["crash"] += 1
            if len(self.crashes) < 10:
                self.crashes.append(
                    f"{label}: {type(exc).__name__}: {exc}"[:300]
                    + " @ "
                    + traceback.extract_tb(exc.__traceback__)[-1].filename.rsplit("/", 2)[-1]
                )
        seconds = time.perf_counter() - started
        if seconds > self.max_seconds:
            self.max_seconds, self.slowest = seconds, label

    def report(self) -> dict:
        return {
            "files": self.tried,
            "outcomes": dict(self.outcomes),
            "crashes": self.outcomes["crash"],
            "crash_examples": self.crashes,
            "max_seconds_per_file": round(self.max_seconds, 3),
            "slowest_file": self.slowest,
        }


def midi_figures(work: Path) -> dict:
    from tunesmith.data.corpus import prepare_corpus, process_file
    from tunesmith.music.midi import ExtractionSettings
    from tunesmith.music.primer import parse_primer

    files = fuzzing.write_midi_mutants(work / "midi", MIDI_FILES, seed=101)
    settings = ExtractionSettings()
    prepare, primer = Tally(), Tally()
    unexplained = 0
    for path, kind in files:
        label = f"{path.name} ({kind})"

        def one_file(path=path):
            nonlocal unexplained
            result = process_file(str(path), settings)
            unexplained += not (result.events or result.skip_reason)

        prepare.run(label, one_file)
        primer.run(label, lambda path=path: parse_primer(path))
    started = time.perf_counter()
    try:
        report = prepare_corpus(work / "midi", work / "corpus", progress=False)
        whole = {
            "files_found": report.files_found,
            "files_with_melodies": report.files_with_melodies,
            "skip_counts": report.skip_counts,
            "melodies": report.melodies,
        }
    except TunesmithError as exc:
        whole = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    except Exception as exc:
        whole = {"crash": f"{type(exc).__name__}: {exc}"[:300]}
        prepare.outcomes["crash"] += 1
    whole["seconds"] = round(time.perf_counter() - started, 2)
    return {
        "midi_prepare": {**prepare.report(), "files_without_melodies_or_reason": unexplained, "prepare_corpus": whole},
        "midi_primer": primer.report(),
    }


def audio_figures(work: Path) -> dict:
    from tunesmith.audio.io import load_audio
    from tunesmith.audio_model.train import load_clips

    files = fuzzing.write_audio_mutants(work / "audio", AUDIO_FILES, seed=202, long_files=2)
    load, clips = Tally(), Tally()
    for path, kind in files:
        label = f"{path.name} ({kind})"
        load.run(label, lambda path=path: load_audio(path, 16000, 512))
        clips.run(label, lambda path=path: load_clips(path, 16000, 512))
    out = {"audio_load": load.report(), "audio_train_clips": clips.report()}
    folder = Tally()
    folder.run("the whole folder", lambda: load_clips(work / "audio", 16000, 512))
    out["audio_train_clips"]["whole_folder"] = folder.report()["outcomes"]

    transcribe_tally = Tally()
    try:
        from tunesmith.audio.transcribe import transcribe
    except ModuleNotFoundError:
        out["transcribe"] = {"skipped": "tunesmith.audio.transcribe is not installed"}
        return out
    count = TRANSCRIBE_FILES
    started = time.perf_counter()
    for i, (path, kind) in enumerate(files):
        if i >= count:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transcribe_tally.run(f"{path.name} ({kind})", lambda path=path: transcribe(path))
        if i == TRANSCRIBE_FILES - 1 and not QUICK and (time.perf_counter() - started) / (i + 1) * 1000 < 240:
            count = len(files)  # fast enough: all 1,000 in under four minutes
    out["transcribe"] = transcribe_tally.report()
    return out


def kill_figures(work: Path) -> dict:
    import soundfile as sf

    py = [sys.executable, "-m", "tunesmith", "--quiet"]
    steps = 40 if QUICK else 200
    rng = random.Random(303)

    def melody(model_dir: Path) -> list[str]:
        return [
            *py,
            "melody",
            "train",
            str(TEST_FOLK),
            "-o",
            str(model_dir),
            "--config",
            "basic_rnn",
            "--steps",
            str(steps),
            "--checkpoint-every",
            "5",
            "--eval-every",
            "20",
            "--batch-size",
            "8",
            "--layers",
            "32,32",
            "--seed",
            "3",
        ]

    clip = work / "clip.wav"
    sf.write(clip, __import__("numpy").concatenate([fuzzing.tone(1.0, 16000, seed=s) for s in range(3)]), 16000)
    epochs = 8 if QUICK else 30  # 4 batches (steps) per epoch, a checkpoint after each epoch

    def audio(model_dir: Path) -> list[str]:
        return [
            *py,
            "audio",
            "train",
            str(clip),
            "-o",
            str(model_dir),
            "--epochs",
            str(epochs),
            "--sr",
            "16000",
            "--n-fft",
            "512",
            "--hop",
            "128",
            "--units",
            "32",
            "--seed",
            "1",
        ]

    runs = {}
    if QUICK:  # the suite kills the melody run in tests/test_reliability.py already
        runs["melody"] = {"skipped": "quick mode: tests/test_reliability.py kills and resumes the melody run"}
    for name, command, candidates in (("melody", melody, range(5, steps - 5, 5)), ("audio", audio, range(4, epochs * 4 - 4, 4))):
        if name in runs:
            continue
        reference_dir, killed_dir = work / f"{name}-reference", work / f"{name}-killed"
        # the uninterrupted run goes alongside the killed one: results depend on (seed, step) only, not on load
        reference = subprocess.Popen(command(reference_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        targets = sorted(rng.sample(list(candidates), min(KILLS, len(candidates))))
        started = time.perf_counter()
        try:
            result = fuzzing.kill_and_resume(command(killed_dir), killed_dir, targets, rng, max_delay=0.1, timeout=1200)
        except Exception as exc:  # a train state that does not load after a kill lands here
            runs[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            reference.kill()
            reference.wait()
            continue
        finally:
            seconds = time.perf_counter() - started
        _, reference_stderr = reference.communicate()
        kills = result["kills"]
        equal = reference.returncode == 0 and result["returncode"] == 0 and fuzzing.weights_equal(reference_dir, killed_dir)
        survived = sum(1 for k in kills if "error" not in k and not k["finished_before_kill"]) if equal else 0
        runs[name] = {
            "kills": len(kills),
            "kills_survived": survived,
            "final_weights_equal_uninterrupted": equal,
            "saved_steps_at_kills": [k["saved_step"] for k in kills],
            "kills_that_left_a_temp_file": sum(1 for k in kills if k["temp_files_left"]),
            "temp_files_after_final_resume": len(result["temp_files_at_end"]),
            "killed_and_resumed_seconds": round(seconds, 1),
            **({"stderr": result["stderr"][-500:]} if result["returncode"] else {}),
            **({"reference_stderr": reference_stderr[-500:]} if reference.returncode else {}),
        }
    return runs


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tunesmith-reliability-") as tmp:
        work = Path(tmp)
        if SAFETY_ONLY:
            safety = safety_figures(work, quick=QUICK)
            emit({"benchmark": "reliability", "quick": QUICK, "machine": machine(), "data_safety": safety,
                  "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
            return
        figures = {**midi_figures(work), **audio_figures(work)}
        kills = kill_figures(work)
        safety = safety_figures(work, quick=QUICK)
    crashes = sum(v.get("crashes", 0) for v in figures.values() if isinstance(v, dict))
    emit(
        {
            "benchmark": "reliability",
            "quick": QUICK,
            "machine": machine(),
            **figures,
            "crashes": crashes,
            "kill_resume": kills,
            "data_safety": safety,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - started, 1),
        }
    )


if __name__ == "__main__":
    main()
