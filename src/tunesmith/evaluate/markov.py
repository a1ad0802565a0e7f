"""An order-k Markov chain over melody events: the floor any trained model should beat in the realism test.

It counts which event follows each run of ``order`` events (and each shorter run, for back-off) in a corpus's train
split, and continues a primer by sampling from the longest run it has seen. It knows no key, meter or form: what it
gets right is only what k events of context carry. ``generate`` takes the arguments the realism test passes a
model, so ``continue_tunes(MarkovMelodies(...), tunes)`` gives its column beside the real models'.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import Melody

DEFAULT_ORDER = 4


class MarkovMelodies:
    """Counts of next events after each context of 1..``order`` events, with back-off to shorter contexts."""

    def __init__(self, melodies: Sequence[Melody], order: int = DEFAULT_ORDER):
        if order < 1:
            raise BadInputError(f"a Markov chain needs order >= 1, not {order}")
        if not melodies:
            raise BadInputError("a Markov chain needs at least one training melody")
        self.order = order
        self.counts: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ in range(order + 1)]
        for melody in melodies:
            events = melody.events.astype(int).tolist()
            for i, event in enumerate(events):
                for k in range(order + 1):
                    if i >= k:
                        self.counts[k][tuple(events[i - k : i])][event] += 1
        self.tables = [
            {ctx: (np.array(list(c.keys())), np.array(list(c.values()), dtype=float)) for ctx, c in table.items()}
            for table in self.counts
        ]

    @classmethod
    def from_corpus(cls, corpus: str | os.PathLike, order: int = DEFAULT_ORDER, split: str = "train") -> MarkovMelodies:
        from tunesmith.data.corpus import load_split

        events, offsets, _ = load_split(corpus, split)
        melodies = [Melody(np.asarray(events[offsets[i] : offsets[i + 1]], dtype=np.int16)) for i in range(len(offsets) - 1)]
        return cls(melodies, order)

    def next_event(self, history: list[int], rng: np.random.Generator, temperature: float = 1.0) -> int:
        for k in range(min(self.order, len(history)), -1, -1):
            found = self.tables[k].get(tuple(history[len(history) - k :]) if k else ())
            if found is not None:
                values, counts = found
                weights = counts ** (1.0 / temperature)
                return int(rng.choice(values, p=weights / weights.sum()))
        raise BadInputError("the Markov chain has no events")  # unreachable: order 0 holds every event seen

    def generate(self, primer: Melody, n: int = 1, *, bars: int, seed: int = 0, temperature: float = 1.0, **_) -> list[Melody]:
        """``n`` continuations of ``primer`` to ``bars`` bars of its own bar length."""
        total = bars * primer.steps_per_bar
        out = []
        for i in range(n):
            rng = np.random.default_rng([seed, i])
            history = primer.events.astype(int).tolist()
            while len(history) < total:
                history.append(self.next_event(history, rng, temperature))
            out.append(
                primer.copy(events=np.asarray(history, dtype=np.int16), primer_steps=len(primer), name=f"markov_{i + 1:02d}")
            )
        return out
