"""Editing a tune (issue 31) with the shipped default: speed, seams, likelihood of the real bars, chords.

* ``speed``: an 8-bar infill (bars 5-12 of a 16-bar held-out tune, 4 versions from 64 candidates a span), median of 3,
  on 2 torch threads and on 1 (the figure depends on what else the 2 cores run: see ``machine.load_average_1min``).
* ``seams``: across the joins of a rewritten span (bars 5-6 of each held-out tune), the mean absolute interval
  (semitones) between the last note before a join and the first after it, and the share of joins whose
  inter-onset time also occurs inside the real tune; for the real tunes at the same joins, for infill (SIR) and
  for plain forward continuation of the left side spliced in (the baseline), and within the real tunes overall.
* ``likelihood``: log-probability (nats) of the real bars 5-6 given both sides: the model's own fill-in-the-middle
  likelihood (melody/fim.py; a FIM-trained Transformer, as the default), and as SIR models it
  (log p(M | L) + log p(R | L, M) - log p^(R | L), p^ the mean over the candidates), vs given only the left side
  (forward continuation: log p(M | L)); R is the 4 bars after. Also the log-likelihood of those 4 right bars after
  the chosen middle: SIR vs forward continuation vs the real middle.
* ``realism_of_rewritten_bars``: the realism test's critics (``evaluate/realism.py``) telling the rewritten bars 5-6
  (the first version of each tune) from the real bars they replace, per method (accuracy; 0.5: they cannot).
* ``chords``: share of notes on a beat that are tones of the chord sounding there, for melodies written over
  "C G Am F C F G C" with and without the chord bias, and for held-out tunes under the chords ``harmonize`` chose
  (for scale; those chords were chosen to fit the notes).

    python benchmarks/bench_edit.py [--quick] [--model MODEL_DIR]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine, quick, torch  # noqa: E402 - tunesmith before torch
from tunesmith.core.errors import TunesmithError  # noqa: E402
from tunesmith.evaluate.realism import MIN_TUNES, compare_continuations  # noqa: E402
from tunesmith.melody import fim  # noqa: E402
from tunesmith.melody.edit import DEFAULT_CANDIDATES, generate_over_chords, infill, read_tune, strong_beat_chord_tones  # noqa: E402
from tunesmith.melody.generate import load_melody_model  # noqa: E402

SPAN = (4, 6)  # bars 5-6, 0-based [start, end)
RIGHT_BARS = 4
PROGRESSION = "C G Am F C F G C"


def tunes(model, count: int) -> list:
    folder = FOLK / "heldout" if (FOLK / "heldout").is_dir() else TEST_FOLK
    out = []
    for path in sorted(folder.glob("*.mid")):
        if path.name.startswith("essenFolksong"):  # the default never trained on these, but its licence is narrower
            continue
        try:
            melody = read_tune(model, path)
        except TunesmithError:
            continue
        if len(melody) // melody.steps_per_bar >= SPAN[1] + RIGHT_BARS and (melody.events >= 0).sum() >= 16:
            out.append(melody)
        if len(out) == count:
            break
    return out


def ll(model, melody, stop: int) -> float:
    return float(model.log_likelihood([melody.copy(events=melody.events[:stop])])[0])


def onsets(events: np.ndarray) -> np.ndarray:
    return np.flatnonzero(events >= 0)


def join_figures(melody, joins: list[int], own_iois: set[int]) -> list[tuple[float, bool]]:
    """(|interval|, IOI seen in the real tune) across each join step (the first step after it)."""
    on = onsets(melody.events)
    out = []
    for j in joins:
        before, after = on[on < j], on[on >= j]
        if before.size and after.size:
            a, b = int(before[-1]), int(after[0])
            out.append((abs(int(melody.events[b]) - int(melody.events[a])), (b - a) in own_iois))
    return out


def speed(model, tune, threads: int) -> float:
    torch.set_num_threads(threads)
    times = []
    for seed in range(3):
        start = time.perf_counter()
        infill(model, tune, "5-12", n=4, seed=seed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    warnings.filterwarnings("ignore", message="primer notes")  # tunes above the model's range are moved by octaves
    model = load_melody_model(sys.argv[sys.argv.index("--model") + 1] if "--model" in sys.argv else "default")
    count = 10 if quick() else 40
    melodies = tunes(model, count)
    long_tune = next(m for m in melodies + tunes(model, 200) if len(m) // m.steps_per_bar >= 16)
    infill(model, long_tune, "5-6", n=1)  # warm up
    timing = {"threads_2_s": speed(model, long_tune, 2), "threads_1_s": speed(model, long_tune, 1)}
    torch.set_num_threads(2)

    rows = {"real": [], "fim": [], "sir": [], "forward": []}
    firsts: dict[str, list] = {}
    within = []
    lik = {
        "both_sides_sir": [],
        "both_sides_fim": [],
        "left_only": [],
        "right_after_sir": [],
        "right_after_forward": [],
        "right_after_fim": [],
        "right_after_real": [],
    }
    bars = f"{SPAN[0] + 1}-{SPAN[1]}"
    for melody in melodies:
        spb = melody.steps_per_bar
        lo, hi, right_end = SPAN[0] * spb, SPAN[1] * spb, (SPAN[1] + RIGHT_BARS) * spb
        on = onsets(melody.events)
        own = set(np.diff(on).tolist())
        pitches = melody.events[on].astype(int)
        within += np.abs(np.diff(pitches)).tolist()
        sir = infill(model, melody, bars, n=4, seed=0, context_bars=RIGHT_BARS, method="sir")
        forward = infill(model, melody, bars, n=4, seed=0, method="forward")
        outputs = {"sir": sir, "forward": forward}
        if fim.can_fill(model, lo, hi):  # the model's own fill-in-the-middle
            outputs["fim"] = infill(model, melody, bars, n=4, seed=0, method="fim")
        for name, outs in outputs.items():
            firsts.setdefault(name, []).append(outs[0])
        rows["real"] += join_figures(melody, [lo, hi], own)
        for name, outs in outputs.items():
            for out in outs:
                rows[name] += join_figures(out, [lo, hi], own)
                lik[f"right_after_{name}"].append((ll(model, out, right_end) - ll(model, out, hi)) / RIGHT_BARS)
        middle = ll(model, melody, hi) - ll(model, melody, lo)
        right_real = ll(model, melody, right_end) - ll(model, melody, hi)
        lik["left_only"].append(middle)
        lik["both_sides_sir"].append(middle + right_real - sir[0].meta["right_log_evidence"])
        if fim.can_fill(model, lo, hi):  # the model's own fill-in-the-middle likelihood
            seq = model.encoding.event_to_index(torch.as_tensor(melody.events.astype(np.int64)))
            meter = (spb, melody.steps_per_beat) if model.encoding.meter_aware else None
            lik["both_sides_fim"].append(fim.middle_log_likelihood(model, seq, lo, hi, meter=meter))
        lik["right_after_real"].append(right_real / RIGHT_BARS)
    seams = {
        name: {
            "joins": len(r),
            "mean_abs_interval": float(np.mean([a for a, _ in r])) if r else None,
            "ioi_seen_in_tune": float(np.mean([b for _, b in r])) if r else None,
        }
        for name, r in rows.items()
    }
    seams["within_real_mean_abs_interval"] = float(np.mean(within))
    realism = {}  # can a critic tell the rewritten bars 5-6 from the real bars they replace? (0.5: it cannot)
    if len(melodies) >= MIN_TUNES:
        for name, outs in firsts.items():
            test = compare_continuations(melodies, outs, window=SPAN, seed=0)
            realism[name] = {critic: round(r["accuracy"], 3) for critic, r in test["critics"].items()}

    n = 16 if quick() else 64
    over = generate_over_chords(model, PROGRESSION, n=n, seed=0)
    free = generate_over_chords(model, PROGRESSION, n=n, seed=0, chord_weight=0)
    spans = over[0].meta["chords"]
    real_shares = []
    from tunesmith.music.harmony import harmonize

    for melody in melodies:
        try:
            real_shares.append(strong_beat_chord_tones(melody, harmonize(melody).chords))
        except TunesmithError:
            pass
    chords = {
        "progression": PROGRESSION,
        "melodies": n,
        "with_chords": float(np.mean([strong_beat_chord_tones(m, spans) for m in over])),
        "without_chords": float(np.mean([strong_beat_chord_tones(m, spans) for m in free])),
        "real_tunes_under_harmonize": float(np.mean([s for s in real_shares if s is not None])) if real_shares else None,
    }
    emit(
        {
            "benchmark": "edit",
            "machine": machine(),
            "quick": quick(),
            "tunes": len(melodies),
            "speed_8_bar_infill": {"bars": 8, "n": 4, "candidates": DEFAULT_CANDIDATES, **timing},
            "seams": seams,
            "likelihood_nats": {
                "real_middle_given_both_sides_fim": float(np.mean(lik["both_sides_fim"])) if lik["both_sides_fim"] else None,
                "real_middle_given_both_sides_sir": float(np.mean(lik["both_sides_sir"])),
                "real_middle_given_left_only": float(np.mean(lik["left_only"])),
                "right_bars_per_bar_after_sir": float(np.mean(lik["right_after_sir"])),
                "right_bars_per_bar_after_forward": float(np.mean(lik["right_after_forward"])),
                "right_bars_per_bar_after_fim": float(np.mean(lik["right_after_fim"])) if lik["right_after_fim"] else None,
                "right_bars_per_bar_after_real": float(np.mean(lik["right_after_real"])),
            },
            "chords": chords,
            "realism_of_rewritten_bars": realism,
        }
    )


if __name__ == "__main__":
    main()
