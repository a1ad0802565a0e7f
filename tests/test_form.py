"""Form figures on hand-made tunes with known answers: an AABB tune, a tune that never repeats, a 6/8 jig."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_score
from tunesmith.evaluate.form import (
    compare_form,
    form_statistics,
    grid_events,
    grid_key,
    melodies_from_midi_folder,
    melody_form,
    onset_grid,
)
from tunesmith.music.key import estimate_key
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody, Note


def tune(bars: list[list[tuple[int, int]]], steps_per_bar: int, **kwargs) -> Melody:
    """Bars of (pitch, length in steps) notes, each bar filling exactly ``steps_per_bar`` steps."""
    notes, t = [], 0
    for bar in bars:
        assert sum(length for _, length in bar) == steps_per_bar
        for pitch, length in bar:
            notes.append(Note(pitch, t, t + length))
            t += length
    return Melody.from_notes(notes, length=t, steps_per_bar=steps_per_bar, **kwargs)


# 4/4 bars of a tune in C: A = a1 a2 (ends on the dominant), B = b1 b2 (ends on the tonic)
A1 = [(60, 8), (64, 4), (67, 4)]
A2 = [(65, 2), (64, 2), (62, 4), (67, 8)]
B1 = [(72, 8), (71, 2), (69, 2), (67, 4)]
B2 = [(64, 4), (62, 2), (59, 2), (60, 8)]


def test_aabb_tune_has_known_repetition_motifs_and_cadences():
    melody = tune([A1, A2, A1, A2, B1, B2, B1, B2], 16)
    figures = melody_form(melody)
    assert figures["bar_repeat"] == pytest.approx(4 / 7)  # bars 3, 4, 7, 8 of 8 repeat (the first cannot)
    assert figures["motif_repeat"] == pytest.approx(2 / 6)  # windows a1a2 (3rd) and b1b2 (7th) recur
    assert grid_key(onset_grid(melody.events)) == (0, "major")
    assert figures["tonic_end"] == 1.0
    assert figures["in_key"] == 1.0
    assert figures["cadence"] == 1.0  # phrase 1 ends on G (half cadence), phrase 2 on C


def test_transposed_motif_counts_as_motif_but_not_as_bar_repeat():
    up = [[(p + 2, n) for p, n in bar] for bar in (A1, A2)]  # the A phrase a tone higher
    figures = melody_form(tune([A1, A2, *up], 16))
    assert figures["bar_repeat"] == 0.0
    assert figures["motif_repeat"] == pytest.approx(1 / 2)  # windows: a1a2, a2a1', a1'a2' = a1a2 moved up


def test_tune_that_never_repeats_scores_zero_and_off_key_notes_count():
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    bars = [[(scale[k], k + 1), (scale[(k + 3) % 8], 15 - k)] for k in range(7)]  # a new rhythm every bar
    bars.append([(66, 8), (62, 8)])  # F#, then end on D (not the tonic)
    melody = tune(bars, 16)
    figures = melody_form(melody)
    assert figures["bar_repeat"] == 0.0
    assert figures["motif_repeat"] == 0.0
    assert figures["tonic_end"] == 0.0
    key = estimate_key(melody)[0]  # the finder generation and scores use
    tonic, mode = key.tonic, key.mode
    assert grid_key(onset_grid(melody.events)) == (tonic, mode)
    in_scale = [
        (p - tonic) % 12 in ((0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10)) for p in melody.pitches
    ]
    assert figures["in_key"] == pytest.approx(np.mean(in_scale)) and figures["in_key"] < 1.0


def test_jig_in_6_8_uses_its_own_bar_length():
    j1 = [(72, 2), (67, 2), (64, 2), (60, 2), (64, 2), (67, 2)]
    j2 = [(65, 2), (69, 2), (72, 2), (71, 6)]
    j3 = [(67, 2), (64, 2), (62, 2), (60, 6)]
    bars = [j1, j2, j1, j3]
    jig = tune(bars, 12)
    figures = melody_form(jig)
    assert figures["bar_repeat"] == pytest.approx(1 / 3)  # the 3rd bar repeats the 1st
    assert figures["tonic_end"] == 1.0
    as_if_4_4 = melody_form(jig.copy(steps_per_bar=16))  # the same notes cut into 16-step bars: no bar repeats
    assert as_if_4_4["bar_repeat"] == 0.0


def test_jig_read_from_a_6_8_midi_file(tmp_path):
    eighth = 0.5  # beats of the score (quarters)
    pattern = [72, 67, 64, 60, 64, 67]  # one 6/8 bar of eighths, played 4 times
    notes = [(p, (6 * bar + i) * eighth, eighth) for bar in range(4) for i, p in enumerate(pattern)]
    make_score(notes, time_signature=(6, 8)).dump_midi(str(tmp_path / "jig.mid"))
    (melody,) = melodies_from_midi_folder(tmp_path)
    assert melody.steps_per_bar == 12
    assert melody_form(melody)["bar_repeat"] == 1.0  # every bar after the first repeats it


def test_rests_and_holds_are_told_apart():
    held = [60, NO_EVENT, NO_EVENT, NO_EVENT]
    rest = [60, NOTE_OFF, NO_EVENT, NO_EVENT]
    assert onset_grid(np.array(held)).tolist() == [60, -2, -2, -2]
    assert onset_grid(np.array(rest)).tolist() == [60, -1, -1, -1]
    for events in (held, rest, [NO_EVENT, 62, NOTE_OFF, 64, NO_EVENT, NOTE_OFF, NO_EVENT]):
        assert grid_events(onset_grid(np.array(events))).tolist() == events  # the inverse, for the key finder


def test_set_statistics_skip_melodies_with_few_notes_and_give_ratios():
    good = tune([A1, A2, A1, A2], 16)
    tiny = Melody.from_notes([Note(60, 0, 4)], length=16)
    stats = form_statistics([good, tiny], first_bar=1)
    assert stats["melodies"] == 1
    assert stats["bar_repeat"] == pytest.approx(1 / 2)  # window a2 a1 a2: a1 is new there, the last a2 repeats
    ratio = compare_form(stats, {**stats, "bar_repeat": stats["bar_repeat"] * 2})
    assert ratio["bar_repeat"]["ratio"] == pytest.approx(0.5)
