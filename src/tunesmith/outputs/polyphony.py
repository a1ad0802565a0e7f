"""What a person opens after a polyphonic generation: MIDI with one track per part, a WAV with one instrument per
part, and a piano roll coloured by part (PNG), plus ``generation.json``; the folder is a melody generation's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tunesmith.core.files import atomic_path, write_json
from tunesmith.core.folders import MELODY_GENERATION, output_dir
from tunesmith.music import polyphony as poly

PART_COLOURS = ("#d62728", "#1f77b4")  # melody red, accompaniment blue
# the options of a melody generation that a polyphonic one takes too (polyphonic_to_dir's and generate_polyphonic's);
# the command line and the studio both split a melody request with them (``polyphonic_options``)
POLYPHONIC_OPTIONS = ("n", "bars", "primer_bars", "temperature", "top_p", "key", "meter", "qpm", "seed", "force", "soundfont")


def polyphonic_options(given: dict) -> tuple[dict, str | None]:
    """Split the melody-generation options a person gave (only those) into the keywords of ``polyphonic_to_dir`` and a
    note naming the rest, which a polyphonic model does not use (the command line prints it, the studio's result
    carries it); None when nothing was dropped."""
    from dataclasses import fields

    from tunesmith.melody.settings import GenerationSettings
    from tunesmith.outputs.compose import FileRequest

    melody_only = {f.name for cls in (GenerationSettings, FileRequest) for f in fields(cls)} | {"over_chords"}
    melody_only -= {*POLYPHONIC_OPTIONS, "plot", "js_dir"}  # a polyphonic generation always draws its piano rolls
    settings = {k: given[k] for k in POLYPHONIC_OPTIONS if given.get(k) is not None}
    unused = sorted(k for k in melody_only if given.get(k) not in (None, False, "", [], ()))
    return settings, f"the polyphonic model does not use {', '.join(unused)}" if unused else None


def save_parts_roll_png(piece: poly.PolyPiece, path: str | os.PathLike, title: str = "") -> Path:
    """A piano roll with each part in its own colour, bar lines, and the primer shaded."""
    path = Path(path)
    with atomic_path(path) as tmp:
        parts_roll_png(piece, tmp, title)
    return path


def parts_roll_png(piece: poly.PolyPiece, target, title: str = "") -> None:
    """Draw that piano roll as PNG into ``target``: a path or a binary file (a notebook inlines the bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quarters = max(piece.end, 1) / poly.STEPS_PER_QUARTER
    fig, ax = plt.subplots(figsize=(max(6.0, min(24.0, quarters / 2.5)), 4.0), dpi=100)
    for part in sorted(set(piece.part.tolist())):
        chosen = piece.part == part
        starts = piece.start[chosen] / poly.STEPS_PER_QUARTER
        lengths = piece.duration[chosen] / poly.STEPS_PER_QUARTER
        ax.barh(
            piece.pitch[chosen],
            lengths,
            left=starts,
            height=0.8,
            color=PART_COLOURS[part % len(PART_COLOURS)],
            alpha=0.85,
            label=poly.PART_NAMES[part] if part < len(poly.PART_NAMES) else f"part {part}",
        )
    bars, _ = poly.bar_lines(piece.meters, piece.end)
    for b in bars:
        ax.axvline(b / poly.STEPS_PER_QUARTER, color="#bbbbbb", lw=0.5, zorder=0)
    if piece.primer_steps:
        ax.axvspan(0, piece.primer_steps / poly.STEPS_PER_QUARTER, color="#eeeeee", zorder=-1, label="primer")
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or piece.name)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(target, format="png")
    finally:
        plt.close(fig)


def parts_score_svg(piece: poly.PolyPiece, width: int = 2100, scale: int = 40) -> str:
    """An engraved score (SVG), one staff per part: the MIDI read by music21 on a grid of 16ths and triplets, written as
    MusicXML and engraved by Verovio."""
    import tempfile

    from music21 import clef, converter, tempo

    from tunesmith.outputs.score import _toolkit

    stream = converter.parseData(poly.piece_to_score(piece).dumps_midi(), format="midi", quarterLengthDivisors=(4, 3))
    for mark in list(stream.recurse().getElementsByClass(tempo.MetronomeMark)):  # Verovio draws its note as a box
        mark.activeSite.remove(mark)
    for part in stream.parts:  # a part whose notes sit mostly below middle C reads better in the bass clef
        first = part.getElementsByClass("Measure").first()
        pitches = [p.midi for n in part.recurse().notes for p in n.pitches]
        if first is not None and pitches and sum(pitches) / len(pitches) < 60:
            first.clef = clef.BassClef()
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(stream.write("musicxml", fp=Path(tmp) / "piece.musicxml")).read_text()
    tk = _toolkit()
    tk.setOptions({"pageWidth": int(width), "scale": int(scale), "adjustPageHeight": True, "breaks": "auto",
                   "footer": "none", "header": "none"})  # fmt: skip
    if not tk.loadData(xml):
        raise ValueError("Verovio could not engrave the MusicXML")
    if tk.getPageCount() > 1:
        tk.setOptions({"pageHeight": 60000})
        tk.redoLayout()
    return tk.renderToSVG(1)


def polyphonic_to_dir(
    model,
    primer,
    out_dir: str | os.PathLike,
    n: int = 1,
    *,
    render: bool = True,
    plot: bool = True,
    soundfont: str | None = None,
    force: bool = False,
    **settings,
) -> dict:
    """Generate ``n`` polyphonic continuations into ``out_dir``: ``melody_01.mid`` (one track per part),
    ``melody_01.wav`` (each part on its own GM program), ``melody_01.png`` (piano roll by part), ``melody_01.svg`` (an
    engraved score, one staff per part), ``generation.json``.
    ``settings``: those of ``tunesmith.melody.polyphonic.generate_polyphonic``."""
    from tunesmith.melody.polyphonic import generate_polyphonic
    from tunesmith.music.midi import write_midi

    with output_dir(out_dir, MELODY_GENERATION.name, force=force):
        out_dir = Path(out_dir)
        pieces = generate_polyphonic(model, primer, n, **settings)
        items = []
        for i, piece in enumerate(pieces, 1):
            stem = f"melody_{i:02d}"
            score = poly.piece_to_score(piece)
            midi = write_midi(score, out_dir / f"{stem}.mid")
            item = {
                "midi": midi.name,
                "notes": len(piece),
                "notes_per_part": np.bincount(piece.part, minlength=2).tolist(),
                "bars": len(poly.bar_lines(piece.meters, piece.end)[0]),
                "primer_steps": piece.primer_steps,
                "programs": list(piece.programs),
            }
            if render:
                try:
                    from tunesmith.audio.io import write_audio
                    from tunesmith.audio.render import render as render_audio

                    samples, rate = render_audio(score, None, soundfont=soundfont)
                    item["wav"] = write_audio(samples, rate, out_dir / f"{stem}.wav").name
                except Exception as exc:  # a missing synthesizer must not lose the MIDI
                    item["wav_error"] = str(exc)
            if plot:
                item["piano_roll"] = save_parts_roll_png(
                    piece, out_dir / f"{stem}.png", f"{stem} (red: melody, blue: accompaniment)"
                ).name
                try:
                    from tunesmith.core.files import write_text

                    item["score"] = write_text(out_dir / f"{stem}.svg", parts_score_svg(piece)).name
                except Exception as exc:  # engraving is a view: it never costs the MIDI
                    item["score_error"] = f"{type(exc).__name__}: {exc}"
            items.append(item)
        summary = {
            "kind": MELODY_GENERATION.name,
            "model_kind": "polyphonic",
            "model": str(model),
            "primer": None if primer is None else str(primer),
            "n": n,
            "settings": {k: v for k, v in settings.items()},
            "outputs": items,
        }
        write_json(out_dir / "generation.json", summary)
        return summary
