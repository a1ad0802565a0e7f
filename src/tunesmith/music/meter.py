"""Meter: a time signature as the model sees it, in steps per bar and steps per beat.

A time signature ``N/D`` has N beats of a 1/D note per bar, except compound meters (6/8, 9/8, 12/8: a numerator
divisible by 3, above 3, over 8 or 16), whose beat is three of those notes (a dotted quarter in 6/8). At 4 steps
per quarter: 4/4 -> 16 steps per bar, beat 4; 3/4 -> 12, beat 4; 6/8 -> 12, beat 6; 2/2 -> 16, beat 8; 9/8 -> 18, beat 6.
(steps per bar, steps per beat) names the meter back exactly for every usual signature, so token shards
store just those two numbers per melody.
"""

from __future__ import annotations

from tunesmith.core.errors import BadInputError

DEFAULT_METER = (4, 4)
DENOMINATORS = (1, 2, 4, 8, 16, 32)


def check_meter(numerator: int, denominator: int, steps_per_quarter: int = 4) -> tuple[int, int]:
    """The meter as a pair of ints, or a clear error (a bar must be a whole number of steps)."""
    if not isinstance(numerator, int) or not isinstance(denominator, int) or not 1 <= numerator <= 64:
        raise BadInputError(f"meter {numerator}/{denominator}: the numerator must be a whole number 1-64 (e.g. 6/8)")
    if denominator not in DENOMINATORS:
        raise BadInputError(
            f"meter {numerator}/{denominator}: the denominator must be one of {', '.join(map(str, DENOMINATORS))} (e.g. 6/8)"
        )
    if (4 * steps_per_quarter * numerator) % denominator:
        raise BadInputError(
            f"meter {numerator}/{denominator} is not a whole number of steps at {steps_per_quarter} steps per quarter"
        )
    return numerator, denominator


def parse_meter(text: str | tuple[int, int] | None, steps_per_quarter: int = 4) -> tuple[int, int] | None:
    """``"6/8"`` (or ``(6, 8)``) -> ``(6, 8)``; None stays None; anything else is a clear error."""
    if text is None:
        return None
    if isinstance(text, tuple | list):
        if len(text) != 2:
            raise BadInputError(f"meter {text!r}: write it as numerator/denominator, e.g. 6/8")
        return check_meter(int(text[0]), int(text[1]), steps_per_quarter)
    parts = str(text).strip().split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise BadInputError(f"meter {text!r}: write it as numerator/denominator, e.g. 6/8 or 3/4")
    return check_meter(int(parts[0]), int(parts[1]), steps_per_quarter)


def is_compound(numerator: int, denominator: int) -> bool:
    return denominator >= 8 and numerator > 3 and numerator % 3 == 0


def meter_steps(meter: tuple[int, int], steps_per_quarter: int = 4) -> tuple[int, int]:
    """(steps per bar, steps per beat) of a meter."""
    numerator, denominator = meter
    note = 4 * steps_per_quarter / denominator  # steps in one 1/denominator note
    beat = note * (3 if is_compound(numerator, denominator) else 1)
    return max(1, round(numerator * note)), max(1, round(beat))


def meter_of_steps(steps_per_bar: int, steps_per_beat: int | None = None, steps_per_quarter: int = 4) -> tuple[int, int]:
    """The time signature with this many steps per bar and beat (inverse of ``meter_steps``; quarter beat if none)."""
    beat = steps_per_beat or steps_per_quarter
    if 2 * beat == 3 * steps_per_quarter and steps_per_bar % beat == 0:
        return 3 * steps_per_bar // beat, 8  # dotted-quarter beats: compound (6/8, 9/8, 12/8)
    if steps_per_bar % beat == 0 and (4 * steps_per_quarter) % beat == 0:
        return steps_per_bar // beat, 4 * steps_per_quarter // beat
    quarters = steps_per_bar / steps_per_quarter  # odd lengths (a bar of 7 eighths...): count eighths or 16ths
    for denominator in (4, 8, 16):
        count = quarters * denominator / 4
        if float(count).is_integer():
            return int(count), denominator
    return steps_per_bar, 4 * steps_per_quarter


def meter_name(meter: tuple[int, int]) -> str:
    return f"{meter[0]}/{meter[1]}"


def meter_of(melody) -> tuple[int, int]:
    """A melody's time signature: its ``meter`` when set, else the one its bar length implies (16 steps at 4 per
    quarter -> 4/4, 12 -> 3/4), 4/4 when it has no bar length. The one rule for scores, ABC, chords and MIDI."""
    if getattr(melody, "meter", None) is not None:
        return tuple(melody.meter)
    spq, spb = int(melody.steps_per_quarter), int(melody.steps_per_bar)
    return meter_of_steps(spb, None, spq) if spq > 0 and spb > 0 else DEFAULT_METER


def score_meter(score, steps_per_quarter: int = 4) -> tuple[int, int] | None:
    """A score's first time signature as a meter; None when it has none or it is unusable (a damaged 255/0)."""
    if not len(score.time_signatures):
        return None
    ts = score.time_signatures[0]
    try:
        return check_meter(int(ts.numerator), int(ts.denominator), steps_per_quarter)
    except BadInputError:
        return None
