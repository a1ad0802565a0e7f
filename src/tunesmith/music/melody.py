"""Melody: a monophonic line as Magenta's event list, one event per step.

An *event* at each step (by default a 16th note: ``steps_per_quarter=4``) is either
a MIDI pitch 0-127 (a note starts here), ``NOTE_OFF`` (-1, the sounding note stops) or
``NO_EVENT`` (-2, nothing changes: the note holds, or the rest continues). This is exactly
Magenta's ``melodies_lib.Melody`` encoding, so primers written for Magenta mean the same here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.meter import check_meter, meter_of, meter_steps
from tunesmith.music.notes import pitch_to_name

NOTE_OFF = -1
NO_EVENT = -2
DEFAULT_STEPS_PER_QUARTER = 4
DEFAULT_MIN_NOTE = 48
DEFAULT_MAX_NOTE = 84


@dataclass(frozen=True)
class Note:
    """A note in steps (quantised time): ``start`` inclusive, ``end`` exclusive."""

    pitch: int
    start: int
    end: int
    velocity: int = 100


@dataclass
class Melody:
    """A monophonic melody as an event array (see module docstring).

    ``meter`` is the time signature ``(numerator, denominator)`` (None: the one ``steps_per_bar`` implies, 4/4 for 16);
    when given it sets ``steps_per_bar`` (6/8 at 4 steps per quarter -> 12) and ``steps_per_beat`` (6/8 -> 6).
    ``qpm`` is the tempo in quarter notes per minute used when it is played or written.
    ``primer_steps`` marks how many leading steps came from a primer (drawn in another colour).
    """

    events: np.ndarray
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    steps_per_bar: int = 16
    qpm: float = 120.0
    primer_steps: int = 0
    name: str = ""
    meta: dict = field(default_factory=dict)
    meter: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.meter is not None:
            self.meter = check_meter(int(self.meter[0]), int(self.meter[1]), self.steps_per_quarter)
            self.steps_per_bar = meter_steps(self.meter, self.steps_per_quarter)[0]
        events = np.asarray(self.events, dtype=np.int16).reshape(-1)
        if events.size and (events.min() < NO_EVENT or events.max() > 127):
            bad = events[(events < NO_EVENT) | (events > 127)][0]
            raise BadInputError(f"melody event {bad} is invalid; events are pitches 0-127, -1 (note off) or -2 (no event)")
        self.events = events

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_events(cls, events: Iterable[int], **kwargs) -> Melody:
        return cls(np.asarray(list(events), dtype=np.int16), **kwargs)

    @classmethod
    def from_notes(cls, notes: Sequence[Note], length: int | None = None, **kwargs) -> Melody:
        """Build from step-quantised notes, monophonically: a later note cuts an earlier one short, and of
        notes starting on the same step only the highest is kept (Magenta's ``ignore_polyphonic_notes``).

        The melody ends where its last note ends (or at ``length``): a note that lasts to the end gets no NOTE_OFF
        step after it (Magenta strips that final note-off too), so two whole bars of notes are two bars of steps and
        whatever follows them (the next bar's first event) ends the note.
        """
        end = max((n.end for n in notes), default=0)
        size = max(end, length or 0)
        events = np.full(size + 1, NO_EVENT, dtype=np.int16)  # one spare step for a note-off at the very end
        last_onset = None
        for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
            if note.start == last_onset:
                continue
            events[note.start] = note.pitch
            events[note.start + 1 : note.end] = NO_EVENT
            events[note.end] = NOTE_OFF
            last_onset = note.start
        events = events[: size if length is None else length]
        return cls(events, **kwargs)

    # --- views --------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.events.size)

    def notes(self) -> list[Note]:
        """The notes this event list plays (a note lasts until NOTE_OFF, the next onset, or the end)."""
        onsets = np.flatnonzero(self.events >= 0)
        changes = np.flatnonzero(self.events != NO_EVENT)
        out = []
        for start in onsets:
            later = changes[changes > start]
            end = int(later[0]) if later.size else len(self.events)
            out.append(Note(int(self.events[start]), int(start), end))
        return out

    @property
    def pitches(self) -> np.ndarray:
        return self.events[self.events >= 0].astype(np.int64)

    @property
    def steps_per_beat(self) -> int:
        """Steps in one beat of the meter (a quarter in 4/4 and 3/4, a dotted quarter in 6/8, a half in 2/2)."""
        return meter_steps(meter_of(self), self.steps_per_quarter)[1]

    def seconds_per_step(self) -> float:
        return 60.0 / self.qpm / self.steps_per_quarter

    def duration_seconds(self) -> float:
        return len(self) * self.seconds_per_step()

    def summary(self) -> str:
        pitches = self.pitches
        if not pitches.size:
            return f"Melody: {len(self)} steps, no notes"
        from tunesmith.music.key import estimate_key

        key = estimate_key(self)[0]
        return (
            f"Melody: {pitches.size} notes, {len(self)} steps ({self.duration_seconds():.1f} s at {self.qpm:g} qpm), "
            f"key ~{key}, range {pitch_to_name(int(pitches.min()))}-{pitch_to_name(int(pitches.max()))}"
        )

    def copy(self, **changes) -> Melody:
        kwargs = dict(
            events=self.events.copy(),
            steps_per_quarter=self.steps_per_quarter,
            steps_per_bar=self.steps_per_bar,
            qpm=self.qpm,
            primer_steps=self.primer_steps,
            name=self.name,
            meta=dict(self.meta),
            meter=self.meter,
        )
        if "steps_per_bar" in changes and "meter" not in changes:  # a new bar length drops the old meter
            kwargs["meter"] = None
        kwargs.update(changes)
        return Melody(**kwargs)

    # --- transformations ----------------------------------------------------------------
    def transpose(self, amount: int, min_note: int = 0, max_note: int = 128) -> Melody:
        """Shift every pitch by ``amount``; notes landing outside [min_note, max_note) move by octaves."""
        events = self.events.astype(np.int32)
        on = events >= 0
        shifted = events[on] + amount
        shifted = fold_into_range(shifted, min_note, max_note)
        events[on] = shifted
        return self.copy(events=events.astype(np.int16))

    def squash(
        self, min_note: int = DEFAULT_MIN_NOTE, max_note: int = DEFAULT_MAX_NOTE, transpose_to_key: int | None = 0
    ) -> Melody:
        """Magenta's ``Melody.squash``: transpose to a key (C by default) and fold into the range by octaves.

        The key is ``estimate_key``'s, as a major key (a tune in E minor moves as G major, to A minor in C).

        The lowest note is placed in the lowest octave of the range that fits it, then any note still
        outside ``[min_note, max_note)`` is moved by whole octaves.
        """
        pitches = self.pitches
        if not pitches.size:
            return self.copy()
        key_diff = 0 if transpose_to_key is None else (transpose_to_key - _major_tonic(self)) % 12
        if key_diff > 6:
            key_diff -= 12
        lowest = int(pitches.min()) + key_diff
        octaves = math.ceil((min_note - lowest) / 12) if lowest < min_note else -((lowest - min_note) // 12)
        return self.transpose(key_diff + 12 * octaves, min_note, max_note)

    def with_length(self, length: int) -> Melody:
        """Truncate or pad with NO_EVENT (a truncated note ends at the new end)."""
        events = self.events[:length]
        if events.size < length:
            events = np.concatenate([events, np.full(length - events.size, NO_EVENT, np.int16)])
        return self.copy(events=events)

    def __repr__(self) -> str:
        head = ", ".join(str(int(e)) for e in self.events[:12])
        more = ", ..." if len(self) > 12 else ""
        return f"Melody([{head}{more}], steps={len(self)}, steps_per_quarter={self.steps_per_quarter}, qpm={self.qpm:g})"


def fold_into_range(pitches: np.ndarray, min_note: int, max_note: int) -> np.ndarray:
    """Move pitches by octaves until they lie in ``[min_note, max_note)`` (range must span an octave)."""
    if max_note - min_note < 12:
        raise BadInputError(f"note range [{min_note}, {max_note}) is narrower than an octave")
    pitches = np.asarray(pitches, dtype=np.int32)
    below = pitches < min_note
    pitches[below] += 12 * ((min_note - pitches[below] + 11) // 12)
    above = pitches >= max_note
    pitches[above] -= 12 * ((pitches[above] - max_note) // 12 + 1)
    return pitches


def _major_tonic(melody: Melody) -> int:
    """The major key (0 = C ... 11 = B) a melody is in or is the relative minor of, by the one key finder."""
    from tunesmith.music.key import estimate_key

    key = estimate_key(melody)[0]
    return key.tonic if key.mode == "major" else (key.tonic + 3) % 12
