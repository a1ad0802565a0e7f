"""Generate melodies into a folder: MIDI files, ``generation.json``, and on request renders, piano rolls, videos.

This is what ``tunesmith melody generate``, the demo, the pipeline and the web studio call; the model package
only makes the melodies, this module turns them into files a person opens.
"""

from __future__ import annotations

import os
from pathlib import Path

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
    **settings_kwargs,
) -> dict:
    """Generate ``n`` melodies and write ``melody_01.mid``... plus ``generation.json`` (and renders/plots/videos).

    ``settings_kwargs`` are ``GenerationSettings``: ``steps`` (new steps after the primer) or ``bars`` (whole
    melody), ``form``, ``end_on_tonic``, ``meter``, ``temperature``, ``key``, ... The MIDI files keep the primer's meter.
    """
    if not isinstance(model, MelodyModel):
        model = load_melody_model(model)
    settings = GenerationSettings(**settings_kwargs)
    primer_melody = model.prepare_primer(
        primer, strict=settings.strict, primer_bars=primer_bars, seed=settings.seed, meter=settings.meter
    )
    outputs = generate_melodies(model, primer_melody, n, settings)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    for melody in outputs:
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
                "bars": len(melody) / melody.steps_per_bar,
                "notes": len(melody.notes()),
                **{k: melody.meta[k] for k in ("plan", "tonic") if k in melody.meta},
                "files": files,
            }
        )
    report = {
        "model": str(model.model_dir),
        "config": model.config.name,
        "primer": str(primer) if primer is not None else None,
        "primer_events": primer_melody.events.tolist(),
        "primer_steps": len(primer_melody),
        "meter": "/".join(map(str, primer_melody.time_signature)),
        "n": n,
        "settings": settings_dict(settings),
        "outputs": items,
    }
    write_json(out_dir / "generation.json", report)
    report["melodies"] = outputs
    return report
