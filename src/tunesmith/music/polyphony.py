"""Polyphonic music as one token stream: every pitched note of every part, with onset, duration and velocity.

The format (what ``prepare --polyphonic`` writes and the ``polyphonic`` model reads)
--------------------------------------------------------------------------------------
Time is counted in **steps of 1/12 of a quarter note** (``STEPS_PER_QUARTER = 12``). Twelve is the smallest
grid on which both 16th notes (3 steps) and triplet 8ths (4 steps) or triplet 16ths (2 steps) fall exactly: piano
music mixes them all the time, and a 4-step (16th) grid, the monophonic model's, smears every triplet. A 32nd note
(1.5 steps) is rounded to the nearest step, 1/48 s at 120 qpm, below what a listener hears as misplaced; a finer
grid (24 or 48) would buy 32nds at the price of longer time shifts. The grid counts quarter notes, not seconds, so
a tempo map (even one with hundreds of changes) does not move a note off its beat; the written MIDI plays at one
tempo (the primer's first, or ``qpm``).

A piece is a sequence of tokens:

``BOS METER(4/4) BAR [VEL(v)] NOTE(part, pitch) DUR(d) ... SHIFT(s) ... BAR ... EOS``

* ``BAR`` opens every bar; a ``SHIFT`` never crosses a bar line (the shift to it comes first), so the position
  in the bar is the sum of the shifts since the last ``BAR``. ``METER`` follows ``BAR`` where the time signature
  changes (and opens the piece); meters outside ``METERS`` are written ``METER(other)`` and keep their own bar
  length. This is why the model can be held to a meter when it generates: a shift past the bar line, or a ``BAR``
  before it, is masked out.
* ``SHIFT(s)``: advance s steps (1-48, one 4/4 bar at most; longer gaps are several shifts).
* ``NOTE(part, pitch)``: a note of ``part`` (0 = melody / upper part, 1 = accompaniment) on a piano key (21-108)
  starting now, always followed by ``DUR(d)``, its length from ``DURATIONS`` (1 step to 3 bars of 4/4).
* ``VEL(v)``: the velocity of the notes that follow (8 bins of 16), written only when it changes.

Notes starting together come in order of part, then pitch from the top down. Drums are dropped (counted in the
stats; a file of drums only is skipped as ``drums_only``). Key changes need nothing: pitches are absolute.

Why not MidiTok? Its REMI / TSD tokenizers (built on symusic too) write much the same events, but its bar and
position tokens do not let a sampler enforce the meter with one mask as ``BAR``-before-crossing does, its
``Program`` tokens name instruments rather than the melody/accompaniment roles two parts need, and it would be a
new dependency for ~300 lines of code that the tests here pin down. The stream is close to REMI+TSD, so a
MidiTok tokenizer could replace it later without changing the model.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import symusic

from tunesmith.core.errors import BadInputError
from tunesmith.music.meter import check_meter, meter_steps
from tunesmith.music.notes import name_to_pitch

STEPS_PER_QUARTER = 12
MIN_PITCH, MAX_PITCH = 21, 108  # the piano's keys, A0-C8
PITCHES = MAX_PITCH - MIN_PITCH + 1
MAX_SHIFT = 48
VELOCITY_BINS = 8
DURATIONS = np.array([1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 21, 24, 30, 36, 42, 48, 60, 72, 96, 120, 144], np.int64)
METERS = ("2/4", "3/4", "4/4", "5/4", "6/4", "2/2", "3/2", "3/8", "6/8", "9/8", "12/8", "other")

PAD, BOS, EOS, BAR = 0, 1, 2, 3
METER0 = 4
SHIFT0 = METER0 + len(METERS)  # SHIFT(s) = SHIFT0 + s - 1
VEL0 = SHIFT0 + MAX_SHIFT
DUR0 = VEL0 + VELOCITY_BINS
NOTE0 = DUR0 + len(DURATIONS)  # NOTE(part, pitch) = NOTE0 + part * PITCHES + pitch - MIN_PITCH
MAX_PARTS = 2


def vocab_size(parts: int) -> int:
    return NOTE0 + parts * PITCHES


def velocity_bin(velocity: np.ndarray) -> np.ndarray:
    return (np.clip(velocity, 1, 127) - 1) // 16


def bin_velocity(bins: np.ndarray) -> np.ndarray:
    return 16 * np.asarray(bins) + 8


def duration_bin(steps: np.ndarray) -> np.ndarray:
    """The nearest entry of ``DURATIONS`` on a log scale (a long note is clipped to the longest, 144 steps)."""
    logs = np.log(DURATIONS)
    return np.abs(np.log(np.maximum(np.asarray(steps, np.float64), 1))[:, None] - logs[None, :]).argmin(1)


@dataclass
class PolyphonySettings:
    """How ``prepare --polyphonic`` reads a file (saved in the corpus; changing any reprocesses every file).

    ``parts``: 1 (everything in one part, e.g. piano) or 2 (melody + accompaniment: the upper track, or the top
    note of each onset of a single track, is the melody). ``min_bars``: shorter pieces are skipped as ``too_short``.
    ``max_gap_bars``: a longer silence is shortened to this. ``max_notes_per_onset``: more notes of one part starting
    together are dropped (a cluster, or a 64-track file doubling every note). ``max_tokens``: longer pieces are cut.
    """

    parts: int = 2
    min_bars: int = 2
    min_notes: int = 8
    max_gap_bars: int = 2
    max_notes_per_onset: int = 8
    max_tokens: int = 1 << 18
    steps_per_quarter: int = STEPS_PER_QUARTER  # fixed: the grid of the format (kept here for the corpus report)

    def __post_init__(self) -> None:
        if self.parts not in (1, 2):
            raise BadInputError(f"parts must be 1 or 2, not {self.parts}")
        if self.steps_per_quarter != STEPS_PER_QUARTER:
            raise BadInputError(f"the polyphonic grid is {STEPS_PER_QUARTER} steps per quarter")


@dataclass
class PolyPiece:
    """Notes on the 12-per-quarter grid: parallel int arrays, sorted by (start, part, -pitch)."""

    part: np.ndarray
    pitch: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    velocity: np.ndarray
    meters: list[tuple[int, tuple[int, int]]] = field(default_factory=lambda: [(0, (4, 4))])  # (step, meter)
    qpm: float = 120.0
    programs: tuple[int, ...] = (0, 0)
    primer_steps: int = 0
    name: str = ""

    def __len__(self) -> int:
        return int(self.pitch.size)

    @property
    def end(self) -> int:
        return int((self.start + self.duration).max()) if len(self) else 0

    def summary(self) -> str:
        """One line: notes by part, bars, meter and tempo (what a notebook and a print show first)."""
        by_part = np.bincount(self.part, minlength=len(PART_NAMES)).tolist()
        parts = ", ".join(f"{c} {PART_NAMES[i] if i < len(PART_NAMES) else f'part {i}'}" for i, c in enumerate(by_part))
        meter = "/".join(map(str, self.meters[-1][1])) if self.meters else "4/4"
        bars = len(bar_lines(self.meters, self.end)[0])
        return f"{self.name or 'Piece'}: {len(self)} notes ({parts}), {bars} bars of {meter} at {self.qpm:g} qpm"

    def sorted(self) -> PolyPiece:
        order = np.lexsort((-self.pitch, self.part, self.start))
        return PolyPiece(
            *(a[order] for a in (self.part, self.pitch, self.start, self.duration, self.velocity)),
            meters=self.meters,
            qpm=self.qpm,
            programs=self.programs,
            primer_steps=self.primer_steps,
            name=self.name,
        )


def _meter_name(meter: tuple[int, int]) -> str:
    name = f"{meter[0]}/{meter[1]}"
    return name if name in METERS else "other"


def bar_lines(meters: list[tuple[int, tuple[int, int]]], end: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Bar starts up to ``end`` (a bar cut short by a meter change ends at the change) and each bar's meter."""
    starts, which = [], []
    for i, (at, meter) in enumerate(meters):
        stop = meters[i + 1][0] if i + 1 < len(meters) else max(end, at + 1)
        length = meter_steps(meter, STEPS_PER_QUARTER)[0]
        pos = at
        while pos < stop:
            starts.append(pos)
            which.append(meter)
            pos += length
    return np.asarray(starts, np.int64), which


# --- encoding ---------------------------------------------------------------------------------
def encode(piece: PolyPiece, parts: int = 2) -> np.ndarray:
    """A piece as tokens (int16; see the module docstring). Parts above ``parts - 1`` fold into the last."""
    piece = piece.sorted()
    part = np.minimum(piece.part, parts - 1)
    bars, bar_meter = bar_lines(piece.meters, piece.end)
    tokens = [BOS]
    pos = 0
    bar_index = -1
    velocity = -1
    vel_bins = velocity_bin(piece.velocity)
    dur_bins = duration_bin(piece.duration)

    def advance(to: int) -> None:
        nonlocal pos
        while pos < to:
            s = min(MAX_SHIFT, to - pos)
            tokens.append(SHIFT0 + s - 1)
            pos += s

    def next_bar() -> None:
        nonlocal bar_index
        bar_index += 1
        advance(int(bars[bar_index]))
        tokens.append(BAR)
        if bar_index == 0 or bar_meter[bar_index] != bar_meter[bar_index - 1]:
            tokens.append(METER0 + METERS.index(_meter_name(bar_meter[bar_index])))

    for i in range(len(piece)):
        t = int(piece.start[i])
        while bar_index + 1 < len(bars) and bars[bar_index + 1] <= t:
            next_bar()
        advance(t)
        if vel_bins[i] != velocity:
            velocity = int(vel_bins[i])
            tokens.append(VEL0 + velocity)
        tokens.append(NOTE0 + int(part[i]) * PITCHES + int(piece.pitch[i]) - MIN_PITCH)
        tokens.append(DUR0 + int(dur_bins[i]))
    end = piece.end
    while bar_index + 1 < len(bars) and bars[bar_index + 1] < end:
        next_bar()
    following = bars[bar_index + 1] if bar_index + 1 < len(bars) else None
    if following is None:  # the end of the last bar
        length = meter_steps(bar_meter[bar_index], STEPS_PER_QUARTER)[0] if bar_index >= 0 else end
        following = (int(bars[bar_index]) + length) if bar_index >= 0 else end
    advance(int(following))
    tokens.append(EOS)
    return np.asarray(tokens, np.int16)


def decode(tokens: np.ndarray, *, qpm: float = 120.0, programs: tuple[int, ...] = (0, 0), strict: bool = False) -> PolyPiece:
    """Tokens back to a piece (the inverse of ``encode`` up to the duration and velocity bins). A token out of
    place (a DUR without its NOTE) is skipped, or refused with ``strict``."""
    parts, pitches, starts, durs, vels = [], [], [], [], []
    meters: list[tuple[int, tuple[int, int]]] = []
    pos, velocity, pending = 0, 64, None
    for raw in np.asarray(tokens).tolist():
        t = int(raw)
        if pending is not None and not DUR0 <= t < NOTE0:
            if strict:
                raise BadInputError(f"token {t} follows a NOTE; a DUR token must")
            pending = None
        if t in (PAD, BOS, BAR):
            continue
        if t == EOS:
            break
        if METER0 <= t < SHIFT0:
            name = METERS[t - METER0]
            if name != "other":
                num, den = (int(x) for x in name.split("/"))
                if not meters or meters[-1][1] != (num, den):
                    meters.append((pos, (num, den)))
        elif SHIFT0 <= t < VEL0:
            pos += t - SHIFT0 + 1
        elif VEL0 <= t < DUR0:
            velocity = int(bin_velocity(t - VEL0))
        elif DUR0 <= t < NOTE0:
            if pending is None:
                if strict:
                    raise BadInputError(f"DUR token {t} without a NOTE before it")
                continue
            part, pitch = pending
            parts.append(part)
            pitches.append(pitch)
            starts.append(pos)
            durs.append(int(DURATIONS[t - DUR0]))
            vels.append(velocity)
            pending = None
        elif t >= NOTE0:
            pending = divmod(t - NOTE0, PITCHES)
            pending = (pending[0], pending[1] + MIN_PITCH)
    arrays = [np.asarray(x, np.int64) for x in (parts, pitches, starts, durs, vels)]
    return PolyPiece(*arrays, meters=meters or [(0, (4, 4))], qpm=qpm, programs=programs)


def bar_count(tokens: np.ndarray) -> int:
    return int((np.asarray(tokens) == BAR).sum())


def last_bars(tokens: np.ndarray, bars: int) -> np.ndarray:
    """The tokens of the last ``bars`` bars (from a BAR on, the meter re-stated, the velocity kept), BOS first,
    EOS dropped."""
    tokens = np.asarray(tokens)
    tokens = tokens[: np.argmax(tokens == EOS)] if (tokens == EOS).any() else tokens
    at = np.flatnonzero(tokens == BAR)
    if len(at) <= bars:
        return tokens
    cut = int(at[-bars])
    head = tokens[:cut]
    meter = head[(head >= METER0) & (head < SHIFT0)]
    vel = head[(head >= VEL0) & (head < DUR0)]
    tail = tokens[cut:]
    out = [BOS, BAR]
    if len(meter) and not (len(tail) > 1 and METER0 <= tail[1] < SHIFT0):
        out.append(int(meter[-1]))
    if len(vel):
        out.append(int(vel[-1]))
    return np.concatenate([np.asarray(out, np.int16), tail[1:].astype(np.int16)])


# --- reading a score ---------------------------------------------------------------------------
@dataclass
class PolyExtraction:
    piece: PolyPiece | None
    stats: dict
    skip_reason: str | None = None
    detail: str = ""


def _score_meters(score: symusic.Score, stats: Counter) -> list[tuple[int, tuple[int, int]]]:
    meters: list[tuple[int, tuple[int, int]]] = []
    for ts in score.time_signatures:
        at = int(round(ts.time * STEPS_PER_QUARTER / score.tpq))
        try:
            meter = check_meter(int(ts.numerator), int(ts.denominator), STEPS_PER_QUARTER)
        except BadInputError:
            stats["unusable_time_signatures"] += 1
            continue
        if meters and meters[-1][0] == at:
            meters[-1] = (at, meter)
        elif not meters or meters[-1][1] != meter:
            meters.append((at, meter))
    if not meters or meters[0][0] != 0:
        meters.insert(0, (0, meters[0][1] if meters else (4, 4)))
    stats["meter_changes"] += len(meters) - 1
    return meters


def extract_polyphony(score: symusic.Score, settings: PolyphonySettings | None = None) -> PolyExtraction:
    """Every pitched note of a score on the grid, in ``settings.parts`` parts; drums dropped, faults repaired
    and counted in ``stats`` (overlapping notes of one pitch, velocities out of 1-127, notes off the piano...)."""
    settings = settings or PolyphonySettings()
    stats: Counter = Counter()
    tpq = max(1, int(score.tpq))
    stats["tempo_changes"] = max(0, len(score.tempos) - 1)
    stats["key_changes"] = max(0, len(score.key_signatures) - 1)
    pitched = []
    for track in score.tracks:
        if not len(track.notes):
            continue
        if track.is_drum:
            stats["drum_notes_dropped"] += len(track.notes)
            continue
        if track.name == "chords":  # a chord-symbol track read from a score: harmony labels, not notes played
            continue
        arr = track.notes.numpy()
        pitched.append((track, arr))
    if not pitched:
        reason = "drums_only" if stats["drum_notes_dropped"] else "no_notes"
        return PolyExtraction(None, dict(stats), reason, "only drum tracks" if stats["drum_notes_dropped"] else "no notes")
    stats["tracks"] = len(pitched)
    cols = {k: [] for k in ("part", "pitch", "start", "end", "velocity")}
    means = [float(np.mean(a["pitch"])) for _, a in pitched]
    top = int(np.argmax(means))
    for i, (_, arr) in enumerate(pitched):
        start = np.rint(arr["time"].astype(np.float64) * STEPS_PER_QUARTER / tpq).astype(np.int64)
        end = np.rint((arr["time"] + arr["duration"]).astype(np.float64) * STEPS_PER_QUARTER / tpq).astype(np.int64)
        cols["start"].append(start)
        cols["end"].append(np.maximum(end, start + 1))
        cols["pitch"].append(arr["pitch"].astype(np.int64))
        vel = arr["velocity"].astype(np.int64)
        stats["velocities_clipped"] += int(((vel < 1) | (vel > 127)).sum())
        cols["velocity"].append(np.clip(vel, 1, 127))
        cols["part"].append(np.full(start.size, 0 if (i == top or settings.parts == 1) else 1, np.int64))
    part, pitch, start, end, velocity = (np.concatenate(cols[k]) for k in ("part", "pitch", "start", "end", "velocity"))
    stats["negative_times"] += int((start < 0).sum())
    keep = start >= 0
    inside = (pitch >= MIN_PITCH) & (pitch <= MAX_PITCH)
    stats["notes_off_the_piano"] += int((~inside & keep).sum())
    keep &= inside
    part, pitch, start, end, velocity = (a[keep] for a in (part, pitch, start, end, velocity))
    if settings.parts == 2 and len(pitched) == 1 and pitch.size:  # one track: the top note of each onset is the melody
        order = np.lexsort((-pitch, start))
        first = np.ones(order.size, bool)
        first[1:] = start[order][1:] != start[order][:-1]
        part = np.ones(pitch.size, np.int64)
        part[order[first]] = 0
    # a pitch struck twice at once (a doubling track, a repeated note-on) sounds once, in the lowest part
    order = np.lexsort((-end, part, start, pitch))
    part, pitch, start, end, velocity = (a[order] for a in (part, pitch, start, end, velocity))
    duplicate = np.zeros(pitch.size, bool)
    duplicate[1:] = (pitch[1:] == pitch[:-1]) & (start[1:] == start[:-1])
    stats["duplicate_notes_dropped"] += int(duplicate.sum())
    part, pitch, start, end, velocity = (a[~duplicate] for a in (part, pitch, start, end, velocity))
    # within one part, a note still sounding when its pitch is struck again is cut where the next begins
    order = np.lexsort((start, pitch, part))
    part, pitch, start, end, velocity = (a[order] for a in (part, pitch, start, end, velocity))
    same = np.zeros(pitch.size, bool)
    same[:-1] = (part[1:] == part[:-1]) & (pitch[1:] == pitch[:-1])
    overlap = same & np.concatenate([end[:-1] > start[1:], [False]])
    stats["overlapping_notes_cut"] += int(overlap.sum())
    end[:-1] = np.where(overlap[:-1], start[1:], end[:-1])
    # at most max_notes_per_onset notes of one part start together (the highest kept)
    order = np.lexsort((-pitch, part, start))
    part, pitch, start, end, velocity = (a[order] for a in (part, pitch, start, end, velocity))
    group = np.concatenate([[0], np.cumsum((start[1:] != start[:-1]) | (part[1:] != part[:-1]))])
    rank = np.arange(group.size) - np.searchsorted(group, group)
    dense = rank >= settings.max_notes_per_onset
    stats["dense_onset_notes_dropped"] += int(dense.sum())
    part, pitch, start, end, velocity = (a[~dense] for a in (part, pitch, start, end, velocity))
    if pitch.size < settings.min_notes:
        return PolyExtraction(None, dict(stats), "too_short", f"{pitch.size} notes (fewer than {settings.min_notes})")
    meters = _score_meters(score, stats)
    # leading silence goes (in whole bars); long gaps shrink to max_gap_bars
    start, end, meters = _close_gaps(start, end, meters, settings.max_gap_bars, stats)
    duration = end - start
    stats["long_notes_clipped"] += int((duration > DURATIONS[-1]).sum())
    programs = [0, 0]
    for i, (track, _) in enumerate(pitched):
        role = 0 if (i == top or settings.parts == 1) else 1
        if i == top or (role == 1 and programs[1] == 0):
            programs[role] = int(track.program)
    piece = PolyPiece(part, pitch, start, duration, velocity, meters=meters, programs=tuple(programs))
    bars = len(bar_lines(meters, piece.end)[0])
    if bars < settings.min_bars:
        return PolyExtraction(None, dict(stats), "too_short", f"{bars} bars (fewer than {settings.min_bars})")
    stats["notes"] = int(pitch.size)
    stats["bars"] = bars
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    piece.qpm = tempo if 20 <= tempo <= 400 else 120.0
    return PolyExtraction(piece.sorted(), dict(stats))


def _close_gaps(start, end, meters, max_gap_bars, stats):
    """Cut silences (no note sounding) longer than ``max_gap_bars`` bars, in whole bars, leading silence included."""
    bars, _ = bar_lines(meters, int(end.max()))
    order = np.argsort(start, kind="stable")
    sounding_until = np.maximum.accumulate(end[order])
    gaps = [(0, int(start[order[0]]))] + [
        (int(sounding_until[i - 1]), int(start[order[i]]))
        for i in range(1, order.size)
        if start[order[i]] > sounding_until[i - 1]
    ]
    removed = 0
    cuts = []  # (from step, steps removed from there on)
    for gap_start, gap_end in gaps:
        first = np.searchsorted(bars, gap_start, "left")  # first bar line inside the gap
        last = np.searchsorted(bars, gap_end, "right") - 1  # last bar line at or before the next onset
        whole = last - first - (max_gap_bars if gap_start > 0 else 0)
        if whole > 0:
            cut_from, cut_to = int(bars[first]), int(bars[first + whole])
            cuts.append((cut_to, cut_to - cut_from))
            removed += whole
    if not cuts:
        return start, end, meters
    stats["silent_bars_removed"] += removed

    def shift(x):
        x = np.asarray(x, np.int64)
        out = x.copy()
        for at, steps in cuts:
            out = out - np.where(x >= at, steps, 0)
        return out

    new_meters = []
    for at, meter in meters:
        moved = int(shift([at])[0])
        if new_meters and new_meters[-1][0] >= moved:
            new_meters[-1] = (moved, meter)
        else:
            new_meters.append((max(moved, 0), meter))
    new_meters[0] = (0, new_meters[0][1])
    return shift(start), shift(end), new_meters


# --- writing and primers ----------------------------------------------------------------------
PART_NAMES = ("melody", "accompaniment")


def piece_to_score(piece: PolyPiece, *, qpm: float | None = None, programs: tuple[int, ...] | None = None) -> symusic.Score:
    """A symusic Score (ticks at 12 per quarter x 40 = 480 tpq) with one track per part, its own GM program each."""
    tpq = 480
    scale = tpq // STEPS_PER_QUARTER
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, float(qpm or piece.qpm)))
    for at, (num, den) in piece.meters:
        score.time_signatures.append(symusic.TimeSignature(int(at) * scale, num, den))
    programs = tuple(programs or piece.programs)
    for p in sorted(set(piece.part.tolist()) or {0}):
        track = symusic.Track(PART_NAMES[p] if p < len(PART_NAMES) else f"part {p}", programs[min(p, len(programs) - 1)], False)
        chosen = piece.part == p
        for s, d, pitch, v in zip(piece.start[chosen], piece.duration[chosen], piece.pitch[chosen], piece.velocity[chosen]):
            track.notes.append(symusic.Note(int(s) * scale, max(1, int(d) * scale), int(pitch), int(v)))
        score.tracks.append(track)
    return score


def piece_from_chords(text: str, meter: tuple[int, int] = (4, 4), velocity: int = 80) -> PolyPiece:
    """Typed chords, one a bar: ``"C4 E4 G4 | F4 A4 C5"``; ``"C4 E4 G4:2"`` holds a chord two beats (quarters).
    The top note of each chord is the melody part, the rest the accompaniment."""
    bar = meter_steps(meter, STEPS_PER_QUARTER)[0]
    parts, pitches, starts, durs = [], [], [], []
    pos = 0
    for group in [g.strip() for g in text.split("|")]:
        if not group:
            raise BadInputError(f"chords {text!r}: an empty chord between bars; write e.g. 'C4 E4 G4 | F4 A4 C5'")
        length = bar
        match = re.fullmatch(r"(.*?):(\d+(?:\.\d+)?)", group)
        if match:
            group, length = match[1].strip(), int(round(float(match[2]) * STEPS_PER_QUARTER))
            if length < 1:
                raise BadInputError(f"chord {group!r}: its length must be above 0 beats")
        notes = sorted({name_to_pitch(n) for n in group.split()})
        for pitch in notes:
            if not MIN_PITCH <= pitch <= MAX_PITCH:
                raise BadInputError(f"chord {group!r}: {pitch} is off the piano (21-108)")
        for i, pitch in enumerate(notes):
            parts.append(0 if i == len(notes) - 1 else 1)
            pitches.append(pitch)
            starts.append(pos)
            durs.append(length)
        pos += length
    arrays = [np.asarray(x, np.int64) for x in (parts, pitches, starts, durs)]
    return PolyPiece(*arrays, np.full(len(parts), velocity, np.int64), meters=[(0, meter)]).sorted()


def looks_like_chords(text: str) -> bool:
    return "|" in text or len(text.split()) > 1 and all(re.fullmatch(r"[A-Ga-g][#b]?-?\d(:\d+)?", w) for w in text.split())
