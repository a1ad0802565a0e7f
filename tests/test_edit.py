"""Editing a tune with the shipped default model: infill (kept bars exact, joins weighted by the right side),
variations on the tune's plan, melodies over given chords, clear errors that write nothing, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import symusic

from conftest import FOLK
from tunesmith.cli import main
from tunesmith.core.errors import BadInputError
from tunesmith.melody.edit import (
    bar_plan,
    cadence_bars,
    generate_over_chords,
    infill,
    parse_bars,
    read_tune,
    strong_beat_chord_tones,
    vary,
)
from tunesmith.melody.generate import load_melody_model
from tunesmith.music.chords import CHORD_TRACK_NAME, parse_chord_progression

TUNE = sorted(FOLK.glob("*.mid"))[0]


@pytest.fixture(scope="module")
def model():
    return load_melody_model("default")


@pytest.fixture(scope="module")
def tune(model):
    return read_tune(model, TUNE)


def _bars(melody, bars):
    spb = melody.steps_per_bar
    return np.concatenate([melody.events[b * spb : (b + 1) * spb] for b in bars])


def test_infill_keeps_every_other_bar_and_varies_the_chosen_ones(model, tune):
    outs = infill(model, TUNE, "3,7-8", n=4, seed=3)
    total = len(tune) // tune.steps_per_bar
    kept = [b for b in range(total) if b not in (2, 6, 7)]
    for out in outs:
        assert len(out) == len(tune)
        assert np.array_equal(_bars(out, kept), _bars(tune, kept))
        assert out.meta["infilled"] == [3, 7, 8]
    middles = {_bars(out, [2, 6, 7]).tobytes() for out in outs}
    assert len(middles) == 4  # the four versions differ in the rewritten bars
    assert all((_bars(out, [2, 6, 7]) >= 0).any() for out in outs)  # and they hold notes
    again = infill(model, TUNE, "3,7-8", n=4, seed=3)
    assert all(np.array_equal(a.events, b.events) for a, b in zip(outs, again))  # same seed, same versions


def test_the_right_side_weighting_beats_forward_continuation(model, tune):
    """Candidates chosen by the likelihood of the bars after them join those bars better than plain continuation."""
    spb = tune.steps_per_bar
    weighted = infill(model, tune, "5-6", n=8, seed=1, candidates=32, method="sir")
    plain = infill(model, tune, "5-6", n=8, seed=1, candidates=32, method="forward")
    right = [6, 7, 8, 9]

    def right_loglik(outs):
        return np.mean([model.log_likelihood([o.copy(events=o.events[: (right[-1] + 1) * spb])])[0] for o in outs]) - np.mean(
            [model.log_likelihood([o.copy(events=o.events[: right[0] * spb])])[0] for o in outs]
        )

    assert right_loglik(weighted) > right_loglik(plain) + 1.0
    assert np.mean([o.meta["seam_log_likelihood"] for o in weighted]) > np.mean([o.meta["seam_log_likelihood"] for o in plain])


def test_opening_and_closing_bars_can_be_rewritten(model, tune):
    total = len(tune) // tune.steps_per_bar
    for bars, kept in (("1-2", range(2, total)), (f"{total}", range(total - 1))):
        out = infill(model, tune, bars, n=2, seed=0)[0]
        assert np.array_equal(_bars(out, kept), _bars(tune, kept))


def test_parse_bars_merges_and_refuses_clearly():
    assert parse_bars("3,7-8", 16) == [(2, 3), (6, 8)]
    assert parse_bars("5-6,6-7", 16) == [(4, 7)]
    for bad, words in (("17", "outside the tune"), ("1-16", "whole tune"), ("0-2", "count from 1"), ("x", "bar numbers")):
        with pytest.raises(BadInputError, match=words):
            parse_bars(bad, 16)


def test_vary_keeps_cadences_and_form(model, tune):
    plan, cadences = bar_plan(tune), cadence_bars(tune)
    assert cadences[-1] == len(tune) // tune.steps_per_bar - 1
    outs = vary(model, TUNE, n=3, strength="new", seed=2)
    for out in outs:
        assert np.array_equal(_bars(out, cadences), _bars(tune, cadences))
        for bar, source in enumerate(plan):
            if source >= 0:
                assert np.array_equal(_bars(out, [bar]), _bars(out, [source]))
        assert not np.array_equal(out.events, tune.events)
    few = vary(model, TUNE, n=1, strength="ornament", seed=2)[0]
    assert len(few.meta["infilled"]) < len(outs[0].meta["infilled"])
    with pytest.raises(BadInputError, match="strength"):
        vary(model, TUNE, n=1, strength="wild")


def test_chord_progressions_parse_and_refuse():
    spans = parse_chord_progression("C:2 G:2 Am F#m7b5 Bbmaj7", 16, 4)
    assert [(c.start, c.end, c.root, c.quality) for c in spans[:3]] == [(0, 8, 0, "maj"), (8, 16, 7, "maj"), (16, 32, 9, "min")]
    assert spans[3].quality == "m7b5" and spans[4].root == 10
    for bad in ("C H7", "C:x", ""):
        with pytest.raises(BadInputError, match="H7" if "H7" in bad else "chord"):
            parse_chord_progression(bad)


def test_chords_condition_the_melody(model):
    text = "C G Am F C F G C"
    over = generate_over_chords(model, text, n=8, seed=0)
    free = generate_over_chords(model, text, n=8, seed=0, chord_weight=0)
    chords = over[0].meta["chords"]
    assert len(over[0]) == 8 * 16
    share = np.mean([strong_beat_chord_tones(m, chords) for m in over])
    baseline = np.mean([strong_beat_chord_tones(m, chords) for m in free])
    assert share > baseline + 0.1, (share, baseline)


def test_bad_input_is_refused_and_writes_nothing(model, tmp_path):
    out = tmp_path / "out"
    empty = tmp_path / "empty.mid"
    score = symusic.Score(480)
    score.tracks.append(symusic.Track("piano", 0, False))
    score.dump_midi(str(empty))
    cases = [
        (["melody", "infill", str(TUNE), "--bars", "40", "-o", str(out)], "outside the tune"),
        (["melody", "infill", str(TUNE), "--bars", "1-16", "-o", str(out)], "whole tune"),
        (["melody", "infill", str(TUNE), "--bars", "2", "--over-chords", "C H7", "-o", str(out)], "H7"),
        (["melody", "infill", str(TUNE), "--bars", "2", "--over-chords", " ".join(["C"] * 40), "-o", str(out)], "chords last"),
        (["melody", "infill", str(empty), "--bars", "1", "-o", str(out)], "tune .*no pitched notes"),
        (["melody", "generate", "--over-chords", "C H7", "-o", str(out)], "H7"),
        (["melody", "generate", "--primer", str(TUNE), "--over-chords", "C G", "-o", str(out)], "primer"),
    ]
    for argv, words in cases:
        with pytest.raises(BadInputError, match=words):
            from tunesmith.outputs.compose import edit_to_dir, generate_to_dir  # the library calls behind the CLI

            if argv[1] == "generate":
                primer = argv[argv.index("--primer") + 1] if "--primer" in argv else None
                generate_to_dir(model, primer, out, 2, over_chords=argv[argv.index("--over-chords") + 1])
            else:
                chords = argv[argv.index("--over-chords") + 1] if "--over-chords" in argv else None
                edit_to_dir("infill", model, argv[2], out, 2, bars=argv[argv.index("--bars") + 1], chords=chords)
        assert main(["--quiet", *argv]) == 1
        assert not out.exists()


def test_cli_commands_run_end_to_end(tmp_path, capsys):
    out = tmp_path / "infill"
    assert main(["--quiet", "melody", "infill", str(TUNE), "--bars", "5-6", "-n", "2", "-o", str(out), "--format", "abc"]) == 0
    report = json.loads((out / "generation.json").read_text())
    assert report["edit"] == "infill" and [o["infilled"] for o in report["outputs"]] == [[5, 6], [5, 6]]
    assert (out / "melody_02.mid").is_file() and (out / "melody_01.abc").is_file()
    assert main(["--quiet", "melody", "vary", str(TUNE), "-n", "2", "--strength", "light", "-o", str(tmp_path / "vary")]) == 0
    assert (tmp_path / "vary" / "melody_02.mid").is_file()
    chords = tmp_path / "chords"
    assert (
        main(["--quiet", "melody", "generate", "--over-chords", "C G Am F", "-n", "2", "-o", str(chords), "--format", "abc"]) == 0
    )
    score = symusic.Score(str(chords / "melody_01.mid"))
    assert [t.name for t in score.tracks][-1] == CHORD_TRACK_NAME
    abc = (chords / "melody_01.abc").read_text()
    assert all(f'"{c}"' in abc for c in ("C", "G", "Am", "F"))
    assert "bars 5-6 rewritten" in capsys.readouterr().out


# --- chords from files -------------------------------------------------------------------------------
TRIADS = {"C": (48, 52, 55), "G": (43, 47, 50), "Am": (45, 48, 52), "F": (41, 45, 48), "G7": (43, 47, 50, 53), "Dm": (50, 53, 57)}
PROGRESSION = "C G Am F C F G7 C".split()


def _song(path, chords, *, style="block", melody=True, time_signature=(4, 4)):
    """A MIDI file: a scale tune from middle C (track 1) over a piano track playing ``chords``, one a bar
    (``style``: held block chords, eighth-note arpeggios, or "half": pairs of chords, two beats each)."""
    from conftest import make_score, scale_tune

    beats = time_signature[0]
    acc = []
    for bar, chord in enumerate(chords):
        if style == "arpeggio":
            tones = TRIADS[chord]
            acc += [(tones[i % len(tones)], bar * beats + i / 2, 0.5) for i in range(2 * beats)]
        elif style == "half":
            first, second = chord
            acc += [(p, bar * beats, 2) for p in TRIADS[first]] + [(p, bar * beats + 2, 2) for p in TRIADS[second]]
        else:
            acc += [(p, bar * beats, beats) for p in TRIADS[chord]]
    if melody:
        tune = [n for n in scale_tune(bars=len(chords) * beats // 4 + 1) if n[1] < len(chords) * beats]
        score = make_score(tune, extra_tracks=[(acc, 0, False)], time_signature=time_signature)
    else:
        score = make_score(acc, time_signature=time_signature)
    score.tracks[-1].name = "Piano"
    score.dump_midi(str(path))
    return path


def test_chords_are_heard_in_an_accompaniment_track(tmp_path):
    from tunesmith.music.export import load_chords

    for style in ("block", "arpeggio"):
        found = load_chords(_song(tmp_path / f"{style}.mid", PROGRESSION, style=style))
        assert [c.symbol for c in found.chords] == PROGRESSION, style
        assert [(c.start, c.end) for c in found.chords] == [(16 * b, 16 * b + 16) for b in range(8)]
        assert found.found == "chords heard in track 2 'Piano'" and found.meter == (4, 4)
    pairs = [("C", "G"), ("Am", "F"), ("Dm", "G7"), ("C", "C")]
    half = load_chords(_song(tmp_path / "half.mid", pairs, style="half"))
    assert [(c.symbol, c.start) for c in half.chords] == [
        ("C", 0), ("G", 8), ("Am", 16), ("F", 24), ("Dm", 32), ("G7", 40), ("C", 48),
    ]  # fmt: skip
    alone = load_chords(_song(tmp_path / "alone.mid", ["Am", "F", "C", "G"], melody=False))  # a file of chords only
    assert [c.symbol for c in alone.chords] == ["Am", "F", "C", "G"] and alone.found.startswith("chords heard in track 1")
    waltz = load_chords(_song(tmp_path / "waltz.mid", ["C", "G", "C"], time_signature=(3, 4)))
    assert waltz.meter == (3, 4) and [(c.symbol, c.end) for c in waltz.chords] == [("C", 12), ("G", 24), ("C", 36)]


def test_chord_symbols_are_read_from_abc_and_musicxml(tmp_path):
    from tunesmith.music.export import export_melody, load_chords, load_melody

    abc = tmp_path / "tune.abc"
    abc.write_text('X:1\nT:t\nM:4/4\nL:1/4\nK:G\n"G"GABc|"D7"d2 A2|"Em"B2 G2|"C"E "D"D G2|]\n')
    spans = [(c.symbol, c.start, c.end) for c in load_chords(abc).chords]
    assert spans == [("G", 0, 16), ("D7", 16, 32), ("Em", 32, 48), ("C", 48, 52), ("D", 52, 64)]
    xml = export_melody(load_melody(abc), tmp_path / "tune.musicxml")  # written with its <harmony> chord symbols
    assert "<harmony" in xml.read_text()
    found = load_chords(xml)
    assert [(c.symbol, c.start, c.end) for c in found.chords] == spans and found.found == "chord symbols"
    waltz = tmp_path / "waltz.abc"  # titled "chords", as the chord track is named: its melody is not taken for chords
    waltz.write_text('X:1\nT:chords\nM:3/4\nL:1/4\nK:G\n"G"G2 B|"C"c2 e|"D7"d2 A|"G"G3|]\n')
    found = load_chords(waltz)
    assert found.meter == (3, 4) and [(c.symbol, c.start) for c in found.chords] == [("G", 0), ("C", 12), ("D7", 24), ("G", 36)]


def test_files_without_chords_are_refused_clearly(model, tmp_path):
    from conftest import make_score, scale_tune
    from tunesmith.music.export import export_melody, load_chords, load_melody

    plain = tmp_path / "plain.mid"
    make_score(scale_tune(bars=4)).dump_midi(str(plain))
    bare_abc = tmp_path / "bare.abc"
    bare_abc.write_text("X:1\nT:t\nM:4/4\nL:1/4\nK:G\nGABc|d2 A2|B2 G2|E D G2|]\n")
    bare_xml = export_melody(load_melody(bare_abc), tmp_path / "bare.musicxml")
    for path, words in ((plain, "no 'chords' track and no accompaniment"), (bare_abc, 'no chord symbols \\("Am"'),
                        (bare_xml, "no chord symbols \\(<harmony>\\)"), (tmp_path / "gone.mid", "does not exist")):  # fmt: skip
        with pytest.raises(BadInputError, match=f"{path.name}.*{words}" if path.exists() else words):
            load_chords(path)
        with pytest.raises(BadInputError, match=words):
            generate_over_chords(model, str(path), n=1)
    waltz = _song(tmp_path / "waltz.mid", ["C", "G", "C"], time_signature=(3, 4))
    with pytest.raises(BadInputError, match="chords file is in 3/4"):
        infill(model, TUNE, "2", n=1, chords=waltz)


def test_chords_from_a_file_are_the_accompaniment_and_the_chord_symbols(model, tmp_path):
    """Over the chords of a MIDI accompaniment: the melody's strong beats follow them, and they come out as the
    ``chords`` track of each MIDI file, quoted ABC chords, MusicXML <harmony> and the score's chord symbols."""
    from tunesmith.outputs.compose import edit_to_dir

    song = _song(tmp_path / "song.mid", PROGRESSION, style="arpeggio")
    out = tmp_path / "over"
    report = edit_to_dir("over-chords", model, None, out, 4, chords=str(song), formats=["abc", "musicxml", "svg"])
    melodies = report["melodies"]
    assert all(o["chords"] == PROGRESSION for o in report["outputs"]) and all(len(m) == 8 * 16 for m in melodies)
    spans = melodies[0].meta["chords"]
    free = generate_over_chords(model, str(song), n=4, chord_weight=0)
    share = np.mean([strong_beat_chord_tones(m, spans) for m in melodies])
    assert share > np.mean([strong_beat_chord_tones(m, spans) for m in free]) + 0.1
    score = symusic.Score(str(out / "melody_01.mid"))
    track = score.tracks[-1]
    assert track.name == CHORD_TRACK_NAME
    tpq = score.tpq
    for bar, chord in enumerate(PROGRESSION):  # each bar's chord, root in the bass and its tones above
        pitches = {n.pitch for n in track.notes if n.time == bar * 4 * tpq}
        assert {p % 12 for p in pitches} == {p % 12 for p in TRIADS[chord]}, bar
        assert min(pitches) % 12 == TRIADS[chord][0] % 12
    abc = (out / "melody_01.abc").read_text()
    bars = abc.split("K:", 1)[1].split("|")
    assert [b.split('"')[1] for b in bars if '"' in b] == PROGRESSION
    xml = (out / "melody_01.musicxml").read_text()
    assert xml.count("<harmony") == 8 and xml.count("<kind>dominant") == 1  # the G7
    assert (out / "melody_01.svg").read_text().count('class="harm"') == 8


def test_infill_over_the_chords_of_its_own_file(tmp_path, capsys):
    """``melody infill song.mid --bars 3-4 --over-chords song.mid``: the song's own chords steer the rewritten bars
    and sound under the whole tune."""
    song = _song(tmp_path / "song.mid", PROGRESSION)
    out = tmp_path / "infill"
    argv = ["--quiet", "melody", "infill", str(song), "--bars", "3-4", "--over-chords", str(song), "-n", "2", "-o", str(out)]
    assert main([*argv, "--format", "abc"]) == 0
    report = json.loads((out / "generation.json").read_text())
    assert [o["chords"] for o in report["outputs"]] == [PROGRESSION] * 2
    assert [o["infilled"] for o in report["outputs"]] == [[3, 4]] * 2
    assert symusic.Score(str(out / "melody_02.mid")).tracks[-1].name == CHORD_TRACK_NAME
    assert "bars 3-4 rewritten" in capsys.readouterr().out


def test_the_cli_and_the_studio_offer_the_same_strengths():
    from tunesmith.cli import COMMANDS
    from tunesmith.melody.edit import STRENGTHS
    from tunesmith.melody.settings import EDIT_STRENGTHS

    vary_command = next(c for c in COMMANDS if c.path == ("melody", "vary"))
    choices = next(kw["choices"] for flags, kw in vary_command.options if isinstance(flags, tuple) and "--strength" in flags)
    assert tuple(choices) == STRENGTHS == EDIT_STRENGTHS
