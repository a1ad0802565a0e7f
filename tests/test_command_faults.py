"""The fuzz and fault suite: every command over damaged MIDI, ABC, MusicXML and audio, and through Ctrl-C,
kill -9, a full disk, a read-only target and two runs at once (issue 30). The checks are in ``command_faults``;
``benchmarks/bench_faults.py`` runs the same cases and prints their counts."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import symusic

import command_faults as cf
from conftest import FOLK, fill

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, list[Path]]:
    return cf.damaged_inputs(tmp_path_factory.mktemp("damaged"))


def _report(outcomes: list[cf.Outcome]) -> str:
    """The failures in words; also appends every outcome to $TUNESMITH_FAULTS_JSONL (bench_faults.py counts them)."""
    cf.record(outcomes)
    bad = [o for o in outcomes if not o.ok]
    return f"{len(bad)} of {len(outcomes)} cases failed:\n" + "\n".join(
        f"  {o.case}: {'; '.join(o.problems)} | {o.stderr.strip()[-160:]!r}" for o in bad[:40]
    )


def _run_all(command: str, table: dict, sources: list[Path], work: Path) -> list[cf.Outcome]:
    return [cf.run_damaged_input_case(f"{command}:{src.name}", command, src, table, work) for src in sources]


@pytest.mark.parametrize("command", sorted(cf.SCORE_COMMANDS))
def test_score_commands_on_damaged_scores(command, inputs, tmp_path):
    outcomes = _run_all(command, cf.SCORE_COMMANDS, inputs["score"], tmp_path)
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report
    assert any(o.returncode == 0 for o in outcomes), "no damaged or odd input was read at all: the cases test nothing"


@pytest.mark.parametrize("command", sorted(cf.AUDIO_COMMANDS))
def test_audio_commands_on_damaged_audio(command, inputs, tmp_path):
    outcomes = _run_all(command, cf.AUDIO_COMMANDS, inputs["audio"], tmp_path)
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report


@pytest.mark.parametrize("command", sorted(cf.SLOW_SCORE_COMMANDS) + sorted(cf.SLOW_AUDIO_COMMANDS))
def test_slower_commands_on_damaged_inputs(command, inputs, tmp_path):
    if command in cf.SLOW_SCORE_COMMANDS:
        table, sources = cf.SLOW_SCORE_COMMANDS, cf.sample(inputs["score"], cf.SAMPLE)
    else:
        table, sources = cf.SLOW_AUDIO_COMMANDS, cf.sample(inputs["audio"], cf.AUDIO_SAMPLE)
    assert len(sources) >= 5
    outcomes = _run_all(command, table, sources, tmp_path)
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report


def test_evaluate_skips_damaged_files(inputs, tmp_path):
    outcome = cf.evaluate_case(inputs, tmp_path)
    report = _report([outcome])
    assert outcome.ok and outcome.returncode == 0, report


def test_prepare_skips_and_reports_damaged_files(inputs, tmp_path):
    outcome = cf.prepare_case(inputs, tmp_path)
    report = _report([outcome])
    assert outcome.ok and outcome.returncode == 0, report


# ----------------------------------------------------------------------------- faults


def long_tune(path: Path, minutes: float = 6.0) -> Path:
    """A multi-track piece long enough to be caught mid-render."""
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, qpm=120))
    beats = int(minutes * 120)
    for program, base in ((0, 60), (24, 48), (40, 72)):
        track = symusic.Track(f"p{program}", program, False)
        for i in range(beats * 2):
            track.notes.append(symusic.Note(i * 240, 240, base + (i * 5) % 12, 80))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupted_commands_lose_nothing_and_leave_no_process(sig, tmp_path):
    tune = long_tune(tmp_path / "long.mid")
    existing = tmp_path / "take.wav"
    existing.write_bytes(b"RIFF my only copy")
    corpus_src = tmp_path / "tunes"
    corpus_src.mkdir()
    for p in sorted(FOLK.glob("*.mid")):
        (corpus_src / p.name).write_bytes(p.read_bytes())
    cases = [
        ("render", ["render", str(tune), "-o", str(tmp_path / "renders" / "take.wav")], 4.0, [tune, existing]),
        (
            "prepare",
            ["prepare", str(corpus_src), "-o", str(tmp_path / "corpus"), "--workers", "2", "--fresh"],
            3.5,
            [corpus_src],
        ),
        (
            "melody train",
            [
                "melody",
                "train",
                str(corpus_src),
                "-o",
                str(tmp_path / "model"),
                "--steps",
                "100000",
                "--config",
                "basic_rnn",
                "--batch-size",
                "8",
            ],
            lambda: (tmp_path / "model" / "log.jsonl").exists(),
            [corpus_src],
        ),
        (
            "melody generate",
            ["melody", "generate", "--primer", str(tune), "-n", "4", "--steps", "4000", "-o", str(tmp_path / "gen")],
            4.0,
            [tune],
        ),
    ]
    outcomes = []
    for name, argv, ready, keep in cases:
        outcomes.append(cf.interrupt_case(f"{name}:{sig.name}", argv, ready, keep, sig=sig))
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report


def test_two_runs_at_one_output_never_both_succeed(tmp_path):
    tune = long_tune(tmp_path / "long.mid", minutes=2.0)
    outcomes = [
        cf.concurrent_case("render", ["render", str(tune), "-o", str(tmp_path / "same.wav")], tmp_path / "same.wav"),
        cf.concurrent_case(  # seconds of work, so that the two runs overlap (one after the other may both succeed)
            "melody generate",
            ["melody", "generate", "--primer", "C4", "-n", "4", "--steps", "3000", "-o", str(tmp_path / "gen")],
            tmp_path / "gen",
        ),
        cf.concurrent_case("plot", ["plot", str(tune), "-o", str(tmp_path / "same.html")], tmp_path / "same.html"),
    ]
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report


@pytest.fixture
def blocked_targets(tmpfs):
    """A full disk and a read-only one (real tmpfs mounts), each holding a file of the user's."""

    def mine(folder: Path) -> None:
        (folder / "mine.txt").write_text("a file of mine")

    full = tmpfs("full", "256k", before=mine)
    fill(full)  # to the last byte: every write of a command fails
    return full, tmpfs("readonly", "64k", readonly=True, before=mine)


def test_full_disk_and_read_only_targets(blocked_targets, tmp_path):
    full, readonly = blocked_targets
    tune = sorted(FOLK.glob("*.mid"))[3]
    wav = tmp_path / "clip.wav"
    import numpy as np
    import soundfile

    soundfile.write(wav, (0.3 * np.sin(2 * np.pi * 330 * np.arange(32000) / 16000)).astype("float32"), 16000)
    commands = {
        "render": lambda t: ["render", str(tune), "-o", str(t / "x.wav")],
        "plot": lambda t: ["plot", str(tune), "-o", str(t / "x.html")],
        "score": lambda t: ["score", str(tune), "-o", str(t / "x.svg")],
        "export": lambda t: ["export", str(tune), "-o", str(t / "x.musicxml")],
        "harmonize": lambda t: ["harmonize", str(tune), "-o", str(t / "x.musicxml")],
        "spectrogram": lambda t: ["spectrogram", str(wav), "-o", str(t / "x.png")],
        "transcribe": lambda t: ["transcribe", str(wav), "-o", str(t / "x.mid")],
        "generate": lambda t: ["melody", "generate", "--primer", str(tune), "-n", "4", "--plot", "-o", str(t / "gen")],
    }
    outcomes = []
    for name, argv in commands.items():
        outcomes.append(cf.blocked_target_case(f"{name}:full", argv(full), full, ("disk full", "no space")))
        outcomes.append(cf.blocked_target_case(f"{name}:read-only", argv(readonly), readonly, ("not writable", "read-only")))
    report = _report(outcomes)
    assert all(o.ok for o in outcomes), report
