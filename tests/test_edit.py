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
