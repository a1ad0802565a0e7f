"""One settings model behind every front end: the command line and the web studio are built from it.

The library's dataclasses declare each knob once, with its default, bounds and help text
(``tunesmith.core.options.setting``):

=====================  =============================================  ==========================================
what                   dataclass                                      used by
=====================  =============================================  ==========================================
generation             ``tunesmith.melody.settings.GenerationSettings``  ``melody generate``, /api/generate, pipeline
files beside a melody  ``tunesmith.outputs.compose.FileRequest``        ``melody generate``, /api/generate, pipeline
melody training        ``tunesmith.melody.settings.MelodyTraining``     ``melody train``, /api/melody/train
audio training         ``tunesmith.audio_model.model.AudioConfig``      ``audio train``, /api/audio/train
audio generation       ``tunesmith.audio_model.settings.AudioGeneration``  ``audio generate``, /api/audio/generate
the pipeline           :class:`PipelineSettings` (here)               ``pipeline``, /api/pipeline
editing a tune         ``tunesmith.melody.settings.EditSettings``       /api/edit (the Edit tab)
=====================  =============================================  ==========================================

This module turns them into argparse options (:func:`add_options`), pydantic request models
(:func:`request_model`) and the page's defaults (:func:`form_defaults`, served by ``/api/info``).
**A new option is one field plus one input**: add a ``setting(...)`` field to the dataclass and the
library function that uses it; the command-line flag and the web request field follow; give the page an
``<input name="...">`` and it gets its default from ``/api/info``.

Bounds are checked by one function each (``Bound.problem``): argparse's error, pydantic's ``ge``/``le`` and the
library's ``check_bounds`` all come from the same declaration. Nothing heavy is imported here.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from tunesmith.core.options import MAX_SEED, Bound, default_of, described_fields, option_flag, setting


@dataclass
class PipelineSettings:
    """The pipeline's own knobs (clip -> audio model -> primer -> melodies); how the melodies are made are the
    ``GenerationSettings`` beside these (``steps``: new steps after the primer, as everywhere)."""

    audio_model: str = setting("audio-default", help="a model folder, 'audio-default', 'train' (train on the clip) or 'none'")
    melody_model: str = setting("default", help="a model folder or 'default'")
    primer: str | None = setting(None, help="use this primer instead of transcribing the regenerated audio")
    instruments: list[str] = setting(
        factory=lambda: ["guitar", "music-box", "piano"],
        flags=("--instrument",),
        help="instruments to render, e.g. guitar,music-box,piano",
    )
    n: int = setting(5, low=1, flags=("-n", "--num-outputs"), help="how many melodies")
    seconds: float = setting(10.0, low=0, above=True, help="seconds of audio to regenerate with the audio model")
    max_seconds: float = setting(60.0, low=0, above=True, help="read at most this much of the clip")
    audio_epochs: int = setting(20, low=1, help="with --audio-model train: epochs on the clip")
    over_chords: str | None = setting(
        None,
        help='write the melodies over these chords ("C G Am F C F G C", or a MIDI/ABC/MusicXML file\'s chords), the '
        "transcribed primer opening them; the chords set their length (give more bars of chords than the primer's 4)",
    )


# the generation knobs the pipeline leaves to the library (it writes the primer whole, at the primer's tempo)
PIPELINE_SKIPS = ("exclude_primer", "strict", "qpm")


# --- argparse ------------------------------------------------------------------------------------
def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def number(kind: type = int, bound: Bound | None = None):
    """An argparse ``type`` for a number in ``bound``, refused before any work with the option's own name
    (``argument --batch-size: must be at least 1, not 0``)."""

    def parse(text: str):
        value = kind(text)  # a ValueError: argparse's own "invalid int value: 'lots'"
        reason = (bound or Bound()).problem(value)
        if reason:
            raise argparse.ArgumentTypeError(f"{reason}, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def sizes(text: str) -> list[int]:
    """``128,128``: layer sizes, each a whole number of at least 1."""
    try:
        values = [int(t) for t in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers separated by commas, e.g. 128,128") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 1, e.g. 128,128")
    return values


def _base_type(cls, f: dataclasses.Field):
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        hint = args[0]
    return hint


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def add_options(parser: argparse.ArgumentParser, cls, *, skip: tuple[str, ...] = (), flags: dict | None = None) -> None:
    """Add one option per described field of the dataclass ``cls`` (``--top-k`` for ``top_k``...).

    An option the user leaves out is absent from the parsed namespace, so the library's own default applies
    (``--help`` shows it). ``flags`` overrides a field's spellings for this parser."""
    flags = flags or {}
    for f in described_fields(cls):
        if f.name in skip or not f.metadata["cli"]:
            continue
        meta = f.metadata
        spellings = flags.get(f.name) or meta["flags"] or (option_flag(f.name),)
        kind = _base_type(cls, f)
        default = default_of(f)
        text = meta["help"]
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if kind is bool:
            if default is False:
                kwargs["action"] = "store_true"
            else:
                kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if kind in (int, float):
                kwargs["type"] = number(kind, meta["bound"])
            elif typing.get_origin(kind) is list:
                kwargs["type"] = sizes if typing.get_args(kind) == (int,) else _csv
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
            if default not in (None, False, (), []) and "default:" not in text:
                text = f"{text} (default: {_show(default)})"
        parser.add_argument(*spellings, help=text, **kwargs)


# --- pydantic (the web studio's request bodies) --------------------------------------------------
def request_fields(cls, *, skip: tuple[str, ...] = (), caps: dict | None = None, defaults: dict | None = None) -> dict:
    """``{name: (type, Field)}`` for ``pydantic.create_model`` from the described fields of ``cls``.

    ``caps``: a studio's tighter upper bounds (``{"n": 16}``: one page should not ask for 10,000 melodies);
    ``defaults``: a request's own default where the studio's form differs (none should)."""
    from pydantic import Field

    caps, defaults = caps or {}, defaults or {}
    hints = typing.get_type_hints(cls)
    out = {}
    for f in described_fields(cls):
        if f.name in skip:
            continue
        meta = f.metadata
        bounds = meta["bound"].pydantic() if meta["bound"] else {}
        if f.name in caps:
            bounds["le"] = min(bounds.get("le", caps[f.name]), caps[f.name])
            bounds.pop("lt", None)
        extra: dict[str, Any] = {"description": meta["help"], **bounds}
        if f.name in defaults:
            extra["default"] = defaults[f.name]
        elif f.default_factory is not dataclasses.MISSING:
            extra["default_factory"] = f.default_factory
        else:
            extra["default"] = f.default
        if isinstance(_base_type(cls, f), type) and _base_type(cls, f) is str:
            extra.setdefault("max_length", 1000)
        hint = typing.Literal[tuple(meta["choices"])] if meta["choices"] else hints[f.name]  # a choice: 422 otherwise
        out[f.name] = (hint, Field(**extra))
    return out


def request_model(name: str, *parts: dict, own: dict | None = None):
    """A pydantic model named ``name`` from ``request_fields`` parts plus the route's ``own`` fields."""
    from pydantic import create_model

    fields: dict = {}
    for part in parts:
        fields.update(part)
    fields.update(own or {})
    return create_model(name, **fields)


def form_defaults(model) -> dict:
    """A request model's defaults, as ``/api/info`` serves them to the page (None: the library's own choice)."""
    return {k: f.get_default(call_default_factory=True) for k, f in model.model_fields.items()}


__all__ = [
    "MAX_SEED",
    "PIPELINE_SKIPS",
    "PipelineSettings",
    "add_options",
    "form_defaults",
    "number",
    "request_fields",
    "request_model",
    "sizes",
]
