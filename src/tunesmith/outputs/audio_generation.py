"""An audio generation written to a folder: ``output_01.wav``..., spectrograms of the seed and each output,
and ``generation.json`` (what was asked, what the model used, how fast it ran).

The model package makes the sound (``AudioModel.generate`` returns arrays); writing it is this module's job.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from tunesmith.audio_model.settings import AudioGeneration
from tunesmith.core.errors import Cancelled
from tunesmith.core.files import write_json


def generate_audio(
    model_dir: str | os.PathLike,
    seed_clip,
    out_dir: str | os.PathLike,
    *,
    seconds: float = AudioGeneration.seconds,
    n: int = AudioGeneration.n,
    seed_offset: float = AudioGeneration.seed_offset,
    random_chance: float | None = None,  # None: the model's own (its AudioConfig)
    impulse_scale: float | None = None,
    temperature: float | None = None,
    level_control: bool | None = None,
    griffin_lim_iters: int = AudioGeneration.griffin_lim_iters,
    seed: int = AudioGeneration.seed,
    device: str | None = None,
    force: bool = False,
    stop_event=None,
    on_progress=None,
) -> dict:
    """Write ``output_01.wav``... , spectrogram PNGs of the seed and each output, and ``generation.json``.

    ``on_progress(fraction, message)`` hears how far it got; setting the ``threading.Event`` ``stop_event``
    stops it within a few frames (or before the next output's files) with :class:`tunesmith.core.errors.Cancelled`.

    ``out_dir`` must be new, empty or an earlier audio generation (``force=True``: any folder); checked and
    locked before any work. Outputs of an earlier run that this one did not write are deleted at the end.
    """
    from tunesmith.core.folders import AUDIO_GENERATION, output_dir

    arguments = locals()
    settings = {f.name: arguments[f.name] for f in dataclasses.fields(AudioGeneration)}  # the knobs, by their one name
    with output_dir(out_dir, AUDIO_GENERATION.name, force=force):
        return _generate_audio(model_dir, seed_clip, Path(out_dir), device, settings, stop_event, on_progress)


def _generate_audio(model_dir, seed_clip, out_dir: Path, device, settings: dict, stop_event=None, on_progress=None) -> dict:
    from tunesmith.audio.io import write_audio
    from tunesmith.core.folders import AUDIO_GENERATION, remove_own_files

    def stop_check(message: str) -> None:
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"audio generation stopped {message}")

    def on_frame(done: int, total: int) -> None:
        if on_progress:
            on_progress(0.9 * done / total, f"generating audio: frame {done} of {total}")

    from tunesmith.audio_model.generate import load_audio_model

    started = time.perf_counter()
    model = load_audio_model(model_dir, device)
    clips = model.generate(seed_clip, **settings, stop_event=stop_event, on_frame=on_frame)
    elapsed = time.perf_counter() - started
    c = model.config
    rate = c.sample_rate
    outputs = []
    for i, audio in enumerate(clips, 1):
        stop_check(f"after writing {i - 1} of {len(clips)} outputs")
        outputs.append(str(write_audio(audio, rate, out_dir / f"output_{i:02d}.wav")))
    stop_check("before the spectrograms")
    if on_progress:
        on_progress(0.95, "drawing the spectrograms")
    images = _spectrograms(seed_clip, clips, rate, out_dir, model.notes)
    summary = {
        "kind": AUDIO_GENERATION.name,
        "model": str(model_dir),
        "seed_clip": str(seed_clip),
        "outputs": outputs,
        "spectrograms": images,
        "sample_rate": rate,
        **settings,
        # unset sampling knobs are the model's own (its config): written as used
        **{k: getattr(c, k) for k in ("random_chance", "impulse_scale", "temperature", "level_control") if settings[k] is None},
        "generation_seconds": round(elapsed, 3),
        "real_time_factor": round(elapsed / (settings["seconds"] * settings["n"]), 4),
        "notes": model.notes,
    }
    write_json(out_dir / "generation.json", summary)
    written = {"generation.json", *(Path(p).name for p in outputs + images)}
    remove_own_files(out_dir, AUDIO_GENERATION.name, keep=written)  # leftovers of an earlier, larger run
    return summary


def _spectrograms(seed_clip, clips: list[np.ndarray], rate: int, out_dir: Path, notes: list[str]) -> list[str]:
    from tunesmith.outputs.plots import save_spectrogram

    paths = [save_spectrogram(str(seed_clip), out_dir / "seed.png", title=f"seed: {Path(seed_clip).name}")]
    for i, audio in enumerate(clips, 1):
        paths.append(save_spectrogram(audio, out_dir / f"output_{i:02d}.png", sample_rate=rate, title=f"output {i}"))
    return [str(p) for p in paths]
