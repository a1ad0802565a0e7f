"""The page, its files, the results a job wrote, the menus' choices and defaults (/api/info), models, uploads."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile
from fastapi.responses import FileResponse

from tunesmith.web.helpers import (
    STATIC,
    inside,
)
from tunesmith.web.requests import (
    form_defaults_all,
)
from tunesmith.web.studio import Studio, current_studio

router = APIRouter()


@router.get("/", include_in_schema=False)
def index(studio: Studio = Depends(current_studio)):
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


@router.get("/files/{path:path}", include_in_schema=False)
def files(path: str, studio: Studio = Depends(current_studio)):
    target = inside(studio.workdir, path)
    if target is None:
        raise HTTPException(404, "no such file")
    return FileResponse(target)


@router.get("/model-files/{path:path}", include_in_schema=False)
def model_files(path: str, studio: Studio = Depends(current_studio)):
    target = inside(studio.models_dir, path)
    if target is None or target.suffix.lower() not in (".png", ".html", ".json", ".jsonl"):
        raise HTTPException(404, "no such file")
    return FileResponse(target)


@router.get("/api/info")
def info(studio: Studio = Depends(current_studio)):
    """Choices for the page's menus."""
    from tunesmith.audio_model.model import LOSSES, OPTIMIZERS
    from tunesmith.melody.model import CONFIGS
    from tunesmith.melody.settings import EDIT_STRENGTHS
    from tunesmith.music.instruments import INSTRUMENTS
    from tunesmith.music.notes import SCALES

    return {
        "instruments": list(INSTRUMENTS),
        "scales": list(SCALES),
        "melody_configs": list(CONFIGS),
        "edit_strengths": list(EDIT_STRENGTHS),
        "audio_losses": list(LOSSES),
        "audio_optimizers": list(OPTIMIZERS),
        "max_upload_mb": studio.max_bytes / 2**20,
        "keep_results": studio.keep_results,
        "max_work_mb": studio.max_work_bytes / 2**20,
        # training folders: only under the folder given with --data-root (its name only; none: uploads only)
        "data_root": studio.data_root.name or "/" if studio.data_root else None,
        # the forms start from the settings dataclasses, as the CLI and the library do (tunesmith.settings);
        # None: the library's own choice (the audio model's config, the primer's tempo...)
        "defaults": form_defaults_all(),
    }


@router.get("/api/models")
def models(studio: Studio = Depends(current_studio)):
    return {"models": studio.list_models()}


@router.post("/api/uploads")
def upload(
    file: UploadFile = File(...),
    purpose: Literal["primer", "training", "clip", "tune"] | None = None,
    studio: Studio = Depends(current_studio),
):
    """Store one MIDI / zip / audio file after checking its content; returns its id for later calls."""
    data = file.file.read(studio.max_bytes + 1)
    if len(data) > studio.max_bytes:
        raise HTTPException(413, f"upload too large: the limit is {studio.max_bytes / 2**20:g} MB")
    return studio.save_upload(data, file.filename, purpose)
