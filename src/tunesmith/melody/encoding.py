"""Melody encodings with Magenta's semantics, vectorised over batches.

* **one-hot** (``basic_rnn``): class 0 = NO_EVENT, 1 = NOTE_OFF, 2.. = pitches ``min_note..max_note-1``
  (38 classes for 48-84). Input at step t is the one-hot of event t, label is event t+1.
* **lookback** (``lookback_rnn``, also the inputs of our ``attention_rnn``): the input adds the events
  1 and 2 bars back (relative to the *next* step), a 5-bit binary step counter (+1/-1) for the metric
  position of the next step, and flags saying whether the current event repeats 1/2 bars back;
  labels gain two classes "repeat the event from 1 (2) bars ago" (Magenta's
  ``LookbackEventSequenceEncoderDecoder``: 121 inputs, 40 classes for 48-84).

**Meter.** Magenta fixes the bar at 16 steps (4/4). A ``meter_aware`` encoding takes each melody's own meter
(steps per bar and per beat, see ``music/meter.py``): the lookbacks are 1 and 2 of *its* bars, and the counter
is the next step's position within two of its bars, ``(t + 1) mod 2*bar`` (within one bar when two would
overflow 5 bits, as in 9/8). For 4/4 that is exactly Magenta's counter. ``beat_inputs`` adds two inputs, +1/-1:
the next step starts a beat / a bar, which tells 6/8 (two beats of 6 steps) from 3/4 (three of 4).

Everything works on integer event tensors ``[batch, time]`` so no per-step Python runs in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import NO_EVENT, NOTE_OFF

NUM_SPECIAL = 2
BINARY_COUNTER_BITS = 5


@dataclass(frozen=True)
class MelodyEncoding:
    """How events become model inputs and labels for one config."""

    kind: str = "one_hot"  # "one_hot" | "lookback"
    min_note: int = 48
    max_note: int = 84
    steps_per_bar: int = 16  # lookback distances are 1 and 2 bars (Magenta uses the 4/4 bar)
    meter_aware: bool = False  # bars and counter from each melody's meter (else the fixed steps_per_bar, as Magenta)
    beat_inputs: bool = False  # two more inputs: the next step starts a beat / a bar
    steps_per_beat: int = 4  # the beat when no meter is passed (a quarter at 4 steps per quarter)

    @property
    def num_events(self) -> int:
        return self.max_note - self.min_note + NUM_SPECIAL

    @property
    def lookbacks(self) -> tuple[int, ...]:
        return (self.steps_per_bar, 2 * self.steps_per_bar) if self.kind == "lookback" else ()

    @property
    def num_classes(self) -> int:
        return self.num_events + len(self.lookbacks)

    @property
    def input_size(self) -> int:
        if self.kind == "one_hot":
            return self.num_events
        extra = 2 if self.beat_inputs else 0
        return self.num_events * (1 + len(self.lookbacks)) + BINARY_COUNTER_BITS + len(self.lookbacks) + extra

    def meter_tensors(self, batch: int, meter=None, device=None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-row (steps per bar, steps per beat) as ``[B]`` tensors, or None for the fixed Magenta bar.

        ``meter``: None (the encoding's own), a pair of ints, or a pair of per-row sequences/tensors.
        """
        if not self.meter_aware:
            return None
        bar, beat = meter if meter is not None else (self.steps_per_bar, self.steps_per_beat)
        bar = torch.as_tensor(bar, dtype=torch.long, device=device).reshape(-1)
        beat = torch.as_tensor(beat, dtype=torch.long, device=device).reshape(-1)
        return bar.expand(batch) if bar.numel() == 1 else bar, beat.expand(batch) if beat.numel() == 1 else beat

    def _distances(self, batch: int, meter, device) -> list[int | torch.Tensor]:
        """The lookback distances: ints (fixed bar) or ``[B]`` tensors (each row's own bar)."""
        rows = self.meter_tensors(batch, meter, device)
        if rows is None:
            return list(self.lookbacks)
        return [rows[0] * k for k in range(1, len(self.lookbacks) + 1)]

    # --- events <-> event indices -------------------------------------------------------
    def event_to_index(self, events):
        """Events (-2, -1, pitches) -> one-hot indices; raises for pitches outside the range."""
        events = torch.as_tensor(np.asarray(events) if not torch.is_tensor(events) else events).long()
        pitched = events >= 0
        if bool(((events[pitched] < self.min_note) | (events[pitched] >= self.max_note)).any()):
            bad = int(events[pitched & ((events < self.min_note) | (events >= self.max_note))][0])
            raise BadInputError(f"pitch {bad} is outside the model's range [{self.min_note}, {self.max_note})")
        return torch.where(pitched, events - self.min_note + NUM_SPECIAL, events + NUM_SPECIAL)

    def index_to_event(self, index):
        index = torch.as_tensor(index).long()
        return torch.where(index >= NUM_SPECIAL, index - NUM_SPECIAL + self.min_note, index - NUM_SPECIAL)

    # --- training tensors ----------------------------------------------------------------
    def inputs(self, idx: torch.Tensor, offset: int = 0, meter=None) -> torch.Tensor:
        """Float inputs ``[B, T, input_size]`` from event indices ``[B, T]``.

        ``offset`` is the absolute position of column 0 (for incremental generation); the
        lookback features need the events before it, so pass the full history and slice.
        ``meter`` (meter-aware encodings): (steps per bar, steps per beat), ints or one per row.
        """
        one_hot = torch.nn.functional.one_hot(idx, self.num_events).float()
        if self.kind == "one_hot":
            return one_hot
        batch, time = idx.shape
        parts = [one_hot]
        position = torch.arange(time, device=idx.device) + offset
        distances = self._distances(batch, meter, idx.device)
        for distance in distances:
            shifted = _shift_right(idx, distance - 1, fill=NO_EVENT + NUM_SPECIAL)
            parts.append(torch.nn.functional.one_hot(shifted, self.num_events).float())
        n = (position + 1).unsqueeze(0).expand(batch, time)
        rows = self.meter_tensors(batch, meter, idx.device)
        if rows is not None:
            bar, beat = rows[0].unsqueeze(1), rows[1].unsqueeze(1)
            span = torch.where(2 * bar <= 2**BINARY_COUNTER_BITS, 2 * bar, bar)
            counter = n % span
        else:
            counter = n
        bits = torch.stack([((counter // 2**i) % 2) * 2.0 - 1.0 for i in range(BINARY_COUNTER_BITS)], dim=-1)
        parts.append(bits.to(one_hot.dtype))
        for distance in distances:
            back = _shift_right(idx, distance, fill=-1)
            parts.append((back == idx).float().unsqueeze(-1))
        if self.beat_inputs:
            bar, beat = rows if rows is not None else (torch.tensor([self.steps_per_bar]), torch.tensor([self.steps_per_beat]))
            bar, beat = bar.to(idx.device).unsqueeze(1), beat.to(idx.device).unsqueeze(1)
            on_beat = ((n % beat) == 0).to(one_hot.dtype) * 2 - 1
            on_bar = ((n % bar) == 0).to(one_hot.dtype) * 2 - 1
            parts.append(torch.stack([on_beat, on_bar], dim=-1).expand(batch, time, 2))
        return torch.cat(parts, dim=-1)

    def labels(self, idx: torch.Tensor, meter=None) -> torch.Tensor:
        """Class labels ``[B, T]`` for the events at each position (Magenta's ``events_to_label``)."""
        if self.kind == "one_hot":
            return idx
        labels = idx.clone()
        batch, time = idx.shape
        position = torch.arange(time, device=idx.device).unsqueeze(0)
        distances = self._distances(batch, meter, idx.device)
        # Magenta checks the longest distance first and returns it, so it must win: apply it last.
        for i, distance in enumerate(distances):
            back = _shift_right(idx, distance, fill=-1)
            labels = torch.where(back == idx, torch.full_like(idx, self.num_events + i), labels)
        if distances:
            no_event = NO_EVENT + NUM_SPECIAL
            longest = distances[-1].unsqueeze(1) if torch.is_tensor(distances[-1]) else distances[-1]
            early = (position < longest) & (idx == no_event)
            labels = torch.where(early, torch.full_like(idx, self.num_classes - 1), labels)
        return labels

    def class_to_index(self, classes: torch.Tensor, history: torch.Tensor, meter=None) -> torch.Tensor:
        """Sampled classes -> event indices, resolving "repeat" classes from the history ``[B, T]``."""
        if self.kind == "one_hot":
            return classes
        out = classes.clone()
        t = history.shape[1]
        rows = torch.arange(history.shape[0], device=history.device)
        for i, distance in enumerate(self._distances(history.shape[0], meter, history.device)):
            back = t - (distance if torch.is_tensor(distance) else torch.full_like(rows, distance))
            repeated = history[rows, back.clamp(min=0)]
            repeated = torch.where(back >= 0, repeated, torch.full_like(repeated, NO_EVENT + NUM_SPECIAL))
            out = torch.where(classes == self.num_events + i, repeated, out)
        return out


def _shift_right(x: torch.Tensor, amount, fill: int) -> torch.Tensor:
    """``out[:, t] = x[:, t - amount]`` with ``fill`` before the start; ``amount`` an int or one per row ``[B]``."""
    if torch.is_tensor(amount):
        if bool((amount == amount[0]).all()):
            amount = int(amount[0])
        else:
            source = torch.arange(x.shape[1], device=x.device).unsqueeze(0) - amount.unsqueeze(1)
            shifted = x.gather(1, source.clamp(min=0))
            return torch.where(source >= 0, shifted, torch.full_like(shifted, fill))
    if amount <= 0:
        return x
    pad = torch.full((x.shape[0], min(amount, x.shape[1])), fill, dtype=x.dtype, device=x.device)
    return torch.cat([pad, x[:, : max(x.shape[1] - amount, 0)]], dim=1)


def encode_melody_events(events: np.ndarray, encoding: MelodyEncoding) -> np.ndarray:
    """Events -> one-hot indices as a numpy array (the exact inverse of ``decode_indices``)."""
    return encoding.event_to_index(torch.as_tensor(events.astype(np.int64))).numpy()


def decode_indices(indices: np.ndarray, encoding: MelodyEncoding) -> np.ndarray:
    return encoding.index_to_event(torch.as_tensor(indices)).numpy().astype(np.int16)


assert NOTE_OFF + NUM_SPECIAL == 1 and NO_EVENT + NUM_SPECIAL == 0
