"""Reading music right: ABC chord symbols stay chords, the melody track of a multi-track MIDI file is the one
engraved, exported, harmonised and primed, keys respect the tonic (an E-minor jig is in E minor), multi-tune ABC
exports keep every tune, low lines get a bass clef, and flat and 6-/7-accidental keys write MusicXML with chords.
"""

from __future__ import annotations

import re

import pytest
import symusic

from conftest import FOLK
from tunesmith.cli import main
from tunesmith.data.corpus import process_file
from tunesmith.music.export import (
    clef_for,
    export_melodies,
    export_melody,
    load_melodies,
    load_melody,
    to_abc,
    to_musicxml,
)
from tunesmith.music.harmony import harmonize, harmonize_file
from tunesmith.music.key import Key, estimate_key, key_from_signature, key_of, parse_key
from tunesmith.music.melody import Melody, Note
from tunesmith.music.midi import ExtractionSettings, choose_melody_track, read_abc_tunes, read_score, write_midi
from tunesmith.music.primer import parse_primer
from tunesmith.outputs.score import score_svg

music21 = pytest.importorskip("music21")

# a real tune with the chord symbols folk collections carry ("G", "D7"), as in the Nottingham Music Database
WASHERWOMAN = """X:1
T:The Irish Washerwoman
M:6/8
L:1/8
R:jig
K:G
dc|"G"BGG DGG|BGB dcB|"D7"cAA EAA|cBc edc|"G"BGG DGG|BGB dcB|"D7"cBc Adc|"G"BGG G:|
|:ga|"G"bgg dgg|bgb dgb|"D7"c'aa eaa|"D7"c'ba gfe|"G"dgg Bgg|"C"dgg "G"Bgg|"D7"cBc Adc|"G"BGG G:|
"""
SECOND_TUNE = """X:2
T:Second Tune
M:4/4
L:1/8
K:Em
"Em"EFGA B2AG|"D"FEDF A2FD|"Em"EFGA B2AG|"Bm"FDAF "Em"E4|]
"""
E_MINOR_JIG = FOLK / "oneills1850__0732-0758_mh__X738.mid"  # a jig in E minor, ending on E (file: E minor)
G_MAJOR_JIG = FOLK / "oneills1850__0101-0200__X110.mid"  # a jig in G major, ending on G


def _abc_file(tmp_path, text=WASHERWOMAN, name="tune.abc"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _melody_pitches_of(text: str) -> set[int]:
    """The pitches of the tune with its chord symbols removed by hand: what the melody really plays."""
    score = symusic.Score.from_abc(re.sub(r'"[^"]*"', "", text))
    return {int(n.pitch) for t in score.tracks for n in t.notes}


# --- chord symbols in ABC ---------------------------------------------------------------------------------
def test_abc_chord_symbols_are_chords_not_melodies(tmp_path):
    path = _abc_file(tmp_path)
    tunes = read_abc_tunes(path)
    assert len(tunes) == 1 and len(tunes[0][1].tracks) == 1  # the melody only: no bass line, no chord-tone line
    # prepare: one training melody per tune (it was 3: the tune, the chord roots, the chord tones)
    result = process_file(str(path), ExtractionSettings(min_bars=2))
    assert len(result.events) == 1
    assert set(result.events[0][result.events[0] >= 0].tolist()) == _melody_pitches_of(WASHERWOMAN)


def test_abc_chord_symbols_reach_export_score_and_primer_as_chords(tmp_path):
    path = _abc_file(tmp_path)
    melody = load_melody(path)
    melody_pitches = _melody_pitches_of(WASHERWOMAN)
    assert {n.pitch for n in melody.notes()} == melody_pitches  # no chord roots or chord tones in the melody
    symbols = [c.symbol for c in melody.meta["chords"]]
    assert symbols[:3] == ["G", "D7", "G"] and set(symbols) == {"G", "D7", "C"}
    d7 = next(c for c in melody.meta["chords"] if c.symbol == "D7")
    assert d7.root == 2 and set(d7.pitch_classes) == {2, 6, 9, 0}
    # each chord starts where the ABC puts it: on a melody note; "G" on the B after the pickup "dc", "D7" on the c
    onsets = {n.start: n.pitch for n in melody.notes()}
    assert all(c.start in onsets for c in melody.meta["chords"])
    assert [onsets[c.start] for c in melody.meta["chords"][:2]] == [71, 72] and melody.meta["chords"][0].start == 4
    out = tmp_path / "out.abc"
    export_melody(path, out)
    abc = out.read_text()
    assert '"G"' in abc and '"D7"' in abc and '"C"' in abc
    again = read_abc_tunes(out)[0][1]
    assert len(again.tracks) == 1 and {int(n.pitch) for n in again.tracks[0].notes} == melody_pitches
    xml = to_musicxml(melody)
    parsed = music21.converter.parse(xml, format="musicxml")
    assert {p.pitch.midi for p in parsed.flatten().notes if not isinstance(p, music21.harmony.ChordSymbol)} == melody_pitches
    assert {c.figure for c in parsed.flatten().getElementsByClass(music21.harmony.ChordSymbol)} == {"G", "D7", "C"}
    bare = _abc_file(tmp_path, re.sub(r'"[^"]*"', "", WASHERWOMAN), "bare.abc")
    svg = score_svg(path)
    assert svg.count('class="note"') == score_svg(bare).count('class="note"')  # the melody's notes, no others
    assert "D7" in svg or ">D<" in svg
    primer = parse_primer(str(path))
    assert {int(p) for p in primer.events[primer.events >= 0]} == melody_pitches


# --- the melody track of a multi-track MIDI file --------------------------------------------------------------
def _two_track_midi(path, accompaniment_name="Track 1", melody_name="Track 2"):
    """Track 1: block chords with a high arpeggio at the end of every other bar (above the tune there);
    track 2: the tune, a monophonic line around C5."""
    tpq = 480
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=120))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    acc = symusic.Track(accompaniment_name, 0, False)
    tune = symusic.Track(melody_name, 73, False)
    melody = [72, 74, 76, 77, 79, 77, 76, 74] * 4
    for i, p in enumerate(melody):
        tune.notes.append(symusic.Note(i * tpq, tpq, p, 100))
    for bar in range(8):
        for p in (48, 52, 55):
            acc.notes.append(symusic.Note(bar * 4 * tpq, 3 * tpq, p, 70))
        if bar % 2:
            acc.notes.append(symusic.Note(bar * 4 * tpq + 3 * tpq, tpq, 84, 70))  # above the tune: a skyline takes it
    score.tracks.extend([acc, tune])
    score.dump_midi(str(path))
    return melody


def test_multitrack_midi_uses_the_melody_track_everywhere(tmp_path, capsys):
    path = tmp_path / "two.mid"
    tune = _two_track_midi(path)
    melody = load_melody(path)
    assert [n.pitch for n in melody.notes()] == tune  # a skyline took the accompaniment's high notes
    choice = choose_melody_track(read_score(path))
    assert choice.index == 1 and "track 2" in choice.describe()
    assert melody.meta["program"] == 73
    assert {n.pitch for n in load_melody(path).notes()}.isdisjoint({48, 52, 55, 84})
    primer = parse_primer(str(path))
    assert primer.events[primer.events >= 0].tolist() == tune
    result = harmonize_file(path, tmp_path / "h.mid")
    assert [n.pitch for n in result.melody.notes()] == tune
    written = read_score(tmp_path / "h.mid")
    assert sorted({int(n.pitch) for n in written.tracks[0].notes}) == sorted(set(tune))
    assert main(["export", str(path), "-o", str(tmp_path / "two.abc")]) == 0
    out = capsys.readouterr().out
    assert "Melody: track 2" in out  # it says which track it took
    abc_pitches = {int(n.pitch) for t in read_abc_tunes(tmp_path / "two.abc")[0][1].tracks for n in t.notes}
    assert abc_pitches == set(tune)
    assert main(["harmonize", str(path), "-o", str(tmp_path / "h2.mid")]) == 0
    assert "Melody: track 2" in capsys.readouterr().out


def test_a_track_named_as_the_melody_wins(tmp_path):
    path = tmp_path / "named.mid"
    _two_track_midi(path, accompaniment_name="Piano Left", melody_name="Solo-Right")
    choice = choose_melody_track(read_score(path))
    assert choice.name == "Solo-Right" and "named as a melody" in choice.reason


# --- keys: tonic evidence --------------------------------------------------------------------------------------
def _with_signature(src, dst, fifths, minor):
    score = read_score(src)
    score.key_signatures = [symusic.KeySignature(0, fifths, minor)]
    write_midi(score, dst)
    return dst


def test_an_e_minor_jig_is_harmonised_in_e_minor(tmp_path):
    # most editors write a key signature's mode as major whatever the tune: the jig's file then says "G major"
    jig = _with_signature(E_MINOR_JIG, tmp_path / "jig.mid", 1, 0)
    melody = load_melody(jig)
    assert melody.notes()[-1].pitch % 12 == 4
    result = harmonize_file(jig, tmp_path / "h.mid")
    assert result.key == Key(4, "minor")
    assert result.chords[-1].root == 4 and result.chords[-1].quality == "min"  # E minor under the final E
    assert "K:Em" in to_abc(melody)  # the signature stays one sharp
    # with no signature at all, and with the file's own (E minor): E minor too
    bare = read_score(E_MINOR_JIG)
    bare.key_signatures = []
    write_midi(bare, tmp_path / "bare.mid")
    assert key_of(load_melody(tmp_path / "bare.mid")) == Key(4, "minor")
    assert key_of(load_melody(E_MINOR_JIG)) == Key(4, "minor")
    # a G-major jig stays in G major, also when its file says nothing
    assert key_of(load_melody(G_MAJOR_JIG)) == Key(7, "major")
    assert harmonize(load_melody(G_MAJOR_JIG)).chords[-1].root == 7


def test_key_finder_agrees_with_the_tunes_own_keys():
    """On the real tunes of tests/data (their ABC K: field is in the MIDI key signature, mode included), the key
    finder with the signature's sharps/flats only (the mode flag forced to major, as most editors write it) finds
    the tune's own key for nearly all of them, and from the notes alone for most."""
    files = sorted(FOLK.glob("*.mid"))
    same_sig = alone = 0
    for path in files:
        melody = load_melody(path)
        truth = melody.meta["key"]
        hint = key_from_signature(truth.fifths, False)
        same_sig += estimate_key(melody, hint)[0] == truth
        alone += estimate_key(melody)[0] == truth
    assert same_sig >= 0.85 * len(files) and alone >= 0.75 * len(files)


# --- multi-tune ABC ---------------------------------------------------------------------------------------------
def test_a_two_tune_abc_exports_both_tunes(tmp_path, capsys):
    path = _abc_file(tmp_path, WASHERWOMAN + "\n" + SECOND_TUNE, "two.abc")
    out = tmp_path / "both.abc"
    assert main(["export", str(path), "-o", str(out)]) == 0
    text = out.read_text()
    assert "X:1\n" in text and "X:2\n" in text and "T:The Irish Washerwoman" in text and "T:Second Tune" in text
    assert len(load_melodies(path)) == 2
    tunes = read_abc_tunes(out)
    assert [t for t, _ in tunes] == ["1", "2"]
    assert {int(n.pitch) for n in tunes[1][1].tracks[0].notes} == _melody_pitches_of(SECOND_TUNE)
    assert '"Em"' in text.split("X:2")[1]
    paths = export_melodies(load_melodies(path), tmp_path / "both.musicxml")
    assert [p.name for p in paths] == ["both-X1.musicxml", "both-X2.musicxml"] and all(p.is_file() for p in paths)


# --- clefs -----------------------------------------------------------------------------------------------------
def test_low_lines_get_a_bass_clef(tmp_path):
    cello = Melody.from_notes([Note(p, 4 * i, 4 * i + 4) for i, p in enumerate([36, 43, 48, 47, 45, 43, 41, 40, 38, 36])])
    assert clef_for(n.pitch for n in cello.notes()) == "bass"
    abc = to_abc(cello, key="C")
    assert "\nK:C clef=bass\n" in abc
    assert music21.converter.parse(abc, format="abc").flatten().getElementsByClass("Clef")[0].sign == "F"
    xml = music21.converter.parse(to_musicxml(cello, key="C"), format="musicxml")
    assert xml.flatten().getElementsByClass("Clef")[0].sign == "F"
    svg = score_svg(cello, key="C")
    assert "E062" in svg or "clefF" in svg or "F clef" in svg or 'class="clef"' in svg
    tune = load_melody(G_MAJOR_JIG)
    assert "clef=" not in to_abc(tune) and clef_for(n.pitch for n in tune.notes()) == "treble"


# --- flat keys with chords in MusicXML; 6 and 7 sharps/flats -----------------------------------------------------
@pytest.mark.slow  # 4 s on two busy cores
def test_chords_in_flat_keys_write_musicxml(tmp_path, capsys):
    bb_tune = FOLK / "ryansMammoth__BenButlersReel__X1.mid"  # a reel in Bb major
    out = tmp_path / "h.musicxml"
    result = harmonize_file(bb_tune, out)
    assert any("b" in s[1:2] for s in result.symbols())  # a flat chord (Bb, Eb) is among them
    parsed = music21.converter.parse(str(out))
    figures = [c.figure for c in parsed.flatten().getElementsByClass(music21.harmony.ChordSymbol)]
    assert figures and any("-" in f for f in figures)
    assert main(["export", str(bb_tune), "--chords", "-o", str(tmp_path / "e.musicxml")]) == 0
    assert main(["export", str(bb_tune), "--chords", "-o", str(tmp_path / "e.mxl")]) == 0


@pytest.mark.parametrize(
    "fifths, minor, name",
    [(-6, 0, "Gb"), (6, 0, "F#"), (-7, 0, "Cb"), (7, 0, "C#"), (-6, 1, "Ebm"), (-7, 1, "Abm"), (7, 1, "A#m"), (6, 1, "D#m")],
)
def test_six_and_seven_accidental_keys_work_everywhere(tmp_path, fifths, minor, name):
    key = key_from_signature(fifths, bool(minor))
    assert key.fifths == fifths and key.name == name and parse_key(name).fifths == fifths
    scale = [(key.tonic + d) % 12 for d in ((0, 2, 4, 5, 7, 9, 11) if not minor else (0, 2, 3, 5, 7, 8, 10))]
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.key_signatures.append(symusic.KeySignature(0, fifths, minor))
    track = symusic.Track("tune", 0, False)
    pitches = [60 + pc for pc in scale + scale[::-1]] + [60 + scale[0]]
    for i, p in enumerate(pitches):
        track.notes.append(symusic.Note(i * 480, 480, p, 90))
    score.tracks.append(track)
    path = tmp_path / "k.mid"
    score.dump_midi(str(path))
    melody = load_melody(path)
    abc = to_abc(melody)
    assert f"\nK:{name}\n" in abc
    parsed = music21.converter.parse(abc, format="abc")
    assert [n.pitch.midi for n in parsed.flatten().notes] == pitches
    assert parsed.flatten().getElementsByClass("KeySignature")[0].sharps == fifths
    xml = music21.converter.parse(to_musicxml(melody, chords=harmonize(melody).chords), format="musicxml")
    assert xml.flatten().getElementsByClass("KeySignature")[0].sharps == fifths
    assert [n.pitch.midi for n in xml.flatten().notes if not isinstance(n, music21.harmony.ChordSymbol)] == pitches
    assert main(["score", str(path), "-o", str(tmp_path / "k.svg")]) == 0
    assert main(["export", str(path), "--chords", "-o", str(tmp_path / "k.musicxml")]) == 0
    assert main(["harmonize", str(path), "-o", str(tmp_path / "h.mid")]) == 0
    assert main(["harmonize", str(path), "-o", str(tmp_path / "h.musicxml")]) == 0
    assert read_score(tmp_path / "h.mid").key_signatures[0].key == fifths


# --- harmonize on the shortest melodies -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "notes",
    [[(1, 1, 60)], [(0.5, 0.5, 60), (2.5, 0.5, 62)], [(0, 1, 60)], [(0, 1, 60), (1, 1, 62)], [(0.25, 0.75, 60), (1, 3, 64)]],
    ids=["one-late", "two-offbeat", "one", "two", "one-bar"],
)
def test_harmonize_to_midi_on_very_short_melodies(tmp_path, capsys, notes):
    score = symusic.Score(480)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track("m", 0, False)
    for start, dur, pitch in notes:
        track.notes.append(symusic.Note(int(start * 480), int(dur * 480), pitch, 90))
    score.tracks.append(track)
    path = tmp_path / "short.mid"
    score.dump_midi(str(path))
    out = tmp_path / "h.mid"
    assert main(["harmonize", str(path), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and f"Wrote {out}" in captured.out
    assert len(read_score(out).tracks) == 2 and len(read_score(out).tracks[1].notes) > 0


@pytest.mark.slow  # 4 s on two busy cores
def test_musicxml_chord_symbols_read_back_as_chords(tmp_path):
    bb_tune = FOLK / "ryansMammoth__BenButlersReel__X1.mid"
    melody = load_melody(bb_tune)
    chords = harmonize(melody).chords
    out = tmp_path / "h.musicxml"
    export_melody(melody, out, chords=chords)
    back = load_melody(out)
    assert [n.pitch for n in back.notes()] == [n.pitch for n in melody.notes()]  # no chord notes in the melody
    assert [(c.symbol, c.start) for c in back.meta["chords"]] == [(c.symbol, c.start) for c in chords]
    assert '"Eb"' in to_abc(back)  # and they travel on to ABC, flats spelled as folk tools expect
