"""Encodings against a step-by-step port of Magenta's encoder_decoder loops."""

import numpy as np
import torch

from tunesmith.melody.encoding import MelodyEncoding, decode_indices, encode_melody_events

RNG = np.random.default_rng(0)


def random_events(n):
    choices = np.concatenate([[-2] * 6, [-1] * 2, RNG.integers(48, 84, 8)])
    events = RNG.choice(choices, n)
    events[:16] = events[16:32]  # some repeats a bar apart
    return events


def magenta_lookback(events, enc):
    """Magenta's LookbackEventSequenceEncoderDecoder.events_to_input / events_to_label, per position."""
    one_hot = lambda e: (e - enc.min_note + 2) if e >= 0 else e + 2
    dists = enc.lookbacks
    inputs, labels = [], []
    for position in range(len(events)):
        x = np.zeros(enc.input_size)
        x[one_hot(events[position])] = 1
        off = enc.num_events
        for d in dists:
            lp = position - d + 1
            x[off + one_hot(events[lp] if lp >= 0 else -2)] = 1
            off += enc.num_events
        n = position + 1
        for i in range(5):
            x[off] = 1.0 if (n // 2**i) % 2 else -1.0
            off += 1
        for d in dists:
            lp = position - d
            if lp >= 0 and events[position] == events[lp]:
                x[off] = 1.0
            off += 1
        inputs.append(x)
        label = None
        if position < dists[-1] and events[position] == -2:
            label = enc.num_events + len(dists) - 1
        else:
            for i, d in reversed(list(enumerate(dists))):
                lp = position - d
                if lp >= 0 and events[position] == events[lp]:
                    label = enc.num_events + i
                    break
        labels.append(label if label is not None else one_hot(events[position]))
    return np.array(inputs), np.array(labels)


def test_one_hot_is_exact_inverse():
    enc = MelodyEncoding("one_hot")
    assert enc.num_classes == 38 and enc.input_size == 38
    events = random_events(200)
    idx = encode_melody_events(events, enc)
    assert idx.min() >= 0 and idx.max() < 38
    assert np.array_equal(decode_indices(idx, enc), events)


def test_lookback_matches_magenta_step_by_step():
    enc = MelodyEncoding("lookback")
    assert (enc.input_size, enc.num_classes) == (121, 40)
    events = random_events(150)
    idx = torch.as_tensor(encode_melody_events(events, enc)).unsqueeze(0)
    ours_x = enc.inputs(idx)[0].numpy()
    ours_y = enc.labels(idx)[0].numpy()
    ref_x, ref_y = magenta_lookback(events, enc)
    assert np.array_equal(ours_x, ref_x)
    assert np.array_equal(ours_y, ref_y)


def test_lookback_labels_decode_back_to_events():
    enc = MelodyEncoding("lookback")
    events = random_events(120)
    idx = torch.as_tensor(encode_melody_events(events, enc)).unsqueeze(0)
    labels = enc.labels(idx)[0]
    for t in range(1, 120):
        decoded = enc.class_to_index(labels[t : t + 1], idx[:, :t])
        assert int(decoded) == int(idx[0, t])


def test_incremental_inputs_match_full_sequence():
    enc = MelodyEncoding("lookback")
    idx = torch.as_tensor(encode_melody_events(random_events(80), enc)).unsqueeze(0)
    full = enc.inputs(idx)[0]
    for t in (0, 5, 33, 79):
        window = idx[:, max(0, t - 32) : t + 1]
        step = enc.inputs(window, offset=t + 1 - window.shape[1])[0, -1]
        assert torch.equal(step, full[t])
