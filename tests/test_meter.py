"""Meter everywhere: time signatures read, kept in shards, fed to the model's bar/beat inputs, and written back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import make_score
from tunesmith.core.errors import BadInputError
from tunesmith.data.corpus import load_meters, load_split, prepare_corpus
from tunesmith.melody.encoding import MelodyEncoding
from tunesmith.melody.model import preset
from tunesmith.music.melody import Melody
from tunesmith.music.meter import meter_of, meter_of_steps, meter_steps, parse_meter
from tunesmith.music.midi import melody_from_score, read_score, write_midi

COMMON = [(4, 4), (2, 4), (3, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 8), (3, 2), (5, 4), (7, 8)]


def test_meters_parse_and_name_themselves_back():
    assert parse_meter("6/8") == (6, 8) and parse_meter(" 3/4 ") == (3, 4) and parse_meter(None) is None
    assert meter_steps((6, 8)) == (12, 6) and meter_steps((3, 4)) == (12, 4) and meter_steps((2, 2)) == (16, 8)
    for meter in COMMON:
        assert meter_of_steps(*meter_steps(meter)) == meter
    for bad in ("7/0", "6-8", "0/4", "6/7", "x/8", "4/4/4"):
        with pytest.raises(BadInputError, match="meter"):
            parse_meter(bad)


@pytest.mark.parametrize("meter", [(6, 8), (3, 4), (2, 2)])
def test_melody_keeps_its_meter_through_a_midi_file(tmp_path, meter):
    melody = Melody.from_events([60, -2, 62, -2, 64, -1] * 8, meter=meter)
    assert melody.steps_per_bar == meter_steps(meter)[0] and melody.steps_per_beat == meter_steps(meter)[1]
    path = write_midi(melody, tmp_path / "m.mid")
    score = read_score(path)
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == meter
    back = melody_from_score(score)
    assert meter_of(back) == meter and back.steps_per_bar == melody.steps_per_bar


def test_prepare_keeps_each_melodys_meter_and_reports_the_corpus_by_meter(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    tune = [(60 + (i * 5) % 12, i * 0.5, 0.5) for i in range(96)]  # 48 quarters of eighth notes, 7 pitches
    for name, meter in (("jig", (6, 8)), ("waltz", (3, 4)), ("reel", (4, 4))):
        make_score(tune, time_signature=meter).dump_midi(str(src / f"{name}.mid"))
    report = prepare_corpus(src, tmp_path / "corpus", eval_ratio=0.0, progress=False, workers=1)
    assert report.meters == {"3/4": 1, "4/4": 1, "6/8": 1}
    assert "Meters:" in report.summary() and "6/8 1" in report.summary()
    _, _, spb = load_split(tmp_path / "corpus", "train")
    bars, beats = load_meters(tmp_path / "corpus", "train")
    sources = json.loads((tmp_path / "corpus" / "train-00000.sources.json").read_text())
    by_name = {s.split(".")[0]: (int(b), int(t)) for s, b, t in zip(sources, bars, beats)}
    assert by_name == {"jig": (12, 6), "waltz": (12, 4), "reel": (16, 4)} and spb.tolist() == bars.tolist()
    # a corpus from before meters were stored: the beat is guessed from the bar length
    for path in (tmp_path / "corpus").glob("*.steps_per_beat.npy"):
        path.unlink()
    assert sorted(load_meters(tmp_path / "corpus", "train")[1].tolist()) == [4, 4, 4]


def test_meter_aware_encoding_is_magentas_in_4_4_and_follows_other_meters():
    rng = np.random.default_rng(0)
    events = torch.as_tensor(rng.integers(0, 20, size=(2, 80)))
    magenta = MelodyEncoding("lookback")
    aware = MelodyEncoding("lookback", meter_aware=True)
    assert torch.equal(aware.inputs(events, meter=(16, 4)), magenta.inputs(events))
    assert torch.equal(aware.labels(events, meter=(16, 4)), magenta.labels(events))
    # a 6/8 melody repeating every 12 steps: its labels say "repeat the bar before"
    bar = torch.as_tensor([5, 0, 0, 7, 0, 1, 9, 0, 0, 3, 0, 1])
    jig = bar.repeat(4).unsqueeze(0)
    labels = aware.labels(jig, meter=(12, 6))[0]
    assert (labels[24:] == aware.num_events + 1).all()  # two bars back wins, as in Magenta
    assert (magenta.labels(jig)[0, 24:] < aware.num_events).any()  # the fixed 16-step bar misses the repeat
    # per-row meters in one batch give each row what it gets alone
    both = aware.inputs(torch.cat([jig, jig]), meter=(torch.tensor([12, 16]), torch.tensor([6, 4])))
    assert torch.equal(both[0], aware.inputs(jig, meter=(12, 6))[0])
    assert torch.equal(both[1], aware.inputs(jig, meter=(16, 4))[0])


def test_beat_inputs_tell_6_8_from_3_4():
    enc = preset("transformer").melody_encoding
    assert enc.beat_inputs and enc.input_size == preset("lookback_rnn").melody_encoding.input_size + 2
    idx = torch.zeros(1, 24, dtype=torch.long)
    jig, waltz = enc.inputs(idx, meter=(12, 6)), enc.inputs(idx, meter=(12, 4))
    on_beat = lambda x: (x[0, :, -2] > 0).nonzero().flatten().add(1).tolist()  # noqa: E731 (next step's position)
    assert on_beat(jig) == [6, 12, 18, 24] and on_beat(waltz) == [4, 8, 12, 16, 20, 24]
    assert torch.equal(jig[..., :-2], waltz[..., :-2])  # the rest is the same: bar length 12 in both


def test_old_configs_without_meter_load_with_magentas_fixed_bar():
    from tunesmith.core.config import config_from_dict
    from tunesmith.melody.model import MelodyConfig

    old = config_from_dict(MelodyConfig, {"name": "lookback_rnn", "encoding": "lookback"})
    assert old.meter_aware is False and old.melody_encoding.input_size == 121
    assert preset("lookback_rnn").meter_aware and preset("lookback_rnn").melody_encoding.input_size == 121
