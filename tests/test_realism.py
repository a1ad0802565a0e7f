"""The realism test: key-invariant statistics with known answers, critics that tell apart what differs and not
what is the same, the copy figure, and the whole test on a tiny trained model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FOLK
from tunesmith.evaluate.realism import (
    FEATURE_NAMES,
    Window,
    compare_continuations,
    corpus_runs,
    holds_run,
    realism_test,
    usable_tunes,
)
from tunesmith.music.melody import NOTE_OFF, Melody
from tunesmith.music.midi import melody_from_score, read_score

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def folk_tunes():
    tunes = [melody_from_score(read_score(p)) for p in sorted(FOLK.glob("*.mid"))]
    return usable_tunes(tunes)


def scrambled(tune: Melody, seed: int) -> Melody:
    """Bars 3-8 replaced by a chromatic walk of random lengths with rests: clearly not the real thing."""
    rng = np.random.default_rng(seed)
    spb = tune.steps_per_bar
    events = tune.events.copy()
    t, pitch = 2 * spb, 66
    while t < 8 * spb:
        pitch = int(np.clip(pitch + rng.integers(-7, 8), 50, 80))
        length = int(rng.choice([1, 3, 5, 7]))
        events[t : t + length] = -2
        events[t] = pitch
        if t + length < events.size and rng.random() < 0.3:
            events[t + length] = NOTE_OFF
        t += length + 1
    return tune.copy(events=events)


def test_window_statistics_have_known_answers():
    # 4/4, C major: bars 1-2 a scale, bar 3 = bar 1 again, bar 4 with a half-bar rest and an F#
    bar1 = [60, -2, -2, -2, 62, -2, -2, -2, 64, -2, -2, -2, 65, -2, -2, -2]
    bar2 = [67, -2, -2, -2, 69, -2, -2, -2, 71, -2, -2, -2, 72, -2, -2, -2]
    bar4 = [67, -2, -2, -2, 66, -2, -2, -2, -1, -2, -2, -2, -2, -2, -2, -2]
    melody = Melody(np.array(bar1 + bar2 + bar1 + bar4, dtype=np.int16))
    w = Window(melody, (2, 4))
    f = w.features()
    assert (w.tonic, w.mode) == (0, "major")
    assert f[F["rest_share"]] == pytest.approx(8 / 32) and w.bar_rest_share(1) == pytest.approx(0.5)
    assert f[F["out_of_key"]] == pytest.approx(1 / 6)  # F# among C D E F G F#
    assert f[F["bar_repeat"]] == pytest.approx(0.5)  # bar 3 repeats bar 1, bar 4 is new
    assert f[F["interval_-12"]] == pytest.approx(1 / 6)  # C5 -> C4 into the window
    assert f[F["downbeat_onsets"]] == 1.0 and f[F["notes_per_bar"]] == 3.0
    assert f[F["note_length_quarter"]] == 1.0 and f[F["note_length_spread"]] == 0.0
    assert w.tokens().shape == (6, 5)
    # the same tune a fifth higher: the same statistics (key-invariant)
    up = Window(melody.transpose(7), (2, 4))
    np.testing.assert_allclose(up.features(), f)


@pytest.mark.slow  # 6 s on two busy cores
def test_critics_tell_scrambled_continuations_and_not_identical_ones(folk_tunes):
    real = folk_tunes[:20]
    fake = [scrambled(t, i) for i, t in enumerate(real)]
    runs = corpus_runs(folk_tunes[20:])
    result = compare_continuations(real, fake, seed=0, sequence_epochs=8, corpus_index=runs)
    stats, seq = result["critics"]["statistics"], result["critics"]["sequence"]
    assert stats["accuracy"] >= 0.8 and stats["auc"] >= 0.8
    assert stats["accuracy_ci"][0] <= stats["accuracy"] <= stats["accuracy_ci"][1]
    assert seq["accuracy"] >= 0.7 and len(seq["fold_accuracy"]) == 5
    assert 0.2 <= stats["real_vs_real"]["accuracy"] <= 0.8  # real halves: near chance
    assert result["figures"]["rest_share"]["generated"] > result["figures"]["rest_share"]["real"]
    key = result["figures"]["out_of_key"]  # each ratio comes with its paired bootstrap interval
    assert key["ratio_ci"][0] <= key["ratio"] <= key["ratio_ci"][1] and key["ratio_ci"][0] < key["ratio_ci"][1]
    assert {d["feature"] for d in result["differences"]} & {"rest_share", "out_of_key", "note_length_spread", "leap_share"}
    json.dumps(result)
    same = compare_continuations(real, [t.copy() for t in real], seed=0, critics=("statistics",))
    assert same["critics"]["statistics"]["accuracy"] == pytest.approx(0.5) and same["differences"][0]["d"] == 0
    assert same["figures"]["out_of_key"]["ratio_ci"] == [1.0, 1.0]  # identical sets: every resample gives 1


def test_copy_figure_finds_a_copied_run_in_any_key(folk_tunes):
    train = folk_tunes[:10]
    index = corpus_runs(train)
    copied = Window(train[3].transpose(5))  # a training tune, another key
    assert holds_run(copied, index)
    spb = train[3].steps_per_bar
    walk = scrambled(train[3], 1)
    assert not holds_run(Window(walk.copy(events=walk.events[: 8 * spb])), index)


@pytest.mark.slow  # 13 s on two busy cores
def test_realism_test_of_a_tiny_model_on_a_midi_folder(tmp_path):
    from tunesmith.melody.train import train_melody_model

    model_dir = tmp_path / "tiny"
    train_melody_model(FOLK, model_dir, "basic_rnn", steps=10, batch_size=8, layers=[16], progress=False, max_steps=64)
    result = realism_test(model_dir, FOLK, n=12, sequence_epochs=3)
    assert result["tunes"] == 12 and set(result["critics"]) == {"statistics", "sequence"}
    for row in result["critics"].values():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["auc"] <= 1 and "real_vs_real" in row
    assert result["copying"]["corpus_melodies"] > 0 and 0 <= result["copying"]["generated"] <= 1
    assert realism_test(model_dir, FOLK, n=5)["skipped"].startswith("only 5 held-out tunes")
