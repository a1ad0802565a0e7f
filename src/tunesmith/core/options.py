"""Settings fields that carry their own default, bounds and help text, and the one check of a bound.

A library dataclass declares each knob once with :func:`setting`; the CLI (argparse), the web studio
(pydantic request models) and the library's own argument checks are all built from that declaration
(``tunesmith.settings``), so a default, a range or a help line lives in exactly one place.

No heavy imports here: the command line reads these fields before it knows which command runs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from tunesmith.core.errors import BadInputError

_MISSING: Any = dataclasses.MISSING
MAX_SEED = 2**32 - 1  # seeds are 32-bit everywhere (NumPy and torch generators both take them)


@dataclass(frozen=True)
class Bound:
    """A numeric range: ``low``/``high`` (None: open); ``above``/``below``: the bound itself is excluded."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    below: bool = False

    def problem(self, value) -> str | None:
        """Why ``value`` is out of range (``"must be at least 1"``), or None when it is fine."""
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return f"must be {'above' if self.above else 'at least'} {self.low:g}"
        if self.high is not None and (value >= self.high if self.below else value > self.high):
            return f"must be {'below' if self.below else 'at most'} {self.high:g}"
        return None

    def check(self, value, name: str) -> None:
        """Refuse ``value`` with a message naming the option and the Python argument (``--top-k (top_k=)``)."""
        reason = None if value is None else self.problem(value)
        if reason:
            raise BadInputError(f"{option_flag(name)} ({name}=) {reason}, not {value:g}")

    def pydantic(self) -> dict:
        """The same range as pydantic ``Field`` keywords (``ge``/``gt``/``le``/``lt``)."""
        out = {}
        if self.low is not None:
            out["gt" if self.above else "ge"] = self.low
        if self.high is not None:
            out["lt" if self.below else "le"] = self.high
        return out


def option_flag(name: str) -> str:
    """``top_k`` -> ``--top-k``."""
    return "--" + name.replace("_", "-")


def setting(
    default: Any = _MISSING,
    *,
    help: str,
    low: float | None = None,
    high: float | None = None,
    above: bool = False,
    below: bool = False,
    choices: tuple | None = None,
    flags: tuple[str, ...] = (),
    cli: bool = True,
    factory: Any = _MISSING,
) -> Any:
    """A dataclass field with its help text, bounds and choices in ``metadata``.

    ``flags``: the command-line spellings when they are not ``--name`` (``("-n", "--num-outputs")``);
    ``cli=False``: a knob of the Python API and the web page only.
    """
    bound = Bound(low, high, above, below) if low is not None or high is not None else None
    meta = {"help": help, "bound": bound, "choices": choices, "flags": flags, "cli": cli}
    if factory is not _MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def described_fields(cls) -> list[dataclasses.Field]:
    """The fields of ``cls`` declared with :func:`setting` (those with help text)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def defaults(cls) -> dict:
    """``{name: default}`` of every field of the dataclass ``cls``."""
    return {f.name: default_of(f) for f in dataclasses.fields(cls)}


def check_bounds(obj, names: tuple[str, ...] | None = None) -> None:
    """Refuse any field of the dataclass instance ``obj`` outside its declared bounds (None: not given)."""
    for f in dataclasses.fields(obj):
        bound = f.metadata.get("bound")
        if bound is not None and (names is None or f.name in names):
            bound.check(getattr(obj, f.name), f.name)


def check_value(cls, name: str, value) -> None:
    """Refuse ``value`` for the field ``name`` of ``cls`` when it is outside that field's bounds."""
    bound = {f.name: f for f in dataclasses.fields(cls)}[name].metadata.get("bound")
    if bound is not None:
        bound.check(value, name)
