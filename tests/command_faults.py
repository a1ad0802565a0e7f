"""Every command, old and new, over damaged inputs and through faults: the cases and their checks.

Shared by ``tests/test_command_faults.py`` (pytest, marked slow) and ``benchmarks/bench_faults.py`` (the same
cases, counted into one JSON object). A case *passes* when the command either succeeds with whole output or
refuses with a ``TunesmithError`` message, and in both cases:

* no traceback: no exception but a TunesmithError escapes, and "Traceback" never reaches stderr;
* nothing lost: the input and every file that was there before are byte-for-byte the same;
* nothing left half-written: a refused run leaves no output file, no non-empty output folder, no temp file;
* no process left: every child of a killed or interrupted run is gone within a few seconds.

Damaged inputs start from real files: the folk tunes in ``tests/data/folk`` (MIDI, mutated by ``fuzzing``),
an ABC jig with chord symbols and MusicXML written from a real tune by music21 (both cut, flipped, emptied and
given absurd keys, meters and durations), and WAVs mutated by ``fuzzing``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import fuzzing

PY = [sys.executable, "-m", "tunesmith", "--quiet"]

JIG = """X:1
T:The Kesh
M:6/8
L:1/8
R:jig
K:G
"G"GAG GAB|"D"ABA ABd|"G"edd gdd|"C"edB "D"dBA|
"G"GAG GAB|"D"ABA ABd|"G"edd gdB|"D"AGF "G"G3:|
"""

ABC_VARIANTS = {
    "abc_chords": JIG,
    "abc_truncated": JIG[: len(JIG) // 2],
    "abc_no_header": JIG.split("K:G\n", 1)[1],
    "abc_bad_key": JIG.replace("K:G", "K:Hb phrygian-ish"),
    "abc_six_flats": JIG.replace("K:G", "K:Gb"),
    "abc_seven_sharps": JIG.replace("K:G", "K:C#"),
    "abc_absurd_meter": JIG.replace("M:6/8", "M:255/255"),
    "abc_zero_length": JIG.replace("L:1/8", "L:0/8"),
    "abc_two_tunes": JIG + "\n" + JIG.replace("X:1", "X:2").replace("The Kesh", "The Kesh again"),
    "abc_empty": "",
    "abc_binary": "\x00\x01\x02garbage\xff\xfe",
    "abc_huge_note": JIG.replace('"G"GAG GAB|', '"G"G999999 GAB|', 1),
}


def musicxml_variants(good: str) -> dict[str, str]:
    """Damaged versions of a real MusicXML file's text."""
    rng = random.Random(7)
    flipped = list(good)
    for _ in range(20):
        i = rng.randrange(len(flipped))
        flipped[i] = chr(rng.randrange(33, 126))
    return {
        "xml_good": good,
        "xml_truncated": good[: len(good) // 2],
        "xml_bitflip": "".join(flipped),
        "xml_empty": "",
        "xml_not_music": '<?xml version="1.0"?><html><body>hello</body></html>',
        "xml_six_flats": _replace_fifths(good, -6),
        "xml_seven_sharps": _replace_fifths(good, 7),
        "xml_zero_divisions": good.replace("<divisions>", "<divisions>0", 1),
        "xml_huge_duration": good.replace("<duration>", "<duration>99999999", 1),
    }


def _replace_fifths(text: str, fifths: int) -> str:
    import re

    if "<fifths>" in text:
        return re.sub(r"<fifths>-?\d+</fifths>", f"<fifths>{fifths}</fifths>", text)
    return text.replace("<divisions>", f"<key><fifths>{fifths}</fifths></key><divisions>", 1)


def extra_midi(folder: Path) -> list[Path]:
    """MIDI files that are valid but odd, beside the byte-level mutants."""
    import symusic

    out = []

    def save(name: str, score: symusic.Score) -> None:
        path = folder / name
        score.dump_midi(str(path))
        out.append(path)

    # 200 note-ons and no note-offs, as raw bytes (symusic only writes whole notes)
    events = b"".join(fuzzing.vlq(120) + bytes([0x90, 60 + i % 12, 90]) for i in range(200))
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + (480).to_bytes(2, "big")
    (folder / "hanging_notes.mid").write_bytes(header + fuzzing.mtrk(events))
    out.append(folder / "hanging_notes.mid")
    for name, ts, qpm in (
        ("meter_255.mid", (255, 255), 120.0),
        ("tempo_tiny.mid", (4, 4), 0.01),
        ("tempo_huge.mid", (4, 4), 60000.0),
    ):
        score = symusic.Score(480)
        score.tempos.append(symusic.Tempo(0, qpm=qpm))
        score.time_signatures.append(symusic.TimeSignature(0, *ts))
        track = symusic.Track("t", 0, False)
        for i in range(16):
            track.notes.append(symusic.Note(i * 480, 480, 60 + (i * 2) % 12, 90))
        score.tracks.append(track)
        save(name, score)
    return out


def damaged_inputs(root: Path, midi_count: int = 11, audio_count: int = 11, seed: int = 0) -> dict[str, list[Path]]:
    """Write the damaged inputs under ``root``; returns them by kind ("score" for MIDI/ABC/MusicXML, "audio")."""
    score_dir, audio_dir = root / "score_inputs", root / "audio_inputs"
    score_dir.mkdir(parents=True)
    scores = [p for p, _ in fuzzing.write_midi_mutants(score_dir, midi_count, seed)]
    scores += extra_midi(score_dir)
    for name, text in ABC_VARIANTS.items():
        (score_dir / f"{name}.abc").write_text(text, encoding="utf-8", errors="surrogateescape")
        scores.append(score_dir / f"{name}.abc")
    good_xml = score_dir / "from_folk.musicxml"
    _musicxml_of(sorted(fuzzing.FOLK.glob("*.mid"))[0], good_xml)
    for name, text in musicxml_variants(good_xml.read_text()).items():
        (score_dir / f"{name}.musicxml").write_text(text)
        scores.append(score_dir / f"{name}.musicxml")
    good_xml.unlink()
    audio = [p for p, _ in fuzzing.write_audio_mutants(audio_dir, audio_count, seed, long_files=0)]
    return {"score": scores, "audio": audio}


def _musicxml_of(midi: Path, out: Path) -> None:
    import music21

    music21.converter.parse(str(midi)).write("musicxml", fp=str(out))


# ----------------------------------------------------------------------------- one command, checked


@dataclass
class Outcome:
    """What one case did; ``problems`` empty means it passed."""

    case: str
    returncode: int | None
    problems: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def record(outcomes: list[Outcome]) -> None:
    """Append the outcomes as JSON lines to $TUNESMITH_FAULTS_JSONL, when it is set (the benchmark's tally)."""
    target = os.environ.get("TUNESMITH_FAULTS_JSONL")
    if not target:
        return
    import json

    with open(target, "a") as f:
        for o in outcomes:
            f.write(json.dumps({"case": o.case, "returncode": o.returncode, "problems": o.problems}) + "\n")


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` with its content's hash: what must still be there, unchanged."""
    files = {}
    for root in roots:
        for p in [root] if root.is_file() else sorted(root.rglob("*")) if root.exists() else []:
            if p.is_file() and not p.name.startswith(".tunesmith"):
                files[str(p)] = hashlib.sha1(p.read_bytes()).hexdigest()
    return files


def lost(before: dict[str, str]) -> list[str]:
    """The files of ``before`` now missing or changed."""
    out = []
    for path, digest in before.items():
        p = Path(path)
        if not p.is_file():
            out.append(f"{p.name} is gone")
        elif hashlib.sha1(p.read_bytes()).hexdigest() != digest:
            out.append(f"{p.name} was changed")
    return out


def temp_litter(folder: Path) -> list[str]:
    """Hidden temp files a writer left behind (``.name.tmp...``, ``.tunesmith-...``), lock files excepted."""
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob(".*")
        if p.name != ".tunesmith.lock" and not p.name.endswith(".lock") and (".tmp" in p.name or p.name.startswith(".tunesmith-"))
    )


def run_in_process(argv: list[str]) -> tuple[int | None, str, str | None]:
    """``tunesmith argv`` in this process: (exit code, stderr, the escaped exception or None)."""
    import warnings

    from tunesmith.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(["--quiet", *argv])
        except SystemExit as exc:  # argparse refusals: exit 2 with a usage line, no traceback
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - the very thing a case counts
            return None, err.getvalue(), f"{type(exc).__name__}: {exc}"
    return code, err.getvalue(), None


def check_damaged_input(label: str, argv: list[str], source: Path, output: Path) -> Outcome:
    """Run one command over one damaged input; ``output`` is the file or folder it was asked to write."""
    before = snapshot(source)
    code, stderr, escaped = run_in_process(argv)
    outcome = Outcome(label, code, stderr=stderr[-2000:])
    if escaped:
        outcome.problems.append(f"traceback: {escaped}"[:400])
    elif "Traceback" in stderr:
        outcome.problems.append("traceback in stderr")
    elif code not in (0, 1, 2):
        outcome.problems.append(f"exit code {code}")
    outcome.problems += lost(before)
    if code not in (0, None):
        if output.is_file():
            outcome.problems.append(f"refused, yet wrote {output.name}")
        elif output.is_dir() and any(p.name != ".tunesmith.lock" for p in output.iterdir()):
            outcome.problems.append(f"refused, yet left files in {output.name}/")
        if code == 1 and not stderr.strip().startswith("error:") and "error:" not in stderr:
            outcome.problems.append("refused without an error message")
    elif code == 0:
        written = [output] if output.exists() else sorted(output.parent.glob(f"{output.stem}-X*{output.suffix}"))  # one per tune
        if not any(p.is_file() and p.stat().st_size > 0 or p.is_dir() and any(p.iterdir()) for p in written):
            outcome.problems.append("said it succeeded, but wrote nothing")
    outcome.problems += [f"temp file left: {t}" for t in temp_litter(output.parent)]
    return outcome


SCORE_COMMANDS = {
    "render": lambda src, out: (["render", str(src), "-o", str(out / "x.wav")], out / "x.wav"),
    "plot": lambda src, out: (["plot", str(src), "-o", str(out / "x.html")], out / "x.html"),
    "score": lambda src, out: (["score", str(src), "-o", str(out / "x.svg")], out / "x.svg"),
    "export_abc": lambda src, out: (["export", str(src), "-o", str(out / "x.abc")], out / "x.abc"),
    "export_musicxml": lambda src, out: (["export", str(src), "-o", str(out / "x.musicxml")], out / "x.musicxml"),
    "harmonize": lambda src, out: (["harmonize", str(src), "-o", str(out / "x.mid")], out / "x.mid"),
    "generate": lambda src, out: (
        ["melody", "generate", "--primer", str(src), "-n", "1", "--steps", "16", "--seed", "1", "-o", str(out / "gen")],
        out / "gen",
    ),
}
AUDIO_COMMANDS = {
    "spectrogram": lambda src, out: (["spectrogram", str(src), "-o", str(out / "x.png")], out / "x.png"),
    "transcribe": lambda src, out: (["transcribe", str(src), "-o", str(out / "x.mid")], out / "x.mid"),
    "generate": lambda src, out: (
        ["melody", "generate", "--primer", str(src), "-n", "1", "--steps", "16", "--seed", "1", "-o", str(out / "gen")],
        out / "gen",
    ),
    "audio_generate": lambda src, out: (
        ["audio", "generate", "--seed-clip", str(src), "--seconds", "1", "-n", "1", "-o", str(out / "audio")],
        out / "audio",
    ),
}


# the slower commands, over a few inputs of each kind (``SAMPLE`` names): the same checks
SLOW_SCORE_COMMANDS = {
    "video": lambda src, out: (["video", str(src), "-o", str(out / "x.mp4"), "--size", "320x180", "--fps", "8"], out / "x.mp4"),
}
SLOW_AUDIO_COMMANDS = {
    "audio_train": lambda src, out: (["audio", "train", str(src), "-o", str(out / "model"), "--epochs", "1"], out / "model"),
    "pipeline": lambda src, out: (
        ["pipeline", str(src), "-o", str(out / "run"), "--seconds", "1", "-n", "1", "--steps", "16", "--instrument", "piano"],
        out / "run",
    ),
}
SAMPLE = ("truncate", "huge_delta", "bitflip", "hanging_notes", "abc_chords", "abc_six_flats", "xml_truncated", "xml_good")
AUDIO_SAMPLE = ("bitflip", "truncate_header", "bad_fmt", "nan_inf", "no_samples", "odd_rate")


def sample(paths: list[Path], names: tuple[str, ...]) -> list[Path]:
    """The first input whose name holds each of ``names``."""
    return [next(p for p in paths if name in p.stem) for name in names if any(name in p.stem for p in paths)]


def damaged_input_cases(inputs: dict[str, list[Path]]) -> Iterator[tuple[str, str, Path, dict]]:
    """(label, command name, input, command table) for every input and every command that reads its kind."""
    for kind, table in (("score", SCORE_COMMANDS), ("audio", AUDIO_COMMANDS)):
        for source in inputs[kind]:
            for name in table:
                yield f"{name}:{source.name}", name, source, table


def run_damaged_input_case(label: str, name: str, source: Path, table: dict, work: Path) -> Outcome:
    out = work / label.replace(":", "__")
    out.mkdir(parents=True)
    argv, output = table[name](source, out)
    return check_damaged_input(label, argv, source, output)


def damaged_folder(inputs: dict[str, list[Path]], folder: Path, real: int) -> Path:
    """A folder of every damaged score file plus ``real`` real tunes: what a user's messy collection looks like."""
    import shutil

    folder.mkdir()
    for p in [*inputs["score"], *sorted(fuzzing.FOLK.glob("*.mid"))[:real]]:
        shutil.copy(p, folder / p.name)
    return folder


def evaluate_case(inputs: dict[str, list[Path]], work: Path) -> Outcome:
    """``evaluate`` of the shipped model against a folder of damaged files plus real tunes: skip and report."""
    source = damaged_folder(inputs, work / "evaluate_in", real=8)
    argv = ["evaluate", "--model", "default", "--data", str(source), "-n", "4", "--realism", "0", "-o", str(work / "report")]
    return check_damaged_input("evaluate:damaged_folder", argv, source, work / "report")


def prepare_case(inputs: dict[str, list[Path]], work: Path) -> Outcome:
    """``prepare`` over a folder of every damaged score file plus real tunes: it must skip and report, not die."""
    source = damaged_folder(inputs, work / "prepare_in", real=12)
    argv = ["prepare", str(source), "-o", str(work / "corpus"), "--workers", "1"]
    outcome = check_damaged_input("prepare:damaged_folder", argv, source, work / "corpus")
    if outcome.returncode == 0 and not (work / "corpus" / "corpus.json").is_file():
        outcome.problems.append("no corpus.json")
    return outcome


# ----------------------------------------------------------------------------- faults (separate processes)


def start(argv: list[str], cwd: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, TUNESMITH_QUIET="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen(
        [*PY, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=False,
        preexec_fn=fuzzing.ctrl_c_as_typed,
    )


def descendants(pid: int) -> list[int]:
    import psutil

    with contextlib.suppress(psutil.Error):
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    return []


def left_alive(pids: list[int], grace: float = 5.0) -> list[int]:
    """Those of ``pids`` still running (not zombies) after ``grace`` seconds."""
    import psutil

    deadline = time.monotonic() + grace
    while True:
        alive = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def interrupt_case(
    label: str, argv: list[str], ready: float | Callable[[], bool], keep: list[Path], *, sig: int, timeout: float = 120.0
) -> Outcome:
    """Start ``argv``, wait until ``ready()`` says it is at work (or ``ready`` seconds), then send ``sig``
    (SIGINT: Ctrl-C; SIGKILL: kill -9)."""
    before = snapshot(*keep)
    proc = start(argv)
    if isinstance(ready, int | float):  # seconds after the start
        at_work = time.monotonic() + ready
        ready = lambda: time.monotonic() > at_work  # noqa: E731
    started = wait_for(lambda: proc.poll() is not None or ready(), timeout)
    children = descendants(proc.pid)
    if proc.poll() is None:
        (os.kill(proc.pid, sig))
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        stderr += "\n[did not stop]"
    outcome = Outcome(label, proc.returncode, stderr=stderr[-2000:])
    if not started:
        outcome.problems.append("never got to work")
    if "Traceback" in stderr:
        outcome.problems.append("traceback in stderr")
    if "[did not stop]" in stderr:
        outcome.problems.append(f"did not stop within {timeout:.0f} s of the signal")
    if sig == signal.SIGINT and proc.returncode not in (130, 0):
        outcome.problems.append(f"Ctrl-C exit code {proc.returncode}, not 130")
    outcome.problems += lost(before)
    outcome.problems += [f"process {pid} left running" for pid in left_alive(children)]
    return outcome


def concurrent_case(label: str, argv: list[str], output: Path, timeout: float = 300.0) -> Outcome:
    """Two identical runs at once at one output: one may win, the other must be refused, never both 'succeed'."""
    procs = [start(argv), start(argv)]
    results = [p.communicate(timeout=timeout) for p in procs]
    codes = [p.returncode for p in procs]
    stderr = "\n".join(e for _, e in results)
    outcome = Outcome(label, max(codes), stderr=stderr[-2000:])
    if "Traceback" in stderr:
        outcome.problems.append("traceback in stderr")
    if codes.count(0) == 2:
        outcome.problems.append("both runs reported success at one output (one of them was lost or they mixed)")
    if codes.count(0) == 0:
        outcome.problems.append(f"neither run succeeded ({codes})")
    if not output.exists():
        outcome.problems.append("no output at all")
    outcome.problems += [f"temp file left: {t}" for t in temp_litter(output.parent)]
    return outcome


def blocked_target_case(label: str, argv: list[str], target: Path, words: tuple[str, ...]) -> Outcome:
    """A command aimed at a full disk or a read-only folder: a plain message with one of ``words``, nothing left."""
    before = snapshot(target)
    code, stderr, escaped = run_in_process(argv)
    outcome = Outcome(label, code, stderr=stderr[-2000:])
    if escaped:
        outcome.problems.append(f"traceback: {escaped}"[:400])
    elif code != 1:
        outcome.problems.append(f"exit code {code}, not 1")
    if not any(w in stderr.lower() for w in words):
        outcome.problems.append(f"message says none of {words}: {stderr.strip()[-200:]!r}")
    outcome.problems += lost(before)
    extra = sorted(set(snapshot(target)) - set(before))
    outcome.problems += [f"left {Path(p).name}" for p in extra]
    outcome.problems += [f"temp file left: {t}" for t in temp_litter(target)]
    return outcome
