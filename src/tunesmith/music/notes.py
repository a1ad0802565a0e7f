"""Pitch <-> name, and the scales: the only tables of pitch names and scales.

A MIDI pitch is an integer 0-127; 60 is middle C, written ``C4`` (scientific pitch notation,
the convention Magenta and most DAWs use). Sharps are ``#`` and flats ``b``; a bare letter means
octave 4, and a leading accidental (``#C``) is accepted as it appears in the reference project.
"""

from __future__ import annotations

import re

from tunesmith.core.errors import BadInputError

PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = tuple(n if len(n) == 1 else PITCH_CLASS_NAMES[i + 1] + "b" for i, n in enumerate(PITCH_CLASS_NAMES))
KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")  # tonics as key signatures spell them
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor (aeolian), as MusPy's scale consistency uses
SCALES = {
    "major": MAJOR_SCALE,
    "minor": MINOR_SCALE,
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}
LETTER_PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAME_RE = re.compile(r"^(?P<pre>[#b]?)(?P<letter>[A-Ga-g])(?P<post>(##|bb|#|b|x)?)(?P<octave>-?\d+)?$")
DEFAULT_OCTAVE = 4


def pitch_to_name(pitch: int) -> str:
    """``61 -> 'C#4'``."""
    if not 0 <= int(pitch) <= 127:
        raise BadInputError(f"pitch {pitch} is outside MIDI's range 0-127")
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def name_to_pitch(name: str | int) -> int:
    """Parse ``'C#4'``, ``'Db4'``, ``'C'`` (= C4), ``'#C'`` (= C#4) or a MIDI number into a pitch."""
    if isinstance(name, int):
        pitch = name
    else:
        text = str(name).strip()
        if re.fullmatch(r"-?\d+", text):
            pitch = int(text)
        else:
            match = _NAME_RE.match(text)
            if not match:
                raise BadInputError(f"'{name}' is not a note name; write e.g. C4, C#4, Db4, C (= C4) or a MIDI number 0-127")
            pc = LETTER_PITCH_CLASS[match["letter"].upper()]
            accidental = match["pre"] + match["post"]
            pc += accidental.count("#") + 2 * accidental.count("x") - accidental.count("b")
            octave = int(match["octave"]) if match["octave"] is not None else DEFAULT_OCTAVE
            pitch = 12 * (octave + 1) + pc
    if not 0 <= pitch <= 127:
        raise BadInputError(f"note '{name}' is pitch {pitch}, outside MIDI's range 0-127")
    return pitch
