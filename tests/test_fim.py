"""Fill-in-the-middle (melody/fim.py): the presentation hides the middle, leaves plain continuation unchanged, trains
through the normal loop, and a model trained on it fills a middle that only the bars after it can tell."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from conftest import make_score, scale_tune
from tunesmith.melody import fim
from tunesmith.melody.edit import infill, read_tune
from tunesmith.melody.generate import MelodyModel, load_melody_model
from tunesmith.melody.model import build_model, preset
from tunesmith.melody.train import train_melody_model, warm_start

METER = (torch.tensor([16]), torch.tensor([4]))


@pytest.fixture(scope="module")
def default():
    return load_melody_model("default")


def test_the_context_never_shows_the_middle(default):
    enc = default.encoding
    rng = np.random.default_rng(0)
    seq = torch.from_numpy(rng.integers(0, enc.num_events, 120))
    other = seq.clone()
    other[40:72] = torch.from_numpy(rng.integers(0, enc.num_events, 32))
    a = fim.presentation(enc, seq, 40, 72, 30, 40, METER)
    b = fim.presentation(enc, other, 40, 72, 30, 40, METER)
    known = 30 + 40 + 1  # prefix, suffix, and the first middle pair (its input is the event before the middle)
    assert torch.equal(a["inputs"][:known], b["inputs"][:known])
    assert not torch.equal(a["inputs"][known:], b["inputs"][known:])
    assert torch.equal(a["ahead"], b["ahead"])  # what lies ahead of the middle comes from the right side only
    assert a["ahead"][70:].any() and not a["ahead"][:70].any()
    assert a["segments"].tolist() == [0] * 30 + [1] * 40 + [2] * 32
    assert not a["loss"][30:70].any() and a["loss"][:30].all() and a["loss"][70:].all()
    assert sorted(a["positions"].tolist()) == list(range(9, 39)) + list(range(39, 71)) + list(range(72, 112))


def test_a_zero_segment_table_and_true_positions_are_plain_continuation(default):
    cfg = dataclasses.replace(default.config, fill_in_middle=0.5)
    module = build_model(cfg).eval()
    assert sorted(warm_start(module, "default")) == ["ahead.weight", "segment.weight"]
    enc = default.encoding
    seq = torch.from_numpy(np.random.default_rng(1).integers(0, enc.num_events, 100))
    p = fim.presentation(enc, seq, 50, 66, 49, 20, METER)
    with torch.no_grad():
        plain, _ = default.module(enc.inputs(seq[None, :-1], meter=METER))
        ordered, _ = module(p["inputs"][None], None, p["positions"][None], p["segments"][None], p["ahead"][None])
    assert torch.allclose(ordered[0, :49], plain[0, :49], atol=1e-5)


def test_fim_windows_mix_plain_and_reordered_windows(default, tmp_path):
    from tunesmith.melody.dataset import melodies_to_tokens

    enc = default.encoding
    make_score(scale_tune(bars=16)).dump_midi(str(tmp_path / "scale.mid"))
    tune = read_tune(default, tmp_path / "scale.mid")
    tokens = melodies_to_tokens(tune.events, np.array([0, len(tune)]), enc)
    tokens.steps_per_bar, tokens.steps_per_beat = np.array([16]), np.array([4])
    rng = np.random.default_rng(0)
    orders = [fim.fim_window_batch(tokens, np.array([0]), enc, 64, rng, 0.5) for _ in range(40)]
    reordered = [o[4] for o in orders if (o[4] == fim.MIDDLE).any()]
    assert 8 < len(reordered) < 32
    for _, _, mask, positions, segments, ahead in orders:
        assert not ahead[segments != fim.MIDDLE].any()  # only the middle looks ahead
        used = positions[0][mask[0] | (segments[0] == fim.SUFFIX)]
        assert len(set(used.tolist())) == used.numel()  # each pair presented once
        middle = int((segments == fim.MIDDLE).sum())
        assert middle <= fim.MAX_MIDDLE


def _patterned_tunes(folder, count: int, seed: int = 0):
    """Tunes A B A B A B A B: each bar pair drawn at random, so bar 2 is known only from bar 4 (not from bar 1)."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for i in range(count):
        a, b = rng.choice(np.arange(60, 72), 4), rng.choice(np.arange(60, 72), 4)
        notes = [(int((a if bar % 2 == 0 else b)[j]), bar * 4 + j, 1.0) for bar in range(8) for j in range(4)]
        make_score(notes).dump_midi(str(folder / f"tune_{i:03d}.mid"))


@pytest.mark.heavy
def test_a_fim_trained_model_fills_what_only_the_right_side_tells(tmp_path):
    _patterned_tunes(tmp_path / "tunes", 160)
    cfg = dataclasses.replace(preset("transformer"), fill_in_middle=0.7, train_window=64, attention_window=64)
    cfg = dataclasses.replace(cfg, batch_size=16, d_model=64, layers=[64])
    train_melody_model(tmp_path / "tunes", tmp_path / "model", cfg, steps=300, eval_every=300, progress=False, threads=2)
    model = MelodyModel.load(tmp_path / "model")
    assert model.config.fill_in_middle == 0.7
    for tune_path in sorted((tmp_path / "tunes").glob("*.mid"))[:6]:
        tune = read_tune(model, tune_path)
        out = infill(model, tune, "2", n=2, seed=0, method="fim")
        assert all(o.meta["infill_method"] == "fill-in-the-middle" for o in out)
        assert all(
            np.array_equal(o.events[32:], tune.events[32:]) and np.array_equal(o.events[:16], tune.events[:16]) for o in out
        )
        seq = model.encoding.event_to_index(torch.as_tensor(tune.events.astype(np.int64)))
        both = fim.middle_log_likelihood(model, seq, 16, 32, meter=(16, 4))
        left = float(
            model.log_likelihood([tune.copy(events=tune.events[:32])])[0]
            - model.log_likelihood([tune.copy(events=tune.events[:16])])[0]
        )
        assert both > left + 2.0  # measured: 3.1-5.3 nats better after 300 steps (of ~10 nats at chance)
