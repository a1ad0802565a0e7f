"""Form figures: does a melody repeat, answer, keep to a key and come home, as real tunes do?

Set statistics (``statistics.py``) compare pitch and rhythm *distributions*; they cannot tell a tune
that says a phrase twice from one that wanders. These figures measure form, per melody, over a window
of whole bars whose length comes from the melody's own meter (16 steps in 4/4, 12 in 6/8 and 3/4, 18 in 9/8):

* ``bar_repeat``: share of bars (after the first, with a note starting in them) equal step for step to an earlier bar.
* ``motif_repeat``: share of 2-bar windows (after the first) whose rhythm and intervals occurred in an earlier window,
  at any transposition.
* ``tonic_end``: 1 when the last note is the tonic of the melody's key (``estimate_key``, the one key finder), else 0.
* ``in_key``: share of notes in that key's scale (major, or natural minor).
* ``cadence``: share of 4-bar phrases whose last note is on the key's tonic or dominant (a full or half cadence).

The grid and the repeat figures match ``melody_structure.py`` of the shared reference tools. The key is the one
generation ends on and scores are written in (``estimate_key``: Krumhansl-Kessler profiles plus the first and last
note's evidence), not that script's plain Krumhansl-Schmuckler key, so ``tonic_end`` and ``in_key`` differ from it
on the tunes where the two finders disagree on the tonic (48 of the 412 held-out tunes shipped with the default).
A set's figure is the mean over melodies with at least 4 notes in the window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from tunesmith.music.key import estimate_key
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody
from tunesmith.music.notes import SCALES

FORM_FIGURES = ("bar_repeat", "motif_repeat", "tonic_end", "in_key", "cadence")
FORM_DESCRIPTIONS = {
    "bar_repeat": "share of bars equal, step for step, to an earlier bar",
    "motif_repeat": "share of 2-bar motifs (rhythm + intervals, any transposition) heard before",
    "tonic_end": "share of melodies whose last note is the key's tonic",
    "in_key": "share of notes in the key's scale",
    "cadence": "share of 4-bar phrases ending on the tonic or dominant",
}
PHRASE_BARS = 4
MIN_NOTES = 4
SOUNDING, SILENT = -2, -1  # the grid's hold and rest codes (a pitch marks an onset)


def onset_grid(events: np.ndarray) -> np.ndarray:
    """Events -> a grid with the pitch at each onset, -2 while a note sounds and -1 while silent.

    Magenta's events write NO_EVENT both for "note holds" and "rest continues"; the grid tells them apart, so two
    bars are equal only when they sound the same.
    """
    events = np.asarray(events, dtype=np.int64)
    grid = np.full(events.size, SILENT, dtype=np.int64)
    sounding = False
    for i, e in enumerate(events):
        if e >= 0:
            grid[i], sounding = e, True
        elif e == NOTE_OFF:
            sounding = False
        elif e == NO_EVENT and sounding:
            grid[i] = SOUNDING
    return grid


def grid_events(grid: np.ndarray) -> np.ndarray:
    """The inverse of ``onset_grid``: Magenta events (a NOTE_OFF where a sounding note falls silent)."""
    grid = np.asarray(grid, dtype=np.int64)
    events = np.where(grid >= 0, grid, NO_EVENT)
    stops = np.flatnonzero(grid == SILENT)
    stops = stops[(stops > 0) & (grid[stops - 1] != SILENT)]
    events[stops] = NOTE_OFF
    return events


def grid_key(grid: np.ndarray) -> tuple[int, str]:
    """(tonic 0-11, "major"|"minor") of a grid, by ``estimate_key``; C major for a grid without notes."""
    if not (np.asarray(grid) >= 0).any():
        return 0, "major"
    key = estimate_key(grid_events(grid))[0]
    return key.tonic, key.mode


def form_window(melody: Melody, first_bar: int = 0, bars: int | None = None) -> np.ndarray:
    """The grid of ``bars`` bars from ``first_bar`` (bar length from the melody's own meter; short melodies pad with rests)."""
    spb = melody.steps_per_bar
    grid = onset_grid(melody.events)
    start = first_bar * spb
    stop = grid.size if bars is None else start + bars * spb
    window = grid[start:stop]
    if bars is not None and window.size < bars * spb:
        window = np.concatenate([window, np.full(bars * spb - window.size, SILENT, np.int64)])
    return window


def form_figures(grid: np.ndarray, steps_per_bar: int) -> dict | None:
    """The figures (see module docstring) of one grid; None when it holds fewer than 4 notes."""
    grid = np.asarray(grid, dtype=np.int64)
    onsets = np.flatnonzero(grid >= 0)
    if onsets.size < MIN_NOTES:
        return None
    spb = steps_per_bar
    bars = [tuple(grid[i : i + spb]) for i in range(0, grid.size, spb)]
    repeats = [bar in bars[:i] for i, bar in enumerate(bars) if i > 0 and any(v >= 0 for v in bar)]
    windows = []
    for w in range(0, grid.size - 2 * spb + 1, spb):
        inside = onsets[(onsets >= w) & (onsets < w + 2 * spb)]
        if inside.size >= 2:
            windows.append(tuple((int(i - w), int(grid[i] - grid[inside[0]])) for i in inside))
    motifs = [window in windows[:i] for i, window in enumerate(windows) if i > 0]
    tonic, mode = grid_key(grid)
    pitches = grid[onsets]
    in_key = np.isin((pitches - tonic) % 12, SCALES[mode])
    phrase = PHRASE_BARS * spb
    cadences = []
    for end in range(phrase, grid.size + 1, phrase):
        inside = onsets[(onsets >= end - phrase) & (onsets < end)]
        if inside.size:
            cadences.append((grid[inside[-1]] - tonic) % 12 in (0, 7))
    return {
        "bar_repeat": float(np.mean(repeats)) if repeats else 0.0,
        "motif_repeat": float(np.mean(motifs)) if motifs else 0.0,
        "tonic_end": float(pitches[-1] % 12 == tonic),
        "in_key": float(in_key.mean()),
        "cadence": float(np.mean(cadences)) if cadences else 0.0,
    }


def melody_form(melody: Melody, first_bar: int = 0, bars: int | None = None) -> dict | None:
    """Form figures of one melody over ``bars`` bars from ``first_bar`` (all of it by default)."""
    return form_figures(form_window(melody, first_bar, bars), melody.steps_per_bar)


def form_statistics(melodies: Sequence[Melody], first_bar: int = 0, bars: int | None = None) -> dict:
    """Mean of each figure over the melodies with at least 4 notes in the window, plus ``melodies`` counted."""
    rows = [f for f in (melody_form(m, first_bar, bars) for m in melodies) if f is not None]
    out: dict = {name: (float(np.mean([r[name] for r in rows])) if rows else None) for name in FORM_FIGURES}
    out["melodies"] = len(rows)
    return out


def compare_form(generated: dict, reference: dict) -> dict:
    """``{figure: {"generated", "reference", "ratio"}}`` for two ``form_statistics`` results."""
    out = {}
    for name in FORM_FIGURES:
        g, r = generated.get(name), reference.get(name)
        out[name] = {"generated": g, "reference": r, "ratio": (g / r) if g is not None and r else None}
    return out


def melodies_from_midi_folder(folder: str | os.PathLike, steps_per_quarter: int = 4) -> list[Melody]:
    """Every readable MIDI file below ``folder`` as one Melody in its own meter, from time 0 (no-note files left out)."""
    from pathlib import Path

    from tunesmith.core.errors import TunesmithError
    from tunesmith.music.midi import melody_from_score, read_score

    out = []
    for path in sorted(Path(folder).rglob("*.mid")):
        try:
            melody = melody_from_score(read_score(path), steps_per_quarter=steps_per_quarter, trim_leading=False)
        except TunesmithError:
            continue
        melody.name = path.stem
        out.append(melody)
    return out
