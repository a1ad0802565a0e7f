"""Primers: turn whatever the user typed or dropped in into a Melody to continue.

Accepted forms: a Melody; a list of events; a Magenta event list string ``"[60, -2, 62, -1]"``;
note names ``"C#4"``, ``"#C"``, ``"C4 E4 G4"`` (each held one quarter note); a MIDI/MusicXML/ABC file
(its melody, optionally only its last ``primer_bars`` bars); or None. An audio file is transcribed one layer up,
by ``tunesmith.audio.transcribe.read_primer`` (which the model's ``generate`` uses), since music/ reads no audio.
A primer keeps its meter (a file's time signature; ``meter="6/8"`` sets it, e.g. for note names).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, NO_EVENT, NOTE_OFF, Melody
from tunesmith.music.meter import parse_meter
from tunesmith.music.midi import SCORE_SUFFIXES, melody_from_score, read_score
from tunesmith.music.notes import name_to_pitch


def parse_primer(
    primer,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    primer_bars: int | None = None,
    qpm: float | None = None,
    meter: str | tuple[int, int] | None = None,
) -> Melody | None:
    """Parse any primer form into a Melody (None stays None: the caller picks a start note).

    ``primer_bars``: keep only the last N bars that hold notes (cut at bar lines of the primer's meter).
    ``meter``: the primer's time signature, e.g. ``"6/8"`` (overrides a file's own).
    """
    meter = parse_meter(meter, steps_per_quarter)
    if primer_bars is not None and primer_bars < 1:
        raise BadInputError(f"--primer-bars must be at least 1, not {primer_bars}")
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
    if meter is not None:
        own = melody.meta.get("file_meter")
        if own is not None and tuple(own) != tuple(meter):
            raise BadInputError(
                f"primer {primer}: the file is in {own[0]}/{own[1]} (its time signature) but --meter says "
                f"{meter[0]}/{meter[1]}; drop --meter to continue in the file's meter, or change the time signature "
                "in your editor if the file's is wrong"
            )
        melody = melody.copy(meter=meter)
    if qpm:
        melody.qpm = float(qpm)
    if not (melody.events >= 0).any():
        if isinstance(primer, os.PathLike) or (isinstance(primer, str) and _looks_like_path(primer)):
            raise BadInputError(f"primer {primer}: the file holds no notes")
        raise BadInputError(f"primer {str(primer)[:60]!r} holds no notes")
    if primer_bars:
        melody = last_bars(melody, primer_bars)
    return melody


def last_bars(melody: Melody, bars: int) -> Melody:
    """The last ``bars`` bars of a melody that hold notes, cut at its bar lines (trailing empty bars dropped).

    A cut note that started before the cut is dropped (its tail becomes a rest); the result starts on a bar line,
    so bar positions stay those of the meter.
    """
    spb = melody.steps_per_bar
    onsets = np.flatnonzero(melody.events >= 0)
    if not onsets.size:
        return melody
    last_bar = int(onsets[-1]) // spb
    start = max(0, last_bar - bars + 1) * spb
    events = melody.events[start : (last_bar + 1) * spb].copy()
    events[: np.flatnonzero(events >= 0)[0]] = NO_EVENT  # nothing sounds before the first onset of the cut
    return melody.copy(events=events)


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 1024:  # note text, not a file name (is_file() raises on a 1,800-character name)
        return False
    try:
        return Path(text).suffix.lower() in (".mid", ".midi") + SCORE_SUFFIXES or Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, or one holding a NUL byte
        return False


def _primer_from_file(path: Path, steps_per_quarter: int) -> Melody:
    if not path.is_file():
        raise BadInputError(f"primer file {path} does not exist")
    try:
        score = read_score(path)
        melody = melody_from_score(score, steps_per_quarter=steps_per_quarter)
    except BadInputError as exc:
        text = str(exc)
        raise BadInputError(text if str(path) in text else f"primer {path}: {text}") from None
    melody.name = path.stem
    if len(score.time_signatures):
        ts = score.time_signatures[0]
        if melody.meter is None:  # a damaged time signature (255/0...): bars of 4/4, said
            warnings.warn(
                f"primer {path}: its time signature {ts.numerator}/{ts.denominator} is not a meter tunesmith can use; "
                "reading it in 4/4 (choose one with --meter)",
                stacklevel=3,
            )
        else:
            melody.meta["file_meter"] = melody.meter
    return melody


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
