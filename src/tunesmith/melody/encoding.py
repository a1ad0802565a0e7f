"""Melody encodings with Magenta's semantics, vectorised over batches.

* **one-hot** (``basic_rnn``): class 0 = NO_EVENT, 1 = NOTE_OFF, 2.. = pitches ``min_note..max_note-1``
  (38 classes for 48-84). Input at step t is the one-hot of event t, label is event t+1.
* **lookback** (``lookback_rnn``, also the inputs of our ``attention_rnn``): the input adds the events
  1 and 2 bars back (relative to the *next* step), a 5-bit binary step counter (+1/-1) for the metric
  position of the next step, and flags saying whether the current event repeats 1/2 bars back;
  labels gain two classes "repeat the event from 1 (2) bars ago" (Magenta's
  ``LookbackEventSequenceEncoderDecoder``: 121 inputs, 40 classes for 48-84).

Everything works on integer event tensors ``[batch, time]`` so no per-step Python runs in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tunesmith.errors import BadInputError
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
        return self.num_events * (1 + len(self.lookbacks)) + BINARY_COUNTER_BITS + len(self.lookbacks)

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
    def inputs(self, idx: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Float inputs ``[B, T, input_size]`` from event indices ``[B, T]``.

        ``offset`` is the absolute position of column 0 (for incremental generation); the
        lookback features need the events before it, so pass the full history and slice.
        """
        one_hot = torch.nn.functional.one_hot(idx, self.num_events).float()
        if self.kind == "one_hot":
            return one_hot
        batch, time = idx.shape
        parts = [one_hot]
        position = torch.arange(time, device=idx.device) + offset
        for distance in self.lookbacks:
            shifted = _shift_right(idx, distance - 1, fill=NO_EVENT + NUM_SPECIAL)
            parts.append(torch.nn.functional.one_hot(shifted, self.num_events).float())
        n = position + 1
        bits = torch.stack([((n // 2**i) % 2) * 2.0 - 1.0 for i in range(BINARY_COUNTER_BITS)], dim=-1)
        parts.append(bits.unsqueeze(0).expand(batch, time, BINARY_COUNTER_BITS).to(one_hot.dtype))
        for distance in self.lookbacks:
            back = _shift_right(idx, distance, fill=-1)
            parts.append((back == idx).float().unsqueeze(-1))
        return torch.cat(parts, dim=-1)

    def labels(self, idx: torch.Tensor) -> torch.Tensor:
        """Class labels ``[B, T]`` for the events at each position (Magenta's ``events_to_label``)."""
        if self.kind == "one_hot":
            return idx
        labels = idx.clone()
        time = idx.shape[1]
        position = torch.arange(time, device=idx.device)
        # Magenta checks the longest distance first and returns it, so it must win: apply it last.
        for i, distance in enumerate(self.lookbacks):
            back = _shift_right(idx, distance, fill=-1)
            labels = torch.where(back == idx, torch.full_like(idx, self.num_events + i), labels)
        if self.lookbacks:
            no_event = NO_EVENT + NUM_SPECIAL
            early = (position < self.lookbacks[-1]).unsqueeze(0) & (idx == no_event)
            labels = torch.where(early, torch.full_like(idx, self.num_classes - 1), labels)
        return labels

    def class_to_index(self, classes: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Sampled classes -> event indices, resolving "repeat" classes from the history ``[B, T]``."""
        if self.kind == "one_hot":
            return classes
        out = classes.clone()
        t = history.shape[1]
        for i, distance in enumerate(self.lookbacks):
            if t >= distance:
                repeated = history[:, t - distance]
            else:
                repeated = torch.full_like(classes, NO_EVENT + NUM_SPECIAL)
            out = torch.where(classes == self.num_events + i, repeated, out)
        return out


def _shift_right(x: torch.Tensor, amount: int, fill: int) -> torch.Tensor:
    """``out[:, t] = x[:, t - amount]`` with ``fill`` before the start."""
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
