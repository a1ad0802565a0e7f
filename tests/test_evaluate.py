"""Evaluation: melody metrics on hand-made sets with known answers, and reports of a real (tiny) trained model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tunesmith.core.errors import BadInputError
from tunesmith.evaluate import (
    FEATURES,
    compare_models,
    compare_sets,
    evaluate_model,
    kl_divergence,
    likelihood,
    melody_features,
    melody_statistics,
    overlap_area,
    training_gap,
)
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody, Note

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def line(pitches, length=4, gap=0) -> Melody:
    """Each pitch held ``length`` steps, then ``gap`` steps of rest."""
    notes, t = [], 0
    for p in pitches:
        notes.append(Note(p, t, t + length))
        t += length + gap
    return Melody.from_notes(notes, length=t)


def random_walk(rng, scale, base, n=16, lengths=(2, 4)) -> Melody:
    degree, pitches = 0, []
    for _ in range(n):
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 2 * len(scale) - 1))
        pitches.append(base + 12 * (degree // len(scale)) + scale[degree % len(scale)])
    notes, t = [], 0
    for p in pitches:
        d = int(rng.choice(lengths))
        notes.append(Note(p, t, t + d))
        t += d
    return Melody.from_notes(notes, length=t)


# --- per-melody metrics ----------------------------------------------------------------------------
def test_c_major_scale_metrics():
    f = melody_features(line(C_MAJOR))
    expected = np.zeros(12)
    expected[[0, 2, 4, 5, 7, 9, 11]] = 1 / 8
    expected[0] = 2 / 8  # C4 and C5
    np.testing.assert_allclose(f["pitch_class_histogram"], expected)
    assert f["pitch_class_histogram"][[1, 3, 6, 8, 10]].sum() == 0
    assert f["scale_consistency"] == 1.0
    assert f["pitch_count"] == 8
    assert f["pitch_range"] == 12
    assert f["avg_interval"] == pytest.approx(12 / 7)
    assert f["avg_ioi"] == 4.0
    matrix = f["pitch_class_transition_matrix"]
    assert matrix.sum() == pytest.approx(1.0)
    for a, b in [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9), (9, 11), (11, 0)]:
        assert matrix[a, b] == pytest.approx(1 / 7)
    assert f["note_length_histogram"][3] == 1.0  # every note a quarter (4 steps)
    assert f["empty_beat_rate"] == 0.0
    entropy = -(6 * (1 / 8) * math.log2(1 / 8) + (2 / 8) * math.log2(2 / 8))
    assert f["pitch_class_entropy"] == pytest.approx(entropy)


def test_chromatic_line_has_maximal_pitch_class_entropy():
    f = melody_features(line(range(60, 72), length=1))
    assert f["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert f["scale_consistency"] == pytest.approx(7 / 12)
    assert f["note_length_histogram"][0] == 1.0  # all 16ths


def test_empty_beat_rate_counts_beats_without_sounding_notes():
    events = [
        60,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        NOTE_OFF,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        62,
        NO_EVENT,
        NOTE_OFF,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
        NO_EVENT,
    ]
    assert melody_features(Melody.from_events(events))["empty_beat_rate"] == 0.5
    # a note sounding in steps 4-9 crosses a beat line: beats 1 and 2 sound, 4 of 6 beats are silent
    held = [NO_EVENT] * 4 + [64] + [NO_EVENT] * 5 + [NOTE_OFF] + [NO_EVENT] * 13
    assert melody_features(Melody.from_events(held))["empty_beat_rate"] == pytest.approx(4 / 6)


def test_set_statistics_average_melodies_and_skip_empty_ones():
    stats = melody_statistics([line(C_MAJOR), line(C_MAJOR), Melody.from_events([NO_EVENT] * 8)])
    assert stats["melodies"] == 3 and stats["empty_melodies"] == 1 and stats["notes"] == 16
    assert stats["scale_consistency"] == 1.0
    assert stats["pitch_class_histogram"][0] == pytest.approx(0.25)
    assert stats["interval_histogram"][12 + 2] == pytest.approx(5 / 7)  # whole steps of 7 intervals
    assert stats["interval_histogram"][12 + 1] == pytest.approx(2 / 7)  # E-F and B-C
    json.dumps(stats)


# --- set comparison ---------------------------------------------------------------------------------
def test_kde_measures_on_known_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 2000)
    assert overlap_area(a, a) == pytest.approx(1.0, abs=1e-6)
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-6)
    far = rng.normal(10, 1, 2000)
    assert overlap_area(a, far) < 0.01 and kl_divergence(a, far) > 10
    # constant samples (no KDE bandwidth) still give sensible answers
    assert overlap_area(np.zeros(50), np.zeros(50)) == pytest.approx(1.0)
    assert overlap_area(np.zeros(50), np.full(50, 3.0)) < 0.01


def test_identical_sets_overlap_and_different_sets_do_not():
    rng = np.random.default_rng(1)
    major = [0, 2, 4, 5, 7, 9, 11]
    folk = [random_walk(rng, major, 60) for _ in range(30)]
    same = compare_sets(folk, [m.copy() for m in folk])
    assert set(same["features"]) == set(FEATURES)
    assert same["summary"]["mean_oa"] > 0.85
    assert same["summary"]["mean_kl"] < 0.1
    for row in same["features"].values():
        assert row["oa"] > 0.7 and row["intra_generated_mean"] == pytest.approx(row["intra_reference_mean"])
    chromatic = [random_walk(rng, list(range(12)), 72, n=40, lengths=(1, 8, 12)) for _ in range(30)]
    other = compare_sets(chromatic, folk)
    assert other["summary"]["mean_oa"] < same["summary"]["mean_oa"] - 0.3
    assert other["summary"]["mean_kl"] > same["summary"]["mean_kl"] + 1
    assert other["features"]["pitch_class_histogram"]["inter_mean"] > same["features"]["pitch_class_histogram"]["inter_mean"]
    json.dumps(other)


# --- likelihood and reports on a real tiny model ----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, folk_dir_module):
    from tunesmith.melody.train import train_melody_model

    root = tmp_path_factory.mktemp("models")
    a, b = root / "tiny_a", root / "tiny_b"
    # max_steps=64 keeps training and evaluation of the tiny models quick
    train_melody_model(folk_dir_module, a, "basic_rnn", steps=20, batch_size=8, layers=[32, 32], progress=False, max_steps=64)
    train_melody_model(a / "corpus", b, "basic_rnn", steps=5, batch_size=8, layers=[16], progress=False, seed=1, max_steps=64)
    return a, b


@pytest.fixture(scope="module")
def folk_dir_module() -> Path:
    return Path(__file__).parent / "data" / "folk"


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_likelihood_of_a_trained_model(tiny_models, folk_dir_module, tmp_path):
    model_dir = tiny_models[0]
    lik = likelihood(model_dir)
    assert lik["eval"]["melodies"] > 0 and lik["train"]["melodies"] > 0
    assert 0 < lik["loss"] < 10 and lik["perplexity"] == pytest.approx(math.exp(lik["loss"]))
    assert 0 <= lik["accuracy"] <= 1 and lik["note_on_loss"] > 0 and lik["other_loss"] > 0
    assert lik["overfitting"] is False
    # a raw MIDI folder is prepared on the fly, every file held out
    for f in sorted(folk_dir_module.glob("*.mid"))[:6]:
        shutil.copy(f, tmp_path / f.name)
    raw = likelihood(model_dir, data=tmp_path)
    assert raw["train"] is None and raw["eval"]["melodies"] == 6


def test_training_gap_flags_overfitting(tmp_path):
    rows = []
    for step, train, ev in [(100, 3.0, 3.1), (200, 2.5, 2.7), (300, 2.0, 2.8), (400, 1.5, 2.9), (500, 1.0, 3.0)]:
        rows += [{"step": step, "split": "train", "loss": train}, {"step": step, "split": "eval", "loss": ev}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    gap = training_gap(tmp_path)
    assert gap["overfitting"] is True and gap["gap"] == pytest.approx(2.0) and len(gap["history"]) == 5
    # the gap widens but held-out loss still improves: not overfitting (yet)
    healthy = []
    for step, train, ev in [(100, 3.0, 3.1), (200, 2.5, 2.7), (300, 2.0, 2.4)]:
        healthy += [{"step": step, "split": "train", "loss": train}, {"step": step, "split": "eval", "loss": ev}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in healthy))
    assert training_gap(tmp_path)["overfitting"] is False
    assert training_gap(tmp_path / "missing") == {"history": [], "gap": None, "overfitting": False}


@pytest.mark.slow  # 3-11 s on two busy cores (a trained model or subprocesses)
def test_evaluate_model_writes_offline_report(tiny_models, tmp_path):
    out = tmp_path / "report"
    report = evaluate_model(tiny_models[0], out, n=12, steps=64, seed=0, progress=False)
    assert {"likelihood", "statistics", "comparison", "form"} <= set(report)
    assert report["statistics"]["generated"]["melodies"] == 12
    for figure in ("bar_repeat", "motif_repeat", "tonic_end", "in_key", "cadence"):
        row = report["form"][figure]
        assert 0 <= row["reference"] <= 1 and 0 <= row["generated"] <= 1
        assert row["ratio"] is None or row["ratio"] == pytest.approx(row["generated"] / row["reference"])
    saved = json.loads((out / "report.json").read_text())
    assert saved["likelihood"]["loss"] == pytest.approx(report["likelihood"]["loss"])
    page = (out / "report.html").read_text()
    assert 'src="http' not in page and 'href="http' not in page and "<script" not in page
    assert "data:image/png;base64," in page
    assert "<h2>Form</h2>" in page and "tonic end" in page
    assert "realism" in report and "<h2>Realism</h2>" in page  # run, or the reason it was not
    assert f"{report['likelihood']['loss']:.3f}" in page and f"{report['likelihood']['perplexity']:.3f}" in page
    # 48 tunes, trained from scratch: the report says so in plain words, and what to do
    assert any("--init-from default" in w for w in report["warnings"]) and "Warning:" in page


def test_evaluation_warnings_name_copying_and_small_corpora():
    from tunesmith.evaluate.advice import SMALL_CORPUS, evaluation_warnings

    report = {"likelihood": {"train": {"melodies": 5000}, "overfitting": False}}
    assert evaluation_warnings(report) == []
    report["realism"] = {"copying": {"generated": 0.45, "real": 0.10, "run_notes": 12}}
    (copying,) = evaluation_warnings(report)
    assert "copies its corpus" in copying and "45%" in copying and "10%" in copying
    report["realism"]["copying"]["generated"] = 0.15  # within the real tunes' own share: no warning
    assert evaluation_warnings(report) == []
    report["likelihood"]["train"]["melodies"] = SMALL_CORPUS - 1
    assert "--init-from default" in evaluation_warnings(report)[0]
    assert evaluation_warnings(report, init_from="default") == []  # a fine-tuned model may learn from few tunes


@pytest.mark.slow  # 4 s on two busy cores
def test_compare_models_one_row_per_model(tiny_models, tmp_path):
    # tiny_b was trained on a prepared corpus elsewhere: its config.json names it, so it is found without data=
    alone = compare_models([tiny_models[1]], n=2, steps=32)
    assert len([r for r in alone.splitlines() if r.startswith("| ") and "---" not in r]) == 2
    moved = tmp_path / "moved"
    shutil.copytree(tiny_models[1], moved)
    config = json.loads((moved / "config.json").read_text())
    config["corpus"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadInputError, match="no corpus/"):  # its corpus is gone: say which data to give
        compare_models([moved], n=2)
    table = compare_models(list(tiny_models), data=tiny_models[0] / "corpus", n=6, out_dir=tmp_path / "cmp", steps=32)
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r]
    assert len(rows) == 3  # header + two models
    assert "tiny_a" in rows[1] and "tiny_b" in rows[2]
    assert (tmp_path / "cmp" / "compare.md").read_text() == table
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [m["name"] for m in data["models"]] == ["tiny_a", "tiny_b"]
    assert (tmp_path / "cmp" / "tiny_a" / "report.html").is_file()
