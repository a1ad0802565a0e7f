"""Generate melodies into a folder: MIDI files, ``generation.json``, and on request renders, piano rolls, videos.

This is what ``tunesmith melody generate``, the demo, the pipeline and the web studio call; the model package
only makes the melodies, this module turns them into files a person opens.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunesmith.errors import Cancelled
from tunesmith.files import write_json
from tunesmith.melody.generate import GenerationSettings, MelodyModel, generate_melodies, load_melody_model, settings_dict
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
    on_progress=None,
    stop_event=None,
    **settings_kwargs,
) -> dict:
    """Generate ``n`` melodies and write ``melody_01.mid``... plus ``generation.json`` (and renders/plots/videos).

    ``on_progress(fraction, message)`` hears how far it got (sampling is the first half when files follow);
    setting the ``threading.Event`` ``stop_event`` stops it with :class:`tunesmith.errors.Cancelled`.
    """
    if not isinstance(model, MelodyModel):
        model = load_melody_model(model)
    settings = GenerationSettings(**settings_kwargs)
    primer_melody = model.prepare_primer(primer, strict=settings.strict, primer_bars=primer_bars, seed=settings.seed)
    extra_files = bool(render or plot or video)
    share = 0.5 if extra_files else 1.0

    def on_step(done: int, total: int) -> None:
        if on_progress:
            on_progress(share * done / total, f"sampling: step {done} of {total}")

    outputs = generate_melodies(model, primer_melody, n, settings, on_step=on_step, stop_event=stop_event)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for i, melody in enumerate(outputs):
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"stopped after writing {i} of {n} melodies")
        if on_progress and extra_files:
            on_progress(share + (1 - share) * i / n, f"writing files for melody {i + 1} of {n}")
        files = {"midi": write_midi(melody, out_dir / f"{melody.name}.mid").name}
        if render:
            from tunesmith.render import render_many

            for inst, path in render_many(melody, render, out_dir, melody.name, soundfont=soundfont).items():
                files[f"audio_{inst}"] = Path(path).name
        if plot:
            from tunesmith.plots import save_piano_roll_html, save_piano_roll_png

            files["piano_roll_html"] = save_piano_roll_html(melody, out_dir / f"{melody.name}.html").name
            files["piano_roll_png"] = save_piano_roll_png(melody, out_dir / f"{melody.name}.png").name
        if video:
            from tunesmith.video import make_video

            inst = (render or ["music-box"])[0]
            files["video"] = make_video(melody, out_dir / f"{melody.name}.mp4", instrument=inst, soundfont=soundfont).name
        items.append(
            {
                "name": melody.name,
                "log_likelihood": melody.meta["log_likelihood"],
                "steps": len(melody),
                "notes": len(melody.notes()),
                "files": files,
            }
        )
    report = {
        "model": str(model.model_dir),
        "config": model.config.name,
        "primer": str(primer) if primer is not None else None,
        "primer_events": primer_melody.events.tolist(),
        "n": n,
        "settings": settings_dict(settings),
        "outputs": items,
    }
    write_json(out_dir / "generation.json", report)
    report["melodies"] = outputs
    return report
