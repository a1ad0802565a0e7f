"""Melodies out as notation: ABC text folk musicians paste into their tools, and MusicXML for score editors.

*ABC* is a plain-text notation: a header (``X:`` number, ``T:`` title, ``M:`` meter, ``L:`` unit note
length, ``Q:`` tempo, ``K:`` key) and then the notes as letters (``C`` = middle C, ``c`` an octave up,
``C,`` one down), lengths as multiples of ``L`` (``A2`` two units, ``A/`` half a unit), ``^``/``_``/``=``
for sharp/flat/natural, ``-`` for a tie, ``|`` for a bar line and chord symbols in quotes (``"Am"``).
*MusicXML* is the exchange format of notation programs (MuseScore, Finale, Sibelius); music21 writes it.

A melody read from a file keeps its key signature and meter in ``meta``; chord spans (from
``tunesmith.music.harmony``) come along as quoted chord symbols / ``<harmony>`` elements.
"""

from __future__ import annotations

import contextlib
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

from tunesmith.core.errors import BadInputError
from tunesmith.core.figures import PRIMER_COLOR
from tunesmith.core.files import atomic_path, write_text
from tunesmith.music.chords import CHORD_TRACK_NAME, QUALITY_SUFFIX, ChordSpan, chords_from_track, recognize_chords
from tunesmith.music.key import Key, key_from_signature, key_of
from tunesmith.music.melody import Melody
from tunesmith.music.meter import meter_of, meter_steps, score_meter

EXPORT_FORMATS = ("abc", "musicxml")
NOTATION_SUFFIXES = {".abc": "abc", ".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml"}


# --- reading --------------------------------------------------------------------------------------
def load_melody(source, steps_per_quarter: int = 4) -> Melody:
    """A Melody from a Melody, MIDI/ABC/MusicXML path or symusic Score (its ``meter`` the file's time signature),
    with ``meta`` holding what notation needs besides:
    ``key`` (a Key, from the file's key signature) and ``chords`` (the spans of a
    track named ``chords``, as ``tunesmith harmonize`` writes, or an ABC tune's chord symbols).

    The melody is the file's melody track (``tunesmith.music.midi.choose_melody_track``; ``meta['track_choice']``
    says which one was taken), never a skyline over the accompaniment. An ABC file gives its first tune
    (``load_melodies`` gives them all)."""
    if isinstance(source, Melody):
        return source
    return load_melodies(source, steps_per_quarter, first_only=True)[0]


def load_melodies(source, steps_per_quarter: int = 4, *, first_only: bool = False) -> list[Melody]:
    """Every tune of ``source``: one Melody per ``X:`` tune of an ABC file (``meta['tune_id']`` holds its number,
    ``meta['tunes']`` the file's count), else a list of the one melody ``load_melody`` reads."""
    import symusic

    from tunesmith.music.midi import read_abc_tunes, read_score

    if isinstance(source, Melody):
        return [source]
    name = Path(source).stem if isinstance(source, str | os.PathLike) else ""
    if isinstance(source, str | os.PathLike) and Path(source).suffix.lower() == ".abc" and Path(source).is_file():
        tunes = read_abc_tunes(source, chords=True)
        if not tunes:
            raise BadInputError(f"{source}: no ABC tune (no 'X:' header with notes) found")
        out = []
        for tune_id, score in tunes[:1] if first_only else tunes:
            melody = _melody_of_score(score, name, steps_per_quarter)
            melody.meta.update(tune_id=tune_id, tunes=len(tunes), title=_abc_title(score))
            out.append(melody)
        return out
    score = source if isinstance(source, symusic.Score) else read_score(source)
    return [_melody_of_score(score, name, steps_per_quarter)]


def _abc_title(score) -> str:
    return next((t.name for t in score.tracks if t.name and t.name != CHORD_TRACK_NAME), "")


def _melody_of_score(score, name: str, steps_per_quarter: int) -> Melody:
    from tunesmith.music.midi import melody_from_score

    melody_tracks = [i for i, t in enumerate(score.tracks) if t.name != CHORD_TRACK_NAME and not t.is_drum and len(t.notes)]
    if not melody_tracks:
        raise BadInputError(f"{name or 'the score'}: no notes to write (the file is empty or holds only drums/chords)")
    melody = melody_from_score(score, steps_per_quarter=steps_per_quarter)  # the melody track, chords left out
    melody.name = name
    if len(score.key_signatures):
        ks = score.key_signatures[0]
        melody.meta["key"] = key_from_signature(int(ks.key), bool(ks.tonality))
    chord_tracks = [t for t in score.tracks if t.name == CHORD_TRACK_NAME and len(t.notes)]
    if chord_tracks:
        offset = _leading_steps_dropped(score, melody, steps_per_quarter)
        melody.meta["chords"] = chords_from_track(chord_tracks[0], score.tpq, steps_per_quarter, offset, key_of(melody))
    return melody


def _leading_steps_dropped(score, melody: Melody, steps_per_quarter: int) -> int:
    """melody_from_score drops whole bars of leading silence; chord spans shift by the same amount."""
    track = score.tracks[melody.meta["track"]]
    first_tick = int(track.notes.numpy()["time"].min())
    first_step = int(round(first_tick * steps_per_quarter / score.tpq))
    return first_step - first_step % melody.steps_per_bar


class FileChords(NamedTuple):
    """The chords of a file (``load_chords``): spans from the file's first bar, its meter and where they came from."""

    chords: list[ChordSpan]
    meter: tuple[int, int]
    steps_per_bar: int
    steps_per_beat: int
    found: str  # "chord symbols", "the 'chords' track", "chords heard in track 2 'Piano'"


CHORD_FILE_SUFFIXES = (".mid", ".midi", ".smf", ".kar", ".abc", ".musicxml", ".mxl", ".xml")


def load_chords(source: str | os.PathLike, steps_per_quarter: int = 4) -> FileChords:
    """The chord progression of a file, to write a melody over: an ABC tune's chord symbols (``"Am"``), a MusicXML
    score's ``<harmony>`` chord symbols, a MIDI file's ``chords`` track (``tunesmith harmonize`` writes one), or else
    the chords its accompaniment plays (every pitched track but the melody, read beat by beat by
    ``recognize_chords``; a file of one polyphonic track is all accompaniment). The chords span the bars of the
    file's melody, as when the same file is read as a tune (a file of chords alone: from the bar of its first chord).
    A file with none of these is refused, saying what was looked for."""
    import numpy as np

    from tunesmith.music.midi import choose_melody_track, read_abc_tunes, read_score

    path = Path(source)
    if not path.is_file():
        raise BadInputError(f"chords file {path} does not exist")
    if path.suffix.lower() == ".abc":
        tunes = read_abc_tunes(path, chords=True)
        if not tunes:
            raise BadInputError(f"{path}: no ABC tune (no 'X:' header with notes) found")
        score = tunes[0][1]
    else:
        score = read_score(path)
    meter = score_meter(score, steps_per_quarter) or (4, 4)
    spb, beat = meter_steps(meter, steps_per_quarter)
    scale = steps_per_quarter / score.tpq
    pitched = [i for i, t in enumerate(score.tracks) if not t.is_drum and len(t.notes)]
    named = [i for i in pitched if score.tracks[i].name == CHORD_TRACK_NAME]  # an ABC tune titled "chords" names its
    chord_track = next((i for i in named if len(score.tracks[i].lyrics)), named[-1] if named else None)  # melody so too
    melody = None
    with contextlib.suppress(BadInputError):
        melody = choose_melody_track(score).index
    if chord_track is not None:
        chords = chords_from_track(score.tracks[chord_track], score.tpq, steps_per_quarter)
        found = "chord symbols" if len(score.tracks[chord_track].lyrics) else f"the '{CHORD_TRACK_NAME}' track"
    else:
        others = [i for i in pitched if i != melody]
        if not others and len(pitched) == 1 and _polyphonic(score.tracks[pitched[0]]):
            others, melody = pitched, None  # one track of chords: all of it is accompaniment
        if not others:
            what = {".abc": 'no chord symbols ("Am" in quotes before a note)', ".musicxml": "no chord symbols (<harmony>)"}
            said = what.get(path.suffix.lower(), what[".musicxml"] if path.suffix.lower() in (".mxl", ".xml") else "")
            raise BadInputError(
                f"{path}: no chords to write over: {said + ', ' if said else ''}no '{CHORD_TRACK_NAME}' track and no "
                'accompaniment track beside the melody; give the chords as text ("C G Am F"), or a file with a chord '
                "or accompaniment track (tunesmith harmonize writes one)"
            )
        rows = []
        for i in others:
            a = score.tracks[i].notes.numpy()
            starts = np.floor(a["time"] * scale + 0.5).astype(np.int64)
            ends = np.maximum(np.floor((a["time"].astype(np.int64) + a["duration"]) * scale + 0.5).astype(np.int64), starts + 1)
            rows += list(zip(a["pitch"].tolist(), starts.tolist(), ends.tolist()))
        chords = recognize_chords(rows, spb, beat)
        names = ", ".join(f"{i + 1}" + (f" '{score.tracks[i].name}'" if score.tracks[i].name else "") for i in others)
        found = f"chords heard in track{'s' if len(others) > 1 else ''} {names}"
    if not chords:
        raise BadInputError(f"{path}: {found} hold no chord tunesmith can read; give the chords as text")
    last = None
    if melody is not None:  # bar 1 is the melody's first bar and the last is its last, as when the file is read as a tune
        a = score.tracks[melody].notes.numpy()
        first = int(a["time"].min() * scale + 0.5)
        last = int((a["time"].astype(np.int64) + a["duration"]).max() * scale + 0.5)
    else:
        first = chords[0].start
    shift = first - first % spb
    stop = None if last is None else -(-(last - shift) // spb) * spb
    key = None
    if len(score.key_signatures):
        ks = score.key_signatures[0]
        key = key_from_signature(int(ks.key), bool(ks.tonality))
    out = []
    for c in chords:
        start, end = max(0, c.start - shift), c.end - shift if stop is None else min(c.end - shift, stop)
        if end > start:
            symbol = c.symbol if chord_track is not None or key is None else key.spell(c.root) + QUALITY_SUFFIX[c.quality]
            out.append(ChordSpan(start, end, c.root, c.quality, symbol))
    if not out:
        raise BadInputError(f"{path}: every chord lies before the melody starts; give the chords as text")
    return FileChords(out, meter, spb, beat, found)


def _polyphonic(track) -> bool:
    """Several notes start together in at least a fifth of the track's onsets (chords, not a line)."""
    import numpy as np

    times = track.notes.numpy()["time"]
    _, counts = np.unique(times, return_counts=True)
    return counts.size > 0 and float(np.mean(counts > 1)) >= 0.2


# staff range per clef as diatonic steps (C4 = 28): treble E4-F5, bass G2-A3
_CLEF_STAFF = {"treble": (30, 38), "bass": (18, 26)}
_NATURAL_STEP = (0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5, 6)  # pitch class -> letter index (sharps read as the letter below)


def ledger_lines(pitch: int, clef: str) -> int:
    """Ledger lines a pitch needs on a staff with this clef (0 on or next to the staff; C4 in treble = 1)."""
    step = (int(pitch) // 12 - 1) * 7 + _NATURAL_STEP[int(pitch) % 12]
    bottom, top = _CLEF_STAFF[clef]
    return max(0, (bottom - step) // 2, (step - top) // 2)


def clef_for(pitches) -> str:
    """``'treble'`` or ``'bass'``: bass when the line lies low enough that the treble staff would need many ledger
    lines (1.5 a note on average, or 5 for some note: a cello line is no longer engraved with six lines under the
    treble staff) and the bass staff needs fewer in all; otherwise treble, as a melody reader expects."""
    pitches = [int(p) for p in pitches]
    if not pitches:
        return "treble"
    in_treble = [ledger_lines(p, "treble") for p in pitches]
    treble, bass = sum(in_treble), sum(ledger_lines(p, "bass") for p in pitches)
    low = treble >= 1.5 * len(pitches) or max(in_treble) >= 5
    return "bass" if low and bass < treble else "treble"


# --- ABC --------------------------------------------------------------------------------------------
def _abc_length(steps: int, steps_per_quarter: int) -> str:
    """A length in steps as a multiple of ``L:1/8`` (``''``, ``'2'``, ``'/'``, ``'3/2'``)."""
    ratio = Fraction(2 * steps, steps_per_quarter)
    if ratio == 1:
        return ""
    if ratio.denominator == 1:
        return str(ratio.numerator)
    if ratio.numerator == 1:
        return "/" if ratio.denominator == 2 else f"/{ratio.denominator}"
    return f"{ratio.numerator}/{ratio.denominator}"


def _notatable(length: int, steps_per_quarter: int) -> list[int]:
    """Split a length into plain or dotted note values (whole, half, ... down to one step), longest first."""
    whole = 4 * steps_per_quarter
    values = set()
    v = whole
    while v >= 1:
        if float(v).is_integer():
            values.add(int(v))
            if float(v * 1.5).is_integer() and v * 1.5 <= whole * 1.5:
                values.add(int(v * 1.5))
        v /= 2
    values.add(1)
    parts, left = [], length
    for value in sorted(values, reverse=True):
        while left >= value:
            parts.append(value)
            left -= value
    return parts


def _abc_pitch(pitch: int, key: Key, bar_state: dict) -> str:
    """ABC for one pitch: letter, octave marks, and an accidental only where the key or this bar needs one."""
    name = key.spell(pitch % 12)
    letter, alter = name[0], name[1:].count("#") - name[1:].count("b")
    octave = (pitch - alter) // 12 - 1
    prefix = ""
    # once a letter carried a sign in this bar, every later note of that letter (any octave) gets one too:
    # readers disagree on whether a sign holds across octaves, and an explicit sign reads the same in all
    if letter in bar_state or alter != key.signature_accidentals().get(letter, 0):
        prefix = {1: "^", -1: "_", 0: "="}[alter]
        bar_state[letter] = alter
    if octave >= 5:
        return prefix + letter.lower() + "'" * (octave - 5)
    return prefix + letter + "," * (4 - octave)


def _tokens(melody: Melody, chords, meter) -> list[dict]:
    """Notes and rests cut at bar lines and chord changes into notatable pieces: dicts of start, length, pitch, tie."""
    spq = melody.steps_per_quarter
    bar = meter_steps(meter, melody.steps_per_quarter)[0]  # bar lines from the same meter the M: field states
    notes = melody.notes()
    end = -(-notes[-1].end // bar) * bar
    cuts = set(range(0, end + 1, bar)) | {c.start for c in chords or [] if c.start < end}
    spans, cursor = [], 0
    for n in notes:
        if n.start > cursor:
            spans.append((cursor, n.start, None))
        spans.append((n.start, n.end, n.pitch))
        cursor = n.end
    if cursor < end:
        spans.append((cursor, end, None))
    tokens = []
    for start, stop, pitch in spans:
        points = sorted({start, stop} | {c for c in cuts if start < c < stop})
        pieces = []
        for a, b in zip(points, points[1:]):
            t = a
            for length in _notatable(b - a, spq):
                pieces.append((t, length))
                t += length
        for i, (t, length) in enumerate(pieces):
            tokens.append({"start": t, "length": length, "pitch": pitch, "tie": pitch is not None and i < len(pieces) - 1})
    return tokens


def _span_words(steps: int, steps_per_bar: int, steps_per_quarter: int) -> str:
    bars, rest = divmod(steps, steps_per_bar)
    if rest == 0:
        return "the first bar" if bars == 1 else f"the first {bars} bars"
    beats = Fraction(steps, steps_per_quarter)
    return f"the first {beats} quarter notes" if beats != 1 else "the first quarter note"


def to_abc(
    melody: Melody,
    *,
    chords=None,
    key: str | Key | None = None,
    title: str | None = None,
    number: int = 1,
    mark_primer: bool = False,
    tempo: bool = True,
    bars_per_line: int = 4,
) -> str:
    """The melody as one ABC tune (``X:``, ``T:``, ``M:``, ``L:1/8``, ``Q:``, ``K:`` headers, then the notes).

    ``chords`` (spans with ``start``/``symbol``, e.g. from ``harmonize``) become quoted chord symbols; with
    ``mark_primer`` the first note is annotated ``"^primer"`` and the first generated note ``"^continuation"``.
    Accidentals follow ABC's rule: the key signature applies unless a sign is written, and a sign holds to the
    end of its bar.
    """
    if not melody.notes():
        raise BadInputError(f"melody {melody.name or ''} has no notes to write as ABC".replace("  ", " "))
    chords = chords if chords is not None else melody.meta.get("chords")
    key = key_of(melody, key)
    meter = meter_of(melody)
    spq = melody.steps_per_quarter
    bar, beat = meter_steps(meter, spq)
    chord_at = {c.start: c.symbol for c in chords or []}
    lines = [f"X:{number}", f"T:{title or melody.name or 'tunesmith melody'}"]
    if mark_primer and melody.primer_steps:
        lines.append(f"T:primer in orange: {_span_words(melody.primer_steps, bar, spq)}")
    lines += [f"M:{meter[0]}/{meter[1]}", "L:1/8"]
    if tempo:
        lines.append(f"Q:1/4={int(round(melody.qpm))}")
    clef = clef_for(n.pitch for n in melody.notes())
    lines.append(f"K:{key.name}" + (f" clef={clef}" if clef != "treble" else ""))
    body, line, bar_state, bars = [], [], {}, 0
    primer_marked = continuation_marked = False
    for tok in _tokens(melody, chords, meter):
        start = tok["start"]
        if start and start % bar == 0:
            bars += 1
            line.append(" |")
            bar_state = {}
            if bars % bars_per_line == 0:
                body.append("".join(line).strip())
                line = []
            line.append(" ")
        elif start % beat == 0:
            line.append(" ")
        text = ""
        if start in chord_at:
            text += f'"{chord_at.pop(start)}"'
        if mark_primer and melody.primer_steps and tok["pitch"] is not None and not text:  # one text per note (Verovio)
            if not primer_marked:
                text += '"^primer"'
                primer_marked = True
            elif not continuation_marked and start >= melody.primer_steps:
                text += '"^continuation"'
                continuation_marked = True
        elif mark_primer and tok["pitch"] is not None:  # a chord symbol holds the spot: the subtitle says it
            primer_marked = True
            continuation_marked = continuation_marked or start >= melody.primer_steps
        if tok["pitch"] is None:
            text += "z"
        else:
            text += _abc_pitch(tok["pitch"], key, bar_state)
        text += _abc_length(tok["length"], spq) + ("-" if tok["tie"] else "")
        line.append(text)
    line.append(" |]")
    body.append("".join(line).strip())
    return "\n".join(lines + body) + "\n"


def primer_note_count(melody: Melody, chords=None) -> int:
    """How many notes (tied pieces apiece) ``to_abc`` writes for the primer: the ones a score colours."""
    chords = chords if chords is not None else melody.meta.get("chords")
    tokens = _tokens(melody, chords, meter_of(melody))
    return sum(1 for t in tokens if t["pitch"] is not None and t["start"] < melody.primer_steps)


# --- MusicXML -----------------------------------------------------------------------------------------
def to_music21(melody: Melody, *, chords=None, key: str | Key | None = None, title: str | None = None, mark_primer: bool = False):
    """A music21 Score of the melody (key, meter, tempo, chord symbols; primer notes coloured if asked)."""
    try:
        from music21 import clef as m21clef
        from music21 import key as m21key
        from music21 import metadata, meter, note, stream, tempo
    except ImportError as exc:
        raise BadInputError("writing MusicXML needs music21: pip install 'tunesmith[scores]'") from exc
    notes = melody.notes()
    if not notes:
        raise BadInputError(f"melody {melody.name or ''} has no notes to write as MusicXML".replace("  ", " "))
    chords = chords if chords is not None else melody.meta.get("chords")
    k = key_of(melody, key)
    num, den = meter_of(melody)
    spq = melody.steps_per_quarter
    part = stream.Part()
    if clef_for(n.pitch for n in notes) == "bass":
        part.insert(0, m21clef.BassClef())
    part.insert(0, m21key.Key(k.spell(k.tonic).replace("b", "-"), k.mode))
    part.insert(0, meter.TimeSignature(f"{num}/{den}"))
    part.insert(0, tempo.MetronomeMark(number=round(melody.qpm)))
    cursor = 0
    for n in notes:
        if n.start > cursor:
            part.insert(cursor / spq, note.Rest(quarterLength=(n.start - cursor) / spq))
        name = k.spell(n.pitch % 12)
        alter = name[1:].count("#") - name[1:].count("b")
        m = note.Note(name.replace("b", "-") + str((n.pitch - alter) // 12 - 1), quarterLength=(n.end - n.start) / spq)
        if mark_primer and n.start < melody.primer_steps:
            m.style.color = PRIMER_COLOR
        part.insert(n.start / spq, m)
        cursor = n.end
    for c in chords or []:
        symbol = chord_symbol_m21(c.symbol, getattr(c, "root", None), getattr(c, "quality", None))
        if symbol is not None:
            part.insert(c.start / spq, symbol)
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or melody.name or "tunesmith melody")
    score.insert(0, part)
    return score.makeNotation()


def m21_figure(symbol: str) -> str:
    """A chord symbol as music21 spells it: ``'-'`` for flat in the root and bass (``'Bb'`` -> ``'B-'``,
    ``'Ebm'`` -> ``'E-m'``, ``'C/Bb'`` -> ``'C/B-'``); the quality's own ``b`` (``m7b5``) stays."""
    match = re.fullmatch(r"([A-G])([#b]*)(.*?)(?:/([A-Ga-g])([#b]*))?", symbol.strip())
    if not match:
        return symbol
    root, acc, quality, bass, bass_acc = match.groups()
    figure = root + acc.replace("b", "-") + quality
    if bass:
        figure += "/" + bass.upper() + (bass_acc or "").replace("b", "-")
    return figure


def chord_symbol_m21(symbol: str, root: int | None = None, quality: str | None = None):
    """A music21 ChordSymbol for a chord symbol in any key (flats included), or None when music21 cannot read it
    (``'N.C.'``): the root with the triad of ``quality`` is tried before giving up, so a chord never crashes an
    export."""
    from music21 import harmony

    figure = m21_figure(symbol)
    tries = [figure]
    m = re.match(r"([A-G][#-]*)", figure)
    if m:
        triad = {"min": "m", "dim": "dim", "min7": "m", "min6": "m", "dim7": "dim", "m7b5": "dim"}.get(quality or "", "")
        tries.append(m.group(1) + triad)
    for text in tries:
        try:
            out = harmony.ChordSymbol(text)
            if text != figure:
                out.figure = text
            return out
        except Exception:  # music21 raises ValueError/KeyError/HarmonyException for figures it does not know
            continue
    return None


def to_musicxml(melody: Melody, **kwargs) -> str:
    """MusicXML text of the melody (see ``to_music21`` for the options)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    data = GeneralObjectExporter(to_music21(melody, **kwargs)).parse()
    return data.decode("utf-8") if isinstance(data, bytes) else data


# --- files --------------------------------------------------------------------------------------------
def format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in NOTATION_SUFFIXES:
        raise BadInputError(f"{path}: unknown export format '{suffix or '(none)'}'; use .abc or .musicxml")
    return NOTATION_SUFFIXES[suffix]


def export_format(out: str | os.PathLike, fmt: str | None = None) -> str:
    """The format to write ``out`` in: ``fmt`` when given (checked), else the one its suffix names."""
    fmt = fmt or format_of(out)
    if fmt not in EXPORT_FORMATS:
        raise BadInputError(f"unknown export format '{fmt}'; use one of: {', '.join(EXPORT_FORMATS)}")
    return fmt


def export_melody(source, out: str | os.PathLike, *, fmt: str | None = None, chords=None, force: bool = False, **kwargs) -> Path:
    """Write a Melody or a MIDI/ABC/MusicXML file as ABC or MusicXML (chosen by ``fmt`` or the suffix), atomically.

    ``out`` is checked and locked before any work; an existing file is replaced only with ``force=True``.
    ``chords`` (spans) go under the (first) melody. Every tune of a multi-tune ABC file is kept (``export_melodies``);
    the path returned is ``out`` (for MusicXML of several tunes, the first tune's file)."""
    from tunesmith.core.folders import output_file

    fmt = export_format(out, fmt)
    with output_file(out, (Path(out).suffix.lower(),), inputs=[source], what=f"{fmt} file", force=force):
        melodies = [source] if isinstance(source, Melody) else load_melodies(source)
        per_melody = None if chords is None else [chords] + [None] * (len(melodies) - 1)
        return export_melodies(melodies, out, fmt=fmt, chords=per_melody, **kwargs)[0]


def tune_number(melody: Melody, index: int, taken: set[int]) -> int:
    """The ``X:`` number to write: the tune's own when it has a free one, else the next free from ``index + 1``."""
    own = str(melody.meta.get("tune_id", "")).strip()
    if own.isdigit() and int(own) not in taken:
        return int(own)
    n = index + 1
    while n in taken:
        n += 1
    return n


def export_melodies(
    melodies: list[Melody], out: str | os.PathLike, *, fmt: str | None = None, chords=None, title: str | None = None, **kwargs
) -> list[Path]:
    """Write melodies (e.g. the tunes of an ABC collection, from ``load_melodies``) as ABC or MusicXML.

    ABC holds them all in one file (``X:1``, ``X:2``... their own numbers where they have them); MusicXML holds one
    score, so several tunes give one file each, ``OUT-X<number>.musicxml``. ``chords`` is one list of spans per
    melody (None: each melody's own, ``meta['chords']``). Returns the paths written."""
    fmt = export_format(out, fmt)
    if not melodies:
        raise BadInputError(f"{out}: no melodies to write")
    chords = list(chords) if chords is not None else [None] * len(melodies)
    if len(chords) != len(melodies):
        raise BadInputError(f"{out}: {len(chords)} chord lists for {len(melodies)} melodies")
    several = len(melodies) > 1
    taken: set[int] = set()
    numbers = []
    for i, m in enumerate(melodies):
        numbers.append(tune_number(m, i, taken))
        taken.add(numbers[-1])
    titles = [title or m.meta.get("title") or m.name or None for m in melodies] if several else [title] * len(melodies)
    if fmt == "abc":
        tunes = [to_abc(m, chords=c, title=t, number=n, **kwargs) for m, c, t, n in zip(melodies, chords, titles, numbers)]
        return [write_text(out, "\n".join(tunes))]
    out = Path(out)
    paths = [out.with_name(f"{out.stem}-X{n}{out.suffix}") for n in numbers] if several else [out]
    for m, c, t, path in zip(melodies, chords, titles, paths):
        if path.suffix.lower() == ".mxl":
            score = to_music21(m, chords=c, title=t, **kwargs)
            with atomic_path(path) as tmp:
                score.write("mxl", fp=str(tmp))
        else:
            write_text(path, to_musicxml(m, chords=c, title=t, **kwargs))
    return paths
