"""The Markov-chain floor of the realism test: it continues real tunes from what it counted, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FOLK
from tunesmith.core.errors import BadInputError
from tunesmith.evaluate.markov import MarkovMelodies
from tunesmith.evaluate.realism import continue_tunes, usable_tunes
from tunesmith.music.melody import Melody
from tunesmith.music.midi import melody_from_score, read_score


@pytest.fixture(scope="module")
def tunes():
    return usable_tunes([melody_from_score(read_score(p)) for p in sorted(FOLK.glob("*.mid"))])


def test_a_chain_of_one_tune_replays_it_from_its_own_opening():
    phrase = [60, -2, 62, -2, 64, -2, -2, -1] * 4 + [67, -2, 65, -2, 64, -2, 62, -1]
    tune = Melody(np.array(phrase * 2, dtype=np.int16))  # twice: every context of 4 has a successor
    chain = MarkovMelodies([tune], order=4)
    out = chain.generate(tune.copy(events=tune.events[:8].copy()), n=3, bars=2, seed=1)
    assert [len(m) for m in out] == [32, 32, 32] and all(m.primer_steps == 8 for m in out)
    for m in out:  # every 5-event window it wrote occurs in the tune (it only knows what it counted)
        seen = {tuple(tune.events[i : i + 5]) for i in range(len(tune) - 4)}
        assert all(tuple(m.events[i : i + 5]) in seen for i in range(len(m) - 4))


def test_it_continues_real_tunes_to_their_bars_and_differs_by_seed(tunes):
    chain = MarkovMelodies(tunes, order=4)
    out = continue_tunes(chain, tunes[:4], bars=9)
    for real, made in zip(tunes[:4], out):
        assert len(made) == 9 * real.steps_per_bar
        assert np.array_equal(made.events[: 2 * real.steps_per_bar], real.events[: 2 * real.steps_per_bar])
        assert set(made.events[made.events >= 0].tolist()) <= {int(p) for t in tunes for p in t.events if p >= 0}
    a, b = (chain.generate(tunes[0].copy(events=tunes[0].events[:16].copy()), bars=9, seed=s)[0] for s in (0, 1))
    assert not np.array_equal(a.events, b.events)


def test_bad_orders_and_empty_corpora_are_refused():
    with pytest.raises(BadInputError, match="order"):
        MarkovMelodies([Melody(np.array([60, -1], dtype=np.int16))], order=0)
    with pytest.raises(BadInputError, match="at least one"):
        MarkovMelodies([])
