"""Real MIDI files of a chosen length for the render/video benchmarks, built from the shared folk tunes.

``long_tune``: tunes played one after another (one track), e.g. a 9-minute song for ``video``.
``band``: the same tunes as a 4-track arrangement (fiddle melody, piano chords, bass, drums), the kind
of multi-track file ``render`` meets in practice.
"""

from __future__ import annotations

from pathlib import Path

import symusic

from _common import FOLK, TEST_FOLK

TPQ = 480


def _tunes() -> list[Path]:
    folder = FOLK / "train" if (FOLK / "train").is_dir() else TEST_FOLK
    return sorted(folder.rglob("*.mid"))


def _melody_notes(seconds: float, qpm: float) -> list[tuple[int, int, int, int]]:
    """(time, duration, pitch, velocity) in ticks of folk tunes back to back until ``seconds`` is filled."""
    limit = int(seconds * qpm / 60 * TPQ)
    notes, offset = [], 0
    for path in _tunes():
        score = symusic.Score(str(path)).resample(TPQ)
        track = max(score.tracks, key=lambda t: len(t.notes), default=None)
        if track is None or len(track.notes) < 2 * track.end() / TPQ * 60 / qpm:
            continue  # fewer than 2 notes a second: a tune of long notes, not what a song sounds like
        for note in track.notes:
            if offset + note.time + note.duration > limit:
                return notes
            notes.append((offset + note.time, note.duration, note.pitch, max(60, note.velocity)))
        offset += track.end() + TPQ  # a beat of rest between tunes
    return notes


def _score(qpm: float) -> symusic.Score:
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    return score


def long_tune(seconds: float, path: Path, qpm: float = 120.0) -> Path:
    score = _score(qpm)
    track = symusic.Track("melody", 40, False)
    for time, duration, pitch, velocity in _melody_notes(seconds, qpm):
        track.notes.append(symusic.Note(time, duration, pitch, velocity))
    score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def band(seconds: float, path: Path, qpm: float = 120.0) -> Path:
    """Melody (fiddle) + a chord on every beat (piano) + root per half bar (bass) + a rock beat (drums)."""
    score = _score(qpm)
    melody = symusic.Track("fiddle", 40, False)
    chords = symusic.Track("piano", 0, False)
    bass = symusic.Track("bass", 33, False)
    drums = symusic.Track("drums", 0, True)
    notes = _melody_notes(seconds, qpm)
    for time, duration, pitch, velocity in notes:
        melody.notes.append(symusic.Note(time, duration, pitch, velocity))
    end = notes[-1][0] + notes[-1][1] if notes else 0
    current = 0
    for beat in range(0, end, TPQ):
        while current + 1 < len(notes) and notes[current + 1][0] <= beat:
            current += 1
        root = notes[current][2] % 12 + 48
        for interval in (0, 4, 7):
            chords.notes.append(symusic.Note(beat, TPQ - 20, root + interval, 70))
        if beat % (2 * TPQ) == 0:
            bass.notes.append(symusic.Note(beat, 2 * TPQ - 20, root - 12, 90))
        drums.notes.append(symusic.Note(beat, TPQ // 4, 42, 80))  # hi-hat
        drums.notes.append(symusic.Note(beat, TPQ // 4, 36 if beat % (2 * TPQ) == 0 else 38, 100))  # kick / snare
    score.tracks.extend([melody, chords, bass, drums])
    score.dump_midi(str(path))
    return path
