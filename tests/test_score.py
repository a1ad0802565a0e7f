"""Engraved scores (Verovio SVG) and ABC/MusicXML export: headers, accidentals, round trips through music21 and
tunesmith's own reader, the primer marked, and clear errors for bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import FOLK, make_score
from tunesmith.cli import main
from tunesmith.core.errors import BadInputError
from tunesmith.music.export import export_melody, load_melody, primer_note_count, to_abc, to_musicxml
from tunesmith.music.key import Key, estimate_key, parse_key
from tunesmith.music.melody import Melody, Note
from tunesmith.music.meter import meter_of
from tunesmith.music.midi import melody_from_score
from tunesmith.outputs.score import save_score, score_svg

music21 = pytest.importorskip("music21")

JIG = FOLK / "ryansMammoth__BannocksOBarleyMealJig__X1.mid"


def _m21_notes(stream) -> list[tuple[int, float, float]]:
    return [(n.pitch.midi, float(n.offset), float(n.quarterLength)) for n in stream.stripTies().flatten().notes]


def _want(melody: Melody) -> list[tuple[int, float, float]]:
    spq = melody.steps_per_quarter
    return [(n.pitch, n.start / spq, (n.end - n.start) / spq) for n in melody.notes()]


def _chromatic_melody() -> Melody:
    """Sharps, flats, naturals inside one bar, ties over bar lines, rests, 16ths and dotted notes, two octaves."""
    notes = [
        Note(66, 0, 2),
        Note(65, 2, 4),
        Note(66, 4, 7),
        Note(78, 7, 8),
        Note(70, 8, 20),  # held over the bar line
        Note(59, 22, 23),
        Note(48, 23, 24),
        Note(85, 24, 30),
        Note(61, 32, 33),
        Note(60, 33, 36),
        Note(62, 40, 48),
    ]
    return Melody.from_notes(notes, length=48, name="chromatic")


@pytest.mark.parametrize("path", [JIG, sorted(FOLK.glob("oneills*.mid"))[3]], ids=["jig-6/8", "oneills"])
def test_abc_and_musicxml_round_trip_through_music21(path):
    melody = load_melody(path)
    want = _want(melody)
    abc = to_abc(melody)
    assert _m21_notes(music21.converter.parse(abc, format="abc")) == want
    assert _m21_notes(music21.converter.parse(to_musicxml(melody), format="musicxml")) == want
    # and through tunesmith's own ABC reader (symusic): the same event list
    again = melody_from_score(read_score_text(abc))
    assert [(n.pitch, n.start, n.end) for n in again.notes()] == [(n.pitch, n.start, n.end) for n in melody.notes()]


def read_score_text(abc: str):
    import symusic

    return symusic.Score.from_abc(abc)


@pytest.mark.parametrize("key", ["C", "F#", "Eb", "Dm", "Bbm"])
def test_accidentals_ties_and_rests_round_trip_in_every_kind_of_key(key):
    melody = _chromatic_melody()
    abc = to_abc(melody, key=key)
    assert f"\nK:{parse_key(key).name}\n" in abc
    assert _m21_notes(music21.converter.parse(abc, format="abc")) == _want(melody)
    assert _m21_notes(music21.converter.parse(to_musicxml(melody, key=key), format="musicxml")) == _want(melody)


def test_abc_headers_folk_tools_expect():
    melody = load_melody(JIG)
    abc = to_abc(melody, title="Bannocks o' Barley Meal")
    head = abc.splitlines()[:6]
    assert [line[:2] for line in head] == ["X:", "T:", "M:", "L:", "Q:", "K:"]
    assert head[1] == "T:Bannocks o' Barley Meal" and head[2] == "M:6/8" and head[3] == "L:1/8"
    assert abc.rstrip().endswith("|]")
    key, fit = estimate_key(melody)
    assert head[5] == f"K:{melody.meta['key'].name}" and fit > 0.8 and key.mode in ("major", "minor")


def test_meter_comes_from_the_melody_or_falls_back():
    m = Melody.from_notes([Note(60, 0, 4)], steps_per_bar=12)
    assert meter_of(m) == (3, 4)
    m.meta["time_signature"] = (6, 8)  # meta says nothing about the meter: one rule, the melody's own
    assert meter_of(m) == (3, 4)
    m = m.copy(meter=(6, 8))
    assert meter_of(m) == (6, 8) and m.steps_per_bar == 12
    assert meter_of(Melody.from_notes([Note(60, 0, 4)], steps_per_bar=0)) == (4, 4)
    assert "M:6/8" in to_abc(m)


def test_key_names_and_spelling():
    assert Key(7).name == "G" and Key(4, "minor").name == "Em" and Key(10).name == "Bb" and Key(5, "minor").fifths == -4
    assert Key(2, "minor").spell(6) == "F#" and Key(0).spell(10) == "Bb" and Key(7).spell(6) == "F#"
    assert Key(5).signature_accidentals() == {"B": -1} and Key(2).signature_accidentals() == {"F": 1, "C": 1}
    with pytest.raises(BadInputError, match="not a key"):
        parse_key("H minor")


def test_svg_score_has_key_meter_notes_and_coloured_primer(tmp_path):
    melody = load_melody(JIG)
    melody.primer_steps = 24  # two bars of 6/8
    out = save_score(melody, tmp_path / "jig.svg", title="Bannocks")
    svg = out.read_text()
    assert svg.startswith("<svg") or svg.lstrip().startswith("<?xml") or "<svg" in svg[:200]
    assert svg.count('class="note"') >= len(melody.notes())  # tied pieces are notes too
    assert 'class="meterSig"' in svg and 'class="keySig"' in svg
    coloured = len(re.findall(r'class="note"[^>]*fill="#e6550d"', svg))
    assert coloured == primer_note_count(melody) > 0
    assert "primer" in svg and "Bannocks" in svg
    # without a primer, nothing is coloured
    melody.primer_steps = 0
    assert "#e6550d" not in score_svg(melody)


def test_scores_engrave_in_worker_threads_too():
    """Web jobs engrave in worker threads; Verovio's default font folder is only right in the first thread."""
    import threading

    results = {}
    main_svg = score_svg(JIG)  # the main thread first: the order the web studio meets

    def engrave(i):
        try:
            results[i] = score_svg(JIG)
        except BadInputError as exc:
            results[i] = exc

    threads = [threading.Thread(target=engrave, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
        t.join()
    for svg in results.values():
        assert isinstance(svg, str) and svg.count('class="note"') == main_svg.count('class="note"') > 0


def test_png_and_pdf_scores(tmp_path):
    pytest.importorskip("cairosvg")
    png = save_score(JIG, tmp_path / "jig.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))
    assert pixels.shape[0] > 100 and (pixels[..., :3] < 0.5).any()  # something black on white
    assert save_score(JIG, tmp_path / "jig.pdf").read_bytes()[:5] == b"%PDF-"


def test_bad_input_gets_clear_errors(tmp_path):
    empty = tmp_path / "empty.mid"
    make_score([]).dump_midi(str(empty))
    with pytest.raises(BadInputError, match="no notes"):
        save_score(empty, tmp_path / "x.svg")
    with pytest.raises(BadInputError, match="no notes"):
        export_melody(empty, tmp_path / "x.abc")
    with pytest.raises(BadInputError, match="unknown score format '.gif'"):
        save_score(JIG, tmp_path / "x.gif")
    with pytest.raises(BadInputError, match="unknown export format '.txt'"):
        export_melody(JIG, tmp_path / "x.txt")
    with pytest.raises(BadInputError, match="no notes"):
        to_abc(Melody(np.full(16, -2, np.int16)))
    assert not (tmp_path / "x.svg").exists() and not (tmp_path / "x.abc").exists()


def test_cli_score_and_export(tmp_path, capsys):
    assert main(["score", str(JIG), "-o", str(tmp_path / "s.svg"), "--primer-steps", "12", "--chords"]) == 0
    svg = (tmp_path / "s.svg").read_text()
    assert 'class="harm"' in svg and "#e6550d" in svg
    assert main(["export", str(JIG), "-o", str(tmp_path / "s.abc"), "--title", "Jig"]) == 0
    assert "T:Jig" in (tmp_path / "s.abc").read_text()
    assert main(["export", str(tmp_path / "s.abc"), "-o", str(tmp_path / "s.musicxml")]) == 0
    back = music21.converter.parse(str(tmp_path / "s.musicxml"))
    assert _m21_notes(back) == _want(load_melody(JIG))
    assert main(["score", str(JIG), "-o", str(tmp_path / "s.bmp")]) == 1
    assert "unknown score format" in capsys.readouterr().err


def test_galleries_and_notebooks_show_the_score(tmp_path):
    from tunesmith.outputs.compose import generate_to_dir
    from tunesmith.outputs.gallery import melody_sections, write_gallery
    from tunesmith.outputs.notebook import melody_html

    report = generate_to_dir("default", "E4 G4 A4", tmp_path, 1, plot=True, steps=48, seed=1)
    files = report["outputs"][0]["files"]
    assert files["score_svg"] == "melody_01.svg" and "#e6550d" in (tmp_path / "melody_01.svg").read_text()
    page = write_gallery(tmp_path, "t", melody_sections(tmp_path, report["outputs"], tmp_path)).read_text()
    assert 'src="melody_01.svg"' in page and 'src="melody_01.html"' in page  # score beside the piano roll
    html = melody_html(report["melodies"][0])
    assert "tunesmith-notation" in html and 'class="note"' in html
