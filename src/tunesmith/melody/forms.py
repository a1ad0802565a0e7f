"""Form plans: which bars of a tune are new material and which restate earlier bars.

Real tunes say a phrase, say it again, answer it and end at home. A *form* names sections by letters, all of
equal length: ``"AABB"`` over 16 bars is a 4-bar A, played twice, then a 4-bar B played twice. A repeated letter
restates its section literally (the model hears it as context and continues from it); a prime, ``"AA'BB'"``,
restates it with a new last bar (a second-time ending). The last bar of a tune is always new, so it can close
on the tonic. Everything else is sampled by the model, continuing all that came before.

``"auto"`` (the default) plans each 8-bar strain the way folk tunes most often do: its second phrase restates
the first phrase's opening 2 bars (``ABAC`` in 2-bar sections), its first 3 bars (``AA'`` in 4-bar sections), or
nothing (free), drawn per melody with the weights in ``AUTO_PLANS``. The weights were set so that continuations of
real tunes repeat their bars as often as the real continuations do (the realism test, benchmarks/bench_realism.py:
0.31 vs 0.30 on the default's own held-out tunes; the earlier 0.40/0.38/0.22 gave 0.36), the model's own
restatements counted, and the bar repetition of tunes from a one-note primer stays in range (benchmarks/bench_form.py).
"""

from __future__ import annotations

import re

import numpy as np

from tunesmith.core.errors import BadInputError

STRAIN_BARS = 8
# (form over one 8-bar strain, weight): see the module docstring
AUTO_PLANS = (("ABCD", 0.58), ("ABAC", 0.27), ("AA'", 0.15))
_FORM = re.compile(r"^([A-Za-z]'?)+$")


def parse_form(form: str) -> list[tuple[str, bool]]:
    """``"AA'BB'"`` -> ``[("A", False), ("A", True), ("B", False), ("B", True)]`` (letter, varied ending)."""
    text = form.replace(" ", "")
    if not text or not _FORM.match(text):
        raise BadInputError(f"form {form!r}: write section letters, e.g. AABB, ABAC or AA'BB' (' = a new last bar)")
    return [(m[0].upper(), m.endswith("'")) for m in re.findall(r"[A-Za-z]'?", text)]


def check_form(form: str | None, bars: int | None) -> None:
    """A clear error when a form does not divide the tune's bars into equal sections."""
    if form is None or form == "auto":
        return
    sections = parse_form(form)
    if bars is None:
        return
    if bars % len(sections):
        raise BadInputError(
            f"form {form!r} has {len(sections)} sections, which do not divide {bars} bars evenly; "
            f"ask for a multiple of {len(sections)} bars (e.g. --bars {len(sections) * max(1, round(bars / len(sections)))})"
        )


def section_sources(form: str, bars: int) -> list[int]:
    """For each of ``bars`` bars: the earlier bar it restates, or -1 (new material)."""
    sections = parse_form(form)
    if bars % len(sections):
        check_form(form, bars)
    size = bars // len(sections)
    first: dict[str, int] = {}
    sources = []
    for index, (letter, varied) in enumerate(sections):
        start = index * size
        if letter not in first:
            first[letter] = start
            sources += [-1] * size
            continue
        copied = [first[letter] + k for k in range(size)]
        if varied:
            copied[-1] = -1
        sources += copied
    return sources


def plan_bars(form: str | None, bars: int, rng: np.random.Generator) -> list[int]:
    """The restatement plan of one melody (see ``section_sources``); ``bars`` counts every bar, the last may be partial.

    A named form spans all bars; ``"auto"`` plans each 8-bar strain on its own (a last short strain is cut);
    None plans nothing (all new). The last bar is always new material.
    """
    if form is None or bars <= 0:
        sources = [-1] * max(bars, 0)
    elif form == "auto":
        sources = []
        names, weights = zip(*AUTO_PLANS)
        while len(sources) < bars:
            plan = names[int(rng.choice(len(names), p=np.asarray(weights) / sum(weights)))]
            offset = len(sources)
            sources += [s + offset if s >= 0 else -1 for s in section_sources(plan, STRAIN_BARS)]
        sources = sources[:bars]
    else:
        sources = section_sources(form, bars)
    if sources:
        sources[-1] = -1
    return sources
