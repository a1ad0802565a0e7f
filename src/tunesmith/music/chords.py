"""The chord-track format: how chords travel with a melody (a MIDI track named ``chords``) and read back.

A chord is a root pitch class and a *quality* (the intervals above the root: a major triad is 0, 4, 7
semitones). ``harmony.py`` chooses chords; this module only writes and reads them, so the MIDI, ABC and
MusicXML readers need no harmoniser. Reading includes *hearing* them: ``recognize_chords`` names the chords an
accompaniment plays (block chords, arpeggios, a bass under chords), which ``--over-chords song.mid`` writes over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith.core.errors import BadInputError
from tunesmith.music.notes import KEY_NAMES, LETTER_PITCH_CLASS

if TYPE_CHECKING:
    from tunesmith.music.key import Key

CHORD_TRACK_NAME = "chords"  # the accompaniment track harmonize and the ABC reader write; readers skip it as a melody
# the three triads harmonize chooses from, then the chords that files bring (ABC chord symbols, chord tracks)
QUALITY_STEPS = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "dim7": (0, 3, 6, 9),
    "m7b5": (0, 3, 6, 10),
    "6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
}
QUALITY_SUFFIX = {
    "maj": "",
    "min": "m",
    "dim": "dim",
    "aug": "aug",
    "7": "7",
    "maj7": "maj7",
    "min7": "m7",
    "dim7": "dim7",
    "m7b5": "m7b5",
    "6": "6",
    "min6": "m6",
    "sus4": "sus4",
    "sus2": "sus2",
}


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from step ``start`` to ``end`` (exclusive): root pitch class, quality, and its name."""

    start: int
    end: int
    root: int
    quality: str
    symbol: str
    numeral: str = ""

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + d) % 12 for d in QUALITY_STEPS[self.quality])


def chord_track(
    chords: list[ChordSpan], steps_per_quarter: int, tpq: int = 480, program: int = 0, velocity: int = 64, symbols: bool = False
):
    """A symusic Track named ``chords``: each chord as its root in the bass (E2-D#3) and its tones close above
    (G3-F#4), held for its span; with ``symbols`` the chord symbol is the track's lyric at its start (it then reads
    back as written; kept off for MIDI files, where a reader would show the lyrics as a track of their own)."""
    import symusic

    track = symusic.Track(CHORD_TRACK_NAME, int(program), False)
    ticks = tpq // steps_per_quarter
    for c in chords:
        bass = 40 + (c.root - 40) % 12
        tones = sorted(55 + (pc - 55) % 12 for pc in c.pitch_classes)
        for p in [bass, *tones]:
            track.notes.append(symusic.Note(c.start * ticks, (c.end - c.start) * ticks, int(p), velocity))
        if symbols:
            track.lyrics.append(symusic.TextMeta(c.start * ticks, c.symbol))
    return track


def _quality_of(root: int, pcs: set[int]) -> str:
    """The chord quality whose tones are ``pcs`` above ``root``; else the triad its third implies."""
    exact = next((q for q, steps in QUALITY_STEPS.items() if {(root + d) % 12 for d in steps} == pcs), None)
    if exact:
        return exact
    if (root + 3) % 12 in pcs and (root + 4) % 12 not in pcs:
        return "dim" if (root + 6) % 12 in pcs and (root + 7) % 12 not in pcs else "min"
    return "maj"


def chords_from_track(track, tpq: int, steps_per_quarter: int, offset: int = 0, key: Key | None = None) -> list[ChordSpan]:
    """Read chord spans back from a ``chords`` track (notes grouped by onset; the lowest note is the root; a lyric
    at the onset is the chord's symbol as written)."""
    notes = track.notes.numpy()
    names = {int(x.time): str(x.text).strip() for x in track.lyrics if str(x.text).strip()}
    groups: dict[int, list[tuple[int, int]]] = {}
    for time, duration, pitch in zip(notes["time"], notes["duration"], notes["pitch"]):
        groups.setdefault(int(time), []).append((int(pitch), int(duration)))
    out = []
    for time in sorted(groups):
        pitches = sorted(p for p, _ in groups[time])
        pcs = {p % 12 for p in pitches}
        root = pitches[0] % 12
        symbol = names.get(time)
        if symbol is None:
            quality = next((q for q, steps in QUALITY_STEPS.items() if {(root + d) % 12 for d in steps} == pcs), None)
            if quality is None:
                continue
        else:
            quality = _quality_of(root, pcs)
        start = int(round(time * steps_per_quarter / tpq)) - offset
        end = start + int(round(max(d for _, d in groups[time]) * steps_per_quarter / tpq))
        if symbol is None:
            name = key.spell(root) if key else KEY_NAMES[root]
            symbol = name + QUALITY_SUFFIX[quality]
        out.append(ChordSpan(start, max(end, start + 1), root, quality, symbol))
    return out


# chord-symbol suffixes as songwriters write them -> quality (longest first when matching)
SYMBOL_QUALITIES = {
    "": "maj",
    "M": "maj",
    "maj": "maj",
    "m": "min",
    "min": "min",
    "-": "min",
    "dim": "dim",
    "o": "dim",
    "°": "dim",
    "aug": "aug",
    "+": "aug",
    "7": "7",
    "dom7": "7",
    "maj7": "maj7",
    "M7": "maj7",
    "m7": "min7",
    "min7": "min7",
    "-7": "min7",
    "dim7": "dim7",
    "o7": "dim7",
    "m7b5": "m7b5",
    "ø": "m7b5",
    "6": "6",
    "m6": "min6",
    "min6": "min6",
    "sus4": "sus4",
    "sus": "sus4",
    "sus2": "sus2",
}
_SYMBOL = re.compile(r"^([A-G])([#b]?)(.*?)(/[A-G][#b]?)?$")


def parse_chord_symbol(symbol: str) -> tuple[int, str]:
    """``"F#m7"`` -> (6, ``"min7"``): the root pitch class and quality (a slash bass, ``C/E``, is read and left out)."""
    match = _SYMBOL.match(symbol.strip())
    if not match or match.group(3) not in SYMBOL_QUALITIES:
        raise BadInputError(
            f"chord {symbol!r} is not a chord symbol tunesmith reads; write a root A-G (with # or b) and a quality, "
            "e.g. C, Am, G7, F#m7b5, Bbmaj7, Ddim, Eaug, Dsus4, C/E"
        )
    root = (LETTER_PITCH_CLASS[match.group(1)] + {"#": 1, "b": -1, "": 0}[match.group(2)]) % 12
    return root, SYMBOL_QUALITIES[match.group(3)]


def parse_chord_progression(text: str, steps_per_bar: int = 16, steps_per_beat: int = 4) -> list[ChordSpan]:
    """``"C G Am F"`` (one chord a bar) or ``"C:2 G:2 Am F"`` (``:beats`` sets a chord's length; ``|`` is ignored)
    -> chord spans from step 0, one after another. A bad symbol or length raises BadInputError naming it."""
    tokens = [t for t in str(text).replace("|", " ").replace(",", " ").split()]
    if not tokens:
        raise BadInputError('no chords given; write them one a bar, e.g. "C G Am F", or with beats, "C:2 G:2"')
    spans, start = [], 0
    for token in tokens:
        symbol, _, beats = token.partition(":")
        root, quality = parse_chord_symbol(symbol)
        if beats:
            try:
                length = round(float(beats) * steps_per_beat)
            except ValueError:
                length = 0
            if length < 1:
                raise BadInputError(f"chord {token!r}: the length after ':' is a number of beats, e.g. C:2")
        else:
            length = steps_per_bar
        spans.append(ChordSpan(start, start + length, root, quality, symbol.strip()))
        start += length
    return spans


# --- hearing chords in an accompaniment ---------------------------------------------------------------
HEARD_QUALITIES = ("maj", "min", "7", "min7", "maj7", "dim", "m7b5")  # the chords an accompaniment is read as
OUTSIDE_COST = 0.7  # a share of sounding time outside a chord costs this much against the share inside it
BASS_BONUS = 0.15  # the lowest note sounding is the chord's root
SEVENTH_COST = 0.15  # a four-note chord must earn its seventh (two triads a bar are not one seventh chord)
SPLIT_GAIN = 0.15  # halves (or beats) take chords of their own when they fit them this much better than the whole's


def _chord_score(weights, bass: int | None, chord: tuple[int, str]) -> float:
    total = float(weights.sum())
    root, quality = chord
    tones = [(root + d) % 12 for d in QUALITY_STEPS[quality]]
    inside = float(weights[tones].sum())
    score = (inside - OUTSIDE_COST * (total - inside)) / total
    return score + BASS_BONUS * (bass == root) - SEVENTH_COST * (len(tones) > 3)


def recognize_chords(notes, steps_per_bar: int, steps_per_beat: int, key: Key | None = None) -> list[ChordSpan]:
    """The chords an accompaniment plays: ``notes`` are ``(pitch, start step, end step)`` of the accompaniment tracks
    (block chords, arpeggios, a bass line under chords...). Every pitch class is weighted by how long it sounds; a
    bar takes the chord (a root and one of ``HEARD_QUALITIES``) that covers most of its sounding time, with a bonus
    when its root is the bar's lowest note (``BASS_BONUS``), and its halves, then its beats, take chords of their own
    only when those fit them ``SPLIT_GAIN`` better (an arpeggio's passing tones do not change the chord). A bar with
    no notes keeps the chord before it. Runs of one chord become one span, named in ``key`` (else as C, Eb, F#...)."""
    import numpy as np

    rows = [(int(p), int(s), int(e)) for p, s, e in notes if int(e) > int(s)]
    if not rows:
        return []
    end = max(e for _, _, e in rows)
    beats = -(-end // steps_per_beat)
    weights = np.zeros((beats, 12))
    lowest = np.full(beats, 128)
    for pitch, start, stop in rows:
        for b in range(start // steps_per_beat, min(beats, -(-stop // steps_per_beat))):
            lo, hi = max(start, b * steps_per_beat), min(stop, (b + 1) * steps_per_beat)
            if hi > lo:
                weights[b, pitch % 12] += hi - lo
                lowest[b] = min(lowest[b], pitch)
    candidates = [(r, q) for r in range(12) for q in HEARD_QUALITIES]

    def best(lo: int, hi: int):
        w = weights[lo:hi].sum(0)
        if not w.any():
            return None, {}
        bass = int(lowest[lo:hi].min()) % 12
        scored = {c: _chord_score(w, bass, c) for c in candidates}
        return max(scored, key=scored.get), scored

    def parts(lo: int, hi: int) -> list[tuple[int, int]]:
        n = hi - lo
        if n <= 1:
            return []
        if n % 2 == 0 and n > 2:
            return [(lo, lo + n // 2), (lo + n // 2, hi)]
        return [(b, b + 1) for b in range(lo, hi)]

    chosen: list[tuple[int, str] | None] = [None] * beats

    def assign(lo: int, hi: int, inherited) -> None:
        chord, scored = best(lo, hi)
        if chord is None:
            chord = inherited
        children = parts(lo, hi) if scored else []
        gain = 0.0
        for a, b in children:
            child, child_scored = best(a, b)
            if child is not None:
                share = weights[a:b].sum() / weights[lo:hi].sum()
                gain += share * (child_scored[child] - child_scored[chord])
        if children and gain > SPLIT_GAIN:
            for a, b in children:
                assign(a, b, chord)
        else:
            chosen[lo:hi] = [chord] * (hi - lo)

    per_bar = max(1, steps_per_bar // steps_per_beat)
    previous = None
    for bar in range(0, beats, per_bar):
        assign(bar, min(beats, bar + per_bar), previous)
        previous = chosen[min(beats, bar + per_bar) - 1] or previous
    spans: list[ChordSpan] = []
    for b, chord in enumerate(chosen):
        if chord is None:
            continue
        start, stop = b * steps_per_beat, min(end, (b + 1) * steps_per_beat)
        if spans and (spans[-1].root, spans[-1].quality) == chord and spans[-1].end == start:
            last = spans[-1]
            spans[-1] = ChordSpan(last.start, stop, last.root, last.quality, last.symbol)
        else:
            name = key.spell(chord[0]) if key else KEY_NAMES[chord[0]]
            spans.append(ChordSpan(start, stop, chord[0], chord[1], name + QUALITY_SUFFIX[chord[1]]))
    return spans
