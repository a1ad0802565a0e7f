"""MIDI (and score formats) in and out, and Magenta-style melody extraction.

MIDI files are parsed with symusic (a C++ parser, far faster than pretty_midi). Time in MIDI is
counted in *ticks*; ``tpq`` (ticks per quarter note) converts ticks to beats. Score formats
(MusicXML, ABC, Humdrum kern) are read through music21 when it is installed.
"""

from __future__ import annotations

import io
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from tunesmith.errors import BadInputError
from tunesmith.files import write_bytes
from tunesmith.music.melody import DEFAULT_STEPS_PER_QUARTER, NO_EVENT, NOTE_OFF, Melody, Note
from tunesmith.music.meter import check_meter, meter_steps
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
    return score


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


def read_abc_tunes(path: str | os.PathLike) -> list[tuple[str, symusic.Score]]:
    """Every tune (``X:`` section) of an ABC file, parsed by symusic's ABC reader: ``[(tune id, Score)]``.

    ABC is the plain-text notation most folk collections are kept in; one file often holds hundreds of
    tunes. Tunes that fail to parse or hold no notes are left out.
    """
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    chunks = ["X:" + chunk for chunk in ("\n" + text).split("\nX:")[1:]]
    tunes = []
    with _quiet_stdout():  # the ABC reader prints a warning per irregular bar
        for chunk in chunks:
            tune_id = chunk.split("\n", 1)[0][2:].strip() or str(len(tunes) + 1)
            try:
                score = symusic.Score.from_abc(chunk)
            except Exception:
                continue
            if score.note_num() > 0:
                tunes.append((tune_id, score))
    return tunes


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
        from music21.midi.translate import streamToMidiFile

        midi_file = streamToMidiFile(stream)
        data = midi_file.writestr()
    except Exception as exc:
        raise BadInputError(f"{path}: music21 could not read it ({type(exc).__name__}: {exc})") from exc
    return score_from_bytes(data, name=str(path))


def first_tempo_qpm(score: symusic.Score, default: float = 120.0) -> float:
    return float(score.tempos[0].qpm) if len(score.tempos) else default


def steps_per_bar_of(score: symusic.Score, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> int:
    """Steps in one bar of the first time signature (4/4 at 4 steps/quarter -> 16; an unusable one, e.g. 255/0 of
    a damaged file, counts as 4/4, as ``meter_of`` says)."""
    meter = meter_of(score, steps_per_quarter)
    return meter_steps(meter or (4, 4), steps_per_quarter)[0]


def meter_of(score: symusic.Score, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER) -> tuple[int, int] | None:
    """The first time signature as (numerator, denominator); None when there is none or it is unusable (then 4/4)."""
    if not len(score.time_signatures):
        return None
    ts = score.time_signatures[0]
    try:
        return check_meter(int(ts.numerator), int(ts.denominator), steps_per_quarter)
    except BadInputError:
        return None


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
    meter = meter_of(score, spq)
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
    # pad to whole bars, as Magenta does with pad_end=True
    length = len(events)
    if length % steps_per_bar:
        events.extend([NO_EVENT] * (steps_per_bar - length % steps_per_bar))
    return np.asarray(events, dtype=np.int16), melody_start + last_off, False


def melody_from_score(
    score: symusic.Score, steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER, track: int | None = None, trim_leading: bool = True
) -> Melody:
    """The main line of a score as one Melody (for primers): every pitched note, highest on collisions.

    Leading silence is dropped up to the bar line of the first note (``trim_leading=False`` keeps it: bar
    numbers then match the file's).
    """
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
    meter = meter_of(score, steps_per_quarter)
    meter = meter if meter is not None and meter_steps(meter, steps_per_quarter)[0] == spb else None
    return Melody(events, steps_per_quarter=steps_per_quarter, steps_per_bar=spb, qpm=first_tempo_qpm(score), meter=meter)


# --- writing ------------------------------------------------------------------------------
def melody_to_score(
    melody: Melody, program: int = 0, velocity: int = 100, tpq: int = 480, qpm: float | None = None, name: str = "melody"
) -> symusic.Score:
    """A one-track Score of the melody with tempo and time signature set."""
    qpm = float(qpm or melody.qpm)
    ticks_per_step = tpq // melody.steps_per_quarter
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    numerator, denominator = melody.time_signature
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
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
