import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tunesmith.core.errors import BadInputError, ModelError, TrainingError
from tunesmith.data.corpus import prepare_corpus
from tunesmith.melody.dataset import load_tokens
from tunesmith.melody.generate import load_melody_model
from tunesmith.melody.train import train_melody_model
from tunesmith.music.midi import read_score

SMALL = dict(batch_size=16, layers=[64, 64], max_steps=256, learning_rate=5e-3, dropout=0.2)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, folk_dir=None):
    from conftest import FOLK

    out = tmp_path_factory.mktemp("corpus")
    prepare_corpus(FOLK, out, eval_ratio=0.25, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("model")
    result = train_melody_model(
        corpus, model_dir, "lookback_rnn", steps=100, eval_every=50, checkpoint_every=50, progress=False, seed=1, **SMALL
    )
    return model_dir, result


def unigram_loss(corpus, encoding):
    train = load_tokens(corpus, "train", encoding)
    ev = load_tokens(corpus, "eval", encoding)
    labels = lambda ts: torch.cat(
        [encoding.labels(torch.as_tensor(ts.melody(i).astype(np.int64)).unsqueeze(0))[0, 1:] for i in range(len(ts))]
    )
    counts = torch.bincount(labels(train), minlength=encoding.num_classes).double() + 1
    logp = (counts / counts.sum()).log()
    return float(-logp[labels(ev)].mean())


@pytest.mark.slow  # 13 s on two busy cores
def test_training_beats_uniform_and_unigram(trained, corpus):
    model_dir, result = trained
    model = load_melody_model(model_dir)
    ev = result["eval"]["loss"]
    assert ev < math.log(40) - 1.5
    assert ev < unigram_loss(corpus, model.encoding)
    for name in ("model.safetensors", "config.json", "train_state.safetensors", "log.jsonl"):
        assert (model_dir / name).is_file()
    rows = [json.loads(line) for line in (model_dir / "log.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "eval"}


@pytest.mark.slow  # 13 s on two busy cores
def test_generation_honours_primer_length_and_seed(trained):
    model = load_melody_model(trained[0])
    outs = model.generate("C4 E4 G4", n=3, steps=64, seed=5)
    assert len(outs) == 3 and all(len(m) == 12 + 64 for m in outs)  # steps count the new steps after the primer
    assert all(m.events[:12].tolist() == [60, -2, -2, -2, 64, -2, -2, -2, 67, -2, -2, -2] for m in outs)
    assert all(m.primer_steps == 12 for m in outs)
    again = model.generate("C4 E4 G4", n=3, steps=64, seed=5)
    assert all(np.array_equal(a.events, b.events) for a, b in zip(outs, again))
    other = model.generate("C4 E4 G4", n=3, steps=64, seed=6)
    assert not all(np.array_equal(a.events, b.events) for a, b in zip(outs, other))
    excluded = model.generate("C4 E4 G4", n=3, steps=64, seed=5, exclude_primer=True)[0]
    assert np.array_equal(excluded.events, outs[0].events[12:]) and len(excluded) == 64
    assert all(48 <= p < 84 for m in outs for p in m.pitches)


@pytest.mark.slow  # 13 s on two busy cores
def test_key_mask_keeps_notes_in_scale(trained):
    model = load_melody_model(trained[0])
    outs = model.generate("D4", n=8, steps=96, seed=0, key="D", scale="minor", temperature=1.5)
    d_minor = {2, 4, 5, 7, 9, 10, 0}
    generated = [p for m in outs for p in m.events[m.primer_steps :] if p >= 0]
    assert generated and all(p % 12 in d_minor for p in generated)


@pytest.mark.slow  # 13 s on two busy cores
def test_primer_forms(trained, folk_dir, tmp_path):
    model = load_melody_model(trained[0])
    assert model.generate("[60, -2, 62, -1]", steps=16)[0].events[:4].tolist() == [60, -2, 62, -1]
    assert model.generate("#C", steps=8)[0].events[0] == 61
    midi = sorted(folk_dir.glob("*.mid"))[3]
    out = model.generate(str(midi), steps=400, primer_bars=2)[0]
    assert out.primer_steps <= 2 * out.steps_per_bar
    with pytest.raises(BadInputError, match="'X9'"):
        model.generate("C4 X9")
    with pytest.raises(BadInputError, match="bad token"):
        model.generate("[60, foo]")
    with pytest.warns(UserWarning, match="outside"):
        high = model.generate("C8", steps=8)[0]
    assert high.events[0] % 12 == 0 and 48 <= high.events[0] < 84
    with pytest.raises(BadInputError, match="strict"):
        model.generate("C8", steps=8, strict=True)
    assert read_score(midi)  # the primer file itself is untouched and valid


@pytest.mark.slow  # 13 s on two busy cores
def test_beam_search_finds_likelier_sequences(trained):
    model = load_melody_model(trained[0])
    samples = model.generate("C4", n=24, steps=48, seed=3, temperature=1.0)
    beams = model.generate("C4", n=24, steps=48, seed=3, beam_size=4, branch_factor=2)
    mean = lambda ms: np.mean([m.meta["log_likelihood"] for m in ms])
    assert mean(beams) > mean(samples)
    # the reported log-likelihood is the model's own score of the sequence


@pytest.mark.slow  # 9 s on two busy cores
def test_resume_reproduces_uninterrupted_run(corpus, tmp_path):
    straight = tmp_path / "straight"
    train_melody_model(corpus, straight, "basic_rnn", steps=12, checkpoint_every=6, eval_every=6, progress=False, **SMALL)
    interrupted = tmp_path / "interrupted"
    train_melody_model(corpus, interrupted, "basic_rnn", steps=6, checkpoint_every=6, eval_every=6, progress=False, **SMALL)
    train_melody_model(
        corpus, interrupted, "basic_rnn", steps=12, checkpoint_every=6, eval_every=6, progress=False, resume=True, **SMALL
    )
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(interrupted / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the log-likelihood reported by generation is the model's own score (one-hot: one class per event)
    model = load_melody_model(straight)
    best = model.generate("C4", n=4, steps=40, beam_size=2, branch_factor=2, seed=2)[0]
    full, primer = model.log_likelihood([best, best.copy(events=best.events[: best.primer_steps])])
    assert abs((full - primer) - best.meta["log_likelihood"]) < 1e-3 * abs(full) + 1e-2


@pytest.mark.slow  # 9 s on two busy cores
def test_attention_and_transformer_configs_train_and_generate(corpus, tmp_path):
    for name in ("attention_rnn", "transformer"):
        result = train_melody_model(
            corpus, tmp_path / name, name, steps=4, eval_every=4, progress=False, batch_size=16, max_steps=128
        )
        assert math.isfinite(result["eval"]["loss"])
        model = load_melody_model(tmp_path / name)
        outs = model.generate("C4", n=2, steps=40, beam_size=2, branch_factor=2)
        assert all(len(m) == 4 + 40 for m in outs)


@pytest.mark.slow  # 13 s on two busy cores
def test_bad_model_dirs_and_tiny_corpus(corpus, trained, tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        load_melody_model(tmp_path / "missing")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text((trained[0] / "config.json").read_text())
    (damaged / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="damaged"):
        load_melody_model(damaged)
    mismatched = tmp_path / "mismatched"
    mismatched.mkdir()
    config = json.loads((trained[0] / "config.json").read_text())
    config["config"]["layers"] = [32, 32]
    (mismatched / "config.json").write_text(json.dumps(config))
    (mismatched / "model.safetensors").write_bytes((trained[0] / "model.safetensors").read_bytes())
    with pytest.raises(ModelError, match="shape mismatch"):
        load_melody_model(mismatched)
    with pytest.raises(TrainingError, match="fewer than one batch"):
        train_melody_model(corpus, tmp_path / "big", "basic_rnn", steps=2, batch_size=10_000, progress=False)


@pytest.mark.slow  # 13 s on two busy cores
def test_training_keeps_the_best_held_out_model_and_stops_when_it_stops_improving(corpus, tmp_path):
    """Held-out loss that gets worse later: model.safetensors is the best evaluation's weights (as a run that
    stopped there saved), a resume keeps them, and patience ends the run early."""
    from tunesmith.core.checkpoint import read_log

    rough = dict(batch_size=8, layers=[32], max_steps=64, learning_rate=0.2, dropout=0.0, precision="fp32", progress=False)
    rough.update(eval_every=4, checkpoint_every=12, seed=0)
    full = train_melody_model(corpus, tmp_path / "full", "basic_rnn", steps=40, patience=None, **rough)
    evals = {r["step"]: r["loss"] for r in read_log(tmp_path / "full") if r["split"] == "eval"}
    best = min(evals, key=evals.get)
    assert best < 40 and evals[40] > evals[best]  # the run got worse after its best evaluation
    assert full["step"] == 40 and full["best_step"] == best and full["best_eval_loss"] == pytest.approx(evals[best])
    weights = lambda d: load_file(str(d / "model.safetensors"))
    kept = weights(tmp_path / "full")
    short = train_melody_model(corpus, tmp_path / "short", "basic_rnn", steps=best, patience=None, **rough)
    assert short["best_step"] == best
    assert all(torch.equal(kept[k], v) for k, v in weights(tmp_path / "short").items())  # the step-`best` weights
    last = load_file(str(tmp_path / "full" / "train_state.safetensors"))  # the last step's weights stay for a resume
    assert any(not torch.equal(last[f"model.{k}"], v) for k, v in kept.items())
    # stopped after its best and resumed: the same best, and the same last step's state
    train_melody_model(corpus, tmp_path / "resumed", "basic_rnn", steps=best + 8, patience=None, **rough)
    train_melody_model(corpus, tmp_path / "resumed", "basic_rnn", steps=40, patience=None, resume=True, **rough)
    assert all(torch.equal(kept[k], v) for k, v in weights(tmp_path / "resumed").items())
    again = load_file(str(tmp_path / "resumed" / "train_state.safetensors"))
    assert all(torch.equal(last[k], again[k]) for k in last if k.startswith(("model.", "optim.", "best.")))
    # patience: two evaluations without a better loss end the run, with the best weights saved
    early = train_melody_model(corpus, tmp_path / "early", "basic_rnn", steps=40, patience=2, **rough)
    assert early["stopped_early"] and early["step"] == min(best + 2 * 4, 40) < 40
    assert all(torch.equal(kept[k], v) for k, v in weights(tmp_path / "early").items())


def test_fine_tuning_the_shipped_default_on_a_few_tunes(corpus, tmp_path):
    """``init_from="default"`` takes the default's architecture and weights, trains on fewer tunes than one batch,
    and starts far ahead of the same run from scratch."""
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core.checkpoint import load_config
    from tunesmith.melody.settings import FINE_TUNE_LR_SCALE

    few = dict(steps=3, eval_every=3, checkpoint_every=3, progress=False, precision="fp32", seed=0)
    tuned = train_melody_model(corpus, tmp_path / "tuned", init_from="default", **few)
    saved = load_config(tmp_path / "tuned")
    default = load_config(resolve_model_dir("default"))
    arch = ("architecture", "d_model", "transformer_layers", "min_note", "max_note", "beat_inputs")
    assert {k: saved["config"][k] for k in arch} == {k: default["config"][k] for k in arch}
    assert saved["config"]["batch_size"] == tuned["train_melodies"] < default["config"]["batch_size"]
    assert saved["config"]["learning_rate"] == pytest.approx(default["config"]["learning_rate"] * FINE_TUNE_LR_SCALE)
    scratch = train_melody_model(corpus, tmp_path / "scratch", batch_size=tuned["train_melodies"], **few)
    assert tuned["eval"]["loss"] < 0.8 * scratch["eval"]["loss"]
    with pytest.raises(TrainingError, match="audio model"):
        train_melody_model(corpus, tmp_path / "wrong", init_from="audio-default", **few)


def test_min_p_cuts_the_tail_relative_to_the_likeliest_event():
    from tunesmith.melody.generate import _top_k_top_p

    logits = torch.log(torch.tensor([[0.6, 0.3, 0.05, 0.05], [0.3, 0.25, 0.25, 0.2]]))
    kept = torch.isfinite(_top_k_top_p(logits, None, None, min_p=0.1))
    # row 0: 0.05 < 0.1 * 0.6 is dropped; row 1, an uncertain step: every choice stays
    assert kept.tolist() == [[True, True, False, False], [True, True, True, True]]
    model = load_melody_model("default")
    greedy = model.generate("C4", n=1, steps=32, top_k=1, seed=3)[0]
    assert np.array_equal(model.generate("C4", n=1, steps=32, min_p=0.99, seed=5)[0].events, greedy.events)
    with pytest.raises(BadInputError, match="min_p"):
        model.generate("C4", n=1, steps=8, min_p=1.0)
