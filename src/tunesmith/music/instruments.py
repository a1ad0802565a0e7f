"""General MIDI instruments: the 128 program names and the short names tunesmith accepts for them.

*General MIDI* (GM) fixes which *program* number (0-127) holds which instrument (0 acoustic grand piano,
24 nylon guitar, 10 music box...); any GM SoundFont plays them. Names are looked up case-, space- and
dash-blind, so 'Music Box', 'music-box' and 'musicbox' are the same instrument.
"""

from __future__ import annotations

import re

import numpy as np

from tunesmith.core.errors import RenderError

INSTRUMENTS: dict[str, int] = {
    "piano": 0,
    "bright-piano": 1,
    "electric-piano": 4,
    "harpsichord": 6,
    "celesta": 8,
    "glockenspiel": 9,
    "music-box": 10,
    "vibraphone": 11,
    "marimba": 12,
    "xylophone": 13,
    "organ": 19,
    "accordion": 21,
    "harmonica": 22,
    "guitar": 24,
    "steel-guitar": 25,
    "jazz-guitar": 26,
    "electric-guitar": 27,
    "bass": 32,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "strings": 48,
    "choir": 52,
    "trumpet": 56,
    "trombone": 57,
    "horn": 60,
    "sax": 65,
    "oboe": 68,
    "clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "pan-flute": 75,
    "ocarina": 79,
    "synth-lead": 80,
    "pad": 88,
    "sitar": 104,
    "banjo": 105,
    "kalimba": 108,
    "steel-drums": 114,
}

GM_PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
)


def _key(name: str) -> str:
    """Case/space/dash/punctuation-insensitive lookup key: 'Music Box' == 'music-box' == 'musicbox'."""
    return re.sub(r"[^a-z0-9+]", "", name.lower())


_LOOKUP: dict[str, int] = {_key(n): p for p, n in enumerate(GM_PROGRAM_NAMES)}
_LOOKUP.update({_key(n): p for n, p in INSTRUMENTS.items()})


def resolve_instrument(name_or_program: str | int) -> int:
    """An instrument name ('guitar'), a GM program name ('Acoustic Guitar (nylon)') or number 0-127 -> program."""
    if isinstance(name_or_program, int | np.integer) and not isinstance(name_or_program, bool):
        if 0 <= int(name_or_program) <= 127:
            return int(name_or_program)
        raise RenderError(f"GM program {name_or_program} is outside 0-127")
    text = str(name_or_program).strip()
    if re.fullmatch(r"\d+", text):
        return resolve_instrument(int(text))
    program = _LOOKUP.get(_key(text))
    if program is None:
        raise RenderError(
            f"unknown instrument '{name_or_program}'; use one of: {', '.join(INSTRUMENTS)}, "
            "a General MIDI program name (e.g. 'Acoustic Guitar (steel)') or a program number 0-127"
        )
    return program
