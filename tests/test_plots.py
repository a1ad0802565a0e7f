"""Piano rolls (offline bokeh HTML, exact-size PNG), spectrograms, loss curves and notebook HTML."""

from __future__ import annotations

import base64
import io
import json
import re

import matplotlib.image
import numpy as np
import pytest
import soundfile

from conftest import make_score, scale_tune
from tunesmith.core.errors import BadInputError
from tunesmith.core.figures import GENERATED_COLOR, PRIMER_COLOR, save_loss_curve
from tunesmith.music.melody import Melody, Note
from tunesmith.outputs.plots import (
    note_arrays,
    piano_roll_figure,
    plot_piano_roll,
    save_piano_roll_html,
    save_piano_roll_png,
    save_spectrogram,
)


def assert_offline(html: str) -> None:
    assert 'src="http' not in html and "src='http" not in html
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", html)


def primed_melody() -> Melody:
    notes = [Note(60 + 2 * (i % 5), 4 * i, 4 * i + 3, velocity=100) for i in range(12)]
    return Melody.from_notes(notes, primer_steps=16, name="tune")


def test_note_arrays_in_seconds_with_primer():
    notes = note_arrays(primed_melody())
    assert len(notes) == 12 and notes.primer.sum() == 4  # onsets at steps 0, 4, 8, 12 < 16
    assert notes.start[1] == pytest.approx(0.5) and notes.end[0] == pytest.approx(0.375)
    score_notes = note_arrays(make_score(scale_tune(bars=1)), primer_steps=8)  # 8 sixteenths = 2 beats
    assert score_notes.primer.tolist() == [True, True, False, False]


def test_html_piano_roll_is_offline_and_holds_the_notes(tmp_path):
    path = save_piano_roll_html(primed_melody(), tmp_path / "roll.html", title="My tune")
    html = path.read_text()
    assert_offline(html)
    for name in ("C4", "D4", "E4", "F#4", "G#4"):
        assert f'"{name}"' in html
    assert "My tune" in html and "primer" in html and "generated" in html


def test_figure_has_tools_hover_and_two_colours():
    from bokeh.models import BoxZoomTool, HoverTool, PanTool, ResetTool, WheelZoomTool

    fig = plot_piano_roll(primed_melody())
    kinds = {type(t) for t in fig.tools}
    assert {PanTool, WheelZoomTool, BoxZoomTool, ResetTool, HoverTool} <= kinds
    colors = {r.glyph.fill_color for r in fig.renderers if hasattr(r.glyph, "fill_color")}
    assert colors == {PRIMER_COLOR, GENERATED_COLOR}
    assert [item.label["value"] for item in fig.legend[0].items] == ["primer", "generated"]
    no_primer = piano_roll_figure(primed_melody(), primer_steps=0)
    assert {r.glyph.fill_color for r in no_primer.renderers if hasattr(r.glyph, "fill_color")} == {GENERATED_COLOR}


def test_png_has_the_requested_pixel_size(tmp_path):
    path = save_piano_roll_png(primed_melody(), tmp_path / "roll.png", width=640, height=300)
    assert matplotlib.image.imread(str(path)).shape[:2] == (300, 640)
    path = plot_piano_roll(primed_melody(), tmp_path / "default.png", png=True)
    assert matplotlib.image.imread(str(path)).shape[:2] == (400, 1200)


def test_thousand_notes_plot_whole(tmp_path):
    rng = np.random.default_rng(0)
    starts = np.cumsum(rng.integers(1, 4, 1000))
    melody = Melody.from_notes([Note(int(p), int(s), int(s) + 1) for p, s in zip(rng.integers(48, 84, 1000), starts)])
    assert len(note_arrays(melody).pitch) == 1000  # every note reaches the plot
    html = save_piano_roll_html(melody, tmp_path / "big.html").read_text()
    assert_offline(html)
    png = save_piano_roll_png(melody, tmp_path / "big.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_melody_cannot_be_plotted(tmp_path):
    with pytest.raises(BadInputError, match="no notes"):
        save_piano_roll_png(Melody.from_events([-2, -2]), tmp_path / "x.png")


def test_spectrogram_from_array_and_file(tmp_path):
    sr = 22050
    t = np.arange(sr) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = save_spectrogram(tone, tmp_path / "spec.png", sample_rate=sr, title="A4")
    assert matplotlib.image.imread(str(path)).shape[:2] == (500, 1200)
    soundfile.write(str(tmp_path / "tone.wav"), np.stack([tone, tone], 1), sr)
    assert save_spectrogram(tmp_path / "tone.wav", tmp_path / "spec2.png").is_file()
    with pytest.raises(BadInputError, match="sample_rate"):
        save_spectrogram(tone, tmp_path / "spec3.png")


def test_loss_curve_from_a_short_log(tmp_path):
    rows = [
        {"step": 10, "epoch": 0.1, "split": "train", "loss": 3.1, "accuracy": 0.2},
        {"step": 20, "epoch": 0.2, "split": "train", "loss": 2.7, "accuracy": 0.3},
        {"step": 20, "epoch": 0.2, "split": "eval", "loss": 2.9, "accuracy": 0.25},
    ]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths = save_loss_curve(tmp_path)
    assert paths["png"] == tmp_path / "plots" / "loss.png" and paths["png"].is_file()
    assert paths["html"] == tmp_path / "plots" / "loss.html"
    assert_offline(paths["html"].read_text())
    assert matplotlib.image.imread(str(paths["png"])).shape[:2] == (700, 900)  # loss + accuracy panels
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "log.jsonl").write_text(json.dumps({"step": 1, "split": "train", "loss": 4.0}) + "\n")
    assert save_loss_curve(tmp_path / "one")["png"].is_file()
    assert save_loss_curve(tmp_path / "nothing") == {}


def test_melody_html_plays_and_shows_offline():
    from tunesmith.outputs.notebook import audio_html, melody_html, score_html

    melody = primed_melody()
    html = melody_html(melody)
    assert_offline(html)
    assert melody.summary() in html and "Bokeh" in html
    match = re.search(r'<audio[^>]*src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "no audio player: install.sh installs the SoundFont this needs"
    audio, sr = soundfile.read(io.BytesIO(base64.b64decode(match[1])))
    assert sr > 0 and len(audio) / sr > 5.5 and np.abs(audio).max() > 0.5
    assert "Score: 8 notes" in score_html(make_score(scale_tune(bars=2)))
    assert audio_html(np.zeros(100, np.float32), 8000).startswith("<audio controls")


def test_gallery_pages_share_one_copy_of_bokeh(tmp_path):
    alone = save_piano_roll_html(primed_melody(), tmp_path / "alone.html").stat().st_size
    pages = [save_piano_roll_html(primed_melody(), tmp_path / "sub" / f"m{i}.html", js_dir=tmp_path) for i in range(3)]
    shared = tmp_path / "static" / "js" / "bokeh.min.js"
    assert shared.stat().st_size > 1_000_000 and alone > 1_000_000
    for page in pages:
        html = page.read_text()
        assert page.stat().st_size < alone / 10 and '<script src="../static/js/bokeh.min.js">' in html
        assert_offline(html)
    assert "mathjax@3" not in shared.read_text()  # bokeh would fetch MathJax for TeX labels: kept strictly offline
