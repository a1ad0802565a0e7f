"""Edit a tune: rewrite chosen bars (infill), make variations that keep its plan, write a melody over given chords.

**Infill by sampling-importance-resampling (SIR).** Every melody model here reads left to right, so none can
sample the missing middle M of a tune directly from p(M | left L, right R). But p(M | L, R) is proportional to
p(M | L) * p(R | L, M): ``infill`` samples candidate middles from the model given the left context
(one batch of ``candidates`` rows per span, shared by the outputs still alike, at least 2 per output; with the
same key mask generation uses), scores each by the model's log-likelihood of the next
``context_bars`` of the right side given left + candidate (one batched forward pass), and draws the outputs
among the distinct candidates with probability proportional to that likelihood (Gumbel top-k: distinct draws, so
the ``n`` outputs differ). With more candidates this approaches sampling from p(M | L, R); at ``temperature`` 1 the
weights are exact importance weights. It needs no training objective of its own, so every trained model infills
(RNN and Transformer configs alike, the shipped default included). Several spans are filled left to right, each
seeing the bars already filled before it.

**Infill by fill-in-the-middle (FIM).** A Transformer trained with ``fill_in_middle`` (opt-in: ``--fill-in-middle 0.5``) learnt
p(M | L, R) itself (``melody/fim.py``); ``method="fim"`` samples each span of up to ``fim.MAX_MIDDLE`` steps directly,
one row per output. It gives the real bars a higher likelihood than plain continuation does, but its joins measured
worse than SIR's (``benchmarks/bench_edit.py``), so SIR stays the default method.

**Chords.** A chord progression conditions sampling itself: at every step the chord sounding there adds a bias
to the log-probabilities of new notes, towards its tones and away from others, strongest on the downbeat, then
on the other beats, weakest between them (``CHORD_WEIGHT``). Nothing is harmonised afterwards; the spans travel
in ``meta["chords"]``, which the MIDI writer (``outputs/compose``) turns into the ``chords`` accompaniment track and
the ABC/MusicXML writers into chord symbols. Chords come as text (``"C G Am F"``, ``"C:2 G:2"``), as spans, or from a
file (``chord_spans`` / ``tunesmith.music.export.load_chords``: an ABC or MusicXML file's chord symbols, a MIDI file's
chord track or the chords its accompaniment plays).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from tunesmith.core.errors import BadInputError
from tunesmith.melody import fim
from tunesmith.melody.encoding import NUM_SPECIAL
from tunesmith.melody.generate import MelodyModel, _scale_mask, _select_state, _top_k_top_p, class_values
from tunesmith.music.chords import ChordSpan, parse_chord_progression
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody

DEFAULT_CANDIDATES = 64  # middles sampled per span, shared by the outputs that are alike so far (>= 2 per output)
CONTEXT_BARS = 4  # bars of the right side that weight a candidate (further bars barely depend on the middle)
CHORD_WEIGHT = 2.0  # nats added to chord tones (and taken from other notes) on a downbeat
BEAT_SHARE, OFFBEAT_SHARE = 0.6, 0.15  # the chord bias on the other beats and between them, as shares of a downbeat's
INFILL_METHODS = ("sir", "fim", "forward")  # SIR (best joins, any model); the model's own fill-in-the-middle; baseline
STRENGTHS = ("ornament", "light", "medium", "new")  # vary: how much of the tune is rewritten


# --- reading what the user gives -----------------------------------------------------------------
def read_tune(model: MelodyModel, tune, meter: str | None = None) -> Melody:
    """The whole tune (a file, notes, events or a Melody) in the model's range and meter; an empty tune is refused."""
    from tunesmith.audio.transcribe import read_primer

    try:
        melody = read_primer(tune, steps_per_quarter=model.config.steps_per_quarter, meter=meter)
    except BadInputError as exc:  # the primer reader's words, said of the tune
        raise BadInputError(str(exc).replace("primer", "tune", 1)) from None
    if melody is None or not (melody.events >= 0).any():
        raise BadInputError(f"tune {str(tune)[:60]!r} holds no notes: there is nothing to edit")
    bars = -(-len(melody) // melody.steps_per_bar)
    melody = model.prepare_primer(melody, primer_bars=bars, meter=None)  # folds into range, keeps every bar
    whole = bars * melody.steps_per_bar  # the last bar is filled out with rests, so every bar is whole
    if len(melody) < whole:
        events = np.concatenate([melody.events, np.full(whole - len(melody), NO_EVENT, np.int16)])
        melody = melody.copy(events=events)
    return melody


def parse_bars(spec: str | int | list, total_bars: int) -> list[tuple[int, int]]:
    """``"5-6"``, ``"3,7-8"``, ``5`` or ``[5, 6]`` (1-based bars) -> merged 0-based ``[start, end)`` bar spans."""
    if isinstance(spec, int):
        spec = str(spec)
    if isinstance(spec, list | tuple):
        spec = ",".join(str(b) for b in spec)
    chosen: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise BadInputError(f"--bars {spec!r}: write bar numbers from 1, e.g. 5-6 or 3,7-8")
        lo, hi = int(match[1]), int(match[2] or match[1])
        if lo < 1 or hi < lo:
            raise BadInputError(f"--bars {spec!r}: {part} is not a span of bars (bars count from 1, low to high)")
        if hi > total_bars:
            raise BadInputError(f"--bars {spec!r}: bar {hi} is outside the tune, which has {total_bars} bars")
        chosen.update(range(lo - 1, hi))
    if len(chosen) >= total_bars:
        raise BadInputError(
            f"--bars {spec!r} covers the whole tune ({total_bars} bars): keep at least one bar, or use melody generate"
        )
    spans: list[tuple[int, int]] = []
    for bar in sorted(chosen):
        if spans and spans[-1][1] == bar:
            spans[-1] = (spans[-1][0], bar + 1)
        else:
            spans.append((bar, bar + 1))
    return spans


def is_chord_file(chords) -> bool:
    """Whether ``chords`` names a file to read chords from (MIDI, ABC, MusicXML) rather than chord symbols."""
    from tunesmith.music.export import CHORD_FILE_SUFFIXES

    if isinstance(chords, os.PathLike):
        return True
    return isinstance(chords, str) and "\n" not in chords and Path(chords.strip()).suffix.lower() in CHORD_FILE_SUFFIXES


def format_bars(bars: list[int]) -> str:
    """``[3, 7, 8]`` (1-based bars) -> ``"3, 7-8"``: the inverse of ``parse_bars``, for messages and displays."""
    spans: list[list[int]] = []
    for b in bars:
        if spans and spans[-1][1] == b - 1:
            spans[-1][1] = b
        else:
            spans.append([b, b])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def chord_spans(chords, melody_or_meter, steps_per_quarter: int = 4) -> list[ChordSpan]:
    """Chord spans from text (``parse_chord_progression``), from a file (``music.export.load_chords``: an ABC or
    MusicXML file's chord symbols, a MIDI file's chord or accompaniment track; its meter must be the tune's), or
    spans as given, in the tune's bar and beat."""
    from tunesmith.music.export import FileChords, load_chords

    if chords is None:
        return []
    if is_chord_file(chords):
        chords = load_chords(chords, steps_per_quarter)
    if isinstance(chords, FileChords):
        if (chords.steps_per_bar, chords.steps_per_beat) != tuple(melody_or_meter):
            spb, beat = melody_or_meter
            raise BadInputError(
                f"the chords file is in {chords.meter[0]}/{chords.meter[1]} but the tune has bars of {spb} steps "
                f"(beats of {beat}); give chords in the tune's meter"
            )
        return list(chords.chords)
    if isinstance(chords, str):
        spb, beat = melody_or_meter
        return parse_chord_progression(chords, spb, beat)
    return list(chords)


# --- the sampler ---------------------------------------------------------------------------------
def _meter(model: MelodyModel, melody: Melody):
    return (melody.steps_per_bar, melody.steps_per_beat) if model.encoding.meter_aware else None


def _context(model: MelodyModel, melody: Melody) -> int:
    enc = model.encoding
    return 2 * (melody.steps_per_bar if enc.meter_aware else enc.steps_per_bar)


def chord_bias(model: MelodyModel, chords: list[ChordSpan], start: int, steps: int, spb: int, beat: int, weight: float):
    """``[steps, events]`` log-probability bias for positions ``start..start+steps-1`` (None without chords)."""
    if not chords or weight == 0:
        return None
    enc = model.encoding
    bias = torch.zeros(steps, enc.num_events)
    pcs = torch.arange(enc.min_note, enc.max_note) % 12
    for t in range(steps):
        position = start + t
        chord = next((c for c in chords if c.start <= position < c.end), None)
        if chord is None:
            continue
        share = 1.0 if position % spb == 0 else BEAT_SHARE if position % beat == 0 else OFFBEAT_SHARE
        tones = torch.isin(pcs, torch.tensor(chord.pitch_classes))
        bias[t, NUM_SPECIAL:] = torch.where(tones, weight * share / 2, -weight * share / 2)
    return bias


def _event_values(enc, steps: int, mask, bias):
    """Per-step event log-probability offsets ``[steps, events]`` from a key mask and a chord bias (None: neither)."""
    if mask is None and bias is None:
        return None
    values = torch.zeros(steps, enc.num_events) if bias is None else bias.clone()
    return values.masked_fill(~mask.unsqueeze(0), float("-inf")) if mask is not None else values


def _sample(
    model, history, state, logits, steps, meter, context, generator, *, temperature=1.0, top_k=None, mask=None, bias=None
):
    """Append ``steps`` sampled events to every row of ``history``, carrying the model state (one batch per step)."""
    enc = model.encoding
    rows = history.shape[0]
    for t in range(steps):
        logp = torch.log_softmax(logits.float(), dim=-1)
        values = torch.zeros(rows, enc.num_events)
        if mask is not None:
            values = values.masked_fill(~mask.unsqueeze(0).expand(rows, -1), float("-inf"))
        if bias is not None:
            values = values + bias[t].unsqueeze(0)
        if mask is not None or bias is not None:
            logp = logp + class_values(enc, history, values, meter)
        probs = torch.softmax(_top_k_top_p(logp / temperature, top_k, None), dim=-1)
        classes = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        new_idx = enc.class_to_index(classes, history, meter)
        history = torch.cat([history, new_idx.unsqueeze(1)], dim=1)
        window = history[:, -(context + 1) :] if enc.lookbacks else history[:, -1:]
        inputs = enc.inputs(window, offset=history.shape[1] - window.shape[1], meter=meter)[:, -1:]
        logits, state = model.module(inputs, state)
        logits = logits[:, -1]
    return history, state, logits


def _right_log_likelihood(model, history, state, logits, right: torch.Tensor, meter, context) -> torch.Tensor:
    """Log-probability of the fixed continuation ``right`` ``[R]`` after each row of ``history`` (one forward pass)."""
    enc = model.encoding
    rows, end = history.shape[0], history.shape[1]
    full = torch.cat([history, right.unsqueeze(0).expand(rows, -1)], dim=1)
    labels = enc.labels(full, meter=meter)[:, end:]
    total = torch.log_softmax(logits.float(), -1).gather(1, labels[:, :1]).squeeze(1)
    if right.numel() > 1:
        lo = max(0, end - context - 1)
        inputs = enc.inputs(full[:, lo : end + right.numel() - 1], offset=lo, meter=meter)[:, end - lo :]
        out, _ = model.module(inputs, state)
        total = total + torch.log_softmax(out.float(), -1).gather(2, labels[:, 1:].unsqueeze(-1)).squeeze(-1).sum(1)
    return total


def _start(model, prefixes: torch.Tensor, meter):
    """Model state and next-step logits after each prefix ``[U, T]``."""
    logits, state = model.module(model.encoding.inputs(prefixes, meter=meter))
    return logits[:, -1], state


def _gumbel_pick(weights: torch.Tensor, keys: list[bytes], k: int, generator) -> list[int]:
    """``k`` rows drawn without replacement with probability proportional to ``exp(weights)``, distinct middles first."""
    gumbel = -torch.log(-torch.log(torch.rand(weights.shape[0], generator=generator).clamp(1e-12, 1 - 1e-12)))
    order = torch.argsort(weights + gumbel, descending=True).tolist()
    picked, seen = [], set()
    for i in order:
        if keys[i] not in seen:
            picked.append(i)
            seen.add(keys[i])
        if len(picked) == k:
            return picked
    return (picked * k)[:k]  # fewer distinct middles than outputs: repeat the best


# --- infill --------------------------------------------------------------------------------------
def infill(
    model: MelodyModel,
    tune,
    bars,
    n: int = 4,
    *,
    candidates: int = DEFAULT_CANDIDATES,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    key: str | None = None,
    scale: str = "major",
    chords=None,
    chord_weight: float = CHORD_WEIGHT,
    context_bars: int = CONTEXT_BARS,
    meter: str | None = None,
    method: str = "sir",
) -> list[Melody]:
    """Regenerate ``bars`` (1-based, e.g. ``"5-6"`` or ``"3,7-8"``) of ``tune`` into ``n`` versions, every other bar
    kept event for event, each rewritten span joining what comes before and after (sampling-importance-resampling:
    see the module docstring). ``key``/``scale`` mask the notes as in generation; ``chords`` (text or spans over
    the whole tune) bias the rewritten bars towards the chord tones. ``method``: ``"sir"`` (any model);
    ``"fim"`` the model's own fill-in-the-middle (``melody/fim.py``; a model trained with ``fill_in_middle``, spans of at
    most ``fim.MAX_MIDDLE`` steps after the first bar, other spans by SIR); ``"forward"`` is plain forward continuation
    (the baseline: candidates drawn at random, the right side ignored). Each melody's ``meta`` says which bars were
    rewritten (``infilled``, 1-based) and how (``infill_method``), and for SIR the log-likelihood of the right side
    that chose it (``seam_log_likelihood``) and the mean of that over all candidates (``right_log_evidence``: the
    estimate of log p(right | left))."""
    if n < 1 or candidates < 1:
        raise BadInputError(f"-n and --candidates must be at least 1, not {n} and {candidates}")
    if not 0 < temperature <= 10:
        raise BadInputError(f"--temperature must be above 0 (and at most 10), not {temperature}")
    if method not in INFILL_METHODS:
        raise BadInputError(f"--method {method!r}: choose one of {', '.join(INFILL_METHODS)}")
    weighted = method != "forward"
    if method == "fim" and not getattr(model.config, "fill_in_middle", 0):
        raise BadInputError(
            "--method fim: this model was not trained to fill in the middle (train a transformer with "
            "--fill-in-middle 0.5); use --method sir, which works with any model"
        )
    melody = tune if isinstance(tune, Melody) and tune.meta.get("_edit_ready") else read_tune(model, tune, meter)
    spb, beat = melody.steps_per_bar, melody.steps_per_beat
    total_bars = len(melody) // spb
    spans = parse_bars(bars, total_bars)
    chord_list = chord_spans(chords, (spb, beat))
    if chord_list and chord_list[-1].end > len(melody):
        raise BadInputError(
            f"the chords last {chord_list[-1].end / spb:g} bars but the tune has {total_bars}: give at most one chord a bar"
        )
    enc = model.encoding
    m, context = _meter(model, melody), _context(model, melody)
    mask = _scale_mask(enc, key, scale, "cpu") if key else None
    generator = torch.Generator().manual_seed(seed)
    tunes = enc.event_to_index(torch.as_tensor(melody.events.astype(np.int64))).unsqueeze(0).repeat(n, 1)
    seam, log_evidence = torch.zeros(n), torch.zeros(n)
    methods = []
    with torch.inference_mode():
        for number, (bar_lo, bar_hi) in enumerate(spans):
            lo, hi = bar_lo * spb, bar_hi * spb
            if method == "fim" and fim.can_fill(model, lo, hi):  # the model learnt to fill in: sample p(M | L, R) directly
                stop = spans[number + 1][0] * spb if number + 1 < len(spans) else len(melody)
                values = _event_values(enc, hi - lo, mask, chord_bias(model, chord_list, lo, hi - lo, spb, beat, chord_weight))
                tunes[:, lo:hi] = fim.sample_middles(
                    model, tunes, lo, hi, stop, m, generator, temperature=temperature, top_k=top_k, values=values
                )
                methods.append("fill-in-the-middle")
                continue
            methods.append("sampling-importance-resampling" if weighted else "forward")
            right = tunes[:, hi : min(hi + context_bars * spb, len(melody))]  # the bars that weight a middle
            unique, inverse = torch.unique(tunes, dim=0, return_inverse=True)
            counts = torch.bincount(inverse, minlength=unique.shape[0])
            per_group = torch.maximum(counts * candidates // n, 2 * counts)  # the pool of each group of alike outputs
            rows = torch.repeat_interleave(torch.arange(unique.shape[0]), per_group)
            if lo == 0:  # no left context: each candidate opens on a pitch the tune itself plays
                pitches = torch.unique(tunes[0][tunes[0] >= NUM_SPECIAL])
                first = pitches[torch.randint(len(pitches), (rows.numel(),), generator=generator)]
                history = first.unsqueeze(1)
                logits, state = _start(model, history, m)
                steps = hi - lo - 1
            else:
                logits, state = _start(model, unique[:, :lo], m)
                logits, state, history = logits[rows], _select_state(state, rows), unique[rows, :lo]
                steps = hi - lo
            bias = chord_bias(model, chord_list, hi - steps, steps, spb, beat, chord_weight)
            history, state, logits = _sample(
                model, history, state, logits, steps, m, context, generator, temperature=temperature, top_k=top_k,
                mask=mask, bias=bias,
            )  # fmt: skip
            middles = history[:, -(hi - lo) :]
            weights = torch.zeros(rows.numel())
            if right.shape[1]:
                for u in range(unique.shape[0]):  # each distinct tune so far has its own right side
                    sel = (rows == u).nonzero().squeeze(1)
                    side = unique[u, hi : hi + right.shape[1]]
                    weights[sel] = _right_log_likelihood(
                        model, history[sel], _select_state(state, sel), logits[sel], side, m, context
                    )
            for u in range(unique.shape[0]):
                members = (inverse == u).nonzero().squeeze(1).tolist()
                pool = (rows == u).nonzero().squeeze(1)
                keys = [bytes(middles[i].to(torch.uint8).numpy()) for i in pool.tolist()]
                w = weights[pool] if weighted else torch.zeros(pool.numel())
                evidence = torch.logsumexp(weights[pool], 0) - np.log(pool.numel())  # log p(right | left), estimated
                for out, pick in zip(members, _gumbel_pick(w, keys, len(members), generator)):
                    tunes[out, lo:hi] = middles[pool[pick]]
                    seam[out] += weights[pool[pick]]
                    log_evidence[out] += evidence
    events = enc.index_to_event(tunes).numpy().astype(np.int16)
    filled = [b + 1 for lo, hi in spans for b in range(lo, hi)]
    return [
        melody.copy(
            events=events[i],
            primer_steps=0,
            name=f"melody_{i + 1:02d}",
            meta={
                **{k: v for k, v in melody.meta.items() if not k.startswith("_")},
                "infilled": filled,
                "infill_method": methods[0] if len(set(methods)) == 1 else methods,
                "seam_log_likelihood": float(seam[i]),
                "right_log_evidence": float(log_evidence[i]),
                "seed": seed,
                **({"chords": chord_list} if chord_list else {}),
            },
        )
        for i in range(n)
    ]


# --- variations ----------------------------------------------------------------------------------
def bar_plan(melody: Melody) -> list[int]:
    """For each bar: the earlier bar it restates event for event, or -1 (a bar that holds no note is never a source)."""
    spb = melody.steps_per_bar
    bars = [bytes(melody.events[b * spb : (b + 1) * spb].astype(np.int16).tobytes()) for b in range(len(melody) // spb)]
    first: dict[bytes, int] = {}
    plan = []
    for b, key in enumerate(bars):
        has_note = bool((melody.events[b * spb : (b + 1) * spb] >= 0).any())
        plan.append(first[key] if key in first and has_note else -1)
        first.setdefault(key, b)
    return plan


def cadence_bars(melody: Melody, phrase_bars: int = 4) -> list[int]:
    """The bars that close a phrase (every ``phrase_bars``-th) and the final bar, 0-based: ``vary`` keeps them."""
    total = len(melody) // melody.steps_per_bar
    return sorted({b for b in range(phrase_bars - 1, total, phrase_bars)} | {total - 1})


def vary(
    model: MelodyModel,
    tune,
    n: int = 4,
    *,
    strength: str = "medium",
    seed: int = 0,
    meter: str | None = None,
    **infill_kwargs,
) -> list[Melody]:
    """``n`` variations of ``tune`` on its own plan: cadence bars (each 4-bar phrase's last, and the final bar) stay,
    bars that restate an earlier bar are copied from their (rewritten) source so the form holds, and of the rest
    ``strength`` rewrites: ``"ornament"`` every other bar of new material, ``"light"`` every other phrase's middle,
    ``"medium"`` all but the first bar, ``"new"`` all of it (a new tune on the same plan)."""
    if strength not in STRENGTHS:
        raise BadInputError(f"--strength {strength!r}: choose one of {', '.join(STRENGTHS)}")
    melody = read_tune(model, tune, meter)
    melody.meta["_edit_ready"] = True
    plan, keep = bar_plan(melody), set(cadence_bars(melody))
    free = [b for b, s in enumerate(plan) if s < 0 and b not in keep]
    if strength == "ornament":
        free = free[1::2]
    elif strength == "light":
        free = [b for b in free if (b // 4) % 2 == 1 or b % 4 == 1]
    elif strength == "medium":
        free = [b for b in free if b != 0]
    if not free:
        raise BadInputError(
            f"tune {melody.name or ''}: every bar is a cadence or a restatement, so a {strength!r} variation has "
            "nothing to rewrite; try --strength new, or melody infill with --bars"
        )
    outputs = infill(model, melody, [b + 1 for b in free], n, seed=seed, **infill_kwargs)
    spb = melody.steps_per_bar
    for out in outputs:
        for bar, source in enumerate(plan):
            if source >= 0 and source in free:  # the restatement follows its rewritten source
                out.events[bar * spb : (bar + 1) * spb] = out.events[source * spb : (source + 1) * spb]
        out.meta["plan"] = " ".join(f"={s + 1}" if s >= 0 else str(b + 1) for b, s in enumerate(plan))
        out.meta["strength"] = strength
        out.meta.pop("_edit_ready", None)
    return outputs


# --- a melody over chords ------------------------------------------------------------------------
def generate_over_chords(
    model: MelodyModel,
    chords,
    n: int = 4,
    *,
    primer=None,
    meter: str | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    key: str | None = None,
    scale: str = "major",
    chord_weight: float = CHORD_WEIGHT,
    qpm: float | None = None,
) -> list[Melody]:
    """``n`` melodies as long as the progression ``chords`` (``"C G Am F"``, ``"C:2 G:2 ..."``, spans, or a file:
    ``music.export.load_chords``, whose meter the melody takes when there is no primer), sampled
    with each step biased towards the tones of the chord sounding there; a ``primer`` gives the opening bars
    (it must be shorter than the chords), else each melody opens on a tone of the first chord."""
    if n < 1:
        raise BadInputError(f"-n must be at least 1, not {n}")
    if not 0 < temperature <= 10:
        raise BadInputError(f"--temperature must be above 0 (and at most 10), not {temperature}")
    enc = model.encoding
    if is_chord_file(chords):  # chords from a file: a melody without a primer takes the file's meter
        from tunesmith.music.export import load_chords

        chords = load_chords(chords, model.config.steps_per_quarter)
        meter = meter or (f"{chords.meter[0]}/{chords.meter[1]}" if primer is None else None)
    if primer is not None:
        start = model.prepare_primer(primer, meter=meter)
    else:
        start = model.prepare_primer(None, seed=seed, meter=meter)
    spb, beat = start.steps_per_bar, start.steps_per_beat
    chord_list = chord_spans(chords, (spb, beat), start.steps_per_quarter)
    total = chord_list[-1].end
    generator = torch.Generator().manual_seed(seed)
    if primer is None:
        tones = [p for p in range(max(enc.min_note, 60), min(enc.max_note, 72)) if p % 12 in chord_list[0].pitch_classes]
        first = torch.tensor(tones)[torch.randint(len(tones), (n,), generator=generator)]
        history = enc.event_to_index(first).unsqueeze(1)
    else:
        if len(start) >= total:
            raise BadInputError(
                f"the primer is {len(start) / spb:g} bars long and the chords {total / spb:g}: give more chords than "
                "the primer has bars (the chords cover the whole melody, primer included)"
            )
        history = enc.event_to_index(torch.as_tensor(start.events.astype(np.int64))).unsqueeze(0).repeat(n, 1)
    m = (spb, beat) if enc.meter_aware else None
    context = 2 * (spb if enc.meter_aware else enc.steps_per_bar)
    mask = _scale_mask(enc, key, scale, "cpu") if key else None
    begin = history.shape[1]
    with torch.inference_mode():
        logits, state = _start(model, history, m)
        bias = chord_bias(model, chord_list, begin, total - begin, spb, beat, chord_weight)
        history, _, _ = _sample(
            model, history, state, logits, total - begin, m, context, generator, temperature=temperature, top_k=top_k,
            mask=mask, bias=bias,
        )  # fmt: skip
    events = enc.index_to_event(history).numpy().astype(np.int16)
    return [
        Melody(
            events[i],
            steps_per_quarter=start.steps_per_quarter,
            meter=start.meter,
            steps_per_bar=spb,
            qpm=qpm or start.qpm,
            primer_steps=len(start) if primer is not None else 0,
            name=f"melody_{i + 1:02d}",
            meta={"chords": chord_list, "seed": seed},
        )
        for i in range(n)
    ]


def strong_beat_chord_tones(melody: Melody, chords: list[ChordSpan]) -> float | None:
    """Share of notes starting on a beat that are tones of the chord sounding there (None: no such note)."""
    hits = total = 0
    for t in np.flatnonzero(melody.events >= 0):
        if t % melody.steps_per_beat:
            continue
        chord = next((c for c in chords if c.start <= t < c.end), None)
        if chord is not None:
            total += 1
            hits += int(melody.events[t]) % 12 in chord.pitch_classes
    return hits / total if total else None


assert NOTE_OFF + NUM_SPECIAL == 1
