"""MIDI (and score formats) in and out, and Magenta-style melody extraction.

MIDI files are parsed with symusic (a C++ parser, far faster than pretty_midi). Time in MIDI is
counted in *ticks*; ``tpq`` (ticks per quarter note) converts ticks to beats. Score formats
(MusicXML, ABC, Humdrum kern) are read through music21 when it is installed.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from tunesmith.core.errors import BadInputError
from tunesmith.core.files import write_bytes
from tunesmith.music.chords import CHORD_TRACK_NAME
from tunesmith.music.key import Key, key_of
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, NO_EVENT, NOTE_OFF, Melody, Note
from tunesmith.music.meter import meter_of, meter_steps, score_meter
from tunesmith.music.smf import MidiDamage, has_note_ons, repair

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
SCORE_SUFFIXES = (".musicxml", ".mxl", ".xml", ".abc", ".krn")
MAX_MIDI_BYTES = 64 * 1024 * 1024
MAX_SCORE_NOTES = 2_000_000
MAX_MELODY_STEPS = 1 << 20  # a melody read from a file spans at most this (65,536 bars of 4/4: 36 hours at 120 qpm)


def read_score(path: str | os.PathLike) -> symusic.Score:
    """Read a MIDI file (or a MusicXML/ABC/kern file via music21) into a symusic Score in ticks."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".abc":
        tunes = read_abc_tunes(path)
        if not tunes:
            raise BadInputError(f"{path}: no ABC tune (no 'X:' header with notes) found")
        return tunes[0][1]
    if suffix in SCORE_SUFFIXES:
        return _read_with_music21(path)
    data = path.read_bytes()
    return score_from_bytes(data, name=str(path))


def score_from_bytes(data: bytes, name: str = "<bytes>") -> symusic.Score:
    if len(data) > MAX_MIDI_BYTES:
        raise BadInputError(f"{name}: {len(data) / 1e6:.0f} MB is too large for a MIDI file (limit {MAX_MIDI_BYTES // 2**20} MB)")
    if not data:
        raise BadInputError(f"{name}: file is empty (0 bytes); export the MIDI again")
    if data[:4] != b"MThd":
        raise BadInputError(f"{name}: not a MIDI file (it does not start with 'MThd'); give a Standard MIDI File")
    try:
        score = symusic.Score.from_midi(data)
    except Exception:  # symusic raises RuntimeError/ValueError/IndexError for damaged files: say what is wrong
        score = _salvage(data, name)
    else:
        if score.note_num() == 0 and has_note_ons(data):  # note-ons that symusic dropped (no note-off)
            score = _salvage(data, name, quiet_if_unchanged=True) or score
    if score.tpq <= 0:
        raise BadInputError(f"{name}: MIDI header has an invalid resolution (tpq={score.tpq})")
    if score.note_num() > MAX_SCORE_NOTES:
        raise BadInputError(f"{name}: {score.note_num()} notes is more than the limit {MAX_SCORE_NOTES}")
    check_tempos(score, name)
    check_times(score, name)
    return score


def check_times(score: symusic.Score, name: str) -> None:
    """Refuse notes before the start: delta times that add up past 2^31 ticks wrap to negative times (damage)."""
    for number, track in enumerate(score.tracks, 1):
        if len(track.notes) and (track.start() < 0 or track.end() < 0):
            raise BadInputError(
                f"{name}: corrupt MIDI file: track {number}'s delta times add up past what a MIDI file can hold "
                "(a note lands outside the piece); export it again from your editor"
            )


def _salvage(data: bytes, name: str, quiet_if_unchanged: bool = False) -> symusic.Score | None:
    """The score of a file symusic refused (or read as empty): rebuilt by ``smf.repair`` with a warning saying
    what was mended, or a BadInputError saying in plain words what is wrong."""
    try:
        fixed = repair(data)
        score = symusic.Score.from_midi(fixed.data)
    except MidiDamage as exc:
        raise BadInputError(f"{name}: corrupt MIDI file: {exc}") from None
    except Exception:
        raise BadInputError(f"{name}: corrupt MIDI file that tunesmith cannot read; export it again from your editor") from None
    if quiet_if_unchanged and not fixed.notes:
        return None
    if fixed.notes:
        warnings.warn(f"{name}: {'; '.join(fixed.notes)}", stacklevel=3)
    return score


MIN_QPM, MAX_QPM = 4.0, 1000.0  # a MIDI tempo outside this is damage (0 microseconds per quarter: an infinite tempo)


def check_tempos(score: symusic.Score, name: str) -> None:
    """Refuse a tempo that cannot be played: 0 (infinitely fast, a 1 s blip when rendered) or absurd."""
    for tempo in score.tempos:
        qpm = float(tempo.qpm)
        if not MIN_QPM <= qpm <= MAX_QPM:
            said = (
                "0 (an infinitely fast tempo)"
                if tempo.mspq == 0 or not np.isfinite(qpm)
                else f"{qpm:,.4g} quarter notes per minute"
            )
            raise BadInputError(
                f"{name}: its tempo at tick {tempo.time} is {said}, which no music plays at "
                f"(tunesmith reads {MIN_QPM:g}-{MAX_QPM:g}); set a real tempo in your editor and export it again"
            )


def read_abc_tunes(path: str | os.PathLike, *, chords: bool = False) -> list[tuple[str, symusic.Score]]:
    """Every tune (``X:`` section) of an ABC file, parsed by symusic's ABC reader: ``[(tune id, Score)]``.

    ABC is the plain-text notation most folk collections are kept in; one file often holds hundreds of
    tunes. Tunes that fail to parse or hold no notes are left out.

    Chord symbols (``"G"``, ``"D7"``) are accompaniment, not melody: the reader would play them as a bass line and
    a line of chord tones (two more tracks), so they are taken out of the text first and every tune gives only its
    melody (one track per ``V:`` voice). With ``chords=True`` they come back as one more track named ``chords``
    (each chord's root in the bass and its tones above, the symbol as the track's lyric at its start), the track
    ``tunesmith harmonize`` writes.
    """
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    chunks = ["X:" + chunk for chunk in ("\n" + text).split("\nX:")[1:]]
    tunes = []
    with _quiet_stdout():  # the ABC reader prints a warning per irregular bar
        for chunk in chunks:
            tune_id = chunk.split("\n", 1)[0][2:].strip() or str(len(tunes) + 1)
            try:
                score = symusic.Score.from_abc(_abc_without_chord_symbols(chunk))
            except Exception:
                continue
            if score.note_num() > 0:
                if chords:
                    track = _abc_chord_track(chunk, score.tpq)
                    if track is not None:
                        score.tracks.append(track)
                tunes.append((tune_id, score))
    return tunes


_ABC_FIELD = re.compile(r"^[A-Za-z+]:")


def _abc_body_lines(chunk: str):
    """(is_body, code, comment) per line of one ABC tune: header/field lines and %% directives are not body."""
    in_body = False
    for line in chunk.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("%") or _ABC_FIELD.match(stripped):
            if stripped.startswith("K:"):
                in_body = True
            yield False, line, ""
            continue
        cut = line.find("%")
        code, comment = (line, "") if cut < 0 else (line[:cut], line[cut:])
        yield in_body, code, comment


def _abc_without_chord_symbols(chunk: str) -> str:
    """The tune with every quoted string (chord symbols and annotations, which sound nothing) taken out of its body."""
    out = []
    for body, code, comment in _abc_body_lines(chunk):
        out.append(re.sub(r'"[^"\n]*"', "", code) + comment if body else code + comment)
    return "\n".join(out)


def _abc_chord_symbols(chunk: str) -> list[str]:
    """The chord symbols of a tune's body in order of appearance (annotations, ``"^text"``, left out)."""
    found = []
    for body, code, _ in _abc_body_lines(chunk):
        if body:
            found += [m for m in re.findall(r'"([^"\n]*)"', code) if m and m[0] in "ABCDEFG"]
    return found


def _abc_meter_sixteenths(chunk: str) -> int:
    """Sixteenth notes in one bar of the tune's first ``M:`` field (4/4 when there is none, or it is free)."""
    match = re.search(r"^M:\s*([^\n%]*)", chunk, re.M)
    field = match.group(1).strip() if match else ""
    if field.startswith("C"):
        return 16
    nums = re.match(r"(\d+(?:\+\d+)*)\s*/\s*(\d+)", field)
    if not nums:
        return 16
    num, den = sum(int(x) for x in nums.group(1).split("+")), int(nums.group(2))
    return max(1, int(round(16 * num / den))) if den > 0 else 16


def _abc_chord_track(chunk: str, tpq: int):
    """The tune's chord symbols as a ``chords`` track, timed by symusic's own reader (repeats expanded as the
    melody's are): the reader plays each symbol on every step of a ``%%MIDI gchord`` pattern of fine steps, and
    runs of one chord become one span. None when the tune has no chord symbols."""
    symbols = _abc_chord_symbols(chunk)
    if not symbols:
        return None
    sixteenths = _abc_meter_sixteenths(chunk)
    pattern = "c" * (sixteenths * max(1, 40 // sixteenths) if sixteenths <= 40 else 40)  # the reader's limit is 40
    lines = [line for line in chunk.split("\n") if not re.match(r"\s*%%MIDI\s+(gchord|chordprog|nobass|nochord)", line)]
    k_line = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if k_line is None:
        return None
    lines.insert(k_line + 1, f"%%MIDI gchord {pattern}")
    try:
        played = symusic.Score.from_abc("\n".join(lines))
    except Exception:
        return None
    voicings = _abc_symbol_voicings(symbols)
    groups: dict[int, list[tuple[int, int]]] = {}
    for t in played.tracks[1:]:  # the melody (voices) first, then the chords the reader played
        for n in t.notes:
            groups.setdefault(int(n.time), []).append((int(n.pitch), int(n.end)))
    spans: list[list] = []  # [start, end, pitches]
    for time in sorted(groups):
        pitches = tuple(sorted({p for p, _ in groups[time]}))
        end = max(e for _, e in groups[time])
        if spans and spans[-1][2] == pitches and time <= spans[-1][1] + tpq // 4:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([time, end, pitches])
    if not spans:
        return None
    track = symusic.Track(CHORD_TRACK_NAME, 24, False)
    for start, end, pitches in spans:
        symbol = voicings.get(pitches)
        root = _symbol_root(symbol) if symbol else None
        if root is None:
            root = pitches[0] % 12
        bass = 40 + (root - 40) % 12
        tones = sorted({55 + (p - 55) % 12 for p in pitches})
        for p in [bass, *tones]:
            track.notes.append(symusic.Note(start, max(1, end - start), int(p), 64))
        if symbol:
            track.lyrics.append(symusic.TextMeta(start, symbol))
    return track


def _abc_symbol_voicings(symbols: list[str]) -> dict[tuple[int, ...], str]:
    """Pitches the ABC reader plays for each chord symbol -> the symbol (the first one written, for two alike)."""
    out: dict[tuple[int, ...], str] = {}
    for symbol in dict.fromkeys(symbols):
        try:
            probe = symusic.Score.from_abc(f'X:1\nM:4/4\nL:1/4\n%%MIDI gchord c\nK:C\n"{symbol}"C4|\n')
        except Exception:
            continue
        pitches = tuple(sorted({int(n.pitch) for t in probe.tracks[1:] for n in t.notes}))
        if pitches:
            out.setdefault(pitches, symbol)
    return out


_NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _symbol_root(symbol: str) -> int | None:
    """The root pitch class a chord symbol names (``'Bb7'`` -> 10, ``'F#m'`` -> 6)."""
    match = re.match(r"([A-G])([#b]?)", symbol)
    if not match:
        return None
    return (_NOTE_PC[match.group(1)] + {"#": 1, "b": -1, "": 0}[match.group(2)]) % 12


class _quiet_stdout:
    """Silence C-level writes to stdout (fd 1) for the duration of a block."""

    def __enter__(self):
        import sys

        sys.stdout.flush()
        self._saved = os.dup(1)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)

    def __exit__(self, *exc):
        os.dup2(self._saved, 1)
        os.close(self._saved)
        os.close(self._null)


def _read_with_music21(path: Path) -> symusic.Score:
    try:
        import music21
    except ImportError as exc:
        raise BadInputError(f"{path}: reading {path.suffix} needs music21: pip install 'tunesmith[scores]'") from exc
    try:
        stream = music21.converter.parse(str(path))
        from music21 import harmony
        from music21.midi.translate import streamToMidiFile

        chords = _chord_symbols(stream)
        # music21 plays chord symbols (<harmony>) as notes in its MIDI: they are chords, not melody
        for symbol in list(stream.recurse().getElementsByClass(harmony.Harmony)):
            symbol.activeSite.remove(symbol)
        midi_file = streamToMidiFile(stream)
        data = midi_file.writestr()
    except Exception as exc:
        raise BadInputError(
            f"{path}: music21 could not read it ({type(exc).__name__}: {exc}); export it again from your notation program"
        ) from exc
    score = score_from_bytes(data, name=str(path))
    track = _chord_symbol_track(chords, float(stream.highestTime), score)
    if track is not None:
        score.tracks.append(track)
    return score


def _chord_symbols(stream) -> list:
    """(offset in quarters, ChordSymbol) of a music21 stream's chord symbols, in time order (N.C. left out)."""
    from music21 import harmony

    try:
        found = [(float(c.getOffsetInHierarchy(stream)), c) for c in stream.recurse().getElementsByClass(harmony.ChordSymbol)]
    except Exception:  # a stream music21 cannot place: no chords rather than no melody
        return []
    return sorted(((o, c) for o, c in found if not isinstance(c, harmony.NoChord) and c.pitches), key=lambda x: x[0])


def _chord_symbol_track(symbols: list, end_quarters: float, score: symusic.Score):
    """Chord symbols (``<harmony>``, from ``_chord_symbols``) as a ``chords`` track (root in the bass, tones above,
    the symbol as lyric), timed in the score's ticks; None when there are none."""
    if not symbols:
        return None
    track = symusic.Track(CHORD_TRACK_NAME, 24, False)
    for i, (offset, chord) in enumerate(symbols):
        stop = symbols[i + 1][0] if i + 1 < len(symbols) else max(end_quarters, offset + 1)
        start, length = int(round(offset * score.tpq)), max(1, int(round((stop - offset) * score.tpq)))
        if stop <= offset:
            continue
        root = int(chord.root().pitchClass)
        tones = sorted({55 + (int(p.pitchClass) - 55) % 12 for p in chord.pitches})
        for pitch in [40 + (root - 40) % 12, *tones]:
            track.notes.append(symusic.Note(start, length, int(pitch), 64))
        figure = str(chord.figure).replace("-", "b") if chord.figure else ""
        if figure:
            track.lyrics.append(symusic.TextMeta(start, figure))
    return track if len(track.notes) else None


def first_tempo_qpm(score: symusic.Score, default: float = 120.0) -> float:
    return float(score.tempos[0].qpm) if len(score.tempos) else default


def steps_per_bar_of(score: symusic.Score, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> int:
    """Steps in one bar of the first time signature (4/4 at 4 steps/quarter -> 16; an unusable one, e.g. 255/0 of
    a damaged file, counts as 4/4, as ``score_meter`` says)."""
    meter = score_meter(score, steps_per_quarter)
    return meter_steps(meter or (4, 4), steps_per_quarter)[0]


# --- extraction ---------------------------------------------------------------------------
@dataclass
class ExtractionSettings:
    """Magenta's MelodyExtractor settings (melody_rnn_pipeline defaults)."""

    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER
    min_bars: int = 7
    max_steps: int = 512
    min_unique_pitches: int = 5
    gap_bars: float = 1.0
    ignore_polyphonic_notes: bool = True


@dataclass
class ExtractionResult:
    melodies: list[Melody]
    stats: Counter = field(default_factory=Counter)


def quantize_ticks(ticks: np.ndarray, tpq: int, steps_per_quarter: int) -> np.ndarray:
    """Ticks -> steps, rounding half up as Magenta's quantizer does."""
    return np.floor(ticks.astype(np.float64) * steps_per_quarter / tpq + 0.5).astype(np.int64)


def extract_melodies(score: symusic.Score, settings: ExtractionSettings | None = None) -> ExtractionResult:
    """Monophonic melodies from every non-drum track, the way Magenta's ``extract_melodies`` does it.

    Per track, a melody starts at the bar of its first note and runs until a rest of ``gap_bars``;
    then the search continues after it. Two notes starting on one step are polyphony: the highest is
    kept when ``ignore_polyphonic_notes`` (else the track is discarded, Magenta's melody_rnn default).
    Melodies shorter than ``min_bars`` or with fewer than ``min_unique_pitches`` are dropped, longer
    than ``max_steps`` are truncated to whole bars.
    """
    settings = settings or ExtractionSettings()
    spq = settings.steps_per_quarter
    steps_per_bar = steps_per_bar_of(score, spq)
    meter = score_meter(score, spq)
    if meter is not None and meter_steps(meter, spq)[0] != steps_per_bar:
        meter = None
    qpm = first_tempo_qpm(score)
    stats: Counter = Counter()
    melodies: list[Melody] = []
    for track_index, track in enumerate(score.tracks):
        if track.is_drum:
            stats["drum_tracks_skipped"] += int(len(track.notes) > 0)
            continue
        if len(track.notes) == 0:
            continue
        if len(track.notes) < settings.min_unique_pitches:  # cannot hold a melody; skipping it keeps a file
            stats["melodies_discarded_too_few_pitches"] += 1  # of 65,535 one-note tracks fast
            continue
        arrays = track.notes.numpy()
        starts = quantize_ticks(arrays["time"], score.tpq, spq)
        ends = quantize_ticks(arrays["time"].astype(np.int64) + arrays["duration"], score.tpq, spq)
        ends = np.maximum(ends, starts + 1)
        pitches = arrays["pitch"].astype(np.int64)
        order = np.lexsort((-pitches, starts))
        starts, ends, pitches = starts[order], ends[order], pitches[order]
        search_start = 0
        while True:
            melody_events, next_start, polyphonic = _extract_one(starts, ends, pitches, search_start, steps_per_bar, settings)
            if polyphonic:
                stats["polyphonic_tracks_discarded"] += 1
                break
            if melody_events is None:
                break
            search_start = next_start
            if len(melody_events) < steps_per_bar * settings.min_bars:
                stats["melodies_discarded_too_short"] += 1
                continue
            if settings.max_steps and len(melody_events) > settings.max_steps:
                length = settings.max_steps - settings.max_steps % steps_per_bar
                melody_events = melody_events[: max(length, steps_per_bar)]
                stats["melodies_truncated"] += 1
            if np.unique(melody_events[melody_events >= 0]).size < settings.min_unique_pitches:
                stats["melodies_discarded_too_few_pitches"] += 1
                continue
            melodies.append(
                Melody(
                    melody_events,
                    steps_per_quarter=spq,
                    steps_per_bar=steps_per_bar,
                    qpm=qpm,
                    meta={"track": track_index, "program": int(track.program)},
                    meter=meter,
                )
            )
    stats["melodies_extracted"] += len(melodies)
    return ExtractionResult(melodies, stats)


def _extract_one(starts, ends, pitches, search_start, steps_per_bar, settings):
    """One melody from ``search_start``: (events, end step, polyphonic?) as Magenta's Melody builds it."""
    index = int(np.searchsorted(starts, search_start, side="left"))
    if index >= len(starts):
        return None, None, False
    first = int(starts[index])
    melody_start = first - (first - search_start) % steps_per_bar
    events: list[int] = []
    last_on = last_off = None
    gap = settings.gap_bars * steps_per_bar
    for k in range(index, len(starts)):
        start = int(starts[k]) - melody_start
        end = int(ends[k]) - melody_start
        if last_on is not None:
            if start == last_on:
                if settings.ignore_polyphonic_notes:
                    continue
                return None, None, True
            if start - last_off >= gap:
                break
        # add the note (Magenta's _add_note): truncates whatever lay beyond this note's end
        if len(events) < end + 1:
            events.extend([NO_EVENT] * (end + 1 - len(events)))
        else:
            del events[end + 1 :]
        events[start] = int(pitches[k])
        for i in range(start + 1, end):
            events[i] = NO_EVENT
        events[end] = NOTE_OFF
        last_on, last_off = start, end
    # a last note that ends on a bar line ends the melody there: its note-off would be a lone event on the next
    # bar line, which Magenta pads into an empty bar (so a model learns to open every bar after a phrase with a rest)
    if len(events) > 1 and events[-1] == NOTE_OFF and (len(events) - 1) % steps_per_bar == 0:
        events.pop()
    # pad to whole bars, as Magenta does with pad_end=True
    length = len(events)
    if length % steps_per_bar:
        events.extend([NO_EVENT] * (steps_per_bar - length % steps_per_bar))
    return np.asarray(events, dtype=np.int16), melody_start + last_off, False


_MELODY_WORDS = ("melody", "melodie", "melodia", "solo", "lead", "right", "vocal", "voice", "tune", "theme", "soprano", "canto")
_ACCOMPANIMENT_WORDS = ("bass", "chord", "accomp", "pad", "left", "harmon", "rhythm", "comp", "backing", "drum", "perc")


@dataclass(frozen=True)
class TrackChoice:
    """Which track of a score holds the melody, and why (``describe()`` is the line the commands print)."""

    index: int  # in score.tracks
    name: str
    candidates: int  # pitched tracks it was chosen from (not drums, not the ``chords`` track)
    reason: str

    def describe(self) -> str:
        label = f"track {self.index + 1}" + (f" '{self.name}'" if self.name else "")
        if self.candidates <= 1:
            return f"melody: {label}"
        return f"melody: {label} of {self.candidates} pitched tracks ({self.reason})"


def choose_melody_track(score: symusic.Score) -> TrackChoice:
    """The track that carries the tune: the one shared choice of ``score``, ``export``, ``harmonize`` and primers.

    Among the pitched tracks (not drums, not a ``chords`` track), each gets points for a name that says melody
    (Melody, Solo, Lead, Right, Vocal...; Bass, Chords, Accomp, Pad, Left lose points), for being monophonic (share
    of notes that start alone and do not overlap the previous one), for a high mean pitch (the tune lies above
    its accompaniment) and for sounding through the piece (a four-note intro does not win). A skyline over all
    tracks would let the accompaniment cut into the melody wherever it is higher.
    """
    rows = []
    end_of_piece = max((int(t.end()) for t in score.tracks if len(t.notes)), default=1) or 1
    for i, t in enumerate(score.tracks):
        if t.is_drum or not len(t.notes) or t.name == CHORD_TRACK_NAME:
            continue
        a = t.notes.numpy()
        order = np.lexsort((-a["pitch"].astype(np.int64), a["time"]))
        starts = a["time"][order].astype(np.int64)
        ends = starts + a["duration"][order].astype(np.int64)
        pitches = a["pitch"][order].astype(np.int64)
        slack = max(1, score.tpq // 8)
        if starts.size > 1:
            prev_end = np.maximum.accumulate(ends)[:-1]
            alone = np.concatenate([[True], (starts[1:] >= prev_end - slack) & (starts[1:] != starts[:-1])])
        else:
            alone = np.ones(1, bool)
        mono = float(alone.mean())
        mean_pitch = float(pitches[alone].mean())  # the line's top notes where it has chords
        covered = _covered_ticks(starts, ends) / end_of_piece
        words = t.name.lower()
        name_score = (
            1.0 if any(w in words for w in _MELODY_WORDS) else -1.0 if any(w in words for w in _ACCOMPANIMENT_WORDS) else 0.0
        )
        points = 2.0 * name_score + 2.0 * mono + (mean_pitch - 60.0) / 12.0 + 1.5 * min(1.0, covered)
        if np.unique(pitches).size < 3:
            points -= 3.0
        rows.append((points, -i, i, t.name, mono, mean_pitch, name_score))
    if not rows:
        raise BadInputError("the MIDI file has no pitched notes (only drums, or empty)")
    points, _, index, name, mono, mean_pitch, name_score = max(rows)
    why = "named as a melody, " if name_score > 0 else ""
    why += f"{mono:.0%} monophonic, mean pitch {mean_pitch:.0f}"
    return TrackChoice(index, name, len(rows), why)


def _covered_ticks(starts: np.ndarray, ends: np.ndarray) -> int:
    """Ticks during which at least one of the notes sounds (starts sorted)."""
    total, cur_s, cur_e = 0, None, None
    for a, b in zip(starts.tolist(), ends.tolist()):
        if cur_e is None or a > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = a, b
        else:
            cur_e = max(cur_e, b)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def melody_from_score(
    score: symusic.Score,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    track: int | str | None = "auto",
    trim_leading: bool = True,
) -> Melody:
    """The main line of a score as one Melody (for primers, scores, exports and chords): the notes of its melody
    track (``track="auto"``: ``choose_melody_track``; an index: that track; None: a skyline over every pitched
    track), highest on collisions. ``meta`` records the track taken (``track``, ``track_name``, ``track_choice``).

    Leading silence is dropped up to the bar line of the first note (``trim_leading=False`` keeps it: bar
    numbers then match the file's).
    """
    choice = None
    if isinstance(track, str):
        if track != "auto":
            raise BadInputError(f"track '{track}': give a track number, 'auto' or None")
        choice = choose_melody_track(score)
        track = choice.index
    tracks = [t for i, t in enumerate(score.tracks) if not t.is_drum and len(t.notes) and (track is None or i == track)]
    if not tracks:
        raise BadInputError("the MIDI file has no pitched notes (only drums, or empty)")
    starts_l, ends_l, pitches_l = [], [], []
    for t in tracks:
        a = t.notes.numpy()
        starts_l.append(quantize_ticks(a["time"], score.tpq, steps_per_quarter))
        ends_l.append(quantize_ticks(a["time"].astype(np.int64) + a["duration"], score.tpq, steps_per_quarter))
        pitches_l.append(a["pitch"].astype(np.int64))
    starts, ends, pitches = (np.concatenate(x) for x in (starts_l, ends_l, pitches_l))
    ends = np.maximum(ends, starts + 1)
    spb = steps_per_bar_of(score, steps_per_quarter)
    if trim_leading:  # leading silence goes before the event list is made (a damaged file may start hours late)
        shift = int(starts.min()) - int(starts.min()) % spb
        starts, ends = starts - shift, ends - shift
    if int(ends.max()) > MAX_MELODY_STEPS:
        raise BadInputError(
            f"its notes span {int(ends.max()) / spb:,.0f} bars (over {MAX_MELODY_STEPS // spb:,} bars: a gap or a "
            "note hours long, from a damaged delta time); cut the file to the music in your editor"
        )
    events = Melody.from_notes([Note(int(p), int(s), int(e)) for s, e, p in zip(starts, ends, pitches)]).events
    # drop leading silence up to the bar line of the first note
    first = int(np.flatnonzero(events >= 0)[0])
    if trim_leading:
        events = events[first - first % spb :]
    meter = score_meter(score, steps_per_quarter)
    meter = meter if meter is not None and meter_steps(meter, steps_per_quarter)[0] == spb else None
    melody = Melody(events, steps_per_quarter=steps_per_quarter, steps_per_bar=spb, qpm=first_tempo_qpm(score), meter=meter)
    if track is not None:
        melody.meta.update(track=int(track), track_name=score.tracks[track].name, program=int(score.tracks[track].program))
    if choice is not None:
        melody.meta["track_choice"] = choice.describe()
        melody.meta["track_candidates"] = choice.candidates
    return melody


# --- writing ------------------------------------------------------------------------------
def melody_to_score(
    melody: Melody,
    program: int = 0,
    velocity: int = 100,
    tpq: int = 480,
    qpm: float | None = None,
    name: str = "melody",
    key: str | Key | None = None,
) -> symusic.Score:
    """A one-track Score of the melody with tempo, time signature and key signature set.

    The key signature is the melody's one key (``key_of``: ``key`` when given, else the key its score, ABC and chords
    use), so a DAW or notation program opening the file shows the key the tune ends in."""
    qpm = float(qpm or melody.qpm)
    ticks_per_step = tpq // melody.steps_per_quarter
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    numerator, denominator = meter_of(melody)
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
    if key is not None or melody.notes():
        found = key_of(melody, key)
        score.key_signatures.append(symusic.KeySignature(0, found.fifths, int(found.mode == "minor")))
    track = symusic.Track(name, int(program), False)
    for note in melody.notes():
        track.notes.append(
            symusic.Note(note.start * ticks_per_step, (note.end - note.start) * ticks_per_step, note.pitch, velocity)
        )
    score.tracks.append(track)
    return score


def write_midi(obj: Melody | symusic.Score, path: str | os.PathLike, **kwargs) -> Path:
    """Write a Melody or Score as a Standard MIDI File, atomically."""
    score = melody_to_score(obj, **kwargs) if isinstance(obj, Melody) else obj
    # serialise in memory and write from Python: symusic's own dump_midi ignores a full disk and leaves a
    # truncated file, which the atomic rename would then put over the good one
    return write_bytes(path, bytes(score.dumps_midi()))


def as_score(obj) -> symusic.Score:
    """Accept a Score, a Melody, MIDI bytes or a path and return a Score."""
    if isinstance(obj, symusic.Score):
        return obj
    if isinstance(obj, Melody):
        return melody_to_score(obj)
    if isinstance(obj, bytes | bytearray):
        return score_from_bytes(bytes(obj))
    if isinstance(obj, io.IOBase):
        return score_from_bytes(obj.read())
    return read_score(obj)


def source_name(obj) -> str:
    """How a message names a piece given as a path, MIDI bytes, a Score or a Melody."""
    if isinstance(obj, str | os.PathLike):
        return str(obj)
    if isinstance(obj, bytes | bytearray):
        return "the MIDI data"
    if type(obj).__name__.startswith("Score"):
        return "the score"
    name = getattr(obj, "name", "")
    return f"{type(obj).__name__} '{name}'" if name else type(obj).__name__
