"""Chords under a melody: the obvious chords for an arpeggiated progression, chord tones on strong beats of real
tunes, the final cadence, the chord track in MIDI (and heard on a second instrument), chord symbols in ABC and
MusicXML, and clear errors for melodies that cannot take chords."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FOLK
from tunesmith.cli import main
from tunesmith.core.errors import BadInputError, RenderError
from tunesmith.music.chords import CHORD_TRACK_NAME
from tunesmith.music.export import load_melody, to_abc, to_musicxml
from tunesmith.music.harmony import (
    Settings,
    cadence_of,
    diatonic_fit,
    harmonize,
    harmonize_file,
    harmonized_score,
    slot_steps_for,
)
from tunesmith.music.key import Key
from tunesmith.music.melody import Melody, Note
from tunesmith.music.midi import read_score


def arpeggios(progression, octave=60, bars_per_chord=1) -> Melody:
    """Quarter-note arpeggios (root, third, fifth, octave) of the given triads, one per bar of 4/4."""
    notes, t = [], 0
    for root, minor in progression:
        third = 3 if minor else 4
        for _ in range(bars_per_chord):
            for d in (0, third, 7, 12):
                notes.append(Note(octave + root + d, t, t + 4))
                t += 4
    return Melody.from_notes(notes, name="arpeggios")


def test_arpeggiated_progression_gets_its_own_chords():
    # C Am F G C, one bar each: the notes spell the chords, so the harmoniser must find them
    melody = arpeggios([(0, False), (9, True), (5, False), (7, False), (0, False)])
    result = harmonize(melody)
    assert result.key == Key(0, "major")
    assert result.symbols() == ["C", "Am", "F", "G", "C"]
    assert [c.start for c in result.chords] == [0, 16, 32, 48, 64]
    stats = result.stats()
    assert stats["strong_beat_chord_tones"] == 1.0 and stats["cadence"] == "authentic"
    assert stats["changes_per_bar"] == pytest.approx(4 / 5)


def test_minor_key_and_plagal_ending():
    # A minor: Am Dm Am Dm Am -> ends iv-i (plagal); E major's G# makes V available as well
    melody = arpeggios([(9, True), (2, True), (9, True), (4, False), (9, True), (2, True), (9, True)], octave=48)
    result = harmonize(melody)
    assert result.key == Key(9, "minor")
    assert result.symbols() == ["Am", "Dm", "Am", "E", "Am", "Dm", "Am"]
    assert cadence_of(result.chords, result.key) == "plagal"


def test_real_tunes_reach_the_targets():
    tunes = sorted(FOLK.glob("*.mid"))[:12]
    stats = [harmonize(load_melody(p)).stats() for p in tunes]
    chord_tones = np.mean([s["strong_beat_chord_tones"] for s in stats])
    assert chord_tones >= 0.8
    assert all(s["cadence"] in ("authentic", "plagal") for s in stats)
    assert 0.2 <= np.mean([s["changes_per_bar"] for s in stats]) <= 1.5
    # a tighter change cost changes chords less often
    sparse = [harmonize(load_melody(p), settings=Settings(change_cost=4, mid_bar_change_cost=6)).stats() for p in tunes]
    assert np.mean([s["changes_per_bar"] for s in sparse]) < np.mean([s["changes_per_bar"] for s in stats])


def test_chord_slots_follow_the_meter():
    assert slot_steps_for((4, 4), 4) == 8 and slot_steps_for((3, 4), 4) == 12 and slot_steps_for((6, 8), 4) == 6
    assert slot_steps_for((4, 4), 4, per="bar") == 16 and slot_steps_for((3, 2), 4) == 8
    with pytest.raises(BadInputError, match="'bar', 'half' or 'auto'"):
        slot_steps_for((4, 4), 4, per="beat")


def test_chord_track_in_midi_reads_back(tmp_path):
    tune = sorted(FOLK.glob("*.mid"))[5]
    result = harmonize_file(tune, tmp_path / "h.mid", chord_instrument="piano")
    score = read_score(tmp_path / "h.mid")
    assert [t.name for t in score.tracks][-1] == CHORD_TRACK_NAME and len(score.tracks) == 2
    chord_track = score.tracks[-1]
    assert chord_track.program == 0 and len(chord_track.notes) == 4 * len(result.chords)  # bass + triad each
    back = load_melody(tmp_path / "h.mid")
    assert [c.symbol for c in back.meta["chords"]] == result.symbols()
    assert [(c.start, c.end) for c in back.meta["chords"]] == [(c.start, c.end) for c in result.chords]
    original = load_melody(tune)
    assert [(n.pitch, n.start, n.end) for n in back.notes()] == [(n.pitch, n.start, n.end) for n in original.notes()]
    assert back.meter == original.meter is not None and back.meta["key"] == result.key


def test_chord_symbols_in_abc_and_musicxml():
    music21 = pytest.importorskip("music21")
    from music21 import harmony

    melody = arpeggios([(0, False), (5, False), (7, False), (0, False)], octave=55)  # G C D G
    result = harmonize(melody)
    abc = to_abc(melody, chords=result.chords)
    assert '"G"' in abc and '"C"' in abc and '"D"' in abc
    for text, fmt in ((abc, "abc"), (to_musicxml(melody, chords=result.chords), "musicxml")):
        stream = music21.converter.parse(text, format=fmt).flatten()
        symbols = [(float(c.offset), c.figure) for c in stream.getElementsByClass(harmony.ChordSymbol)]
        assert symbols == [(c.start / 4, c.symbol) for c in result.chords]


def test_non_tonal_and_empty_melodies_are_refused():
    rng = np.random.default_rng(3)
    row = rng.permutation(12)  # a twelve-tone row, twice: every pitch class equally
    atonal = Melody.from_notes([Note(60 + int(p), 4 * i, 4 * i + 4) for i, p in enumerate(np.tile(row, 2))], name="row")
    assert diatonic_fit(atonal) < 0.8
    with pytest.raises(BadInputError, match="not tonal enough.*--key"):
        harmonize(atonal)
    assert harmonize(atonal, key="C").chords  # with a key given it is harmonised anyway
    with pytest.raises(BadInputError, match="no notes"):
        harmonize(Melody(np.full(32, -2, np.int16)))


def test_chords_are_heard_on_a_second_instrument():
    from tunesmith.audio.render import _events, find_soundfont, render

    melody = arpeggios([(0, False), (5, False), (7, False), (0, False)], octave=72)
    result = harmonize(melody)
    score = harmonized_score(melody, result.chords, chord_program=24)
    _, presets = _events(score, 24, None, 22050)  # melody on guitar -> the guitar chord track switches to piano
    assert sorted(p for _, p in presets.values()) == [0, 24]
    _, presets = _events(score, 0, None, 22050, accompaniment=40)
    assert sorted(p for _, p in presets.values()) == [0, 40]
    try:
        find_soundfont()
    except RenderError as exc:
        pytest.skip(f"no General MIDI SoundFont: {exc}")
    sr = 22050
    alone, _ = render(melody, "guitar", sample_rate=sr)
    with_chords, _ = render(score, "guitar", sample_rate=sr)

    def bass_share(audio):  # the chord track's bass notes C3 (131 Hz), F2 (87 Hz), G2 (98 Hz); the melody is C5+
        spectrum = np.abs(np.fft.rfft(audio[: 8 * sr])) ** 2
        freqs = np.fft.rfftfreq(min(len(audio), 8 * sr), 1 / sr)
        bands = [(freqs > f * 0.97) & (freqs < f * 1.03) for f in (130.8, 87.3, 98.0)]
        return sum(spectrum[b].sum() for b in bands) / spectrum.sum()

    assert bass_share(with_chords) > 10 * bass_share(alone)


def test_cli_harmonize_and_generate_with_chords(tmp_path, capsys):
    tune = sorted(FOLK.glob("*.mid"))[2]
    assert main(["harmonize", str(tune), "-o", str(tmp_path / "h.abc"), "--per", "bar"]) == 0
    out = capsys.readouterr().out
    assert "Key " in out and "chord tones" in out and (tmp_path / "h.abc").read_text().count('"') >= 4
    assert main(["harmonize", str(tmp_path / "nope.mid"), "-o", str(tmp_path / "x.mid")]) == 1
    gen = tmp_path / "gen"
    argv = [
        "melody",
        "generate",
        "--primer",
        "C4 E4 G4 C5",
        "--steps",
        "64",
        "-n",
        "2",
        "--chords",
        "--format",
        "abc,musicxml,svg",
    ]
    assert main([*argv, "-o", str(gen)]) == 0
    report = json.loads((gen / "generation.json").read_text())
    for item in report["outputs"]:
        assert {"midi", "abc", "musicxml", "score_svg"} <= set(item["files"])
        assert item.get("chords") or item.get("chords_error")
        if item.get("chords"):
            assert len(read_score(gen / item["files"]["midi"]).tracks) == 2
            assert f'"{item["chords"][-1]}"' in (gen / item["files"]["abc"]).read_text()
    assert main([*argv[:-1], "abc,midi2", "-o", str(tmp_path / "bad")]) == 1
    assert "unknown output format" in capsys.readouterr().err
