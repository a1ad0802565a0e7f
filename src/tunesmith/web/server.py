"""The local web studio: one page over the library (generate, train, audio model, pipeline).

Thin on purpose: every action is one library call. The server only checks uploads (size, type by
content, safe names), runs long calls as background jobs, and serves result files from inside its
work folder. ``create_app(workdir)`` builds the FastAPI app; ``serve()`` runs it with uvicorn.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith import defaults
from tunesmith.errors import BadInputError, TunesmithError
from tunesmith.web.jobs import Job, JobRunner

STATIC = Path(__file__).parent / "static"
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a")
AUDIO_FORMAT_SUFFIX = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3", "AIFF": ".aiff"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
ID_RE = re.compile(r"^[0-9a-f]{32}$")


# --- small helpers (names, paths, optional library parts) ------------------------------------
def safe_name(name: str | None, default: str = "file") -> str:
    """A file name that cannot climb out of its folder: last path part, safe characters, no leading dot."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:80]
    return base or default


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is an existing file inside ``root`` (resolved, symlinks followed), else None."""
    parts = relative.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") or "\x00" in p for p in parts):
        return None
    root = root.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def optional(module: str, attr: str):
    """An attribute of a library module, or None while that part is not written/installed yet."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def accepts(fn, name: str) -> bool:
    """Whether ``fn`` takes a keyword named ``name`` explicitly (not just through ``**kwargs``)."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def jsonable(obj: Any) -> Any:
    """Results as JSON: paths become strings, anything else unknown becomes its repr."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item):
        try:
            return obj.item()
        except (TypeError, ValueError):
            pass
    return repr(obj)


class UploadTooLarge(ValueError):
    pass


class LimitBody:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, by header and while streaming."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"upload too large: the limit is {self.max_bytes / 2**20:g} MB (tunesmith web --max-upload-mb raises it)"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await JSONResponse({"error": self._message()}, status_code=413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        return await self.app(scope, limited, send)


# --- request bodies ----------------------------------------------------------------------------
class GenerateRequest(BaseModel):
    model: str = "default"
    primer: str = ""
    primer_upload: str | None = None
    n: int = Field(1, ge=1, le=16)
    steps: int = Field(128, ge=1, le=2048)
    temperature: float = Field(1.0, gt=0, le=10)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    beam_size: int = Field(1, ge=1, le=16)
    key: str | None = None
    scale: str = "major"
    seed: int = Field(0, ge=0)
    instruments: list[str] = Field(default_factory=lambda: ["piano"], max_length=8)
    plot: bool = True


class MelodyTrainRequest(BaseModel):
    name: str = "my-melody-model"
    uploads: list[str] = Field(default_factory=list)
    folder: str | None = None
    config: str = "basic_rnn"
    steps: int = Field(200, ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=1024)
    seed: int = Field(0, ge=0)


class AudioTrainRequest(BaseModel):
    name: str = "my-audio-model"
    clip_upload: str
    epochs: int = Field(defaults.AUDIO_EPOCHS, ge=1, le=10_000)
    layers: int = Field(2, ge=1, le=8)
    units: int = Field(128, ge=1, le=4096)
    loss: str = "mse"
    optimizer: str = "adam"
    learning_rate: float = Field(1e-3, gt=0, le=1)
    sequence_length: int = Field(40, ge=1, le=2048)
    batch_size: int = Field(64, ge=1, le=4096)
    seed: int = Field(0, ge=0)


class AudioGenerateRequest(BaseModel):
    model: str
    clip_upload: str
    seconds: float = Field(defaults.AUDIO_SECONDS, gt=0, le=120)
    n: int = Field(defaults.AUDIO_OUTPUTS, ge=1, le=8)
    seed_offset: float = Field(0.0, ge=0)
    # None: the model's own setting (its config), as the CLI and the pipeline do
    random_chance: float | None = Field(None, ge=0, le=1)
    impulse_scale: float | None = Field(None, ge=0, le=10)
    temperature: float | None = Field(None, ge=0, le=5)
    level_control: bool | None = None
    griffin_lim_iters: int = Field(defaults.GRIFFIN_LIM_ITERS, ge=1, le=500)
    seed: int = Field(0, ge=0)


class PipelineRequest(BaseModel):
    clip_upload: str
    audio_model: str = defaults.PIPELINE_AUDIO_MODEL
    melody_model: str = defaults.PIPELINE_MELODY_MODEL
    primer: str | None = None
    instruments: list[str] = Field(default_factory=lambda: list(defaults.PIPELINE_INSTRUMENTS), max_length=8)
    n: int = Field(defaults.PIPELINE_OUTPUTS, ge=1, le=16)
    steps: int = Field(defaults.PIPELINE_STEPS, ge=1, le=2048)
    temperature: float = Field(defaults.PIPELINE_TEMPERATURE, gt=0, le=10)
    seconds: float = Field(defaults.PIPELINE_SECONDS, gt=0, le=120)
    audio_epochs: int = Field(defaults.PIPELINE_AUDIO_EPOCHS, ge=1, le=10_000)
    seed: int = Field(0, ge=0)


# --- the studio: state shared by the endpoints ------------------------------------------------
class Studio:
    """Folders, the job runner and a cache of loaded melody models."""

    def __init__(self, workdir: Path, max_upload_mb: float, models_dir: Path | None):
        self.workdir = Path(workdir).resolve()
        self.models_dir = Path(models_dir).resolve() if models_dir else self.workdir / "models"
        self.uploads = self.workdir / "uploads"
        self.jobs_dir = self.workdir / "jobs"
        for d in (self.workdir, self.models_dir, self.uploads, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_upload_mb * 2**20)
        self.runner = JobRunner(workers=2)
        self._models: dict[str, tuple[float, Any]] = {}
        self._models_lock = threading.Lock()

    # urls for files we wrote
    def url(self, path: str | os.PathLike) -> str | None:
        path = Path(path).resolve()
        for root, prefix in ((self.workdir, "/files/"), (self.models_dir, "/model-files/")):
            if path.is_relative_to(root):
                return prefix + quote(path.relative_to(root).as_posix())
        return None

    def new_job_dir(self, job_id: str | None = None) -> tuple[str, Path]:
        job_id = job_id or uuid.uuid4().hex
        path = self.jobs_dir / job_id
        path.mkdir(parents=True, exist_ok=False)
        return job_id, path

    # models
    def list_models(self) -> list[dict]:
        from tunesmith.assets import BUNDLED

        out, seen = [], set()
        for name, path in BUNDLED.items():
            if name == "melody-default" or not (path / "config.json").is_file() or path in seen:
                continue
            seen.add(path)
            out.append(self._describe(name, path, bundled=True))
        for path in sorted(self.models_dir.iterdir()):
            if path.name.startswith(".") or not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
                continue
            out.append(self._describe(path.name, path, bundled=False))
        return out

    def _describe(self, name: str, path: Path, bundled: bool) -> dict:
        try:
            data = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        loss = path / "plots" / "loss.png"
        return {
            "name": name,
            "kind": data.get("kind", "unknown"),
            "config": (data.get("config") or {}).get("name"),
            "bundled": bundled,
            "loss_png": self.url(loss) if loss.is_file() and not bundled else None,
        }

    def model_path(self, name: str, kind: str) -> Path:
        from tunesmith.assets import BUNDLED

        if name in BUNDLED and (BUNDLED[name] / "config.json").is_file():
            path = BUNDLED[name]
        elif NAME_RE.match(name or "") and (self.models_dir / name / "config.json").is_file():
            path = self.models_dir / name
        else:
            raise HTTPException(404, f"no {kind} model named {name!r}; train one first or pick another from the list")
        found = self._describe(name, path, False)["kind"]
        if found != kind:
            raise HTTPException(400, f"{name!r} is a {found} model, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} model")
        return path

    def melody_model(self, name: str):
        """A loaded MelodyModel, cached until its weights file changes (loading is thread-safe)."""
        from tunesmith.melody.generate import load_melody_model

        path = self.model_path(name, "melody")
        stamp = (path / "model.safetensors").stat().st_mtime
        with self._models_lock:
            cached = self._models.get(str(path))
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_melody_model(path))
                self._models[str(path)] = cached
            return cached[1]

    def unique_model_dir(self, name: str) -> Path:
        base = safe_name(name, "model")
        path, i = self.models_dir / base, 2
        while path.exists():
            path, i = self.models_dir / f"{base}-{i}", i + 1
        return path

    # uploads
    def save_upload(self, data: bytes, filename: str | None) -> dict:
        """Check an upload by its content (MIDI, zip of MIDI, or audio) and keep it under uploads/<id>/."""
        name = safe_name(filename, "upload")
        if not data:
            raise BadInputError(f"{name}: the upload is empty (0 bytes)")
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        try:
            meta = self._check_upload(data, name, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        meta.update({"id": upload_id, "name": name, "bytes": len(data)})
        (folder / "upload.json").write_text(json.dumps(meta))
        return meta

    def _check_upload(self, data: bytes, name: str, folder: Path) -> dict:
        from tunesmith.music.midi import score_from_bytes

        stem, suffix = Path(name).stem or "upload", Path(name).suffix.lower()
        if data[:4] == b"MThd" or suffix in MIDI_SUFFIXES:
            score = score_from_bytes(data, name)
            (folder / f"{stem}.mid").write_bytes(data)
            return {"kind": "midi", "path": f"{stem}.mid", "notes": int(score.note_num())}
        if data[:4] == b"PK\x03\x04":
            return self._unzip(data, name, folder)
        path = folder / name
        path.write_bytes(data)
        try:
            import soundfile

            info = soundfile.info(str(path))
            with soundfile.SoundFile(str(path)) as f:
                f.read(min(4096, max(1, info.frames)))
            if info.frames <= 0:
                raise ValueError("no audio frames")
        except Exception as exc:
            raise BadInputError(f"{name}: not a MIDI file, a zip of MIDI files, or audio that can be decoded ({exc})") from None
        if suffix not in AUDIO_SUFFIXES:
            fixed = path.with_suffix(AUDIO_FORMAT_SUFFIX.get(info.format, ".wav"))
            path = path.rename(fixed)
        return {
            "kind": "audio",
            "path": path.name,
            "seconds": round(info.frames / info.samplerate, 3),
            "sample_rate": info.samplerate,
            "url": self.url(path),
        }

    def _unzip(self, data: bytes, name: str, folder: Path) -> dict:
        """Keep the zip's MIDI files (checked by content, flat safe names); report what was skipped."""
        from tunesmith.music.midi import score_from_bytes

        out = folder / "midi"
        out.mkdir()
        kept, skipped, total = [], [], 0
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    entry = safe_name(info.filename)
                    if Path(entry).suffix.lower() not in MIDI_SUFFIXES:
                        skipped.append(f"{info.filename}: not a MIDI file name")
                        continue
                    total += info.file_size
                    if total > 4 * self.max_bytes:
                        raise BadInputError(f"{name}: unpacks to more than {4 * self.max_bytes / 2**20:g} MB; split it up")
                    blob = zf.read(info)
                    try:
                        score_from_bytes(blob, f"{name}/{info.filename}")
                    except BadInputError as exc:
                        skipped.append(str(exc))
                        continue
                    target = out / entry
                    if target.exists():
                        target = out / f"{len(kept):04d}_{entry}"
                    target.write_bytes(blob)
                    kept.append(target.name)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
            raise BadInputError(f"{name}: corrupt or unsupported zip file ({exc})") from None
        if not kept:
            raise BadInputError(f"{name}: the zip holds no usable MIDI file" + (f" ({skipped[0]})" if skipped else ""))
        return {"kind": "zip", "path": "midi", "files": len(kept), "skipped": skipped[:50]}

    def upload(self, upload_id: str | None, kinds: tuple[str, ...]) -> tuple[dict, Path]:
        if not upload_id or not ID_RE.match(upload_id) or not (self.uploads / upload_id / "upload.json").is_file():
            raise HTTPException(404, "that upload is gone; upload the file again")
        meta = json.loads((self.uploads / upload_id / "upload.json").read_text())
        if meta["kind"] not in kinds:
            raise HTTPException(400, f"{meta['name']} is {meta['kind']}; this needs {' or '.join(kinds)}")
        return meta, self.uploads / upload_id / meta["path"]


def _primer_text(text: str) -> str:
    """Typed primers are notes or event lists; a file must come through an upload, never a server path."""
    from tunesmith.music.midi import SCORE_SUFFIXES

    text = text.strip()
    if "/" in text or "\\" in text or Path(text).suffix.lower() in MIDI_SUFFIXES + AUDIO_SUFFIXES + SCORE_SUFFIXES:
        raise HTTPException(400, "type note names (C#4 E4 G4) or an event list ([60, -2, 62, -1]); upload files instead")
    return text


# --- the app ------------------------------------------------------------------------------------
def create_app(workdir: Path, max_upload_mb: float = 50.0, models_dir: Path | None = None) -> FastAPI:
    """The studio app, keeping uploads, jobs and (unless ``models_dir``) trained models under ``workdir``."""
    studio = Studio(Path(workdir), max_upload_mb, models_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.runner.shutdown()

    app = FastAPI(title="tunesmith studio", docs_url="/api/docs", redoc_url=None, lifespan=lifespan)
    app.state.studio = studio
    app.add_middleware(LimitBody, max_bytes=studio.max_bytes)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(TunesmithError)
    async def _library_error(request: Request, exc: TunesmithError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(ImportError)
    async def _missing_part(request: Request, exc: ImportError):
        return JSONResponse({"error": f"this part of tunesmith is not installed yet ({exc})"}, status_code=501)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'body'}: {e.get('msg')}" for e in exc.errors())
        return JSONResponse({"error": f"bad request: {problems}"}, status_code=422)

    @app.middleware("http")
    async def _never_crash(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as exc:  # the page shows a message instead of a dead request
            return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

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
        """Choices for the page's menus and which optional parts of the library exist."""
        from tunesmith.melody.model import CONFIGS
        from tunesmith.music.notes import SCALES
        from tunesmith.render import INSTRUMENTS

        audio_model = optional("tunesmith.audio_model.model", "LOSSES")
        return {
            "instruments": list(INSTRUMENTS),
            "scales": list(SCALES),
            "melody_configs": list(CONFIGS),
            "audio_losses": list(audio_model or ()),
            "audio_optimizers": list(optional("tunesmith.audio_model.model", "OPTIMIZERS") or ()),
            "features": {
                "audio_model": optional("tunesmith.audio_model", "train_audio_model") is not None,
                "pipeline": optional("tunesmith.pipeline", "run_pipeline") is not None,
                "audio_primer": optional("tunesmith.transcribe", "transcribe") is not None,
            },
            "max_upload_mb": studio.max_bytes / 2**20,
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
    def upload(file: UploadFile = File(...)):
        """Store one MIDI / zip / audio file after checking its content; returns its id for later calls."""
        data = file.file.read(studio.max_bytes + 1)
        if len(data) > studio.max_bytes:
            raise HTTPException(413, f"upload too large: the limit is {studio.max_bytes / 2**20:g} MB")
        return studio.save_upload(data, file.filename)

    @app.post("/api/generate")
    def generate(req: GenerateRequest):
        """Continue a primer into melodies with renders and piano rolls (fast: runs in the request)."""
        from tunesmith.compose import generate_to_dir

        if req.primer_upload:
            primer = studio.upload(req.primer_upload, ("midi", "audio"))[1]
        else:
            primer = _primer_text(req.primer) or None
        model = studio.melody_model(req.model)
        job_id, out_dir = studio.new_job_dir()
        report = generate_to_dir(
            model,
            primer,
            out_dir,
            req.n,
            render=req.instruments or None,
            plot=req.plot,
            steps=req.steps,
            temperature=req.temperature,
            top_k=req.top_k,
            top_p=req.top_p,
            beam_size=req.beam_size,
            key=(req.key or None),
            scale=req.scale,
            seed=req.seed,
        )
        report.pop("melodies", None)
        for item in report["outputs"]:
            item["urls"] = {k: studio.url(out_dir / v) for k, v in item["files"].items()}
            item["audio"] = [
                {"instrument": k[len("audio_") :], "url": u} for k, u in item["urls"].items() if k.startswith("audio_")
            ]
        report.update({"job": job_id, "primer": req.primer if not req.primer_upload else "uploaded file", "model": req.model})
        return jsonable(report)

    @app.post("/api/melody/train")
    def train_melody(req: MelodyTrainRequest):
        """Start training a melody model on uploaded MIDI/zip files or a local folder (a background job)."""
        from tunesmith.melody.train import train_melody_model

        if req.folder:
            data_dir = Path(req.folder).expanduser()
            if not data_dir.is_dir():
                raise HTTPException(400, f"{req.folder}: no such folder on this computer")
            sources = []
        elif req.uploads:
            sources = [studio.upload(u, ("midi", "zip"))[1] for u in req.uploads]
            data_dir = None
        else:
            raise HTTPException(400, "upload MIDI files (or a zip) or give a folder of MIDI files")
        final = studio.unique_model_dir(req.name)

        def work(job: Job):
            work_dir = studio.jobs_dir / job.id
            if data_dir is None:
                corpus = work_dir / "corpus"
                corpus.mkdir(parents=True, exist_ok=True)
                for i, src in enumerate(sources):
                    if src.is_dir():
                        shutil.copytree(src, corpus / f"zip{i}", dirs_exist_ok=True)
                    else:
                        shutil.copy(src, corpus / f"{i:03d}_{src.name}")
            tmp = studio.models_dir / f".training-{job.id}"
            job.update(0.0, "preparing the corpus")

            def on_log(row: dict):
                total = row.get("total_steps") or req.steps
                job.update(
                    row["step"] / total,
                    f"step {row['step']} / {total}",
                    {k: row.get(k) for k in ("step", "split", "loss", "accuracy")},
                )

            try:
                result = train_melody_model(
                    data_dir or corpus,
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

        job = studio.runner.submit("melody-train", work)
        return {"job": job.id, "model": final.name}

    @app.post("/api/audio/train")
    def train_audio(req: AudioTrainRequest):
        """Start training a MAGNet-style audio model on an uploaded clip (a background job)."""
        train_audio_model = optional("tunesmith.audio_model.train", "train_audio_model")
        if train_audio_model is None:
            raise HTTPException(501, "the audio model is not part of this install yet")
        _, clip = studio.upload(req.clip_upload, ("audio",))
        final = studio.unique_model_dir(req.name)
        knobs = req.model_dump(exclude={"name", "clip_upload", "epochs", "seed"})

        def work(job: Job):
            tmp = studio.models_dir / f".training-{job.id}"
            extra = {}
            if accepts(train_audio_model, "stop_event"):
                extra["stop_event"] = job.stop_event
            if accepts(train_audio_model, "on_log"):
                extra["on_log"] = lambda row: job.update(
                    row["step"] / max(1, row.get("total_steps") or 1),
                    f"epoch {row.get('epoch', 0):.0f} / {req.epochs}",
                    {k: row.get(k) for k in ("step", "split", "loss", "epoch")},
                )
            done = threading.Event()
            if "on_log" not in extra:  # older trainer: follow its log file instead
                threading.Thread(target=_follow_log, args=(tmp, job, req.epochs, done), daemon=True).start()
            try:
                result = train_audio_model(
                    str(clip), tmp, None, epochs=req.epochs, seed=req.seed, progress=False, **knobs, **extra
                )
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            finally:
                done.set()
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

        job = studio.runner.submit("audio-train", work)
        return {"job": job.id, "model": final.name, "cancel_supported": accepts(train_audio_model, "stop_event")}

    @app.post("/api/audio/generate")
    def generate_audio_route(req: AudioGenerateRequest):
        """Start generating audio from a seed clip with a trained audio model (a background job)."""
        generate_audio = optional("tunesmith.audio_model.generate", "generate_audio")
        if generate_audio is None:
            raise HTTPException(501, "the audio model is not part of this install yet")
        model = studio.model_path(req.model, "audio")
        _, clip = studio.upload(req.clip_upload, ("audio",))
        settings = req.model_dump(exclude={"model", "clip_upload"})

        def work(job: Job):
            out_dir = studio.jobs_dir / job.id
            job.update(0.1, "generating frames")
            summary = generate_audio(model, clip, out_dir, **settings)
            return jsonable(
                {
                    "outputs": [studio.url(p) for p in summary.get("outputs", [])],
                    "spectrograms": [studio.url(p) for p in summary.get("spectrograms", [])],
                    "seed_url": studio.url(clip),
                    "notes": summary.get("notes", []),
                    "generation_seconds": summary.get("generation_seconds"),
                }
            )

        job = studio.runner.submit("audio-generate", work)
        return {"job": job.id}

    @app.post("/api/pipeline")
    def pipeline(req: PipelineRequest):
        """Start the whole chain from one clip to a gallery page (a background job)."""
        run_pipeline = optional("tunesmith.pipeline", "run_pipeline")
        if run_pipeline is None:
            raise HTTPException(501, "the pipeline is not part of this install yet")
        _, clip = studio.upload(req.clip_upload, ("audio",))
        if req.audio_model in ("train", "none"):  # train one on the clip / skip the audio model
            audio_model = req.audio_model
        else:
            audio_model = str(studio.model_path(req.audio_model, "audio"))
        melody_model = str(studio.model_path(req.melody_model, "melody"))
        primer = _primer_text(req.primer) if req.primer else None
        settings = req.model_dump(exclude={"clip_upload", "audio_model", "melody_model", "primer"})

        def work(job: Job):
            out_dir = studio.jobs_dir / job.id
            extra = {"stop_event": job.stop_event} if accepts(run_pipeline, "stop_event") else {}
            job.update(0.05, "running the pipeline (audio model, transcription, melodies, renders)")
            result = run_pipeline(
                str(clip),
                out_dir,
                audio_model=audio_model,
                melody_model=melody_model,
                primer=primer,
                progress=False,
                **settings,
                **extra,
            )
            index = result.get("index") if isinstance(result, dict) else None
            return {"index": studio.url(index) if index else None, "summary": jsonable(result)}

        job = studio.runner.submit("pipeline", work)
        return {"job": job.id, "cancel_supported": accepts(run_pipeline, "stop_event")}

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str, since: int = 0):
        job = studio.runner.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (finished jobs are forgotten when the studio restarts)")
        return job.to_dict(since=max(0, since))

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        job = studio.runner.cancel(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job.to_dict()

    return app


def _redraw_loss(model_dir: Path) -> None:
    """Redraw the loss curve after the move out of the temp folder, so its title names the model."""
    save_loss_curve = optional("tunesmith.plots", "save_loss_curve")
    if save_loss_curve is not None:
        try:
            save_loss_curve(model_dir)
        except Exception as exc:  # a plot never loses a trained model
            print(f"note: loss curve not redrawn ({exc})")


def _follow_log(model_dir: Path, job: Job, epochs: int, done: threading.Event) -> None:
    """Progress for trainers without ``on_log``: read their ``log.jsonl`` once a second."""
    from tunesmith.training import read_log

    seen = 0
    while not done.wait(1.0):
        rows = read_log(model_dir)
        for row in rows[seen:]:
            job.update(
                min(0.99, row.get("epoch", 0) / max(1, epochs)),
                f"epoch {row.get('epoch', 0):.0f} / {epochs}",
                {k: row.get(k) for k in ("step", "split", "loss", "epoch")},
            )
        seen = len(rows)


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: float = 50.0,
    workdir: str | os.PathLike | None = None,
    models_dir: str | os.PathLike | None = None,
) -> None:
    """Run the studio with uvicorn (local only by default); ``workdir`` defaults to ~/.tunesmith/studio."""
    import uvicorn

    workdir = Path(workdir) if workdir else Path(os.environ.get("TUNESMITH_HOME", Path.home() / ".tunesmith")) / "studio"
    app = create_app(workdir, max_upload_mb=max_upload_mb, models_dir=Path(models_dir) if models_dir else None)
    print(f"tunesmith studio: http://{host}:{port}/  (work folder {workdir}; Ctrl+C stops it)")
    started = time.perf_counter()
    uvicorn.run(app, host=host, port=port, log_level="warning")
    print(f"studio stopped after {time.perf_counter() - started:.0f} s")
