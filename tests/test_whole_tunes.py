"""Generation that composes whole tunes: new steps, whole bars, forms, a tonic ending, the primer's meter kept."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from conftest import make_score, scale_tune
from tunesmith.core.errors import BadInputError
from tunesmith.melody.forms import parse_form, plan_bars, section_sources
from tunesmith.melody.generate import MAX_PRIMER_BARS, load_melody_model
from tunesmith.music.meter import meter_of
from tunesmith.music.midi import read_score
from tunesmith.outputs.compose import generate_to_dir


@pytest.fixture(scope="module")
def model():
    return load_melody_model("default")


def test_steps_count_new_steps_and_bars_count_whole_bars(model):
    for primer in ("C4", "C4 E4 G4 C5 E5"):
        out = model.generate(primer, n=2, steps=40, seed=3)
        primer_steps = out[0].primer_steps
        assert all(len(m) == primer_steps + 40 for m in out)
    out = model.generate("C4 E4 G4", n=2, bars=6, form=None)
    assert all(len(m) == 6 * 16 for m in out)
    jig = model.generate("C4 E4", n=1, bars=4, meter="6/8")[0]
    assert len(jig) == 4 * 12 and meter_of(jig) == (6, 8)


def test_a_long_primer_is_cut_to_its_last_bars_and_says_so(model, tmp_path):
    notes = scale_tune(bars=20)
    make_score(notes + [(50, 80, 40)], time_signature=(4, 4)).dump_midi(str(tmp_path / "song.mid"))  # + a long low note
    with pytest.warns(UserWarning, match=f"last {MAX_PRIMER_BARS} bars"):
        out = model.generate(tmp_path / "song.mid", n=1, steps=32)
    assert out[0].primer_steps <= MAX_PRIMER_BARS * 16 and len(out[0]) == out[0].primer_steps + 32
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # --primer-bars chooses: no warning, no "holds no notes"
        two = model.generate(tmp_path / "song.mid", n=1, steps=16, primer_bars=2, strict=False)
    assert two[0].primer_steps == 2 * 16 and (two[0].events[:32] >= 0).any()
    make_score([]).dump_midi(str(tmp_path / "silent.mid"))
    with pytest.raises(BadInputError, match="silent.mid"):
        model.generate(tmp_path / "silent.mid", n=1)


@pytest.mark.parametrize("meter", [(3, 4), (6, 8)])
def test_output_midi_keeps_the_primers_meter(model, tmp_path, meter):
    eighths = [(67, 0, 0.5), (64, 0.5, 0.5), (62, 1.0, 0.5), (60, 1.5, 1.5)]
    make_score(eighths, time_signature=meter).dump_midi(str(tmp_path / "primer.mid"))
    report = generate_to_dir(model, tmp_path / "primer.mid", tmp_path / "out", n=2, bars=8)
    assert report["meter"] == f"{meter[0]}/{meter[1]}"
    for item in report["outputs"]:
        score = read_score(tmp_path / "out" / item["files"]["midi"])
        assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == meter
        assert item["bars"] == 8
    names = generate_to_dir(model, "C4 E4 G4", tmp_path / "names", n=1, bars=4, meter="6/8")
    score = read_score(tmp_path / "names" / names["outputs"][0]["files"]["midi"])
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (6, 8)
    assert json.loads((tmp_path / "names" / "generation.json").read_text())["settings"]["meter"] == "6/8"


def test_melodies_end_on_the_tonic_on_the_last_downbeat(model):
    for key, tonic in (("G", 7), ("D", 2)):
        out = model.generate("G4", n=6, bars=8, key=key, seed=1)
        for m in out:
            onsets = np.flatnonzero(m.events >= 0)
            assert int(onsets[-1]) == 7 * 16 and int(m.events[onsets[-1]]) % 12 == tonic
            assert (m.events[onsets[-1] + 1 : onsets[-1] + 4] == -2).all()  # held at least to the next beat
    free = model.generate("C4", n=6, bars=8, end_on_tonic=False, seed=1)
    assert any(np.flatnonzero(m.events >= 0)[-1] != 7 * 16 for m in free)


def test_a_named_form_restates_its_sections(model):
    out = model.generate("C4 E4", n=3, bars=8, form="AABB", seed=2)
    for m in out:
        bars = m.events.reshape(8, 16)
        assert np.array_equal(bars[2], bars[0]) and np.array_equal(bars[3], bars[1])  # A again
        assert np.array_equal(bars[6], bars[4])  # B again (its last bar is the tune's ending)
        assert m.meta["plan"] == "1 2 =1 =2 5 6 =5 8"
    varied = model.generate("C4 E4", n=1, bars=8, form="AA'", seed=2)[0]
    assert varied.meta["plan"] == "1 2 3 4 =1 =2 =3 8"


def test_form_plans_and_bad_input_get_clear_errors(model):
    assert parse_form("AA'B") == [("A", False), ("A", True), ("B", False)]
    assert section_sources("ABAC", 8) == [-1, -1, -1, -1, 0, 1, -1, -1]
    auto = plan_bars("auto", 16, np.random.default_rng(0))
    assert len(auto) == 16 and auto[-1] == -1 and all(s < i for i, s in enumerate(auto) if s >= 0)
    assert all(s < 8 for s in auto[:8]) and all(s == -1 or 8 <= s for s in auto[8:])  # each strain restates itself
    for kwargs, message in (
        ({"meter": "7/0"}, "denominator"),
        ({"bars": 0}, "--bars must be at least 1"),
        ({"steps": 0}, "--steps must be at least 1"),
        ({"bars": 10, "form": "AABB"}, "do not divide 10 bars"),
        ({"bars": 4, "steps": 8}, "not both"),
        ({"form": "A-B"}, "section letters"),
        ({"steps": 20, "form": "AABB"}, "use --bars"),
    ):
        with pytest.raises(BadInputError, match=message):
            model.generate("C4", n=1, **kwargs)
    with pytest.raises(BadInputError, match="already 2 bars"):
        model.generate(json.dumps([60] + [-2] * 31), n=1, bars=2)


@pytest.mark.heavy
@pytest.mark.slow  # 70 s on two busy cores
def test_generate_cli_takes_bars_form_and_meter_and_refuses_bad_values(tmp_path):
    import subprocess
    import sys

    def cli(*args):
        command = [sys.executable, "-m", "tunesmith", "--quiet", "melody", "generate", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, timeout=600)

    ok = cli("--primer", "G4 B4", "--meter", "6/8", "--bars", "8", "--form", "AA'", "-o", tmp_path / "jig")
    assert ok.returncode == 0, ok.stderr
    assert "8 bars in 6/8" in ok.stdout
    for args, message, code in (
        (("--meter", "7/0"), "denominator", 1),
        (("--bars", "0"), "argument --bars: must be at least 1, not 0", 2),  # refused by argparse, before any work
        (("--bars", "10", "--form", "AABB"), "do not divide 10 bars", 1),
    ):
        bad = cli("--primer", "C4", *args, "-o", tmp_path / "bad")
        assert bad.returncode == code and message in bad.stderr and "Traceback" not in bad.stderr


def test_a_two_bar_file_primer_is_two_bars_and_the_next_downbeat_is_generated(model, tmp_path, folk_dir):
    """The primer's last note-off is no extra step: 2 bars of 2/4 are 16 steps, and step 16 is the model's."""
    from tunesmith.music.midi import melody_from_score, write_midi
    from tunesmith.music.primer import parse_primer

    tune = melody_from_score(read_score(folk_dir / "oneills1850__0201-0300__X208.mid"))
    spb = tune.steps_per_bar
    assert meter_of(tune) == (2, 4) and spb == 8
    head = tune.copy(events=tune.events[: 2 * spb])
    path = write_midi(head, tmp_path / "primer.mid")
    primer = parse_primer(path)
    assert len(primer) == 2 * spb and np.array_equal(primer.events, head.events)
    assert len(parse_primer(path, primer_bars=2)) == 2 * spb
    out = model.generate(path, n=8, bars=4, form=None, seed=1)
    assert all(m.primer_steps == 2 * spb and len(m) == 4 * spb for m in out)
    assert all(np.array_equal(m.events[: 2 * spb], head.events) for m in out)
    downbeats = [int(m.events[2 * spb]) for m in out]  # the first generated step, on the bar line
    assert sum(e >= 0 for e in downbeats) >= 6, downbeats  # folk tunes start a note there, not a rest
