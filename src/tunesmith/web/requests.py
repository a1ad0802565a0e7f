"""The studio's request bodies, built from the settings dataclasses (``tunesmith.settings``).

Each body is the route's own fields (uploads, model names, what to render) plus the fields of the library's
settings dataclasses, with their defaults, bounds and help text. ``CAPS`` are the studio's tighter upper
bounds: a page on a laptop should not ask for 10,000 melodies. Out-of-range values give a 422 with a plain
message before any work.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.audio_model.model import AudioConfig
from tunesmith.audio_model.settings import AudioGeneration
from tunesmith.core.options import MAX_SEED
from tunesmith.melody.settings import DEFAULT_STEPS, DEFAULT_TRAIN_STEPS, EditSettings, GenerationSettings, MelodyTraining
from tunesmith.outputs.compose import FileRequest
from tunesmith.settings import PIPELINE_SKIPS, PipelineSettings, form_defaults, request_fields, request_model

# the studio's upper bounds (the library's own bounds apply below them)
CAPS = {
    "n": 16,
    "steps": 2048,
    "bars": 256,
    "temperature": 10,
    "top_k": 1000,
    "beam_size": 16,
    "branch_factor": 16,
    "steps_per_iteration": 64,
    "qpm": 400,
    "batch_size": 1024,
    "eval_every": 100_000,
    "checkpoint_every": 100_000,
    "sequence_length": 2048,
    "seconds": 120,
    "seed_offset": 3600,
    "impulse_scale": 10,
    "griffin_lim_iters": 500,
    "audio_epochs": 10_000,
}
AUDIO_CAPS = {**CAPS, "n": 8, "temperature": 5}
TRAIN_CAPS = {**CAPS, "steps": 1_000_000}
_FILES = request_fields(FileRequest, skip=("render", "plot", "video", "soundfont"))
_GENERATION = request_fields(GenerationSettings, caps=CAPS, defaults={"steps": DEFAULT_STEPS})
_SEED = (int, Field(0, ge=0, le=MAX_SEED))

GenerateRequest = request_model(
    "GenerateRequest",
    _GENERATION,
    _FILES,
    own={
        "model": (str, Field("default", max_length=80)),
        "primer": (str, Field("", max_length=1000, description="notes or an event list; longer material comes as a file")),
        "primer_upload": (str | None, Field(None, max_length=32)),
        "primer_bars": (int | None, Field(None, ge=1, le=64, description="continue from the last N bars of the primer")),
        "n": (int, Field(1, ge=1, le=CAPS["n"])),
        "key": (str | None, Field(None, max_length=3)),
        "instruments": (list[str], Field(default_factory=lambda: ["piano"], max_length=8)),
        "plot": (bool, True),
        "video": (bool, False),
    },
)

MelodyTrainRequest = request_model(
    "MelodyTrainRequest",
    request_fields(
        MelodyTraining,
        skip=("epochs", "device", "threads", "precision", "layers", "init_from"),
        caps=TRAIN_CAPS,
        defaults={"steps": DEFAULT_TRAIN_STEPS},
    ),
    own={
        "start_from_default": (bool, Field(False, description="fine-tune the shipped model (init_from='default')")),
        "name": (str, Field("my-melody-model", max_length=80)),
        "uploads": (list[str], Field(default_factory=list, max_length=100)),
        "folder": (str | None, Field(None, max_length=1000)),
    },
)

AudioTrainRequest = request_model(
    "AudioTrainRequest",
    request_fields(AudioConfig, caps=CAPS),
    own={
        "name": (str, Field("my-audio-model", max_length=80)),
        "clip_upload": (str, Field(max_length=32)),
        "seed": _SEED,
    },
)

AudioGenerateRequest = request_model(
    "AudioGenerateRequest",
    request_fields(AudioGeneration, caps=AUDIO_CAPS),
    own={"model": (str, Field(max_length=80)), "clip_upload": (str, Field(max_length=32))},
)

PipelineRequest = request_model(
    "PipelineRequest",
    request_fields(PipelineSettings, caps=CAPS),
    request_fields(GenerationSettings, skip=PIPELINE_SKIPS, caps=CAPS, defaults={"steps": DEFAULT_STEPS}),
    _FILES,
    own={
        "clip_upload": (str, Field(max_length=32)),
        "primer": (str | None, Field(None, max_length=1000)),
        "instruments": (list[str], Field(default_factory=lambda: PipelineSettings().instruments, max_length=8)),
        "key": (str | None, Field(None, max_length=3)),
    },
)

EditRequest = request_model(
    "EditRequest",
    request_fields(EditSettings, caps=CAPS),
    request_fields(FileRequest, skip=("render", "plot", "video", "soundfont", "chords")),
    own={
        "edit": (Literal["infill", "vary", "over-chords"], Field("infill", description="rewrite bars, vary, or over chords")),
        "model": (str, Field("default", max_length=80)),
        "tune_upload": (str | None, Field(None, max_length=32, description="an uploaded MIDI, ABC or MusicXML tune")),
        "tune_job": (str | None, Field(None, max_length=32, description="or a melody of this earlier job")),
        "tune_name": (str | None, Field(None, max_length=80, description="that melody's name, e.g. melody_01")),
        "bars": (str, Field("", max_length=200, description="infill: the bars to rewrite, from 1: 5-6 or 3,7-8")),
        "progression": (
            str,
            Field("", max_length=1000, description='chords, one a bar ("C G Am F"); with a tune: they steer its new bars'),
        ),
        "own_chords": (bool, Field(False, description="the chords of the tune's own file (its chord or accompaniment track)")),
        "n": (int, Field(4, ge=1, le=CAPS["n"])),
        "key": (str | None, Field(None, max_length=3)),
        "instruments": (list[str], Field(default_factory=lambda: ["piano"], max_length=8)),
        "plot": (bool, True),
    },
)

# the page's forms, by element id, and the body each one sends
FORMS = {
    "gen-form": GenerateRequest,
    "train-form": MelodyTrainRequest,
    "audio-train-form": AudioTrainRequest,
    "audio-gen-form": AudioGenerateRequest,
    "pipe-form": PipelineRequest,
    "edit-form": EditRequest,
}


def form_defaults_all() -> dict:
    """``{form id: {field: default}}``: what ``/api/info`` gives the page to fill its inputs with."""
    return {form: form_defaults(model) for form, model in FORMS.items()}
