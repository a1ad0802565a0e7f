"""Primers: turn whatever the user typed or dropped in into a Melody to continue.

Accepted forms: a Melody; a list of events; a Magenta event list string ``"[60, -2, 62, -1]"``;
note names ``"C#4"``, ``"#C"``, ``"C4 E4 G4"`` (each held one quarter note); a MIDI/MusicXML/ABC file
(its melody, optionally only its last ``primer_bars`` bars); an audio file (transcribed); or None.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tunesmith.errors import BadInputError
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, NO_EVENT, NOTE_OFF, Melody
from tunesmith.music.midi import SCORE_SUFFIXES, melody_from_score, read_score
from tunesmith.music.notes import name_to_pitch

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a")


def parse_primer(
    primer, *, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER, primer_bars: int | None = None, qpm: float | None = None
) -> Melody | None:
    """Parse any primer form into a Melody (None stays None: the caller picks a start note)."""
    if primer is None or (isinstance(primer, str) and not primer.strip()):
        return None
    if isinstance(primer, Melody):
        melody = primer.copy()
    elif isinstance(primer, list | tuple | np.ndarray):
        melody = Melody(np.asarray(primer, dtype=np.int64).astype(np.int16), steps_per_quarter=steps_per_quarter)
    elif isinstance(primer, os.PathLike) or (isinstance(primer, str) and _looks_like_path(primer)):
        melody = _primer_from_file(Path(primer), steps_per_quarter)
    else:
        melody = _primer_from_text(str(primer).strip(), steps_per_quarter)
    if primer_bars:
        keep = primer_bars * melody.steps_per_bar
        if len(melody) > keep:
            events = melody.events[-keep:].copy()
            if events[0] < 0:  # start on a note: drop leading holds/offs
                first = np.flatnonzero(events >= 0)
                events = events[first[0] :] if first.size else events
            melody = melody.copy(events=events)
    if qpm:
        melody.qpm = float(qpm)
    if not (melody.events >= 0).any():
        if isinstance(primer, os.PathLike) or (isinstance(primer, str) and _looks_like_path(primer)):
            raise BadInputError(
                f"primer {primer}: the file holds no notes" + (f" in its last {primer_bars} bars" if primer_bars else "")
            )
        raise BadInputError(f"primer {str(primer)[:60]!r} holds no notes")
    return melody


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 1024:  # note text, not a file name (is_file() raises on a 1,800-character name)
        return False
    try:
        return Path(text).suffix.lower() in (".mid", ".midi") + SCORE_SUFFIXES + AUDIO_SUFFIXES or Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, or one holding a NUL byte
        return False


def _primer_from_file(path: Path, steps_per_quarter: int) -> Melody:
    if not path.is_file():
        raise BadInputError(f"primer file {path} does not exist")
    if path.suffix.lower() in AUDIO_SUFFIXES:
        from tunesmith.transcribe import transcribe

        return transcribe(path, steps_per_quarter=steps_per_quarter)
    try:
        return melody_from_score(read_score(path), steps_per_quarter=steps_per_quarter)
    except BadInputError as exc:
        if str(path) in str(exc):
            raise
        raise BadInputError(f"primer {path}: {exc}") from None


def _primer_from_text(text: str, steps_per_quarter: int) -> Melody:
    if text.startswith("["):
        try:
            events = json.loads(text)
        except json.JSONDecodeError:
            bad = next((t for t in text.strip("[]").split(",") if not t.strip().lstrip("-").isdigit()), text)
            raise BadInputError(f"primer event list has a bad token {bad.strip()!r}; write e.g. [60, -2, 62, -1]") from None
        if not isinstance(events, list) or not all(isinstance(e, int) for e in events):
            bad = next((e for e in events if not isinstance(e, int)), events) if isinstance(events, list) else events
            raise BadInputError(f"primer event list has a bad token {bad!r}; events are ints: pitch, -1 off, -2 hold")
        bad = [e for e in events if not (NO_EVENT <= e <= 127)]
        if bad:
            raise BadInputError(f"primer event {bad[0]} is invalid; use pitches 0-127, -1 (note off) or -2 (no event)")
        return Melody(np.asarray(events, dtype=np.int16), steps_per_quarter=steps_per_quarter)
    events: list[int] = []
    for token in text.replace(",", " ").split():
        if token in ("_", "-"):  # hold one more quarter / rest one quarter
            events += [NO_EVENT if token == "_" else NOTE_OFF] + [NO_EVENT] * (steps_per_quarter - 1)
            continue
        try:
            pitch = name_to_pitch(token)
        except BadInputError as exc:
            raise BadInputError(f"primer: bad token {token!r} ({exc})") from None
        events += [pitch] + [NO_EVENT] * (steps_per_quarter - 1)
    return Melody(np.asarray(events, dtype=np.int16), steps_per_quarter=steps_per_quarter)
