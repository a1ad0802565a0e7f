"""Generate melodies into a folder: MIDI files, ``generation.json``, and on request renders, piano rolls, videos.

This is what ``tunesmith melody generate``, the demo, the pipeline and the web studio call; the model package
only makes the melodies, this module turns them into files a person opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tunesmith.core.errors import BadInputError, Cancelled, TunesmithError
from tunesmith.core.files import write_json
from tunesmith.core.folders import MELODY_GENERATION, output_dir, remove_own_files
from tunesmith.core.options import setting
from tunesmith.melody.generate import (
    GenerationSettings,
    MelodyModel,
    check_settings,
    generate_melodies,
    load_melody_model,
    settings_dict,
)
from tunesmith.music.meter import meter_of
from tunesmith.music.midi import write_midi


def generate_to_dir(
    model: MelodyModel | str | os.PathLike,
    primer,
    out_dir: str | os.PathLike,
    n: int = 1,
    *,
    render: list[str] | None = None,
    plot: bool = False,
    video: bool = False,
    primer_bars: int | None = None,
    soundfont: str | None = None,
    js_dir: str | os.PathLike | None = None,
    formats: list[str] | None = None,
    chords: bool = False,
    over_chords: str | None = None,
    force: bool = False,
    on_progress=None,
    stop_event=None,
    **settings_kwargs,
) -> dict:
    """Generate ``n`` melodies and write ``melody_01.mid``... plus ``generation.json`` (and renders/plots/videos).

    ``formats`` adds notation beside each MIDI file: ``abc``, ``musicxml``, ``svg`` (an engraved score; ``plot``
    writes it too). ``chords`` adds a chord accompaniment (``tunesmith.music.harmony``): a second MIDI track heard on a
    second instrument, chord symbols in the ABC/MusicXML/score; a melody with no clear key keeps no chords and
    says why in ``generation.json``. ``on_progress(fraction, message)`` hears how far it got (sampling is the
    first half when files follow); setting the ``threading.Event`` ``stop_event`` stops it with
    :class:`tunesmith.core.errors.Cancelled`.

    ``settings_kwargs`` are ``GenerationSettings``: ``steps`` (new steps after the primer) or ``bars`` (whole
    melody), ``form``, ``end_on_tonic``, ``meter``, ``temperature``, ``key``, ... The MIDI files keep the primer's meter.

    ``over_chords`` (``"C G Am F"``, ``"C:2 G:2"``: one chord a bar, or ``:beats``) writes melodies over those chords
    instead (``tunesmith.melody.edit.generate_over_chords``; the primer, if any, opens them), with the chords as the
    accompaniment track and as chord symbols.

    ``out_dir`` must be new, empty or an earlier generation (``force=True``: any folder); it is checked and
    locked before any work. Files of an earlier generation that this one did not write (``melody_03.mid`` of
    an earlier ``-n 4`` beside a new ``-n 2``) are deleted once the new set is complete; other files stay.
    """
    if over_chords is not None:  # a melody over given chords (melody.edit): the chords set its length
        taken = ("seed", "temperature", "top_k", "key", "scale", "qpm", "meter")
        kept = {k: v for k, v in settings_kwargs.items() if k in taken}
        ignored = sorted(set(settings_kwargs) - set(taken)) + [k for k, v in (("video", video), ("chords", chords)) if v]
        if ignored:
            import warnings

            warnings.warn(f"over chords, these settings are not used: {', '.join(ignored)}", stacklevel=2)
        return edit_to_dir(
            "over-chords", model, primer, out_dir, n, formats=formats, render=render, plot=plot, soundfont=soundfont,
            js_dir=js_dir, force=force, on_progress=on_progress, chords=over_chords, **kept,
        )  # fmt: skip
    formats = _formats(formats)
    files = FileRequest(render or [], plot, video, formats, chords, soundfont, js_dir)
    check_settings(GenerationSettings(**settings_kwargs), n)  # nonsense numbers are refused before the folder is made
    with output_dir(out_dir, MELODY_GENERATION.name, force=force):
        return _generate(model, primer, Path(out_dir), n, files, settings_kwargs, primer_bars, on_progress, stop_event)


def _formats(formats: list[str] | None) -> list[str]:
    """The notation formats asked for, normalised; an unknown one is refused before any work."""
    formats = [f.strip().lower().lstrip(".") for f in formats or []]
    unknown = sorted(set(formats) - {"abc", "musicxml", "svg"})
    if unknown:
        raise BadInputError(f"unknown output format(s) {', '.join(unknown)}; use abc, musicxml or svg")
    return formats


@dataclass(frozen=True)
class FileRequest:
    """What is written beside each melody's MIDI file (see ``generate_to_dir``)."""

    render: list[str] = setting(factory=list, help="also render with these instruments, e.g. guitar,music-box,piano")
    plot: bool = setting(False, help="also write piano rolls (HTML and PNG) and engraved scores (SVG)")
    video: bool = setting(False, help="also write MP4 videos (needs tunesmith[video])")
    formats: list[str] = setting(factory=list, flags=("--format",), help="notation beside each MIDI file: abc,musicxml,svg")
    chords: bool = setting(False, help="add a chord accompaniment (second track and instrument)")
    soundfont: str | None = setting(None, help="a .sf2/.sf3 file for --render (default: the General MIDI SoundFont)")
    js_dir: str | os.PathLike | None = None  # one copy of bokeh's JS for a whole gallery

    @property
    def beyond_midi(self) -> bool:
        return bool(self.render or self.plot or self.video)


def _generate(model, primer, out_dir: Path, n: int, request: FileRequest, settings_kwargs, primer_bars, on_progress, stop_event):
    if not isinstance(model, MelodyModel):
        model = load_melody_model(model)
    settings = GenerationSettings(**settings_kwargs)
    primer_melody = model.prepare_primer(
        primer, strict=settings.strict, primer_bars=primer_bars, seed=settings.seed, meter=settings.meter
    )
    share = 0.5 if request.beyond_midi else 1.0

    def on_step(done: int, total: int) -> None:
        if on_progress:
            on_progress(share * done / total, f"sampling: step {done} of {total}")

    outputs = generate_melodies(model, primer_melody, n, settings, on_step=on_step, stop_event=stop_event)
    items = []
    for i, melody in enumerate(outputs):
        if stop_event is not None and stop_event.is_set():
            stopped = Cancelled(f"stopped after writing {i} of {n} {'melody' if n == 1 else 'melodies'}")
            stopped.outputs = items  # the melodies already written, for a caller that shows them
            raise stopped
        if on_progress and request.beyond_midi:
            on_progress(share + (1 - share) * i / n, f"writing files for melody {i + 1} of {n}")
        files, extra = _write_files(melody, out_dir, request)
        items.append(
            {
                "name": melody.name,
                "log_likelihood": melody.meta["log_likelihood"],
                "steps": len(melody),
                "bars": len(melody) / melody.steps_per_bar,
                "notes": len(melody.notes()),
                **{k: melody.meta[k] for k in ("plan", "tonic") if k in melody.meta},
                "files": files,
                **extra,
            }
        )
    report = {
        "kind": MELODY_GENERATION.name,
        "model": str(model.model_dir),
        "config": model.config.name,
        "primer": str(primer) if primer is not None else None,
        "primer_events": primer_melody.events.tolist(),
        "primer_steps": len(primer_melody),
        "meter": "/".join(map(str, meter_of(primer_melody))),
        "n": n,
        "settings": settings_dict(settings),
        "outputs": items,
    }
    write_json(out_dir / "generation.json", report)
    written = {"generation.json", "static", *(name for item in items for name in item["files"].values())}
    remove_own_files(out_dir, MELODY_GENERATION.name, keep=written)  # leftovers of an earlier, larger run
    report["melodies"] = outputs
    return report


def _write_files(melody, out_dir: Path, request: FileRequest) -> tuple[dict, dict]:
    """One melody's files (MIDI, notation, audio, piano roll, video) and its chord facts for ``generation.json``."""
    extra: dict = {}
    chord_spans = None
    piece = melody  # what is written and heard: the melody, or melody + chord track
    if melody.meta.get("chords"):  # chords the melody was written over (melody.edit): the accompaniment as given
        from tunesmith.music.harmony import harmonized_score

        chord_spans = melody.meta["chords"]
        piece = harmonized_score(melody, chord_spans)
        extra["chords"] = [c.symbol for c in chord_spans]
    elif request.chords:
        from tunesmith.music.harmony import harmonize, harmonized_score

        try:
            result = harmonize(melody)
        except TunesmithError as exc:
            extra["chords_error"] = str(exc)
        else:
            chord_spans = result.chords
            piece = harmonized_score(melody, chord_spans, key=result.key)
            extra["chords"] = result.symbols()
            extra["key"] = str(result.key)
    files = {"midi": write_midi(piece, out_dir / f"{melody.name}.mid").name}
    files.update(_notation_files(melody, chord_spans, out_dir, request.formats, request.plot))
    if request.render:
        from tunesmith.audio.render import render_many

        for inst, path in render_many(piece, request.render, out_dir, melody.name, soundfont=request.soundfont).items():
            files[f"audio_{inst}"] = Path(path).name
    if request.plot:
        from tunesmith.outputs.plots import save_piano_roll_html, save_piano_roll_png

        files["piano_roll_html"] = save_piano_roll_html(
            melody, out_dir / f"{melody.name}.html", js_dir=request.js_dir or out_dir
        ).name
        files["piano_roll_png"] = save_piano_roll_png(melody, out_dir / f"{melody.name}.png").name
    if request.video:
        from tunesmith.outputs.video import make_video

        inst = (request.render or ["music-box"])[0]
        files["video"] = make_video(melody, out_dir / f"{melody.name}.mp4", instrument=inst, soundfont=request.soundfont).name
    return files, extra


def _notation_files(melody, chord_spans, out_dir: Path, formats: list[str], plot: bool) -> dict:
    """ABC / MusicXML / engraved SVG beside the MIDI file; the score for ``plot`` only where Verovio is installed."""
    from tunesmith.music.export import export_melody

    files = {}
    if "abc" in formats:
        files["abc"] = export_melody(melody, out_dir / f"{melody.name}.abc", chords=chord_spans).name
    if "musicxml" in formats:
        files["musicxml"] = export_melody(melody, out_dir / f"{melody.name}.musicxml", chords=chord_spans).name
    if "svg" in formats or plot:
        from tunesmith.outputs.score import save_score

        try:
            files["score_svg"] = save_score(melody, out_dir / f"{melody.name}.svg", chords=chord_spans).name
        except TunesmithError:
            if "svg" in formats:  # asked for by name: say why; as a side dish of --plot: leave it out
                raise
    return files


EDITS = ("infill", "vary", "over-chords")


def edit_to_dir(
    edit: str,
    model: MelodyModel | str | os.PathLike,
    tune,
    out_dir: str | os.PathLike,
    n: int = 4,
    *,
    formats: list[str] | None = None,
    render: list[str] | None = None,
    plot: bool = False,
    soundfont: str | None = None,
    js_dir: str | os.PathLike | None = None,
    force: bool = False,
    on_progress=None,
    **edit_kwargs,
) -> dict:
    """Edit a tune into a folder, as ``generate_to_dir`` writes a generation: ``melody_01.mid``... (with the chord
    track when chords were given), notation in ``formats``, renders (``render``: instruments) and piano rolls
    (``plot``) as ``FileRequest`` says, and ``generation.json`` naming the edit. ``on_progress(fraction, message)``
    hears when the versions are made and each one's files are written.

    ``edit``: ``"infill"`` (``melody.edit.infill``: ``bars=`` ...), ``"vary"`` (``strength=`` ...) or ``"over-chords"``
    (``melody.edit.generate_over_chords``: ``chords=`` and ``tune`` as the optional primer). Everything is checked
    (bars, chords, the tune) before the folder is made, so bad input writes nothing.
    """
    from tunesmith.melody import edit as editing

    if edit not in EDITS:
        raise BadInputError(f"unknown edit {edit!r}; use one of {', '.join(EDITS)}")
    formats = _formats(formats)
    if not isinstance(model, MelodyModel):
        model = load_melody_model(model)
    if on_progress:
        on_progress(0.0, f"{edit}: sampling {n} version{'s' if n > 1 else ''}")
    if edit == "infill":
        outputs = editing.infill(model, tune, edit_kwargs.pop("bars"), n, **edit_kwargs)
    elif edit == "vary":
        outputs = editing.vary(model, tune, n, **edit_kwargs)
    else:
        outputs = editing.generate_over_chords(model, edit_kwargs.pop("chords"), n, primer=tune, **edit_kwargs)
    request = FileRequest(render=list(render or []), plot=plot, formats=formats, soundfont=soundfont, js_dir=js_dir)
    with output_dir(out_dir, MELODY_GENERATION.name, force=force):
        out = Path(out_dir)
        items = []
        for i, melody in enumerate(outputs):
            if on_progress:
                on_progress(0.5 + 0.5 * i / len(outputs), f"writing files for version {i + 1} of {len(outputs)}")
            files, extra = _write_files(melody, out, request)
            meta = {k: v for k, v in melody.meta.items() if k in ("infilled", "seam_log_likelihood", "plan", "strength")}
            items.append({"name": melody.name, "steps": len(melody), "bars": len(melody) / melody.steps_per_bar,
                          "notes": len(melody.notes()),
                          **meta, "files": files, **extra})  # fmt: skip
        report = {
            "kind": MELODY_GENERATION.name,
            "edit": edit,
            "model": str(model.model_dir),
            "config": model.config.name,
            "tune": str(tune) if tune is not None else None,
            "meter": "/".join(map(str, meter_of(outputs[0]))),
            "n": n,
            "settings": {k: v if isinstance(v, int | float | str | bool | None) else str(v) for k, v in edit_kwargs.items()},
            "outputs": items,
        }
        write_json(out / "generation.json", report)
        written = {"generation.json", "static", *(name for item in items for name in item["files"].values())}
        remove_own_files(out, MELODY_GENERATION.name, keep=written)
    report["melodies"] = outputs
    return report
