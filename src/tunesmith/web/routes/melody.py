"""Melody routes: generate from a primer (/api/generate), train a melody model (/api/melody/train), and edit a tune
(/api/edit: rewrite bars, variations, a melody over chords; /api/edit/tune: its bars as the Edit tab draws them)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException

from tunesmith.core.errors import BadInputError, Cancelled
from tunesmith.web.helpers import (
    ID_RE,
    NAME_RE,
    PURPOSES,
    caught_warnings,
    data_folder,
    jsonable,
    plain,
    plural,
    train_in,
    training_files,
)
from tunesmith.web.jobs import Job
from tunesmith.web.requests import EditRequest, GenerateRequest, MelodyTrainRequest
from tunesmith.web.studio import Studio, current_studio, primer_text

router = APIRouter()
OWN = {"name", "uploads", "folder", "start_from_default"}  # the training route's own fields; the rest are MelodyTraining's


@router.post("/api/generate")
def generate(req: GenerateRequest, studio: Studio = Depends(current_studio)):
    """Continue a primer into melodies with renders and piano rolls (a background job with progress and cancel)."""
    from tunesmith.outputs.compose import generate_to_dir

    if studio.model_kind(req.model) == "polyphonic":
        return _generate_polyphonic(req, studio)
    model = studio.melody_model(req.model)
    uploads = []
    if req.primer_upload:
        meta, source = studio.upload(req.primer_upload, PURPOSES["primer"])
        label, uploads = meta["name"], [req.primer_upload]
    else:
        source = primer_text(req.primer) or None
        label = source
    # parsed here, so that a bad primer is a 400 now; the last ``primer_bars`` bars are kept. What the library
    # warns about (notes moved by octaves, a long primer cut to its last bars) goes to the page with the job
    with caught_warnings() as said:
        primer = model.prepare_primer(source, primer_bars=req.primer_bars, seed=req.seed, meter=req.meter)
    settings = req.model_dump(exclude={"model", "primer", "primer_upload", "primer_bars", "n", "steps", "instruments"})
    settings.pop("plot"), settings.pop("video")
    settings["key"] = req.key or None  # the menu's "any" is an empty key
    steps = None if req.bars else req.steps  # bars (the whole melody) wins over the form's new-steps default

    def work(job: Job):
        out_dir = studio.jobs_dir / job.id
        try:
            report = generate_to_dir(
                model,
                primer,
                out_dir,
                req.n,
                render=req.instruments or None,
                plot=req.plot,
                video=req.video,
                steps=steps,  # new steps after the primer, as everywhere
                on_progress=job.update,
                stop_event=job.stop_event,
                **settings,
            )
        except Cancelled as exc:
            written = getattr(exc, "outputs", None)
            if not written:
                raise
            # the melodies written before the stop are kept and shown
            report = {"outputs": written, "settings": {"seed": req.seed}, "stopped": plain(str(exc))}
            job.update(message=plain(str(exc)))
        report.pop("melodies", None)
        for item in report["outputs"]:
            item["urls"] = {k: studio.url(out_dir / v) for k, v in item["files"].items()}
            item["audio"] = [
                {"instrument": k[len("audio_") :], "url": u} for k, u in item["urls"].items() if k.startswith("audio_")
            ]
        report.update(
            {
                "job": job.id,
                "primer": label,
                "primer_steps": len(primer),
                "primer_bars": req.primer_bars,
                "new_steps": req.steps,
                "model": req.model,
                "n": req.n,
            }
        )
        if not job.cancelled:
            job.update(message=f"{plural(req.n, 'melody', 'melodies')}: {len(primer)} primer + {req.steps} new steps")
        return jsonable(report)

    params = req.model_dump() | {"primer": label, "uploads": uploads}
    job = studio.runner.submit("generate", work, params=params, quick=True, warnings=said)
    return {"job": job.id, "primer_steps": len(primer)}


def _generate_polyphonic(req: GenerateRequest, studio: Studio) -> dict:
    """A polyphonic model's generation: ``polyphonic_to_dir`` as the job, the options it does not use named in the
    result (as the command line prints them), each output shaped as a melody's (files, urls, audio) for the page."""
    from tunesmith.melody.polyphonic import primer_piece
    from tunesmith.music import polyphony as poly
    from tunesmith.music.instruments import GM_PROGRAM_NAMES
    from tunesmith.music.meter import parse_meter
    from tunesmith.outputs.polyphony import polyphonic_options, polyphonic_to_dir

    path = studio.model_path(req.model, "polyphonic")
    uploads = []
    if req.primer_upload:  # a MIDI file or a score (parts and chords); a clip holds none
        meta, file = studio.upload(req.primer_upload, PURPOSES["tune"])
        source, label, uploads = str(file), meta["name"], [req.primer_upload]
    else:
        source = label = primer_text(req.primer) or None
    with caught_warnings() as said:  # a bad primer or meter is a 400 now, not a failed job
        primer_piece(source, meter=parse_meter(req.meter, poly.STEPS_PER_QUARTER))
    # what the person changed from the form's defaults counts as given, as typed options do on the command line
    fields = GenerateRequest.model_fields
    asked = req.model_dump(exclude={"model", "primer", "primer_upload", "instruments", "plot"})
    given = {k: v for k, v in asked.items() if v != fields[k].get_default(call_default_factory=True)}
    settings, note = polyphonic_options(given | {"n": req.n, "seed": req.seed})

    def work(job: Job):
        out_dir = studio.jobs_dir / job.id
        job.update(0.0, "generating")
        report = polyphonic_to_dir(path, source, out_dir, render=bool(req.instruments), plot=req.plot, **settings)
        for item in report["outputs"]:
            files = {"midi": item["midi"]}
            played = " + ".join(dict.fromkeys(GM_PROGRAM_NAMES[p] for p in item["programs"]))
            for key, name in (("wav", f"audio_{played}"), ("piano_roll", "piano_roll_png"), ("score", "score_svg")):
                if key in item:
                    files[name] = item[key]
            item["name"] = Path(item["midi"]).stem
            item["files"] = files
            item["urls"] = {k: studio.url(out_dir / v) for k, v in files.items()}
            item["audio"] = [{"instrument": played, "url": item["urls"][f"audio_{played}"]}] if "wav" in item else []
        report.update(
            {
                "job": job.id,
                "primer": label,
                "model": req.model,
                "note": note,
                "settings": {**report["settings"], "seed": req.seed},
            }
        )
        job.update(message=f"{plural(req.n, 'piece', 'pieces')} with a melody and an accompaniment")
        return jsonable(report)

    params = req.model_dump() | {"primer": label, "uploads": uploads, "model_kind": "polyphonic"}
    job = studio.runner.submit("generate", work, params=params, quick=True, warnings=said)
    return {"job": job.id}


@router.post("/api/melody/train")
def train_melody(req: MelodyTrainRequest, studio: Studio = Depends(current_studio)):
    """Start training a melody model on uploaded MIDI/zip files or a local folder (a background job)."""
    from tunesmith.melody.train import train_melody_model

    if req.folder:
        data_dir = data_folder(studio.data_root, req.folder)
        sources = []
    elif req.uploads:
        sources = [studio.upload(u, PURPOSES["training"])[1] for u in req.uploads]
        data_dir = None
    else:
        raise HTTPException(400, "upload MIDI files (or a zip)" + (" or give a folder of MIDI files" if studio.data_root else ""))
    final = studio.unique_model_dir(req.name)

    def work(job: Job):
        from tunesmith.data.corpus import prepare_corpus

        work_dir = studio.jobs_dir / job.id
        corpus = work_dir / "corpus"
        tmp = studio.models_dir / f".training-{job.id}"
        if data_dir is None:
            corpus.mkdir(parents=True, exist_ok=True)
            for i, src in enumerate(sources):
                if src.is_dir():
                    shutil.copytree(src, corpus / f"zip{i}", dirs_exist_ok=True)
                else:
                    shutil.copy(src, corpus / f"{i:03d}_{src.name}")
        source = data_dir or corpus
        job.update(0.0, "looking for MIDI files")
        try:
            # the studio prepares the corpus itself, so that Cancel reaches the scan and prepare's workers
            files = training_files(studio.data_root or corpus, source, job.stop_event)
            if not files:
                raise BadInputError(f"{req.folder or 'the uploads'}: no MIDI or score files found")
            job.update(0.0, f"preparing the corpus: {plural(len(files), 'file', 'files')}")
            prepare_corpus(source, tmp / "corpus", files=files, progress=False, stop_event=job.stop_event)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(corpus, ignore_errors=True)
            raise

        def on_log(row: dict):
            total = row.get("total_steps") or req.steps
            job.update(
                row["step"] / total,
                f"step {row['step']} / {total}",
                {k: row.get(k) for k in ("step", "split", "loss", "accuracy")},
            )

        try:  # MelodyTraining's fields: config, steps, seed...
            start = {"init_from": "default"} if req.start_from_default else {}
            fields = req.model_dump(exclude=OWN) | start
            result = train_in(tmp, job, train_melody_model, tmp / "corpus", tmp, on_log=on_log, **fields)
        finally:
            shutil.rmtree(corpus, ignore_errors=True)  # a copy of the uploads: not worth keeping
        target, loss_png = studio.install_model(tmp, final)
        job.update(
            message=f"stopped at step {result['step']} of {req.steps}; model saved"
            if job.cancelled
            else f"{result['step']} steps in {result.get('seconds', 0):.0f} s"
        )
        return jsonable(
            {
                "model": target.name,
                "step": result["step"],
                "eval": result.get("eval"),
                "train_melodies": result.get("train_melodies"),
                "seconds": result.get("seconds"),
                "loss_png": loss_png,
            }
        )

    params = req.model_dump() | {
        "model": final.name,
        "folder": data_dir.relative_to(studio.data_root).as_posix() if data_dir else None,
    }
    job = studio.runner.submit("melody-train", work, params=params)
    return {"job": job.id, "model": final.name}


# --- edit a tune: rewrite bars, variations, a melody over chords --------------------------------------
def _edit_tune(studio: Studio, upload: str | None, job_id: str | None, name: str | None):
    """The tune to edit: an uploaded MIDI, ABC or MusicXML tune (kept under its own suffix, which the readers go
    by), or a melody an earlier job wrote; (path, label), or (None, None)."""
    if upload:
        meta, path = studio.upload(upload, PURPOSES["tune"])
        return path, meta["name"]
    if job_id:
        if not ID_RE.match(job_id) or not NAME_RE.match(name or "") or studio.runner.get(job_id) is None:
            raise HTTPException(404, "that result is gone; generate again or upload the tune")
        path = studio.jobs_dir / job_id / f"{name}.mid"
        if not path.is_file():
            raise HTTPException(404, f"{name} is not in that result any more; generate again or upload the tune")
        return path, name
    return None, None


def _roll(melody) -> dict:
    """What the page draws a tune's bars from: its notes in steps, its bar length, and the chord sounding on each
    bar's downbeat when it was written over chords."""
    spb, bars = melody.steps_per_bar, -(-len(melody) // melody.steps_per_bar)
    spans = melody.meta.get("chords") or []
    at = [next((c.symbol for c in spans if c.start <= b * spb < c.end), "") for b in range(bars)]
    return {
        "notes": [[n.pitch, n.start, n.end] for n in melody.notes()],
        "steps_per_bar": spb,
        "bars": bars,
        "chords": at if spans else None,
    }


@router.get("/api/edit/tune")
def edit_tune(
    upload: str | None = None,
    job: str | None = None,
    name: str | None = None,
    model: str = "default",
    studio: Studio = Depends(current_studio),
):
    """A tune's bars and notes as the Edit tab draws them (bar numbers as ``melody infill --bars`` counts them)."""
    from tunesmith.melody.edit import read_tune

    path, label = _edit_tune(studio, upload, job, name)
    if path is None:
        raise HTTPException(400, "choose a tune: upload a MIDI, ABC or MusicXML tune, or pick a melody of the last generation")
    with caught_warnings():
        melody = read_tune(studio.melody_model(model), path)
    return {"name": label, **_roll(melody)}


@router.post("/api/edit")
def edit(req: EditRequest, studio: Studio = Depends(current_studio)):
    """Rewrite chosen bars of a tune (``infill``), make variations (``vary``) or write a melody over chords
    (``over-chords``): ``tunesmith.outputs.compose.edit_to_dir`` as a background job, with renders and piano rolls."""
    from tunesmith.melody.edit import chord_spans, is_chord_file, parse_bars, read_tune
    from tunesmith.music.chords import parse_chord_progression
    from tunesmith.outputs.compose import edit_to_dir

    model = studio.melody_model(req.model)
    path, label = _edit_tune(studio, req.tune_upload, req.tune_job, req.tune_name)
    if req.edit != "over-chords" and path is None:
        raise HTTPException(400, "choose a tune: upload a MIDI, ABC or MusicXML tune, or pick a melody of the last generation")
    if req.edit == "infill" and not req.bars.strip():
        raise HTTPException(400, "choose the bars to rewrite: click them on the tune's bars, or type them (5-6)")
    text = req.progression.strip()
    if text and is_chord_file(text):
        raise HTTPException(400, 'type chord symbols ("C G Am F"); the chords of a file come with “its own chords”')
    chords = str(path) if req.own_chords and path is not None else text or None
    if req.edit == "over-chords" and chords is None:
        raise HTTPException(400, 'type a chord progression, one chord a bar: "C G Am F"')
    with caught_warnings() as said:  # bad bars, chords or tunes are a 400 now, not a failed job
        tune = read_tune(model, path) if path is not None else None
        if tune is not None and req.edit == "infill":
            parse_bars(req.bars, len(tune) // tune.steps_per_bar)
        if tune is not None and chords is not None:
            chord_spans(chords, (tune.steps_per_bar, tune.steps_per_beat), tune.steps_per_quarter)
        elif text:
            parse_chord_progression(text)
    common = {"seed": req.seed, "temperature": req.temperature, "key": req.key or None, "scale": req.scale}
    if req.edit == "infill":
        kwargs = {**common, "bars": req.bars, "chords": chords, "candidates": req.candidates}
    elif req.edit == "vary":
        kwargs = {**common, "strength": req.strength, "chords": chords, "candidates": req.candidates}
    else:
        kwargs = {**common, "chords": chords}
    source = str(path) if path is not None and req.edit != "over-chords" else None

    def work(job: Job):
        out_dir = studio.jobs_dir / job.id
        report = edit_to_dir(
            req.edit,
            model,
            source,
            out_dir,
            req.n,
            formats=req.formats,
            render=req.instruments or None,
            plot=req.plot,
            on_progress=job.update,
            **kwargs,
        )
        melodies = report.pop("melodies")
        for item, melody in zip(report["outputs"], melodies):
            item["urls"] = {k: studio.url(out_dir / v) for k, v in item["files"].items()}
            item["audio"] = [
                {"instrument": k[len("audio_") :], "url": u} for k, u in item["urls"].items() if k.startswith("audio_")
            ]
            item["roll"] = _roll(melody)
        did = {"infill": f"bars {req.bars} rewritten", "vary": f"{req.strength} variations", "over-chords": "over chords"}
        report.update(
            {
                "job": job.id,
                "tune": label if source else None,
                "tune_roll": _roll(tune) if tune is not None and source else None,
                "model": req.model,
                "n": req.n,
                "seed": req.seed,
            }
        )
        job.update(message=f"{plural(req.n, 'version', 'versions')}: {did[req.edit]}")
        return jsonable(report)

    params = req.model_dump() | {"tune": label, "uploads": [req.tune_upload] if req.tune_upload else []}
    job = studio.runner.submit("edit", work, params=params, quick=True, warnings=said)
    return {"job": job.id}
