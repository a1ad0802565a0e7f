"""Fill-in-the-middle (FIM): the Transformer learns to write bars that join both what comes before and after.

**The objective.** A left-to-right model predicts event t+1 from the steps up to t. Each step is a pair (the input at
position q, the label at q+1), and the Transformer attends over pairs in the order they are presented, with rotary
positions. FIM presents the pairs of a training window in another order: the prefix (the pairs before the middle),
then the suffix (the pairs after it), then the middle, each pair keeping its **true position** in the tune (rotary
positions are relative, so the first middle pair sits right after the prefix, as in plain continuation, and the
suffix lies ahead of it). A learned segment embedding (zero for prefix and plain continuation, so a model that was
never trained this way behaves exactly as before) tells the three apart. The loss covers prefix and middle; the
suffix is context only. The middle's pairs also see the events 1 and 2 bars after their next step where those lie in
the right side (``lookahead``: the mirror of the lookback inputs, through a zero-started layer), which attention
alone learnt too slowly to use (fine-tuning the default 1,500 steps without it, the suffix made the middle *less*
likely). Nothing in the suffix may show the middle: its inputs are encoded with the middle blanked
to "no event" (the lookback features of the bars after a gap would otherwise name its notes), and the pair whose
input is the middle's last event is left out. Middles are whole bars half the time (what a musician rewrites),
else any span of 1..``MAX_MIDDLE`` steps.

**Infill.** ``sample_middles`` builds the same presentation from a tune (the prefix and suffix that fit the
attention window, the middle blanked), then samples the middle pair by pair: each new event's input is computed
from the true history, exactly as in training. ``middle_log_likelihood`` scores a given middle the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from tunesmith.melody.dataset import window_pairs, window_piece
from tunesmith.melody.encoding import NUM_SPECIAL, MelodyEncoding
from tunesmith.music.melody import NO_EVENT

MAX_MIDDLE = 64  # longest middle trained on (4 bars of 4/4); a longer span falls back to sampling-importance-resampling
# suffix pairs presented when infilling. Measured on the shipped default's held-out tunes (bars 5-6, 60 tunes, after
# 1,500 FIM steps): the real middle's log-likelihood with 0 / 8 / 32 / 60 suffix pairs -10.33 / -10.41 / -10.66 /
# -10.79 nats, plain continuation -10.46. The right side helps through the lookahead inputs; attention over the
# suffix itself had not learnt to help yet, so none is presented (training still presents it: what it learns there
# is kept for a longer-trained model to use).
SUFFIX_PAIRS = 0
PREFIX, SUFFIX, MIDDLE = 0, 1, 2  # segment ids (the embedding of PREFIX is fixed at zero)
BLANK = NO_EVENT + NUM_SPECIAL


def presentation(
    enc: MelodyEncoding, seq: torch.Tensor, lo: int, hi: int, left: int, right: int, meter=None, offset: int = 0
) -> dict[str, torch.Tensor]:
    """The FIM order of the pairs of one sequence of event indices ``seq`` ``[T]`` whose middle is events ``[lo, hi)``.

    ``left`` prefix pairs end just before pair ``lo - 1`` (the middle's first pair, whose input is the event before
    the middle); ``right`` suffix pairs start at pair ``hi``. ``offset`` is the absolute position of ``seq[0]`` (its
    meter counter); ``seq`` must hold the lookback context before the prefix. Returns ``inputs [P, F]``, ``labels
    [P]``, ``loss [P]`` (bool), ``positions [P]`` (absolute) and ``segments [P]``, P = left + right + (hi - lo).
    """
    assert 1 <= lo < hi and left <= lo - 1 and hi + right <= seq.numel()
    row = seq.unsqueeze(0)
    blanked = row.clone()
    blanked[:, lo:hi] = BLANK
    true_inputs = enc.inputs(row[:, :-1], offset=offset, meter=meter)[0] if seq.numel() > 1 else None
    labels = enc.labels(row, meter=meter)[0, 1:]
    prefix = torch.arange(lo - 1 - left, lo - 1)
    middle = torch.arange(lo - 1, hi - 1)
    suffix = torch.arange(hi, hi + right)
    parts = [true_inputs[prefix], true_inputs[middle]]
    if right:
        suffix_inputs = enc.inputs(blanked[:, : hi + right], offset=offset, meter=meter)[0]
        parts.insert(1, suffix_inputs[suffix])
    else:
        parts.insert(1, true_inputs[:0])
    order = torch.cat([prefix, suffix, middle])
    ahead = torch.zeros(order.numel(), 2 * enc.num_events)
    ahead[left + right :] = lookahead(enc, seq, middle, hi, _bar(enc, meter))
    segments = torch.cat([torch.full((left,), PREFIX), torch.full((right,), SUFFIX), torch.full((hi - lo,), MIDDLE)])
    label_of = torch.cat([labels[prefix], torch.zeros(right, dtype=labels.dtype), labels[middle]])
    return {
        "inputs": torch.cat(parts),
        "labels": label_of,
        "loss": segments != SUFFIX,
        "positions": order + offset,
        "segments": segments,
        "ahead": ahead,
    }


def _bar(enc: MelodyEncoding, meter) -> int:
    return int(meter[0][0]) if meter is not None else enc.steps_per_bar


def lookahead(enc: MelodyEncoding, seq: torch.Tensor, pairs: torch.Tensor, hi: int, bar: int) -> torch.Tensor:
    """``[len(pairs), 2 * events]``: one-hots of the events 1 and 2 bars after each pair's next step, where they lie in
    the known right side ``seq[hi:]`` (else zeros) - the mirror of the lookback inputs, for the middle's pairs."""
    out = torch.zeros(pairs.numel(), 2 * enc.num_events)
    for k in (1, 2):
        target = pairs + 1 + k * bar
        known = (target >= hi) & (target < seq.numel())
        rows = known.nonzero().squeeze(1)
        out[rows, (k - 1) * enc.num_events + seq[target[rows]]] = 1.0
    return out


def choose_middle(rng: np.random.Generator, start: int, pairs: int, steps_per_bar: int) -> tuple[int, int] | None:
    """A middle ``[lo, hi)`` of events for a training window of ``pairs`` pairs from absolute ``start`` (None: too short)."""
    if pairs < 3:
        return None
    longest = min(MAX_MIDDLE, pairs - 1)
    if rng.random() < 0.5 and steps_per_bar <= longest:  # whole bars, starting on a bar line
        bars = int(rng.integers(1, longest // steps_per_bar + 1))
        length = bars * steps_per_bar
        first = -(-(start + 1) // steps_per_bar) * steps_per_bar
        last = start + pairs - length
        if first <= last:
            lo = first + steps_per_bar * int(rng.integers(0, (last - first) // steps_per_bar + 1))
            return lo, lo + length
    length = int(rng.integers(1, longest + 1))
    lo = int(rng.integers(start + 1, start + pairs - length + 1))
    return lo, lo + length


def fim_window_batch(tokens, indices, enc: MelodyEncoding, window: int, rng: np.random.Generator, share: float):
    """Like ``dataset.window_batch`` (one random window per melody), with ``share`` of the windows in FIM order.

    Returns ``inputs [B, W, F]``, ``labels``, ``mask``, ``positions`` and ``segments`` ``[B, W]``, ``ahead [B, W, 2E]``.
    """
    batch = len(indices)
    inputs = torch.zeros(batch, window, enc.input_size)
    labels = torch.zeros(batch, window, dtype=torch.int64)
    mask = torch.zeros(batch, window, dtype=torch.bool)
    positions = torch.arange(window).repeat(batch, 1)
    segments = torch.zeros(batch, window, dtype=torch.int64)
    ahead = torch.zeros(batch, window, 2 * enc.num_events)
    for row, i in enumerate(indices):
        piece, begin, start, meter = window_piece(tokens, int(i), enc, window, rng)
        pairs = piece.numel() - 1 - (start - begin)
        middle = choose_middle(rng, start, pairs, _bar(enc, meter)) if rng.random() < share else None
        if middle is None:
            x, y = window_pairs(enc, piece, begin, start, meter)
            inputs[row, :pairs], labels[row, :pairs], mask[row, :pairs] = x, y, True
            positions[row, :pairs] = torch.arange(start, start + pairs)
            continue
        lo, hi = middle[0] - begin, middle[1] - begin
        left, right = lo - 1 - (start - begin), start - begin + pairs - hi
        p = presentation(enc, piece, lo, hi, left, max(right, 0), meter, offset=begin)
        n = p["labels"].numel()
        inputs[row, :n], labels[row, :n], mask[row, :n] = p["inputs"], p["labels"], p["loss"]
        positions[row, :n], segments[row, :n], ahead[row, :n] = p["positions"], p["segments"], p["ahead"]
    return inputs, labels, mask, positions, segments, ahead


def can_fill(model, lo: int, hi: int) -> bool:
    """Whether ``model`` fills events ``[lo, hi)`` by FIM (a FIM-trained Transformer, a left context, a short span)."""
    cfg = model.config
    return bool(getattr(cfg, "fill_in_middle", 0)) and lo >= 1 and hi - lo <= min(MAX_MIDDLE, _budget(cfg) - 1)


def _budget(cfg) -> int:
    """Pairs one presentation may hold: what training windows held, within the attention window."""
    return min(w for w in (cfg.train_window, cfg.attention_window) if w) - 1


def _context_sizes(cfg, lo: int, hi: int, stop: int) -> tuple[int, int]:
    """Prefix and suffix pairs presented beside a middle ``[lo, hi)``: the prefix that fits, and at most
    ``SUFFIX_PAIRS`` of the right side (which reaches the middle through ``lookahead`` in any case)."""
    room = _budget(cfg) - (hi - lo)
    right = min(stop - hi, SUFFIX_PAIRS, room)
    return min(lo - 1, room - right), right


def _forward(model, p: dict[str, torch.Tensor]) -> torch.Tensor:
    logits, _ = model.module(p["inputs"], positions=p["positions"], segments=p["segments"], ahead=p["ahead"])
    return logits.float()


def _frame(model, tunes: torch.Tensor, lo: int, hi: int, stop: int, meter) -> tuple[list[dict], int]:
    """The presentation of each row of ``tunes`` ``[N, T]`` around the middle ``[lo, hi)`` (the right side known up to
    ``stop``), and how many of its pairs come before the middle's."""
    enc = model.encoding
    left, right = _context_sizes(model.config, lo, hi, stop)
    begin = max(lo - 1 - left - 2 * (meter[0] if meter is not None else enc.steps_per_bar), 0)  # + lookback context
    rows = enc.meter_tensors(1, meter)
    built = [presentation(enc, row[begin:stop], lo - begin, hi - begin, left, right, rows, offset=begin) for row in tunes]
    return built, left + right


def middle_log_likelihood(model, seq: torch.Tensor, lo: int, hi: int, stop: int | None = None, meter=None) -> float:
    """log p(events ``[lo, hi)`` | the events before and after them) of a FIM-trained model (nats)."""
    (p,), _ = _frame(model, seq.unsqueeze(0), lo, hi, seq.numel() if stop is None else stop, meter)
    with torch.inference_mode():
        logp = torch.log_softmax(_forward(model, {k: v.unsqueeze(0) for k, v in p.items()})[0], -1)
    middle = p["segments"] == MIDDLE
    return float(logp[middle].gather(1, p["labels"][middle].unsqueeze(1)).sum())


def sample_middles(
    model, tunes: torch.Tensor, lo: int, hi: int, stop: int, meter, generator, *, temperature=1.0, top_k=None, values=None
) -> torch.Tensor:
    """Sample events ``[lo, hi)`` of every row of ``tunes`` ``[N, T]`` (event indices) given both sides; ``values``:
    per-step event log-probability biases ``[hi - lo, events]`` (key mask, chords) or None. Returns ``[N, hi - lo]``."""
    from tunesmith.melody.generate import _top_k_top_p, class_values

    enc = model.encoding
    rows = tunes.shape[0]
    context = 2 * (meter[0] if meter is not None else enc.steps_per_bar)
    built, fixed = _frame(model, tunes, lo, hi, stop, meter)  # fixed: the pairs known before sampling
    base = {k: torch.stack([b[k][:fixed] for b in built]) for k in ("inputs", "positions", "segments", "ahead")}
    ahead = torch.stack([b["ahead"][fixed:] for b in built])  # depends on the right side only: known before sampling
    history = tunes[:, :lo].clone()
    mr = enc.meter_tensors(rows, meter)
    new_inputs, new_pos = [], []
    for t in range(hi - lo):
        q = lo - 1 + t  # the pair whose input is the last known event, predicting event lo + t
        window = history[:, max(0, q - context) : q + 1]
        new_inputs.append(enc.inputs(window, offset=q + 1 - window.shape[1], meter=mr)[:, -1])
        new_pos.append(q)
        p = {
            "inputs": torch.cat([base["inputs"], torch.stack(new_inputs, 1)], 1),
            "positions": torch.cat([base["positions"], torch.tensor(new_pos).expand(rows, -1)], 1),
            "segments": torch.cat([base["segments"], torch.full((rows, t + 1), MIDDLE)], 1),
            "ahead": torch.cat([base["ahead"], ahead[:, : t + 1]], 1),
        }
        logp = torch.log_softmax(_forward(model, p)[:, -1], -1)
        if values is not None:
            logp = logp + class_values(enc, history, values[t].unsqueeze(0).expand(rows, -1), mr)
        probs = torch.softmax(_top_k_top_p(logp / temperature, top_k, None), dim=-1)
        classes = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        history = torch.cat([history, enc.class_to_index(classes, history, mr).unsqueeze(1)], dim=1)
    return history[:, lo:hi]
