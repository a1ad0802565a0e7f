"""The local web studio: one page over the library (generate, train, audio model, pipeline).

Thin on purpose: every action is one library call. The server only checks uploads (size, type by
content, safe names), runs long calls as background jobs, and serves result files from inside its
work folder. ``create_app(workdir)`` builds the FastAPI app from the route modules (``web/routes/``:
files, melody, audio, jobs), each handed the one ``Studio`` (``web/studio.py``) as a dependency;
``serve()`` runs it with uvicorn. Request bodies are built from the settings dataclasses (``web/requests.py``).

Training data comes from uploads, and from folders on this computer only under the one folder the user
named when starting the server (``tunesmith web --data-root DIR``); without it the folder field is off.
A folder is resolved (symlinks followed) and must stay inside that root.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith.core.errors import TunesmithError
from tunesmith.web.helpers import LOCAL_HOSTS, STATIC, GuardRequests, LimitBody, inside, plain, safe_name
from tunesmith.web.jobs import INTERNAL_ERROR
from tunesmith.web.studio import Studio, problem

__all__ = ["create_app", "inside", "plain", "safe_name", "serve"]


def create_app(
    workdir: Path,
    max_upload_mb: float = 50.0,
    models_dir: Path | None = None,
    *,
    keep_results: int = 100,
    max_work_mb: float = 2000.0,
    allowed_hosts: list[str] | tuple[str, ...] = (),
    data_root: str | os.PathLike | None = None,
) -> FastAPI:
    """The studio app, keeping uploads, jobs and (unless ``models_dir``) trained models under ``workdir``.

    ``keep_results`` and ``max_work_mb`` bound the work folder (oldest results go first); requests must name
    this machine in their Host header (127.0.0.1, localhost, [::1] or one of ``allowed_hosts``).
    ``data_root``: the one folder whose sub-folders the page may train on; None (the default): uploads only.
    """
    studio = Studio(
        Path(workdir),
        max_upload_mb,
        models_dir,
        keep_results=keep_results,
        max_work_mb=max_work_mb,
        data_root=Path(data_root) if data_root else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.runner.shutdown()

    # no /api/docs: FastAPI's docs page loads its scripts from a CDN, and the studio fetches nothing
    app = FastAPI(title="tunesmith studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.studio = studio
    app.add_middleware(LimitBody, max_bytes=studio.max_bytes)
    app.add_middleware(GuardRequests, allowed_hosts={*LOCAL_HOSTS, *allowed_hosts})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": plain(str(exc.detail))}, status_code=exc.status_code)

    @app.exception_handler(TunesmithError)
    async def _library_error(request: Request, exc: TunesmithError):
        return JSONResponse({"error": plain(str(exc))}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": f"bad request: {'; '.join(problem(e) for e in exc.errors())}"}, status_code=422)

    @app.middleware("http")
    async def _never_crash(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception:  # the page shows a plain message; the details go to the terminal
            traceback.print_exc()
            return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    from tunesmith.web.routes import audio, files, jobs, melody

<<<<<<< HEAD
    @app.get("/files/{path:path}", include_in_schema=False)
    def files(path: str):
        target = inside(studio.workdir, path)
        if target is None:
            raise HTTPException(404, "no such file")
        return FileResponse(target)

    @app.get("/model-files/{path:path}", include_in_schema=False)
    def model_files(path: str):
        target = inside(studio.models_dir, path)
        if target is None or target.suffix.lower() not in (".png", ".html", ".json", ".jsonl"):
            raise HTTPException(404, "no such file")
        return FileResponse(target)

    @app.get("/api/info")
    def info():
        """Choices for the page's menus."""
        from tunesmith.audio_model.model import LOSSES, OPTIMIZERS
        from tunesmith.melody.model import CONFIGS
        from tunesmith.music.instruments import INSTRUMENTS
        from tunesmith.music.notes import SCALES

        return {
            "instruments": list(INSTRUMENTS),
            "scales": list(SCALES),
            "melody_configs": list(CONFIGS),
            "audio_losses": list(LOSSES),
            "audio_optimizers": list(OPTIMIZERS),
            "max_upload_mb": studio.max_bytes / 2**20,
            "keep_results": studio.keep_results,
            "max_work_mb": studio.max_work_bytes / 2**20,
            # training folders: only under the folder given with --data-root (its name only; none: uploads only)
            "data_root": studio.data_root.name or "/" if studio.data_root else None,
            # the forms start from the same defaults as the CLI and the library (tunesmith.defaults);
            # None: the audio model's own setting (its config)
            "defaults": {
                form: {k: f.get_default(call_default_factory=True) for k, f in request.model_fields.items()}
                for form, request in (
                    ("audio-train-form", AudioTrainRequest),
                    ("audio-gen-form", AudioGenerateRequest),
                    ("pipe-form", PipelineRequest),
                )
            },
        }

    @app.get("/api/models")
    def models():
        return {"models": studio.list_models()}

    @app.post("/api/uploads")
    def upload(file: UploadFile = File(...), purpose: Literal["primer", "training", "clip"] | None = None):
        """Store one MIDI / zip / audio file after checking its content; returns its id for later calls."""
        data = file.file.read(studio.max_bytes + 1)
        if len(data) > studio.max_bytes:
            raise HTTPException(413, f"upload too large: the limit is {studio.max_bytes / 2**20:g} MB")
        return studio.save_upload(data, file.filename, purpose)

    @app.post("/api/generate")
    def generate(req: GenerateRequest):
        """Continue a primer into melodies with renders and piano rolls (a background job with progress and cancel)."""
        from tunesmith.outputs.compose import generate_to_dir

        model = studio.melody_model(req.model)
        uploads = []
        if req.primer_upload:
            meta, source = studio.upload(req.primer_upload, PURPOSES["primer"])
            label, uploads = meta["name"], [req.primer_upload]
        else:
            source = _primer_text(req.primer) or None
            label = source
        # parsed here, so that a bad primer is a 400 now; the last ``primer_bars`` bars are kept. What the library
        # warns about (notes moved by octaves, a long primer cut to its last bars) goes to the page with the job
        with caught_warnings() as said:
            primer = model.prepare_primer(source, primer_bars=req.primer_bars, seed=req.seed)
        settings = req.model_dump(exclude={"model", "primer", "primer_upload", "primer_bars", "n", "steps", "instruments"})
        settings.pop("plot"), settings.pop("video")
        settings["key"] = req.key or None  # the menu's "any" is an empty key

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
                    steps=req.steps,  # new steps after the primer, as the library counts them
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

    @app.post("/api/melody/train")
    def train_melody(req: MelodyTrainRequest):
        """Start training a melody model on uploaded MIDI/zip files or a local folder (a background job)."""
        from tunesmith.melody.train import train_melody_model

        if req.folder:
            data_dir = data_folder(studio.data_root, req.folder)
            sources = []
        elif req.uploads:
            sources = [studio.upload(u, PURPOSES["training"])[1] for u in req.uploads]
            data_dir = None
        else:
            raise HTTPException(
                400, "upload MIDI files (or a zip)" + (" or give a folder of MIDI files" if studio.data_root else "")
            )
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

            try:
                result = train_melody_model(
                    tmp / "corpus",
                    tmp,
                    req.config,
                    steps=req.steps,
                    seed=req.seed,
                    batch_size=req.batch_size,
                    progress=False,
                    stop_event=job.stop_event,
                    on_log=on_log,
                )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            finally:
                shutil.rmtree(corpus, ignore_errors=True)  # a copy of the uploads: not worth keeping
            target = final if not final.exists() else studio.unique_model_dir(final.name)
            os.replace(tmp, target)
            _redraw_loss(target)
            loss = target / "plots" / "loss.png"
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
                    "loss_png": studio.url(loss) if loss.is_file() else None,
                }
            )

        params = req.model_dump() | {
            "model": final.name,
            "folder": data_dir.relative_to(studio.data_root).as_posix() if data_dir else None,
        }
        job = studio.runner.submit("melody-train", work, params=params)
        return {"job": job.id, "model": final.name}

    @app.post("/api/audio/train")
    def train_audio(req: AudioTrainRequest):
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

            try:
                result = train_audio_model(
                    str(clip),
                    tmp,
                    None,
                    epochs=req.epochs,
                    seed=req.seed,
                    progress=False,
                    stop_event=job.stop_event,
                    on_log=on_log,
                    **knobs,
                )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            target = final if not final.exists() else studio.unique_model_dir(final.name)
            os.replace(tmp, target)
            _redraw_loss(target)
            loss = target / "plots" / "loss.png"
            return jsonable(
                {
                    "model": target.name,
                    "step": result.get("step"),
                    "eval": result.get("eval"),
                    "seconds": result.get("seconds"),
                    "loss_png": studio.url(loss) if loss.is_file() else None,
                }
            )

        params = req.model_dump() | {"model": final.name, "uploads": [req.clip_upload]}
        job = studio.runner.submit("audio-train", work, params=params)
        return {"job": job.id, "model": final.name}

    @app.post("/api/audio/generate")
    def generate_audio_route(req: AudioGenerateRequest):
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

    @app.post("/api/pipeline")
    def pipeline(req: PipelineRequest):
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
        primer = _primer_text(req.primer) if req.primer else None
        settings = req.model_dump(exclude={"clip_upload", "audio_model", "melody_model", "primer"})

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

    @app.get("/api/jobs")
    def job_list(limit: int = Query(50, ge=1, le=1000)):
        """The job history, newest first, without the log rows (the page asks each job for those)."""
        jobs = []
        for job in studio.runner.list()[:limit]:
            data = job.to_dict()
            data.pop("log")
            jobs.append(data)
        return {"jobs": jobs}

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str, since: int = Query(0, ge=0)):
        job = studio.runner.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (the oldest results are removed to keep the work folder small)")
        return job.to_dict(since=since)

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        job = studio.runner.cancel(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job.to_dict()

    return app


def plural(count: int, one: str, many: str) -> str:
    """``1 melody``, ``2 melodies``."""
    return f"{count} {one if count == 1 else many}"


def _redraw_loss(model_dir: Path) -> None:
    """Redraw the loss curve after the move out of the temp folder, so its title names the model."""
    from tunesmith.core.figures import save_loss_curve

    try:
        save_loss_curve(model_dir)
    except Exception as exc:  # a plot never loses a trained model
        print(f"note: loss curve not redrawn ({exc})")


=======
    for routes in (files, melody, audio, jobs):
        app.include_router(routes.router)
    return app


>>>>>>> front
def _machine_names(host: str) -> list[str]:
    """Names a browser may use for this machine when the studio listens on every interface."""
    import socket

    if host not in ("0.0.0.0", "::", ""):
        return [host]
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return sorted(names)


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: float = 50.0,
    workdir: str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None,
    keep_results: int = 100,
    max_work_mb: float = 2000.0,
    data_root: str | os.PathLike | None = None,
) -> None:
    """Run the studio with uvicorn (local only by default); ``workdir`` defaults to ~/.tunesmith/studio.

    ``data_root``: the folder whose sub-folders the page may train on (default: none, uploads only)."""
    import uvicorn

    workdir = Path(workdir) if workdir else Path(os.environ.get("TUNESMITH_HOME", Path.home() / ".tunesmith")) / "studio"
    app = create_app(
        workdir,
        max_upload_mb=max_upload_mb,
        models_dir=Path(models_dir) if models_dir else None,
        keep_results=keep_results,
        max_work_mb=max_work_mb,
        allowed_hosts=_machine_names(host),
        data_root=data_root,
    )
    folders = f"training folders under {Path(data_root).expanduser().resolve()}" if data_root else "training from uploads only"
    print(f"tunesmith studio: http://{host}:{port}/  (work folder {workdir}; {folders}; Ctrl+C stops it)")
    started = time.perf_counter()
    uvicorn.run(app, host=host, port=port, log_level="warning")
    print(f"studio stopped after {time.perf_counter() - started:.0f} s")
