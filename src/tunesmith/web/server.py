"""The local web studio: one page over the library (generate, train, audio model, pipeline).

Thin on purpose: every action is one library call. The server only checks uploads (size, type by
content, safe names), runs long calls as background jobs, and serves result files from inside its
work folder. ``create_app(workdir)`` builds the FastAPI app; ``serve()`` runs it with uvicorn.

Training data comes from uploads, and from folders on this computer only under the one folder the user
named when starting the server (``tunesmith web --data-root DIR``); without it the folder field is off.
A folder is resolved (symlinks followed) and must stay inside that root.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunesmith import defaults
from tunesmith.audio.io import AUDIO_SUFFIXES
from tunesmith.core.errors import BadInputError, Cancelled, TunesmithError, UnreadableAudioError
from tunesmith.web.jobs import INTERNAL_ERROR, Job, JobRunner

STATIC = Path(__file__).parent / "static"
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
AUDIO_FORMAT_SUFFIX = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3", "AIFF": ".aiff"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_SEED = 2**32 - 1
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# What each upload is for, and the kinds of file that can serve it (checked at upload, not at Train).
PURPOSES = {"primer": ("midi", "audio"), "training": ("midi", "zip"), "clip": ("audio",)}
KIND_WORDS = {"midi": "a MIDI file", "zip": "a zip of MIDI files", "audio": "an audio clip (WAV, FLAC, OGG, MP3)"}
# An absolute server path inside a message: the page shows only its last part.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])(?:/[^\s/'\"(),;:]+)+/?")
MAX_FOLDER_FILES = 200_000  # files a training folder may hold (a folder too large to be one corpus is refused)
NO_DATA_ROOT = (
    "training from a folder is off: this studio was started without --data-root. Upload MIDI files or a zip, "
    "or start it again with `tunesmith web --data-root DIR` to train on folders under DIR"
)
_WARNINGS_LOCK = threading.Lock()  # warnings.catch_warnings changes process-wide state: one capture at a time


# --- the number of steps the library is asked for ------------------------------------------------
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


def plain(message: str) -> str:
    """A message the page may show: server paths cut to their last part (``/home/me/x/tune.mid`` -> ``tune.mid``)."""
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group(0)).name or "a folder", message)


@contextlib.contextmanager
def caught_warnings():
    """Collect the library's warnings (primer moved by octaves, cut to its last bars...) for the page.

    Yields a list filled when the block ends, with server paths cut; the terminal still prints them.
    """
    found: list[str] = []
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield found
        finally:
            for w in caught:
                print(f"note: {w.message}")
                found.append(plain(str(w.message)))


def data_folder(root: Path | None, folder: str) -> Path:
    """The training folder ``folder`` names under ``root`` (relative to it, or absolute inside it).

    Refused: any folder when there is no root, ``..`` parts, and whatever resolves (symlinks followed)
    outside the root. ``.`` is the root itself.
    """
    if root is None:
        raise HTTPException(400, NO_DATA_ROOT)
    root = root.resolve()
    text = folder.strip().replace("\\", "/")
    shown = text or "."
    if "\x00" in text or any(part == ".." for part in text.split("/")):
        raise HTTPException(400, f"{shown}: give a folder inside the data folder {root.name}, without '..'")
    if text.startswith("~"):
        raise HTTPException(400, f"{shown}: give a folder inside the data folder {root.name} (relative to it)")
    candidate = Path(text) if text.startswith("/") else root / text.lstrip("/")
    try:
        target = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HTTPException(400, f"{shown}: no such folder in the data folder {root.name}") from None
    if not target.is_relative_to(root):
        raise HTTPException(400, f"{shown}: outside the data folder {root.name}; give a folder inside it")
    if not target.is_dir():
        raise HTTPException(400, f"{shown}: not a folder; give a folder of MIDI files inside {root.name}")
    return target


def training_files(root: Path, folder: Path, stop_event=None, limit: int = MAX_FOLDER_FILES) -> list[Path]:
    """The MIDI/score files below ``folder``; symlinked folders are not entered and linked files that lead out of
    ``root`` are left out, so nothing outside the root is read. Stops (Cancelled) when ``stop_event`` is set."""
    from tunesmith.data.corpus import CORPUS_SUFFIXES

    root = root.resolve()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        if stop_event is not None and stop_event.is_set():
            raise Cancelled(f"stopped while looking for MIDI files ({len(found)} found so far)")
        dirnames.sort()
        for name in filenames:
            if Path(name).suffix.lower() not in CORPUS_SUFFIXES:
                continue
            path = Path(dirpath) / name
            try:
                if path.is_symlink() and not path.resolve(strict=True).is_relative_to(root):
                    continue
                if not path.is_file():  # a pipe or device named x.mid would block the reader
                    continue
            except (OSError, RuntimeError):
                continue
            found.append(path)
            if len(found) > limit:
                raise BadInputError(
                    f"{folder.name}: more than {limit:,} MIDI/score files; give a smaller folder "
                    "(or prepare it with `tunesmith prepare` and train from the command line)"
                )
    return sorted(found)


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
    return total


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


class GuardRequests:
    """ASGI middleware against other web sites reaching the studio through the user's browser.

    * The Host header must name this machine (127.0.0.1, localhost, [::1] or a host given to ``serve``):
      a page that re-points its own DNS name at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
    * A request that changes something (POST...) must come from the studio's own page: a cross-site
      ``Sec-Fetch-Site`` or an ``Origin`` other than the studio's own address is refused.
    """

    def __init__(self, app, allowed_hosts: set[str]):
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}

    @staticmethod
    def _hostname(netloc: str) -> str:
        netloc = netloc.strip().lower()
        if netloc.startswith("["):
            return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
        return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if self._hostname(host) not in self.allowed:
            message = (
                f"this studio answers only at its own address ({', '.join(sorted(self.allowed))}); "
                "the Host header named another site, which is how DNS-rebinding attacks look"
            )
            return await JSONResponse({"error": message}, status_code=400)(scope, receive, send)
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            foreign = site in ("cross-site", "same-site")
            if origin is not None:
                parts = urlsplit(origin)
                foreign = foreign or origin == "null" or parts.netloc.lower() != host.lower()
            if foreign:
                message = "refused: this request came from another web site; use the studio's own page"
                return await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
        return await self.app(scope, receive, send)


# --- request bodies (bounds here give a 422 with a plain message instead of a failure deep inside) ------------
class GenerateRequest(BaseModel):
    model: str = Field("default", max_length=80)
    primer: str = Field("", max_length=1000, description="notes or an event list; longer material comes as a file")
    primer_upload: str | None = Field(None, max_length=32)
    primer_bars: int | None = Field(None, ge=1, le=64, description="continue from the last N bars of the primer")
    n: int = Field(1, ge=1, le=16)
    steps: int = Field(128, ge=1, le=2048, description="new steps after the primer")
    temperature: float = Field(1.0, gt=0, le=10)
    top_k: int | None = Field(None, ge=1, le=1000)
    top_p: float | None = Field(None, gt=0, le=1)
    beam_size: int = Field(1, ge=1, le=16)
    key: str | None = Field(None, max_length=3)
    scale: str = Field("major", max_length=40)
    qpm: float | None = Field(None, ge=20, le=400, description="tempo in quarter notes per minute")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    instruments: list[str] = Field(default_factory=lambda: ["piano"], max_length=8)
    plot: bool = True
    video: bool = False


class MelodyTrainRequest(BaseModel):
    name: str = Field("my-melody-model", max_length=80)
    uploads: list[str] = Field(default_factory=list, max_length=100)
    folder: str | None = Field(None, max_length=1000)
    config: str = Field("basic_rnn", max_length=40)
    steps: int = Field(200, ge=1, le=1_000_000)
    batch_size: int = Field(16, ge=1, le=1024)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class AudioTrainRequest(BaseModel):
    name: str = Field("my-audio-model", max_length=80)
    clip_upload: str = Field(max_length=32)
    epochs: int = Field(defaults.AUDIO_EPOCHS, ge=1, le=10_000)
    layers: int = Field(2, ge=1, le=8)
    units: int = Field(128, ge=1, le=4096)
    loss: str = Field("mse", max_length=20)
    optimizer: str = Field("adam", max_length=20)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    sequence_length: int = Field(40, ge=1, le=2048)
    batch_size: int = Field(64, ge=1, le=4096)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class AudioGenerateRequest(BaseModel):
    model: str = Field(max_length=80)
    clip_upload: str = Field(max_length=32)
    seconds: float = Field(defaults.AUDIO_SECONDS, gt=0, le=120)
    n: int = Field(defaults.AUDIO_OUTPUTS, ge=1, le=8)
    seed_offset: float = Field(0.0, ge=0, le=3600)
    # None: the model's own setting (its config), as the CLI and the pipeline do
    random_chance: float | None = Field(None, ge=0, le=1)
    impulse_scale: float | None = Field(None, ge=0, le=10)
    temperature: float | None = Field(None, ge=0, le=5)
    level_control: bool | None = None
    griffin_lim_iters: int = Field(defaults.GRIFFIN_LIM_ITERS, ge=1, le=500)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class PipelineRequest(BaseModel):
    clip_upload: str = Field(max_length=32)
    audio_model: str = Field(defaults.PIPELINE_AUDIO_MODEL, max_length=80)
    melody_model: str = Field(defaults.PIPELINE_MELODY_MODEL, max_length=80)
    primer: str | None = Field(None, max_length=1000)
    instruments: list[str] = Field(default_factory=lambda: list(defaults.PIPELINE_INSTRUMENTS), max_length=8)
    n: int = Field(defaults.PIPELINE_OUTPUTS, ge=1, le=16)
    steps: int = Field(defaults.PIPELINE_STEPS, ge=1, le=2048)
    temperature: float = Field(defaults.PIPELINE_TEMPERATURE, gt=0, le=10)
    seconds: float = Field(defaults.PIPELINE_SECONDS, gt=0, le=120)
    audio_epochs: int = Field(defaults.PIPELINE_AUDIO_EPOCHS, ge=1, le=10_000)
    seed: int = Field(0, ge=0, le=MAX_SEED)


# --- the studio: state shared by the endpoints ------------------------------------------------
class Studio:
    """Folders, the job runner (with its history on disk), retention, and a cache of loaded melody models."""

    def __init__(
        self,
        workdir: Path,
        max_upload_mb: float,
        models_dir: Path | None,
        keep_results: int = 100,
        max_work_mb: float = 2000.0,
        data_root: Path | None = None,
    ):
        self.workdir = Path(workdir).resolve()
        self.data_root = Path(data_root).expanduser().resolve() if data_root else None
        if self.data_root is not None and not self.data_root.is_dir():
            raise BadInputError(f"--data-root {data_root}: no such folder; give the folder your MIDI collections are in")
        self.models_dir = Path(models_dir).resolve() if models_dir else self.workdir / "models"
        self.uploads = self.workdir / "uploads"
        self.jobs_dir = self.workdir / "jobs"
        for d in (self.workdir, self.models_dir, self.uploads, self.jobs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_upload_mb * 2**20)
        self.keep_results = max(1, int(keep_results))
        self.max_work_bytes = int(max_work_mb * 2**20) if max_work_mb else 0
        self._models: dict[str, tuple[float, Any]] = {}
        self._models_lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self.runner = JobRunner(self.jobs_dir, plain=plain, on_finish=lambda job: self.enforce_retention(), public=self.public)
        for job in self.runner.list():  # trainings cut off by a stop leave a hidden temp folder: remove it
            if job.status == "interrupted":
                shutil.rmtree(self.models_dir / f".training-{job.id}", ignore_errors=True)
        self.enforce_retention()

    # urls for files we wrote
    def url(self, path: str | os.PathLike) -> str | None:
        path = Path(path).resolve()
        for root, prefix in ((self.workdir, "/files/"), (self.models_dir, "/model-files/")):
            if path.is_relative_to(root):
                return prefix + quote(path.relative_to(root).as_posix())
        return None

    def public(self, obj: Any) -> Any:
        """A result as stored and served: no server paths. A path string inside the work, models or data folder
        becomes its name relative to that folder, any other absolute path its last part; URLs stay."""
        if isinstance(obj, dict):
            return {k: self.public(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.public(v) for v in obj]
        if not isinstance(obj, str) or obj.startswith(("/files/", "/model-files/", "/static/")):
            return obj
        if os.path.isabs(obj) and "\n" not in obj:
            path = Path(obj)
            for root in (self.workdir, self.models_dir, self.data_root):
                if root is not None and path.is_relative_to(root):
                    return path.relative_to(root).as_posix() or "."
            return path.name
        return plain(obj) if "/" in obj else obj

    # retention: the work folder stays bounded
    def enforce_retention(self) -> list[str]:
        """Remove the oldest finished results beyond ``keep_results``, then oldest results and uploads while the
        work folder is over ``max_work_mb``. The newest result, running jobs and the uploads they use stay."""
        removed: list[str] = []
        with self._retention_lock:
            finished = [j for j in self.runner.list() if not j.active]  # newest first
            in_use = {u for j in self.runner.list() if j.active for u in j.params.get("uploads", [])}
            for job in finished[self.keep_results :]:
                self._remove_job(job.id)
                removed.append(job.id)
            if not self.max_work_bytes:
                return removed
            results = [j for j in finished[1 : self.keep_results] if j.id not in removed]
            sizes = {j.id: folder_bytes(self.jobs_dir / j.id) for j in results}
            uploads = sorted(
                (p for p in self.uploads.iterdir() if p.is_dir() and p.name not in in_use), key=lambda p: p.stat().st_mtime
            )[:-1]  # never the newest upload
            total = folder_bytes(self.jobs_dir) + folder_bytes(self.uploads)
            for job in reversed(results):  # oldest first
                if total <= self.max_work_bytes:
                    break
                self._remove_job(job.id)
                removed.append(job.id)
                total -= sizes[job.id]
            for folder in uploads:
                if total <= self.max_work_bytes:
                    break
                size = folder_bytes(folder)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"upload {folder.name}")
                total -= size
        return removed

    def _remove_job(self, job_id: str) -> None:
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        self.runner.forget(job_id)

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
    def save_upload(self, data: bytes, filename: str | None, purpose: str | None = None) -> dict:
        """Check an upload by its content (MIDI, zip of MIDI, or audio) and keep it under uploads/<id>/.

        ``purpose`` (primer, training, clip) refuses a file of the wrong kind now rather than at Train.
        """
        name = safe_name(filename, "upload")
        if not data:
            raise BadInputError(f"{name}: the upload is empty (0 bytes)")
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        try:
            meta = self._check_upload(data, name, folder)
            if purpose and meta["kind"] not in PURPOSES[purpose]:
                wanted = " or ".join(KIND_WORDS[k] for k in PURPOSES[purpose])
                raise BadInputError(f"{name} is {KIND_WORDS[meta['kind']]}; this needs {wanted}")
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
            pitched = sum(len(t.notes) for t in score.tracks if not t.is_drum)
            if score.note_num() == 0:
                raise BadInputError(f"{name}: the MIDI file holds no notes; choose a file with a melody in it")
            if pitched == 0:
                raise BadInputError(f"{name}: the MIDI file holds only drum notes; choose a file with a melody in it")
            (folder / f"{stem}.mid").write_bytes(data)
            return {"kind": "midi", "path": f"{stem}.mid", "notes": pitched}
        if data[:4] == b"PK\x03\x04":
            return self._unzip(data, name, folder)
        path = folder / name
        path.write_bytes(data)
        samples, rate, fmt = self._read_audio(path, name)
        if samples.size == 0 or float(np.abs(samples).max()) < 1e-6:
            raise BadInputError(f"{name}: the audio is silent; choose a clip with sound in it")
        if suffix not in AUDIO_SUFFIXES:
            fixed = path.with_suffix(AUDIO_FORMAT_SUFFIX.get(fmt, ".wav"))
            path = path.rename(fixed)
        return {
            "kind": "audio",
            "path": path.name,
            "seconds": round(samples.size / rate, 3),
            "sample_rate": rate,
            "url": self.url(path),
        }

    @staticmethod
    def _read_audio(path: Path, name: str) -> tuple[np.ndarray, int, str | None]:
        """Mono samples, rate and container format, read by tunesmith's one audio reader (``audio_io``), so an
        upload is accepted or refused exactly as on the command line; messages name the upload, not this server's path."""
        import warnings

        import soundfile

        from tunesmith.audio.io import load_audio

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a cut-short WAV is used as the CLI uses it
                samples, rate = load_audio(path, None)
        except UnreadableAudioError:
            raise BadInputError(
                f"{name}: not a MIDI file, a zip of MIDI files, or audio that can be decoded (WAV, FLAC, OGG, MP3)"
            ) from None
        except BadInputError as exc:
            raise BadInputError(str(exc).replace(str(path), name)) from None
        try:
            fmt = soundfile.info(str(path)).format
        except Exception:  # read by the librosa fallback (m4a ...)
            fmt = None
        return samples, rate, fmt

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
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError):
            raise BadInputError(f"{name}: corrupt or unsupported zip file; make the zip again") from None
        if not kept:
            raise BadInputError(f"{name}: the zip holds no usable MIDI file" + (f" ({skipped[0]})" if skipped else ""))
        return {"kind": "zip", "path": "midi", "files": len(kept), "skipped": skipped[:50]}

    def upload(self, upload_id: str | None, kinds: tuple[str, ...]) -> tuple[dict, Path]:
        if not upload_id or not ID_RE.match(upload_id) or not (self.uploads / upload_id / "upload.json").is_file():
            raise HTTPException(404, "that upload is gone; upload the file again")
        meta = json.loads((self.uploads / upload_id / "upload.json").read_text())
        if meta["kind"] not in kinds:
            raise HTTPException(400, f"{meta['name']} is {KIND_WORDS[meta['kind']]}; this needs {' or '.join(kinds)}")
        return meta, self.uploads / upload_id / meta["path"]


def _primer_text(text: str) -> str:
    """Typed primers are notes or event lists; a file must come through an upload, never a server path."""
    from tunesmith.music.midi import SCORE_SUFFIXES

    text = text.strip()
    if "/" in text or "\\" in text or Path(text).suffix.lower() in MIDI_SUFFIXES + AUDIO_SUFFIXES + SCORE_SUFFIXES:
        raise HTTPException(400, "type note names (C#4 E4 G4) or an event list ([60, -2, 62, -1]); upload files instead")
    return text


def _problem(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", [])[1:]) or "body"
    message = error.get("msg", "not valid")
    if where == "primer" and error.get("type") == "string_too_long":
        message += "; upload a MIDI file (with “continue from the last N bars”) for longer primers"
    return f"{where}: {message}"


# --- the app ------------------------------------------------------------------------------------
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
        return JSONResponse({"error": f"bad request: {'; '.join(_problem(e) for e in exc.errors())}"}, status_code=422)

    @app.middleware("http")
    async def _never_crash(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception:  # the page shows a plain message; the details go to the terminal
            traceback.print_exc()
            return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)

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
