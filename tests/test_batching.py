"""How training reads melodies: random batches, length groups with the whole batch's gradient, windows."""

import numpy as np
import pytest
import torch

from conftest import FOLK
from tunesmith.data.corpus import prepare_corpus
from tunesmith.melody.dataset import epoch_batches, length_groups, load_tokens, window_batch
from tunesmith.melody.model import build_model, preset
from tunesmith.melody.train import MelodyTask


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    prepare_corpus(FOLK, out, eval_ratio=0.0, progress=False, workers=1)
    return load_tokens(out, "train", preset("lookback_rnn").melody_encoding)


def test_epoch_batches_are_random_mixes_and_deterministic():
    lengths = np.arange(1000) % 500 + 10
    batches = epoch_batches(lengths, 100, seed=3, epoch=0)
    assert len(batches) == 10 and sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert all(np.array_equal(a, b) for a, b in zip(batches, epoch_batches(lengths, 100, seed=3, epoch=0)))
    assert not np.array_equal(batches[0], epoch_batches(lengths, 100, seed=3, epoch=1)[0])
    # every batch spans short and long melodies (length-sorted batches would not)
    assert all(np.ptp(lengths[b]) > 300 for b in batches)


def test_length_groups_give_the_whole_batch_gradient(tokens):
    config = preset("lookback_rnn", layers=[32, 32], dropout=0.0, batch_size=len(tokens) // 2 * 2)
    grads = {}
    for groups in (1, 4):
        torch.manual_seed(0)
        task = MelodyTask(config, tokens, None, seed=0, device=torch.device("cpu"), precision="fp32")
        task.groups = groups
        batch = task.batch(0, 0)
        assert len(batch[1]) == groups
        loss, _ = task.loss(batch)
        loss.backward()
        grads[groups] = torch.cat([p.grad.reshape(-1) for p in task.model.parameters()])
        padded = sum(idx.numel() for idx, _, _ in batch[1])
        grads[f"padded{groups}"] = padded
    torch.testing.assert_close(grads[4], grads[1], rtol=1e-4, atol=1e-6)
    assert grads["padded4"] < grads["padded1"]


def test_length_groups_cover_the_batch_once():
    lengths = np.array([5, 50, 7, 300, 40, 41, 2])
    parts = length_groups(lengths, 3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(7))
    assert max(lengths[parts[0]]) <= min(lengths[parts[-1]])


def test_windows_are_encoded_with_their_history(tokens):
    encoding = preset("lookback_rnn").melody_encoding
    indices = np.arange(min(12, len(tokens)))
    inputs, labels, mask = window_batch(tokens, indices, encoding, 48, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    for row, i in enumerate(indices):
        melody = torch.from_numpy(tokens.melody(i).astype(np.int64)).unsqueeze(0)
        start = int(rng.integers(0, max(melody.shape[1] - 49, 0) + 1))
        n = int(mask[row].sum())
        assert n == min(48, melody.shape[1] - 1 - start)
        meter = tokens.meter([i])  # each melody in its own meter
        torch.testing.assert_close(inputs[row, :n], encoding.inputs(melody[:, :-1], meter=meter)[0, start : start + n])
        assert torch.equal(labels[row, :n], encoding.labels(melody, meter=meter)[0, 1 + start : 1 + start + n])


def test_banded_transformer_matches_its_cache_and_the_full_model_within_the_band():
    torch.manual_seed(0)
    config = preset("transformer", d_model=32, heads=2, transformer_layers=2, attention_window=16)
    model = build_model(config).eval()
    inputs = torch.randn(2, 40, config.melody_encoding.input_size)
    full, _ = model(inputs)
    steps, state = [], None
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            out, state = model(inputs[:, t : t + 1], state)
            steps.append(out)
    torch.testing.assert_close(torch.cat(steps, 1), full.detach(), rtol=1e-4, atol=1e-4)
    assert state["cache"][0][0].shape[2] == 16  # a ring of window keys, whatever the length
    unbanded = build_model(preset("transformer", d_model=32, heads=2, transformer_layers=2)).eval()
    unbanded.load_state_dict(model.state_dict())
    other, _ = unbanded(inputs)
    torch.testing.assert_close(other[:, :16], full[:, :16])
    assert not torch.allclose(other[:, 20:], full[:, 20:])


def test_transformer_cache_works_for_a_primer_then_steps_then_chunks():
    torch.manual_seed(1)
    model = build_model(preset("transformer", d_model=32, heads=2, transformer_layers=2, attention_window=16)).eval()
    inputs = torch.randn(3, 50, model.config.melody_encoding.input_size)
    full, _ = model(inputs)
    pieces, state = [], None
    with torch.no_grad():
        for start, stop in ((0, 20), (20, 21), (21, 22), (22, 30), (30, 31), (31, 50)):  # primer, steps, chunks
            out, state = model(inputs[:, start:stop], state)
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, 1), full.detach(), rtol=1e-4, atol=1e-4)
