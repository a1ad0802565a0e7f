import numpy as np
import symusic

from conftest import make_score, scale_tune
from tunesmith.music.melody import Melody
from tunesmith.music.midi import (
    ExtractionSettings,
    extract_melodies,
    melody_from_score,
    melody_to_score,
    read_score,
    write_midi,
)


def test_midi_melody_midi_roundtrip_exact(tmp_path, folk_dir):
    score = make_score(scale_tune(8), qpm=96, time_signature=(3, 4))
    path = tmp_path / "in.mid"
    score.dump_midi(str(path))
    melody = melody_from_score(read_score(path))
    assert melody.qpm == 96 and melody.steps_per_bar == 12
    write_midi(melody, tmp_path / "out.mid")
    back = read_score(tmp_path / "out.mid")
    assert back.tempos[0].qpm == 96
    assert (back.time_signatures[0].numerator, back.time_signatures[0].denominator) == (3, 4)
    again = melody_from_score(back)
    assert np.array_equal(again.events, melody.events)
    ticks = lambda s: [(n.time * 480 // s.tpq, n.duration * 480 // s.tpq, n.pitch) for n in s.tracks[0].notes]
    assert ticks(back) == ticks(score)
    # a real folk tune survives the same round trip
    tune = melody_from_score(read_score(sorted(folk_dir.glob("*.mid"))[0]))
    assert np.array_equal(melody_from_score(melody_to_score(tune)).events, tune.events)


def test_extraction_keeps_highest_or_discards_polyphony():
    notes = scale_tune(8) + [(48, 0, 1.0)]  # a lower note with the first one
    score = make_score(notes)
    kept = extract_melodies(score, ExtractionSettings(ignore_polyphonic_notes=True))
    assert len(kept.melodies) == 1 and kept.melodies[0].events[0] == 60
    dropped = extract_melodies(score, ExtractionSettings(ignore_polyphonic_notes=False))
    assert not dropped.melodies and dropped.stats["polyphonic_tracks_discarded"] == 1


def test_extraction_splits_on_gaps_and_skips_drums_and_short():
    first = scale_tune(8)
    second = [(p, s + 32 + 8, d) for p, s, d in scale_tune(8)]  # two bars of rest -> new melody
    score = make_score(first + second, extra_tracks=[([(36, i, 0.25) for i in range(40)], 0, True)])
    result = extract_melodies(score)
    assert len(result.melodies) == 2
    assert result.stats["drum_tracks_skipped"] == 1
    assert all(len(m) % 16 == 0 for m in result.melodies)
    short = extract_melodies(make_score(scale_tune(3)))
    assert not short.melodies and short.stats["melodies_discarded_too_short"] == 1


def test_extraction_truncates_to_max_steps():
    result = extract_melodies(make_score(scale_tune(40)), ExtractionSettings(max_steps=100))
    assert len(result.melodies[0]) == 96 and result.stats["melodies_truncated"] == 1


def test_multitrack_programs_preserved(tmp_path):
    score = make_score(scale_tune(8), program=24, extra_tracks=[(scale_tune(8, base=48), 40, False)])
    path = tmp_path / "multi.mid"
    score.dump_midi(str(path))
    back = symusic.Score(str(path))
    assert sorted(t.program for t in back.tracks) == [24, 40]
    melodies = extract_melodies(back).melodies
    assert sorted(m.meta["program"] for m in melodies) == [24, 40]
    assert isinstance(melodies[0], Melody)


def test_extraction_ends_a_tune_on_its_last_bar_line():
    """A last note ending on a bar line adds no empty bar (its note-off would open the next bar with a rest)."""
    whole = extract_melodies(make_score(scale_tune(8))).melodies[0]
    assert len(whole) == 8 * 16 and whole.events[-1] != -1
    assert [n.pitch for n in whole.notes()] == [p for p, _, _ in scale_tune(8)]
    assert whole.notes()[-1].end == 8 * 16  # the last note still lasts to the bar line
    # a last note ending inside the bar keeps its note-off there
    short_end = scale_tune(8)[:-1] + [(72, 31, 0.5)]
    melody = extract_melodies(make_score(short_end)).melodies[0]
    assert len(melody) == 8 * 16 and melody.events[31 * 4 + 2] == -1


def test_written_midi_carries_the_tunes_one_key(tmp_path):
    """The key signature in a written MIDI file is the key its score and chords use (key_of)."""
    from tunesmith.music.key import Key, key_of

    d_major = [(62 + d, i, 1.0) for i, d in enumerate([0, 2, 4, 5, 7, 9, 11, 12, 9, 7, 4, 2, 0, 4, 7, 0])]
    melody = melody_from_score(make_score(d_major))
    write_midi(melody, tmp_path / "d.mid")
    (signature,) = read_score(tmp_path / "d.mid").key_signatures
    assert (signature.key, signature.tonality) == (2, 0) and key_of(melody) == Key(2, "major")
    write_midi(melody, tmp_path / "b.mid", key="Bm")  # asked for: written as asked
    (signature,) = read_score(tmp_path / "b.mid").key_signatures
    assert (signature.key, signature.tonality) == (2, 1)
