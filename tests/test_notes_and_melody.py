import numpy as np
import pytest

from tunesmith.core.errors import BadInputError
from tunesmith.music.key import Key, estimate_key
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody, Note
from tunesmith.music.notes import name_to_pitch, pitch_to_name


@pytest.mark.parametrize(
    ("name", "pitch"),
    [
        ("C4", 60),
        ("C#4", 61),
        ("Db4", 61),
        ("C", 60),
        ("#C", 61),
        ("A4", 69),
        ("Bb3", 58),
        ("c5", 72),
        ("C-1", 0),
        ("G9", 127),
        ("64", 64),
        (70, 70),
    ],
)
def test_note_names(name, pitch):
    assert name_to_pitch(name) == pitch


@pytest.mark.parametrize("bad", ["H4", "C#", "", "C10", "X", "128", "C4#4"])
def test_bad_note_names(bad):
    if bad == "C#":  # bare sharp note is valid: C#4
        assert name_to_pitch(bad) == 61
        return
    with pytest.raises(BadInputError):
        name_to_pitch(bad)


def test_pitch_to_name_roundtrip():
    for pitch in range(128):
        assert name_to_pitch(pitch_to_name(pitch)) == pitch


def test_melody_notes_roundtrip():
    notes = [Note(60, 0, 4), Note(62, 4, 6), Note(64, 8, 12)]
    melody = Melody.from_notes(notes)
    assert melody.events.tolist() == [60, -2, -2, -2, 62, -2, -1, -2, 64, -2, -2, -2]  # no step after the last note
    assert [(n.pitch, n.start, n.end) for n in melody.notes()] == [(60, 0, 4), (62, 4, 6), (64, 8, 12)]
    padded = Melody.from_notes(notes, length=16)  # a length past the last note keeps its note-off, then rests
    assert padded.events.tolist()[12:] == [-1, -2, -2, -2] and padded.notes() == melody.notes()


def test_melody_rejects_bad_events():
    with pytest.raises(BadInputError):
        Melody([60, -3])
    with pytest.raises(BadInputError):
        Melody([128])


def test_squash_transposes_to_c_and_into_range():
    d_major = [62, 64, 66, 67, 69, 71, 73, 74]
    melody = Melody.from_events([p for p in d_major for _ in (0, 1)])
    assert estimate_key(melody)[0] == Key(2, "major")
    squashed = melody.squash(48, 84, transpose_to_key=0)
    assert estimate_key(squashed)[0] == Key(0, "major")
    assert squashed.pitches.min() >= 48 and squashed.pitches.max() < 84
    assert np.array_equal(np.diff(squashed.pitches), np.diff(melody.pitches))  # intervals kept
    wide = Melody.from_events([20, 110, NOTE_OFF, NO_EVENT])
    folded = wide.squash(48, 84, transpose_to_key=None)
    assert all(48 <= p < 84 for p in folded.pitches)
    assert folded.pitches[0] % 12 == 20 % 12 and folded.pitches[1] % 12 == 110 % 12


def test_from_notes_keeps_the_highest_of_simultaneous_notes():
    melody = Melody.from_notes([Note(48, 0, 4), Note(60, 0, 4), Note(55, 0, 2), Note(62, 4, 6)])
    assert melody.events.tolist() == [60, -2, -2, -2, 62, -2]
