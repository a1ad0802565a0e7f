"""Engraved scores: a melody as sheet music (SVG, or PNG/PDF), with key, meter, chord symbols and the primer marked.

The melody is written as ABC (``tunesmith.music.export.to_abc``) and engraved by Verovio, the music
engraver of the MEI project, shipped as a self-contained wheel: no network, no fonts to install (the
music symbols are embedded in the SVG). The primer's notes are drawn in orange, and the first primer note
and first generated note carry the words "primer" / "continuation" above the staff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tunesmith.core.errors import BadInputError
from tunesmith.core.figures import PRIMER_COLOR
from tunesmith.core.files import write_bytes, write_text
from tunesmith.music.export import load_melody, primer_note_count, to_abc

SCORE_FORMATS = (".svg", ".png", ".pdf")
DEFAULT_WIDTH = 2100  # Verovio page width in its units (about 10 units per mm at scale 100)


def _toolkit():
    try:
        import verovio
    except ImportError as exc:
        raise BadInputError("engraving scores needs Verovio: pip install 'tunesmith[scores]'") from exc
    verovio.enableLog(verovio.LOG_OFF)
    # Verovio's default font folder is set per thread and is wrong outside the first one (web jobs run in
    # worker threads): skip the default font load and name the wheel's own data folder every time.
    tk = verovio.toolkit(False)
    tk.setResourcePath(str(Path(verovio.__file__).parent / "data"))
    return tk


def score_svg(
    source,
    *,
    chords=None,
    key: str | None = None,
    title: str | None = None,
    width: int = DEFAULT_WIDTH,
    scale: int = 40,
    mark_primer: bool = True,
) -> str:
    """SVG text of the engraved melody: all of it on one page, as many systems (lines) as it needs.

    ``source`` is a Melody or a MIDI/ABC/MusicXML path; ``chords`` (ChordSpans, e.g. from ``harmonize``) are
    printed above the staff. The primer (``melody.primer_steps``) is drawn in orange with a "primer" mark.
    """
    melody = load_melody(source)
    if not melody.notes():
        raise BadInputError(f"{melody.name or 'the melody'} has no notes to engrave")
    abc = to_abc(melody, chords=chords, key=key, title=title, mark_primer=mark_primer, tempo=False)
    tk = _toolkit()
    tk.setOptions(
        {
            "inputFrom": "abc",
            "pageWidth": int(width),
            "scale": int(scale),
            "adjustPageHeight": True,
            "breaks": "auto",
            "footer": "none",
            "header": "auto",
            "pageMarginTop": 50,
            "pageMarginBottom": 50,
        }
    )
    if not tk.loadData(abc):
        raise BadInputError(f"{melody.name or 'the melody'}: Verovio could not engrave it")
    if tk.getPageCount() > 1:  # adjustPageHeight keeps one page unless the tune is very long; join the pages
        tk.setOptions({"pageHeight": 60000})
        tk.redoLayout()
    svg = tk.renderToSVG(1)
    if mark_primer and melody.primer_steps:
        svg = _colour_primer(svg, primer_note_count(melody, chords))
    return svg


def _colour_primer(svg: str, n_notes: int) -> str:
    """Colour the first ``n_notes`` note groups (head, stem, accidental) of Verovio's SVG."""
    count = 0

    def paint(match: re.Match) -> str:
        nonlocal count
        count += 1
        if count > n_notes:
            return match.group(0)
        return match.group(0)[:-1] + f' fill="{PRIMER_COLOR}" stroke="{PRIMER_COLOR}" color="{PRIMER_COLOR}">'

    return re.sub(r'<g\b[^>]*\bclass="note"[^>]*>', paint, svg)


def score_format(out: str | os.PathLike) -> str:
    """The suffix of a score file to write (``.svg``, ``.png``, ``.pdf``); another is refused, naming the file."""
    suffix = Path(out).suffix.lower()
    if suffix not in SCORE_FORMATS:
        raise BadInputError(f"{out}: unknown score format '{suffix or '(none)'}'; use .svg, .png or .pdf")
    return suffix


def save_score(source, out: str | os.PathLike, *, force: bool = False, **kwargs) -> Path:
    """Engrave ``source`` (Melody or MIDI/ABC/MusicXML path) to ``out``: ``.svg``, or ``.png``/``.pdf`` (these two
    need CairoSVG: pip install cairosvg). Options as ``score_svg``. Written atomically; ``out`` is checked and
    locked before any work, and an existing file is replaced only with ``force=True`` (``tunesmith.core.folders``)."""
    from tunesmith.core.folders import output_file

    out = Path(out)
    suffix = score_format(out)
    with output_file(out, SCORE_FORMATS, inputs=[source], what="score", force=force):
        return _save_score(source, out, suffix, kwargs)


def _save_score(source, out: Path, suffix: str, kwargs: dict) -> Path:
    svg = score_svg(source, **kwargs)
    if suffix == ".svg":
        return write_text(out, svg)
    try:
        import cairosvg
    except (ImportError, OSError) as exc:
        raise BadInputError(f"{out}: writing {suffix} needs CairoSVG (pip install cairosvg); .svg works without it") from exc
    if suffix == ".png":
        data = cairosvg.svg2png(bytestring=svg.encode("utf-8"), background_color="white", scale=1.0)
    else:
        data = cairosvg.svg2pdf(bytestring=svg.encode("utf-8"))
    return write_bytes(out, data)
