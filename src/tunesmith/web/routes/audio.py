"""Audio routes: train and run the audio model, and the whole pipeline from one clip (background jobs)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from tunesmith.web.helpers import PURPOSES, jsonable, plain, plural, train_in
from tunesmith.web.jobs import Job
from tunesmith.web.requests import AudioGenerateRequest, AudioTrainRequest, PipelineRequest
from tunesmith.web.studio import Studio, current_studio, primer_text

router = APIRouter()


@router.post("/api/audio/train")
def train_audio(req: AudioTrainRequest, studio: Studio = Depends(current_studio)):
    """Start training a MAGNet-style audio model on an uploaded clip (a background job)."""
    from tunesmith.audio_model.train import train_audio_model

    _, clip = studio.upload(req.clip_upload, PURPOSES["clip"])
    final = studio.unique_model_dir(req.name)
    knobs = req.model_dump(exclude={"name", "clip_upload", "epochs", "seed"})

    def work(job: Job):
        tmp = studio.models_dir / f".training-{job.id}"

        def on_log(row: dict):
            job.update(
                row["step"] / max(1, row.get("total_steps") or 1),
                f"epoch {row.get('epoch', 0):.0f} / {req.epochs}",
                {k: row.get(k) for k in ("step", "split", "loss", "epoch")},
            )

        result = train_in(
            tmp, job, train_audio_model, str(clip), tmp, None, epochs=req.epochs, seed=req.seed, on_log=on_log, **knobs
        )
        target, loss_png = studio.install_model(tmp, final)
        return jsonable(
            {
                "model": target.name,
                "step": result.get("step"),
                "eval": result.get("eval"),
                "seconds": result.get("seconds"),
                "loss_png": loss_png,
            }
        )

    params = req.model_dump() | {"model": final.name, "uploads": [req.clip_upload]}
    job = studio.runner.submit("audio-train", work, params=params)
    return {"job": job.id, "model": final.name}


@router.post("/api/audio/generate")
def generate_audio_route(req: AudioGenerateRequest, studio: Studio = Depends(current_studio)):
    """Start generating audio from a seed clip with a trained audio model (a background job)."""
    from tunesmith.outputs.audio_generation import generate_audio

    model = studio.model_path(req.model, "audio")
    _, clip = studio.upload(req.clip_upload, PURPOSES["clip"])
    settings = req.model_dump(exclude={"model", "clip_upload"})

    def work(job: Job):
        out_dir = studio.jobs_dir / job.id
        job.update(0.0, f"generating {req.seconds:g} s of audio, then spectrograms")
        summary = generate_audio(model, clip, out_dir, **settings, stop_event=job.stop_event, on_progress=job.update)
        job.warn(*(plain(n) for n in summary.get("notes", [])))
        job.update(message=f"{plural(req.n, 'output', 'outputs')} of {req.seconds:g} s")
        return jsonable(
            {
                "outputs": [studio.url(p) for p in summary.get("outputs", [])],
                "spectrograms": [studio.url(p) for p in summary.get("spectrograms", [])],
                "seed_url": studio.url(clip),
                "notes": [plain(n) for n in summary.get("notes", [])],
                "generation_seconds": summary.get("generation_seconds"),
            }
        )

    job = studio.runner.submit("audio-generate", work, params=req.model_dump() | {"uploads": [req.clip_upload]})
    return {"job": job.id}


@router.post("/api/pipeline")
def pipeline(req: PipelineRequest, studio: Studio = Depends(current_studio)):
    """Start the whole chain from one clip to a gallery page (a background job with progress and cancel)."""
    from tunesmith.pipeline import run_pipeline

    if not req.instruments:  # the library would take its default three; an empty choice is refused instead
        raise HTTPException(400, "tick at least one instrument under “Render with”: the pipeline renders every melody")
    _, clip = studio.upload(req.clip_upload, PURPOSES["clip"])
    if req.audio_model in ("train", "none"):  # train one on the clip / skip the audio model
        audio_model = req.audio_model
    else:
        audio_model = str(studio.model_path(req.audio_model, "audio"))
    melody_model = str(studio.model_path(req.melody_model, "melody"))
    primer = primer_text(req.primer) if req.primer else None
    if req.over_chords:  # typed chord symbols only (a file name would read a file of this server); checked now
        from tunesmith.melody.edit import is_chord_file
        from tunesmith.pipeline import check_over_chords

        if is_chord_file(req.over_chords):
            raise HTTPException(400, 'type chord symbols for “over chords” ("C G Am F C F G C"), not a file name')
        check_over_chords(req.over_chords, primer, req.meter)
    settings = req.model_dump(exclude={"clip_upload", "audio_model", "melody_model", "primer"})
    settings["key"] = req.key or None  # the menu's "any" is an empty key
    if req.bars:  # bars (the whole melody) wins over the default of new steps
        settings["steps"] = None

    def work(job: Job):
        out_dir = studio.jobs_dir / job.id
        result = run_pipeline(
            str(clip),
            out_dir,
            audio_model=audio_model,
            melody_model=melody_model,
            primer=primer,
            progress=False,
            on_progress=job.update,
            stop_event=job.stop_event,
            **settings,
        )
        notes = [plain(n) for n in result.get("notes", [])]
        job.warn(*notes)
        job.update(message=f"{plural(req.n, 'melody', 'melodies')} in {result.get('seconds', 0):.0f} s")
        return {"index": studio.url(result["index"]), "notes": notes}

    job = studio.runner.submit("pipeline", work, params=req.model_dump() | {"uploads": [req.clip_upload]})
    return {"job": job.id}
