"""Melodies out as notation: ABC text folk musicians paste into their tools, and MusicXML for score editors.

*ABC* is a plain-text notation: a header (``X:`` number, ``T:`` title, ``M:`` meter, ``L:`` unit note
length, ``Q:`` tempo, ``K:`` key) and then the notes as letters (``C`` = middle C, ``c`` an octave up,
``C,`` one down), lengths as multiples of ``L`` (``A2`` two units, ``A/`` half a unit), ``^``/``_``/``=``
for sharp/flat/natural, ``-`` for a tie, ``|`` for a bar line and chord symbols in quotes (``"Am"``).
*MusicXML* is the exchange format of notation programs (MuseScore, Finale, Sibelius); music21 writes it.

A melody read from a file keeps its key signature and meter in ``meta``; chord spans (from
``tunesmith.harmony``) come along as quoted chord symbols / ``<harmony>`` elements.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from tunesmith.errors import BadInputError
from tunesmith.files import atomic_path, write_text
from tunesmith.music.melody import Melody
from tunesmith.music.notation import Key, bar_steps, beat_steps, estimate_key, key_from_signature, meter_of, parse_key

EXPORT_FORMATS = ("abc", "musicxml")
CHORD_TRACK_NAME = "chords"
_SUFFIX_FORMAT = {".abc": "abc", ".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "musicxml"}


# --- reading --------------------------------------------------------------------------------------
def load_melody(source, steps_per_quarter: int = 4) -> Melody:
    """A Melody from a Melody, MIDI/ABC/MusicXML path or symusic Score, with ``meta`` holding what notation needs:
    ``time_signature`` (num, den), ``key`` (a Key, from the file's key signature) and ``chords`` (the spans of a
    track named ``chords``, as ``tunesmith harmonize`` writes)."""
    import symusic

    from tunesmith.music.midi import melody_from_score, read_score

    if isinstance(source, Melody):
        return source
    score = source if isinstance(source, symusic.Score) else read_score(source)
    name = Path(source).stem if isinstance(source, str | os.PathLike) else ""
    melody_tracks = [i for i, t in enumerate(score.tracks) if t.name != CHORD_TRACK_NAME and not t.is_drum and len(t.notes)]
    if not melody_tracks:
        raise BadInputError(f"{name or 'the score'}: no notes to write (the file is empty or holds only drums/chords)")
    work = score.copy()
    work.tracks = [t for t in score.tracks if t.name != CHORD_TRACK_NAME]
    melody = melody_from_score(work, steps_per_quarter=steps_per_quarter)
    melody.name = name
    if len(score.time_signatures):
        ts = score.time_signatures[0]
        melody.meta["time_signature"] = (int(ts.numerator), int(ts.denominator))
    if len(score.key_signatures):
        ks = score.key_signatures[0]
        melody.meta["key"] = key_from_signature(int(ks.key), bool(ks.tonality))
    chord_tracks = [t for t in score.tracks if t.name == CHORD_TRACK_NAME and len(t.notes)]
    if chord_tracks:
        from tunesmith.harmony import chords_from_track

        offset = _leading_steps_dropped(score, melody, steps_per_quarter)
        melody.meta["chords"] = chords_from_track(chord_tracks[0], score.tpq, steps_per_quarter, offset, key_of(melody))
    return melody


def _leading_steps_dropped(score, melody: Melody, steps_per_quarter: int) -> int:
    """melody_from_score drops whole bars of leading silence; chord spans shift by the same amount."""
    first_tick = min(int(t.notes.numpy()["time"].min()) for t in score.tracks if t.name != CHORD_TRACK_NAME and len(t.notes))
    first_step = int(round(first_tick * steps_per_quarter / score.tpq))
    return first_step - first_step % melody.steps_per_bar


def key_of(melody: Melody, key: str | Key | None = None) -> Key:
    """The key to write: the one asked for, else the file's key signature, else estimated from the notes."""
    if isinstance(key, Key):
        return key
    if key:
        return parse_key(key)
    if isinstance(melody.meta.get("key"), Key):
        return melody.meta["key"]
    return estimate_key(melody)[0]


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
    bar = bar_steps(meter, melody.steps_per_quarter)  # bar lines from the same meter the M: field states
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
    beat = beat_steps(meter, spq)
    bar = bar_steps(meter, spq)
    chord_at = {c.start: c.symbol for c in chords or []}
    lines = [f"X:{number}", f"T:{title or melody.name or 'tunesmith melody'}"]
    if mark_primer and melody.primer_steps:
        lines.append(f"T:primer in orange: {_span_words(melody.primer_steps, bar, spq)}")
    lines += [f"M:{meter[0]}/{meter[1]}", "L:1/8"]
    if tempo:
        lines.append(f"Q:1/4={int(round(melody.qpm))}")
    lines.append(f"K:{key.name}")
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
        from music21 import harmony, metadata, meter, note, stream, tempo
        from music21 import key as m21key
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
            m.style.color = PRIMER_COLOUR
        part.insert(n.start / spq, m)
        cursor = n.end
    for c in chords or []:
        part.insert(c.start / spq, harmony.ChordSymbol(c.symbol))
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or melody.name or "tunesmith melody")
    score.insert(0, part)
    return score.makeNotation()


PRIMER_COLOUR = "#e6550d"  # the orange the piano rolls draw the primer in (plots.PRIMER_COLOR)


def to_musicxml(melody: Melody, **kwargs) -> str:
    """MusicXML text of the melody (see ``to_music21`` for the options)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    data = GeneralObjectExporter(to_music21(melody, **kwargs)).parse()
    return data.decode("utf-8") if isinstance(data, bytes) else data


# --- files --------------------------------------------------------------------------------------------
def format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise BadInputError(f"{path}: unknown export format '{suffix or '(none)'}'; use .abc or .musicxml")
    return _SUFFIX_FORMAT[suffix]


def export_melody(source, out: str | os.PathLike, *, fmt: str | None = None, force: bool = False, **kwargs) -> Path:
    """Write a Melody or a MIDI/ABC/MusicXML file as ABC or MusicXML (chosen by ``fmt`` or the suffix), atomically.
    ``out`` is checked and locked before any work; an existing file is replaced only with ``force=True``."""
    from tunesmith.outputs import output_file

    fmt = fmt or format_of(out)
    if fmt not in EXPORT_FORMATS:
        raise BadInputError(f"unknown export format '{fmt}'; use one of: {', '.join(EXPORT_FORMATS)}")
    with output_file(out, (Path(out).suffix.lower(),), inputs=[source], what=f"{fmt} file", force=force):
        return _export_melody(source, out, fmt, kwargs)


def _export_melody(source, out: str | os.PathLike, fmt: str, kwargs: dict) -> Path:
    melody = load_melody(source)
    if fmt == "abc":
        return write_text(out, to_abc(melody, **kwargs))
    if Path(out).suffix.lower() == ".mxl":
        score = to_music21(melody, **kwargs)
        with atomic_path(out) as tmp:
            score.write("mxl", fp=str(tmp))
        return Path(out)
    return write_text(out, to_musicxml(melody, **kwargs))
