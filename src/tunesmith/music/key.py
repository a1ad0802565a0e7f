"""Keys: a tonic and a mode, how a key spells each pitch, and the one key finder (``estimate_key``).

A *key* here is a tonic pitch class and a mode (major or minor); its *key signature* is counted in
*fifths*: +1 per sharp, -1 per flat (G major and E minor are +1, F major and D minor are -1).
``estimate_key`` decides the key wherever tunesmith needs one: generation's tonic ending, scores, ABC ``K:``,
chords, the ``tonic_end`` figure of evaluation and a melody's summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.notes import FLAT_NAMES, LETTER_PITCH_CLASS, MAJOR_SCALE, MINOR_SCALE, PITCH_CLASS_NAMES

# Krumhansl & Kessler's key profiles: how well each scale degree fits a major/minor key (1982 probe-tone data)
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_MAJOR_FIFTHS = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: -5, 8: -4, 3: -3, 10: -2, 5: -1}
_MAJOR_BY_FIFTHS = {
    -7: "Cb",
    -6: "Gb",
    -5: "Db",
    -4: "Ab",
    -3: "Eb",
    -2: "Bb",
    -1: "F",
    0: "C",
    1: "G",
    2: "D",
    3: "A",
    4: "E",
    5: "B",
    6: "F#",
    7: "C#",
}
_MINOR_BY_FIFTHS = {
    -7: "Ab",
    -6: "Eb",
    -5: "Bb",
    -4: "F",
    -3: "C",
    -2: "G",
    -1: "D",
    0: "A",
    1: "E",
    2: "B",
    3: "F#",
    4: "C#",
    5: "G#",
    6: "D#",
    7: "A#",
}
_SHARP_ORDER = "FCGDAEB"
_LETTERS = "CDEFGAB"
# semitones above the tonic -> letters above it: in major #1 b3 #4 #5 b7 (C#, Eb, F#, G#, Bb in C), the
# chromatic notes folk and common-practice tunes use most; in minor b2, the raised 3rd, #4, raised 6th and 7th
_DEGREE_OF_INTERVAL = {"major": (0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6), "minor": (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)}


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C ... 11 = B) and a mode, ``'major'`` or ``'minor'``."""

    tonic: int
    mode: str = "major"
    # the signature when the key has two spellings (Gb/F# major, Ebm/D#m, Cb/B, C#/Db, Abm/G#m, A#m/Bbm): -7..+7,
    # used only when it names this tonic and mode; None takes the usual one (at most 5 flats or 6 sharps)
    signature: int | None = field(default=None, compare=False)

    @property
    def fifths(self) -> int:
        """The key signature: sharps (> 0) or flats (< 0), -7..+7."""
        major = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        usual = _MAJOR_FIFTHS[major % 12]
        sig = self.signature
        if sig is not None and -7 <= int(sig) <= 7 and (int(sig) - usual) % 12 == 0:
            return int(sig)
        return usual

    @property
    def scale(self) -> tuple[int, ...]:
        """Pitch classes of the scale (minor adds the raised 7th, the leading tone of its V chord)."""
        steps = MAJOR_SCALE if self.mode == "major" else (*MINOR_SCALE, 11)
        return tuple(sorted((self.tonic + d) % 12 for d in steps))

    @property
    def name(self) -> str:
        """``'G'``, ``'Em'``: the tonic as the key signature spells it, ``m`` for minor (ABC's K: field)."""
        if self.mode == "major":
            return _MAJOR_BY_FIFTHS[self.fifths]
        return _MINOR_BY_FIFTHS[self.fifths] + "m"

    def spell(self, pitch_class: int) -> str:
        """A pitch class named as the key hears it: scale notes by the signature, others by their degree above
        the tonic (see _DEGREE_OF_INTERVAL: F# in D minor, Bb and G# in C major), e.g. ``'F#'``, ``'Bb'``."""
        tonic_name = (_MAJOR_BY_FIFTHS if self.mode == "major" else _MINOR_BY_FIFTHS)[self.fifths]
        interval = (int(pitch_class) - self.tonic) % 12
        letter = _LETTERS[(_LETTERS.index(tonic_name[0]) + _DEGREE_OF_INTERVAL[self.mode][interval]) % 7]
        alter = (int(pitch_class) - LETTER_PITCH_CLASS[letter] + 6) % 12 - 6
        if abs(alter) > 1:  # a double sharp/flat: plain sharps or flats read better
            return (FLAT_NAMES if self.fifths < 0 else PITCH_CLASS_NAMES)[int(pitch_class) % 12]
        return letter + ("#" if alter > 0 else "b" if alter < 0 else "")

    def signature_accidentals(self) -> dict[str, int]:
        """Letter -> +1 (sharp) / -1 (flat) for the letters the key signature alters."""
        n = self.fifths
        letters = _SHARP_ORDER[:n] if n > 0 else _SHARP_ORDER[::-1][:-n]
        return {letter: (1 if n > 0 else -1) for letter in letters}

    def __str__(self) -> str:
        return f"{self.spell(self.tonic)} {self.mode}"


def parse_key(text: str) -> Key:
    """``'G'``, ``'Em'``, ``'F# minor'``, ``'Bb major'``, ``'D dorian'`` is refused -> a Key."""
    raw = str(text).strip()
    t = raw.replace(" ", "").replace("major", "").replace("maj", "")
    mode = "major"
    for suffix in ("minor", "min", "m"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t, mode = t[: -len(suffix)], "minor"
            break
    if not t or t[0].upper() not in LETTER_PITCH_CLASS:
        raise BadInputError(f"key '{raw}' is not a key; write e.g. G, Em, 'F# minor' or 'Bb major'")
    alter = t[1:].count("#") - t[1:].count("b")
    pc = LETTER_PITCH_CLASS[t[0].upper()] + alter
    if len(t) > 1 and set(t[1:]) - {"#", "b"}:
        raise BadInputError(f"key '{raw}' is not a key; write e.g. G, Em, 'F# minor' or 'Bb major'")
    # the signature this spelling names (Gb -> 6 flats, F# -> 6 sharps, Ebm -> 6 flats, Cb -> 7 flats)
    sig = _LETTER_FIFTHS[t[0].upper()] + 7 * alter - (3 if mode == "minor" else 0)
    return Key(pc % 12, mode, sig if -7 <= sig <= 7 else None)


_LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}


def key_from_signature(fifths: int, minor: bool) -> Key:
    """The key a MIDI/MusicXML/ABC key signature names (fifths -7..+7, e.g. -6 = Gb major or Eb minor, and a
    minor flag); a value outside -7..+7 (a damaged file) is folded into the range."""
    fifths = int(fifths)
    if not -7 <= fifths <= 7:
        fifths = (fifths + 6) % 12 - 6
    major = (7 * fifths) % 12
    return Key((major - 3) % 12, "minor", fifths) if minor else Key(major, "major", fifths)


FINAL_TONIC_BONUS = 0.15  # the last note on the tonic (folk tunes nearly always end there)
FIRST_TONIC_BONUS = 0.05  # the first note on it (many start there; fewer than end there)
STATED_MINOR_BONUS = 0.2  # a file that says minor means it (writers leave the flag at major by default)
SIGNATURE_SLACK = 0.05  # a file's signature is trusted while its scale holds this close to the best scale's share


def _pitch_class_time(events) -> tuple[np.ndarray, int, int]:
    """Steps each pitch class sounds (a note lasts to its NOTE_OFF, the next onset or the end), and the pitch
    classes of the first and the last note. Magenta events: a pitch starts a note, -1 stops it, -2 holds."""
    events = np.asarray(events, dtype=np.int64).reshape(-1)
    changes = np.flatnonzero(events != -2)
    onsets = np.flatnonzero(events >= 0)
    if not onsets.size:
        raise BadInputError("the melody has no notes, so it has no key")
    ends = np.append(changes, events.size)[np.searchsorted(changes, onsets, side="right")]
    pcs = events[onsets] % 12
    return np.bincount(pcs, weights=ends - onsets, minlength=12), int(pcs[0]), int(pcs[-1])


def _profile_fits(hist: np.ndarray) -> dict[str, np.ndarray]:
    """Pearson correlation of the histogram with each mode's profile on each of the 12 tonics (0 for a flat one)."""
    h = hist - hist.mean()
    norm = np.sqrt(h @ h)
    return {mode: p @ h / (p_norm * norm) if norm > 0 else np.zeros(12) for mode, (p, p_norm) in _CENTRED_PROFILES.items()}


def _centred(profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rolled = np.stack([np.roll(profile, tonic) for tonic in range(12)])  # row t: the profile with its tonic on t
    rolled -= rolled.mean(axis=1, keepdims=True)
    return rolled, np.sqrt((rolled**2).sum(axis=1))


_CENTRED_PROFILES = {"major": _centred(_MAJOR_PROFILE), "minor": _centred(_MINOR_PROFILE)}


def estimate_key(melody, signature: Key | None = None) -> tuple[Key, float]:
    """The most likely key of a melody (a Melody or its Magenta event array) and how tonal it is: the one key finder.

    Correlates the duration-weighted pitch-class histogram with the Krumhansl-Kessler profiles of the keys, and
    weighs the tonic evidence: a final note on the tonic adds 0.15, a first note on it 0.05 (the profiles alone
    cannot tell a tune in E minor from one in G major; its ending can). With a ``signature`` (the file's key
    signature) only the two keys that share it compete, major and relative minor (the signature's own spelling
    kept; a signature marked minor adds 0.2 to its minor, a major mark adds nothing: it is what editors write
    when nobody chose), unless the notes deny it: when its scale holds clearly less of the note time than another scale (a
    C-major default written by an editor over a tune in D), all 24 keys compete. Returns the key and its *fit*:
    the share of note time on that key's scale (1.0 = every note fits; random notes ~0.6).

    On 243 O'Neill's/Ryan's tunes of the folk corpus, against their ABC ``K:`` fields: 85% without a signature,
    95% with the signature their MIDI files carry (see benchmarks/bench_key.py).
    """
    hist, first_pc, last_pc = _pitch_class_time(getattr(melody, "events", melody))
    candidates = [Key(tonic, mode) for mode in ("major", "minor") for tonic in range(12)]
    if signature is not None:
        share = [hist[[(t + d) % 12 for d in MAJOR_SCALE]].sum() for t in range(12)]
        major = (7 * signature.fifths) % 12
        if share[major] >= max(share) - SIGNATURE_SLACK * hist.sum():
            candidates = [Key(major, "major", signature.fifths), Key((major - 3) % 12, "minor", signature.fifths)]
    best, best_score = candidates[0], -np.inf
    fits = _profile_fits(hist)
    for key in candidates:
        score = (
            fits[key.mode][key.tonic] + FINAL_TONIC_BONUS * (last_pc == key.tonic) + FIRST_TONIC_BONUS * (first_pc == key.tonic)
        )
        if signature is not None and signature.mode == "minor" and key == signature and len(candidates) == 2:
            score += STATED_MINOR_BONUS
        if score > best_score:
            best, best_score = key, score
    fit = float(hist[list(best.scale)].sum() / hist.sum())
    return best, fit


def key_of(melody, key: str | Key | None = None) -> Key:
    """The one key of a melody for its MIDI key signature, score, ABC, MusicXML and chords: the one asked for,
    else ``estimate_key`` with the file's key signature (the signature stays; the notes choose between its major and
    relative minor, so a jig in E minor whose file says one sharp is in E minor, not G major), else from the notes."""
    if isinstance(key, Key):
        return key
    if key:
        return parse_key(key)
    signature = melody.meta.get("key")
    if not melody.notes():
        return signature if isinstance(signature, Key) else Key(0)
    return estimate_key(melody, signature if isinstance(signature, Key) else None)[0]
