"""The studio's state, passed to every route: folders, uploads, models, the job runner and retention."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import threading
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from fastapi import HTTPException, Request

from tunesmith.audio.io import AUDIO_SUFFIXES
from tunesmith.core.errors import BadInputError, UnreadableAudioError
from tunesmith.web.helpers import (
    AUDIO_FORMAT_SUFFIX,
    ID_RE,
    KIND_WORDS,
    MIDI_SUFFIXES,
    NAME_RE,
    PURPOSES,
    folder_bytes,
    plain,
    safe_name,
)
from tunesmith.web.jobs import JobRunner


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
        """A model for the page's lists, from the one model description (``tunesmith.core.models.describe``)."""
        from tunesmith.core.models import describe

        found = describe(path)
        return {
            "name": name,
            "kind": found.kind or "unknown",
            "config": found.config_name,
            "bundled": bundled,
            "figures": found.figures,
            "loss_png": self.url(found.loss_png) if found.loss_png and not bundled else None,
        }

    def _find_model(self, name: str) -> Path | None:
        """The folder of the model ``name``: a bundled one, or one in the models folder (never a path)."""
        from tunesmith.assets import BUNDLED

        if name in BUNDLED and (BUNDLED[name] / "config.json").is_file():
            return BUNDLED[name]
        if NAME_RE.match(name or "") and (self.models_dir / name / "config.json").is_file():
            return self.models_dir / name
        return None

    def model_kind(self, name: str) -> str | None:
        """The kind of the model ``name`` (melody, polyphonic, audio...); None when there is no such model."""
        path = self._find_model(name)
        return None if path is None else self._describe(name, path, False)["kind"]

    def model_path(self, name: str, kind: str) -> Path:
        path = self._find_model(name)
        if path is None:
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

    def install_model(self, tmp: Path, final: Path) -> tuple[Path, str | None]:
        """Move a finished training out of its hidden temp folder (under a new name if ``final`` was taken meanwhile),
        redraw its loss curve so the title names it; returns the folder and the curve's URL."""
        from tunesmith.web.helpers import redraw_loss

        target = final if not final.exists() else self.unique_model_dir(final.name)
        os.replace(tmp, target)
        redraw_loss(target)
        loss = target / "plots" / "loss.png"
        return target, self.url(loss) if loss.is_file() else None

    def unique_model_dir(self, name: str) -> Path:
        base = safe_name(name, "model")
        path, i = self.models_dir / base, 2
        while path.exists():
            path, i = self.models_dir / f"{base}-{i}", i + 1
        return path

    # uploads
    def save_upload(self, data: bytes, filename: str | None, purpose: str | None = None) -> dict:
        """Check an upload by its content (MIDI, an ABC or MusicXML tune, zip of MIDI, or audio) and keep it under
        uploads/<id>/.

        ``purpose`` (primer, training, clip, tune) refuses a file of the wrong kind now rather than at Train.
        """
        name = safe_name(filename, "upload")
        if not data:
            raise BadInputError(f"{name}: the upload is empty (0 bytes)")
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        try:
            kinds = PURPOSES[purpose] if purpose else tuple(KIND_WORDS)
            meta = self._check_upload(data, name, folder, kinds)
            if meta["kind"] not in kinds:
                raise BadInputError(f"{name} is {KIND_WORDS[meta['kind']]}; this needs {either(kinds)}")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        meta.update({"id": upload_id, "name": name, "bytes": len(data)})
        (folder / "upload.json").write_text(json.dumps(meta))
        return meta

    def _check_upload(self, data: bytes, name: str, folder: Path, kinds: tuple[str, ...]) -> dict:
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
        score_suffix = _score_suffix(data, suffix)
        if score_suffix:
            return self._read_tune(data, f"{stem}{score_suffix}", name, folder)
        if data[:4] == b"PK\x03\x04":
            return self._unzip(data, name, folder)
        path = folder / name
        path.write_bytes(data)
        samples, rate, fmt = self._read_audio(path, name, kinds)
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
    def _read_tune(data: bytes, kept: str, name: str, folder: Path) -> dict:
        """An ABC or MusicXML tune, kept under its format's suffix (the score readers go by it) and read now by the one
        score reader (``music.midi.read_score``), so a damaged tune is refused at upload, named as uploaded."""
        from tunesmith.music.chords import CHORD_TRACK_NAME
        from tunesmith.music.export import NOTATION_SUFFIXES
        from tunesmith.music.midi import read_score

        path = folder / kept
        path.write_bytes(data)
        try:
            score = read_score(path)
        except BadInputError as exc:
            raise BadInputError(str(exc).replace(str(path), name)) from None
        notes = sum(len(t.notes) for t in score.tracks if not t.is_drum and t.name != CHORD_TRACK_NAME)
        if notes == 0:
            raise BadInputError(f"{name}: the tune holds no notes; choose a file with a melody in it")
        return {"kind": "score", "format": NOTATION_SUFFIXES[path.suffix], "path": kept, "notes": notes}

    @staticmethod
    def _read_audio(path: Path, name: str, kinds: tuple[str, ...]) -> tuple[np.ndarray, int, str | None]:
        """Mono samples, rate and container format, read by tunesmith's one audio reader (``audio_io``), so an
        upload is accepted or refused exactly as on the command line; messages name the upload, not this server's path."""

        import soundfile

        from tunesmith.audio.io import load_audio

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a cut-short WAV is used as the CLI uses it
                samples, rate = load_audio(path, None)
        except UnreadableAudioError:
            raise BadInputError(f"{name}: not {either(kinds)}, or too damaged to read") from None
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
            raise HTTPException(400, f"{meta['name']} is {KIND_WORDS[meta['kind']]}; this needs {either(kinds)}")
        return meta, self.uploads / upload_id / meta["path"]


def either(kinds: tuple[str, ...]) -> str:
    """``("midi", "zip")`` -> "a MIDI file or a zip of MIDI files": the kinds of upload a purpose takes, in words."""
    words = [KIND_WORDS[k] for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + (" or " if len(words) == 2 else ", or ") + words[-1]


def _score_suffix(data: bytes, suffix: str) -> str | None:
    """The suffix an ABC or MusicXML upload is kept under: its own (.abc, .musicxml, .xml, .mxl), or the one its
    content shows when its name has another (an ABC tune's ``X:`` and ``K:`` fields, a MusicXML score element, a
    compressed MusicXML zip); None for any other file."""
    from tunesmith.music.export import NOTATION_SUFFIXES

    if suffix in NOTATION_SUFFIXES:
        return suffix
    if data[:4] == b"PK\x03\x04":
        with contextlib.suppress(zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "META-INF/container.xml" in zf.namelist():
                    return ".mxl"
        return None
    if b"\x00" in data[:4096]:  # binary (audio, ...): not a text score, whatever bytes it holds
        return None
    head = data[:4096].decode("utf-8", errors="replace")
    if re.search(r"<score-(partwise|timewise)\b", head):
        return ".musicxml"
    if re.search(r"^X:", head, re.M) and re.search(r"^K:", head, re.M):
        return ".abc"
    return None


def primer_text(text: str) -> str:
    """Typed primers are notes or event lists; a file must come through an upload, never a server path."""
    from tunesmith.music.midi import SCORE_SUFFIXES

    text = text.strip()
    if "/" in text or "\\" in text or Path(text).suffix.lower() in MIDI_SUFFIXES + AUDIO_SUFFIXES + SCORE_SUFFIXES:
        raise HTTPException(400, "type note names (C#4 E4 G4) or an event list ([60, -2, 62, -1]); upload files instead")
    return text


def problem(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", [])[1:]) or "body"
    message = error.get("msg", "not valid")
    if where == "primer" and error.get("type") == "string_too_long":
        message += "; upload a MIDI file (with “continue from the last N bars”) for longer primers"
    return f"{where}: {message}"


def current_studio(request: Request) -> Studio:
    """The app's one Studio, as a route's dependency (``studio: Studio = Depends(current_studio)``)."""
    return request.app.state.studio
