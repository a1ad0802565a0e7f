"""The chain the product was born from: a clip -> the audio model regenerates it -> transcription
turns that audio into a primer -> the melody model continues it -> renders, plots and a gallery.

Nothing here but the public functions of each step, called in order, with every setting and seed
written to ``results.json``.

Never a melody made from nothing: a clip without pitched notes (silence, noise, drums) is refused with
``NoPitchedContentError`` before anything is written, unless a primer is given. The primer is the
regenerated audio's notes when at least 80% of them are pitch classes the clip plays; otherwise (or
when the regenerated audio has no clear notes) it is the clip's own notes, and ``results.json`` says
which (``primer_source``) and why (``notes``).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError, Cancelled, NoPitchedContentError, TunesmithError
from tunesmith.core.files import write_json
from tunesmith.settings import PipelineSettings


def load_clip(path: str | os.PathLike, max_seconds: float) -> tuple[np.ndarray, int]:
    """Mono float32 samples of an audio file; longer than ``max_seconds`` -> cut with a warning."""
    from tunesmith.audio.io import load_audio

    path = Path(path)
    samples, sr = load_audio(path, None)
    if samples.size > max_seconds * sr:
        warnings.warn(f"{path.name} is {samples.size / sr:.0f} s long; using its first {max_seconds:g} s", stacklevel=2)
        samples = samples[: int(max_seconds * sr)]
    return samples, sr


PRIMER_BARS = 4  # a transcribed primer is cut to its first 4 bars: the melodies are mostly the model's new music


def primer_cut(melody):
    """The first ``PRIMER_BARS`` bars of a transcribed melody (its own bar length), the part the model continues."""
    return melody.with_length(min(len(melody), PRIMER_BARS * melody.steps_per_bar))


MIN_IN_KEY_SHARE = 0.8  # of the regenerated audio's notes in the clip's pitch classes, to prime from it


def in_key_share(melody, reference) -> float:
    """The fraction of ``melody``'s notes whose pitch class ``reference`` plays (0 when it has none).

    A pitch class counts only when it is at least 5% of the reference's notes: a stray transcription error in
    the clip (an octave or semitone slip) must not let an unrelated regenerated melody through."""
    pitches = np.asarray(melody.events)
    pitches = pitches[pitches >= 0]
    ref = np.asarray(reference.events)
    ref = ref[ref >= 0] % 12
    counts = np.bincount(ref, minlength=12) if ref.size else np.zeros(12, int)
    known = {int(pc) for pc in np.flatnonzero(counts >= max(1, 0.05 * ref.size))}
    return float(np.mean([int(p) % 12 in known for p in pitches])) if pitches.size else 0.0


def clip_primer(clip, samples: np.ndarray, sample_rate: int):
    """The clip's own notes as a Melody; a clip without pitched notes (silence, noise, drums) is refused.

    The pipeline never builds a primer from nothing: the audio model would otherwise turn silence into
    whatever tone it drifts to, and that tone would become the melody's primer.
    """
    from tunesmith.audio.transcribe import transcribe

    try:
        return transcribe((samples, sample_rate))
    except BadInputError as exc:
        reason = str(exc).replace("the audio", "it", 1)
        raise NoPitchedContentError(
            f"{clip}: no pitched notes to build a primer from ({reason}); use a clip that plays a melody, "
            "or give a primer (--primer C4, a MIDI file) to skip transcription"
        ) from None


_P = PipelineSettings


def run_pipeline(
    clip: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    audio_model: str = _P.audio_model,
    melody_model: str = _P.melody_model,
    primer=None,
    instruments: list[str] | None = None,
    n: int = _P.n,
    seconds: float = _P.seconds,
    max_seconds: float = _P.max_seconds,
    audio_epochs: int = _P.audio_epochs,
    over_chords: str | None = _P.over_chords,
    seed: int = 0,
    formats: list[str] | None = None,
    chords: bool = False,
    progress: bool = True,
    threads: int | None = None,
    on_progress=None,
    stop_event=None,
    force: bool = False,
    **generation,
) -> dict:
    """Run the whole chain on ``clip`` and write everything into ``out_dir``; returns the results dict.

    Defaults and help: ``tunesmith.settings.PipelineSettings``. ``generation``: how the melodies are made, any
    ``GenerationSettings`` field (``steps``: new steps after the primer, as in ``melody generate``; ``bars``,
    ``form``, ``meter``, ``end_on_tonic``, ``key``/``scale``, ``top_k``/``top_p``, ``temperature``...);
    ``formats`` (abc, musicxml, svg) and ``chords`` add notation and a chord accompaniment to each melody.
    ``over_chords`` (text, or a MIDI/ABC/MusicXML file: ``melody.edit.generate_over_chords``) writes each melody over
    those chords instead, opened by the primer; they are checked before any work and must outlast the primer.
    ``threads``: CPU threads for every step (default: training picks per model, the rest use all allowed).
    ``on_progress(fraction, message)`` hears each stage (and training steps); setting the ``threading.Event``
    ``stop_event`` stops the chain with :class:`tunesmith.core.errors.Cancelled` at the next stage or step.

    ``out_dir`` must be new, empty or an earlier pipeline's (known by its ``results.json``); ``force=True`` writes
    into another folder, replacing only the pipeline's own file names (``index.html``, ``seed.wav``, ...). It is
    checked and locked before any work, so a second run at the same folder is refused at once.
    """
    from tunesmith.core.folders import PIPELINE, output_dir
    from tunesmith.melody.generate import GenerationSettings, check_settings

    try:
        check_settings(GenerationSettings(seed=seed, **generation), n)  # nonsense is refused before the folder is made
    except TypeError as exc:
        raise BadInputError(f"run_pipeline: {exc}") from None
    if over_chords is not None:
        check_over_chords(over_chords, primer, generation.get("meter"))
    settings = dict(locals())  # the arguments, passed on as they came
    for name in ("force", "generation", "PIPELINE", "output_dir", "GenerationSettings", "check_settings"):
        settings.pop(name, None)
    with output_dir(out_dir, PIPELINE.name, force=force):
        return _run_pipeline(**settings, generation=generation)


def check_over_chords(over_chords, primer, meter) -> None:
    """Chords the pipeline writes over, read now (a bad symbol or a file without chords is refused before any work);
    with a transcribed primer (its first ``PRIMER_BARS`` bars) they must last longer than that."""
    from tunesmith.melody.edit import chord_spans, is_chord_file
    from tunesmith.music.export import load_chords
    from tunesmith.music.meter import meter_steps, parse_meter

    if is_chord_file(over_chords):
        found = load_chords(over_chords)
        spans, spb = found.chords, found.steps_per_bar
    else:
        spb, beat = meter_steps(parse_meter(meter) or (4, 4))
        spans = chord_spans(over_chords, (spb, beat))
    if primer is None and spans[-1].end <= PRIMER_BARS * spb:
        raise BadInputError(
            f"--over-chords: {spans[-1].end / spb:g} bars of chords, but the transcribed primer opens the melodies with "
            f"up to {PRIMER_BARS} bars; give more chords (they cover the whole melody, primer included)"
        )


def _run_pipeline(
    clip, out_dir, *, audio_model, melody_model, primer, instruments, n, seconds, max_seconds,
    audio_epochs, over_chords, seed, formats, chords, progress, threads, on_progress, stop_event, generation,
) -> dict:  # fmt: skip
    from tunesmith.core.device import use_threads
    from tunesmith.core.folders import PIPELINE, write_marker

    if threads is not None:
        use_threads(threads)
    from tunesmith.audio.io import write_audio
    from tunesmith.melody.generate import load_melody_model
    from tunesmith.music.midi import write_midi
    from tunesmith.outputs.compose import generate_to_dir
    from tunesmith.outputs.gallery import melody_sections, section_html, write_gallery
    from tunesmith.outputs.plots import save_piano_roll_html, save_piano_roll_png, save_spectrogram

    instruments = list(instruments or PipelineSettings().instruments)

    def stage(fraction: float, message: str) -> None:
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"pipeline stopped before: {message}")
        if on_progress:
            on_progress(fraction, message)

    stage(0.0, "reading the clip")
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples, sr = load_clip(clip, max_seconds)
    notes += [str(w.message) for w in caught]
    clip_melody = None
    if primer is None:  # before anything is made: a clip without notes would give a melody made from nothing
        clip_melody = clip_primer(clip, samples, sr)
    write_marker(out, PIPELINE.name)  # before the first file: a run stopped half-way is still known as a pipeline's
    seed_wav = write_audio(samples, sr, out / "seed.wav")
    save_spectrogram(seed_wav, out / "seed_spectrogram.png", title="seed clip")
    results: dict = {
        "kind": PIPELINE.name,
        "clip": str(clip),
        "seed": seed,
        "settings": {
            "audio_model": str(audio_model),
            "melody_model": str(melody_model),
            "primer": None if primer is None else str(primer),
            "instruments": instruments,
            "n": n,
            "generation": generation,
            "formats": formats or [],
            "chords": chords,
            "seconds": seconds,
            "max_seconds": max_seconds,
            "audio_epochs": audio_epochs,
            "over_chords": None if over_chords is None else str(over_chords),
        },
    }

    # 1. the audio model regenerates the clip
    regenerated = None
    if audio_model != "none" and primer is None:
        from tunesmith.outputs.audio_generation import generate_audio

        model_dir = audio_model
        if audio_model == "train":
            from tunesmith.audio_model.train import train_audio_model

            stage(0.05, "training the audio model on the clip")
            model_dir = out / "audio-model"

            def on_log(row: dict) -> None:
                if on_progress and row.get("split", "train") == "train":
                    done = row["step"] / max(1, row.get("total_steps") or 1)
                    on_progress(0.05 + 0.35 * done, f"training the audio model: step {row['step']} of {row.get('total_steps')}")

            # the pipeline's own sub-folder: a rerun trains it afresh
            try:
                train_audio_model(
                    [seed_wav],
                    model_dir,
                    epochs=audio_epochs,
                    seed=seed,
                    progress=progress,
                    threads=threads,
                    force=True,
                    stop_event=stop_event,
                    on_log=on_log,
                )
            except TunesmithError as exc:
                if "--resume" not in str(exc):
                    raise
                raise Cancelled(  # training's own advice (--resume) is not the pipeline's: it has none
                    f"the pipeline was interrupted while training the audio model on {Path(clip).name}; run the same "
                    f"command again to start over (the pipeline cannot resume; it replaces its own files in {out})"
                ) from None
        stage(0.4, "the audio model regenerates the clip")
        report = generate_audio(model_dir, seed_wav, out / "regenerated", seconds=seconds, n=1, seed=seed)
        regenerated = out / "regenerated" / "output_01.wav"
        results["audio_generation"] = {k: v for k, v in report.items() if k != "audio"}
        save_spectrogram(regenerated, out / "regenerated_spectrogram.png", title="regenerated by the audio model")

    # 2. transcription turns audio into a primer (the original clip if the regenerated one has no clear notes)
    if primer is None:
        from tunesmith.audio.transcribe import transcribe

        stage(0.5, "transcribing the audio into a primer")
        primer_melody, results["primer_source"] = clip_melody, "clip"
        if regenerated is not None:
            try:
                heard = transcribe(regenerated, max_seconds=max_seconds)
            except BadInputError as exc:
                notes.append(f"regenerated audio gave no clear notes ({exc}); the primer is the seed clip's notes")
            else:
                heard = primer_cut(heard)  # judged as it would be used
                share = in_key_share(heard, clip_melody)
                if share >= MIN_IN_KEY_SHARE:
                    primer_melody, results["primer_source"] = heard, "regenerated"
                else:
                    notes.append(
                        f"only {share:.0%} of the regenerated audio's notes are pitch classes the clip plays; "
                        "the primer is the seed clip's own notes"
                    )
        model = load_melody_model(melody_model)
        primer_melody = model.prepare_primer(primer_cut(primer_melody), meter=generation.get("meter"))
    else:
        model = load_melody_model(melody_model)
        primer_melody = model.prepare_primer(primer, meter=generation.get("meter"))
    write_midi(primer_melody, out / "primer.mid")
    save_piano_roll_html(primer_melody, out / "primer.html", title="primer", js_dir=out)
    save_piano_roll_png(primer_melody, out / "primer.png", title="primer")
    try:
        from tunesmith.outputs.score import save_score

        save_score(primer_melody, out / "primer.svg", title="primer")
    except TunesmithError as exc:  # Verovio not installed: the gallery shows the piano roll alone
        notes.append(f"no engraved scores ({exc})")

    # 3. the melody model continues the primer; renders and piano rolls per output
    stage(0.55, "the melody model continues the primer")
    made = generate_to_dir(  # force: the pipeline's folder holds its other files too
        model,
        primer_melody,
        out,
        n,
        render=instruments,
        plot=True,
        js_dir=out,
        formats=formats,
        chords=chords,
        over_chords=over_chords,
        seed=seed,
        force=True,
        **generation,  # steps: new steps after the primer, as in `melody generate`
        on_progress=(lambda f, m: on_progress(0.55 + 0.4 * f, m)) if on_progress else None,
        stop_event=stop_event,
    )
    stage(0.95, "writing the gallery")
    results["primer"] = {"events": primer_melody.events.tolist(), "summary": primer_melody.summary()}
    results["melodies"] = made["outputs"]
    results["notes"] = notes
    results["seconds"] = round(time.perf_counter() - started, 2)

    sections = [section_html(out, "Seed clip", audio={"seed": seed_wav}, images=[out / "seed_spectrogram.png"])]
    if regenerated:
        sections.append(
            section_html(
                out,
                "Regenerated by the audio model",
                audio={"regenerated": regenerated},
                images=[out / "regenerated_spectrogram.png"],
            )
        )
    sections.append(
        section_html(
            out,
            "Primer (transcribed)" if primer is None else "Primer",
            meta=primer_melody.summary(),
            roll_html=out / "primer.html",
            images=[out / "primer.svg"],
            downloads=[out / "primer.mid"],
        )
    )
    sections += melody_sections(out, made["outputs"], out)
    results["index"] = str(write_gallery(out, "tunesmith pipeline", sections, intro=" ".join(notes)))
    write_json(out / "results.json", results)
    return results
