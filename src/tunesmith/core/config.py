"""Dataclass configs <-> dicts, JSON and TOML files, with aliases for names users already know.

Each model keeps its config dataclass at the top of its ``model.py`` (read it in one sitting);
this module only converts them and validates what users type.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tunesmith.core.errors import BadInputError

T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict, aliases: dict[str, str] | None = None, source: str = "config") -> T:
    """Build ``cls`` from ``data``; alias keys are renamed, unknown keys and bad types are refused."""
    aliases = aliases or {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = aliases.get(key, key)
        if name not in fields:
            known = ", ".join(sorted(set(fields) | set(aliases)))
            raise BadInputError(f"{source}: unknown setting '{key}'; known settings: {known}")
        kwargs[name] = _coerce(value, hints[name], f"{source}: '{key}'")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{source}: {exc}") from exc


def _coerce(value, hint, where: str):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if hint is bool:
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if hint in (int, float, str):
            if hint is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return hint(value)
        if origin in (list, tuple):
            items = [_coerce(v, args[0], where) for v in value]
            return tuple(items) if origin is tuple else items
    except (TypeError, ValueError):
        raise BadInputError(f"{where} should be {getattr(hint, '__name__', hint)}, got {value!r}") from None
    return value


def read_config_file(path: str | os.PathLike) -> dict:
    """A JSON or TOML file as a dict (a tunesmith config.json's inner ``config`` is unwrapped)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: config file not found")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text())
        else:
            data = json.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'JSON'} ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: expected a table of settings")
    return data
