"""Shared fixtures: real folk-tune MIDI files (public domain, O'Neill's 1850 and Ryan's Mammoth
Collection, written by music21) plus files made here with symusic, and a corrupt-file set."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import symusic

# isort: off
import tunesmith  # noqa: F401 - before torch, as a user imports: it sets OMP_WAIT_POLICY=PASSIVE
import torch

# isort: on

DATA = Path(__file__).parent / "data"
FOLK = DATA / "folk"

torch.set_num_threads(min(2, os.cpu_count() or 1))
os.environ.setdefault("TUNESMITH_QUIET", "1")


def make_score(notes, tpq=480, qpm=120.0, program=0, is_drum=False, time_signature=(4, 4), extra_tracks=()):
    """A Score from (pitch, start_beat, duration_beats) triples."""
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    score.time_signatures.append(symusic.TimeSignature(0, *time_signature))
    for track_notes, prog, drum in [(notes, program, is_drum), *extra_tracks]:
        track = symusic.Track("t", prog, drum)
        for pitch, start, dur in track_notes:
            track.notes.append(symusic.Note(int(start * tpq), int(dur * tpq), pitch, 90))
        score.tracks.append(track)
    return score


def scale_tune(bars=8, base=60):
    """A C-major tune of quarter notes, ``bars`` bars of 4/4."""
    degrees = [0, 2, 4, 5, 7, 9, 11, 12]
    return [(base + degrees[i % 8], i, 1.0) for i in range(bars * 4)]


@pytest.fixture
def folk_dir() -> Path:
    return FOLK


@pytest.fixture
def messy_corpus(tmp_path: Path) -> Path:
    """Real tunes plus one file for every skip reason."""
    root = tmp_path / "messy"
    (root / "sub").mkdir(parents=True)
    for f in sorted(FOLK.glob("*.mid"))[:30]:
        shutil.copy(f, root / "sub" / f.name)
    (root / "text.mid").write_text("this is not a MIDI file\n")
    (root / "empty.mid").write_bytes(b"")
    good = sorted(FOLK.glob("*.mid"))[0].read_bytes()
    (root / "truncated.mid").write_bytes(good[: len(good) // 3])
    make_score([(36, i, 0.5) for i in range(64)], is_drum=True).dump_midi(str(root / "drums.mid"))
    make_score(scale_tune(bars=2)).dump_midi(str(root / "short.mid"))
    make_score([(60 + (i % 2) * 2, i, 1) for i in range(40)]).dump_midi(str(root / "two_pitches.mid"))
    make_score([]).dump_midi(str(root / "no_notes.mid"))
    return root


def plucked_tune(seconds: float = 6.0, seed: int = 0, sr: int = 16000):
    """Harmonic tones with decaying envelopes, four a second: a plucked instrument playing a tune (audio tests)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(int(0.25 * sr)) / sr
    for start in range(0, len(out) - len(t), len(t)):
        f0 = 220.0 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-6 * t)
        out[start : start + len(t)] += 0.3 * tone.astype(np.float32)
    return out


@pytest.fixture
def tmpfs(tmp_path):
    """Mount real small file systems (tmpfs, root only), where writes fail with ENOSPC or EROFS for real:
    ``tmpfs("disk", "64k")`` -> its folder (``readonly=True``: remounted read-only once ``before(folder)`` has run).
    Every mount is undone after the test; without root, or where mounting fails, the test is skipped."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[Path] = []

    def mount(name: str, size: str, *, readonly: bool = False, before=None) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
        mounted.append(point)
        if before is not None:
            before(point)
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        return point

    try:
        yield mount
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


def fill(disk: Path, leave: int = 0) -> None:
    """Fill ``disk`` up to ``leave`` bytes free (0: to the last byte, so that every write fails)."""
    free = shutil.disk_usage(disk).free - leave
    with open(disk / "filler", "wb") as handle:
        while free > 0:
            try:
                handle.write(b"\0" * min(free, 1 << 16))
                handle.flush()
            except OSError:
                break
            free -= 1 << 16


def pytest_collection_modifyitems(config, items):
    """A browser test is a slow test too: ``-m "not slow"`` (the fast tier) leaves Chromium out."""
    for item in items:
        if item.get_closest_marker("browser") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
