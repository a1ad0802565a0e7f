"""Rich notebook display: a melody shows its summary, a player, an interactive piano roll and its engraved score; a
polyphonic piece its summary, a player, a piano roll coloured by part and its score.

The types know nothing of notebooks: :func:`register_formatters` tells IPython how to show them
(``import tunesmith`` calls it when it runs inside IPython). Everything is inlined (audio as a base64
``data:`` URI, bokeh's JavaScript embedded), so a saved notebook still plays and zooms offline, with no CDN.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io

import numpy as np

from tunesmith.core.errors import TunesmithError


def audio_html(samples: np.ndarray, sample_rate: int) -> str:
    """An ``<audio controls>`` element with the samples inlined as a 16-bit WAV data URI."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(samples, np.float32), int(sample_rate), format="WAV", subtype="PCM_16")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<audio controls preload="auto" src="data:audio/wav;base64,{data}"></audio>'


def _piano_roll_html(obj, title: str | None = None) -> str:
    """The bokeh piano roll as an embeddable fragment: only the BokehJS bundles it needs, inlined."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE
    from jinja2 import Template

    from tunesmith.core.figures import MATHJAX_CDN
    from tunesmith.outputs.plots import piano_roll_figure

    fig = piano_roll_figure(obj, title=title, width=None, height=300)
    fragment = file_html(fig, INLINE, template=Template(_FRAGMENT))
    return fragment.replace(f'"{MATHJAX_CDN}"', '""')


_FRAGMENT = "{{ bokeh_js }}{{ plot_div }}{{ plot_script }}"  # file_html's content without the page around it


def _rendered_audio(obj) -> str:
    try:
        from tunesmith.audio.render import render

        samples, sample_rate = render(obj, "piano", sample_rate=22050)
    except TunesmithError as exc:  # no SoundFont on this machine: show the reason, not a traceback
        return f"<p><i>audio not rendered: {html.escape(str(exc))}</i></p>"
    return audio_html(samples, sample_rate)


def melody_html(melody) -> str:
    """Summary line, piano player, interactive piano roll and engraved score of a Melody."""
    parts = [f"<div class='tunesmith-melody'><p><b>{html.escape(melody.summary())}</b></p>"]
    chords = melody.meta.get("chords")  # chords it was written over (melody.edit): heard and shown with it
    said = []
    if melody.meta.get("infilled"):  # only an edit (melody.edit, torch already loaded) writes this
        from tunesmith.melody.edit import format_bars

        said.append(f"bars {format_bars(melody.meta['infilled'])} rewritten")
    if chords:
        said.append("chords: " + " ".join(c.symbol for c in chords))
    if said:
        parts.append(f"<p>{html.escape('; '.join(said))}</p>")
    if len(melody.pitches):
        if chords:
            from tunesmith.music.harmony import harmonized_score

            parts.append(_rendered_audio(harmonized_score(melody, chords)))
        else:
            parts.append(_rendered_audio(melody))
        parts.append(_piano_roll_html(melody))
        parts.append(_score_svg(melody))
    parts.append("</div>")
    return "".join(parts)


def _score_svg(melody) -> str:
    """The engraved score as inline SVG (primer in orange); a line saying why when Verovio is missing."""
    try:
        from tunesmith.outputs.score import score_svg

        svg = score_svg(melody)
    except TunesmithError as exc:
        return f"<p><i>score not engraved: {html.escape(str(exc))}</i></p>"
    return f"<div class='tunesmith-notation' style='background:#fff'>{svg}</div>"


def score_html(score) -> str:
    """The same view for a symusic Score (or MIDI bytes/path): note count, player, piano roll."""
    from tunesmith.music.midi import as_score

    score = as_score(score)
    seconds = float(score.to("second").end())
    tracks = sum(1 for t in score.tracks if len(t.notes))
    summary = f"Score: {score.note_num()} notes in {tracks} track(s), {seconds:.1f} s"
    parts = [f"<div class='tunesmith-score'><p><b>{html.escape(summary)}</b></p>"]
    if score.note_num():
        parts.append(_rendered_audio(score))
        parts.append(_piano_roll_html(score))
    parts.append("</div>")
    return "".join(parts)


def piece_html(piece) -> str:
    """A polyphonic piece (``tunesmith.generate_polyphonic``): summary, a player with each part on its own program,
    the piano roll coloured by part, and the score with a staff per part."""
    from tunesmith.music.polyphony import piece_to_score
    from tunesmith.outputs.polyphony import parts_roll_png, parts_score_svg

    parts = [f"<div class='tunesmith-piece'><p><b>{html.escape(piece.summary())}</b></p>"]
    if len(piece):
        try:
            from tunesmith.audio.render import render

            samples, sample_rate = render(piece_to_score(piece), None, sample_rate=22050)  # None: the parts' programs
            parts.append(audio_html(samples, sample_rate))
        except TunesmithError as exc:
            parts.append(f"<p><i>audio not rendered: {html.escape(str(exc))}</i></p>")
        png = io.BytesIO()
        parts_roll_png(piece, png, f"{piece.name} (red: melody, blue: accompaniment)")
        data = base64.b64encode(png.getvalue()).decode("ascii")
        parts.append(f'<img alt="piano roll by part" style="max-width:100%" src="data:image/png;base64,{data}">')
        try:
            parts.append(f"<div class='tunesmith-notation' style='background:#fff'>{parts_score_svg(piece)}</div>")
        except Exception as exc:  # engraving is a view: it never costs the player and the roll
            parts.append(f"<p><i>score not engraved: {html.escape(f'{type(exc).__name__}: {exc}')}</i></p>")
    parts.append("</div>")
    return "".join(parts)


def model_html(model) -> str:
    """A trained model: its repr and its config as a table."""
    rows = ""
    config = getattr(model, "config", None)
    if dataclasses.is_dataclass(config):
        rows = "".join(
            f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(str(getattr(config, f.name)))}</td></tr>"
            for f in dataclasses.fields(config)
        )
    table = f"<table>{rows}</table>" if rows else ""
    return f"<div class='tunesmith-model'><p><b>{html.escape(repr(model))}</b></p>{table}</div>"


# (module, type name) -> the HTML of one object; by name, so registering imports none of these modules
FORMATTERS = {
    ("tunesmith.music.melody", "Melody"): melody_html,
    ("tunesmith.melody.generate", "MelodyModel"): model_html,
    ("tunesmith.music.polyphony", "PolyPiece"): piece_html,
}


def register_formatters(shell=None) -> bool:
    """Show melodies and models as rich HTML in IPython/Jupyter (``shell``: the running one by default).

    Returns False (and does nothing) outside IPython.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    html = shell.display_formatter.formatters["text/html"]
    for (module, name), fn in FORMATTERS.items():
        html.for_type_by_name(module, name, fn)
    return True
