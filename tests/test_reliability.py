"""Reliability: bad input, interruptions, full disks and load lose nothing.

Mutated MIDI and audio files (tests/fuzzing.py) must give a result or a TunesmithError, never another
exception and never a hang; checkpoints never involve pickle and refuse weights that disagree with their
config; a training run killed with SIGKILL resumes to bit-identical weights; a full disk is reported as
such and leaves the previous file intact. The big versions of these runs are benchmarks/bench_reliability.py.
"""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import fuzzing
from tunesmith.core import checkpoint
from tunesmith.core.errors import BadInputError, ModelError, TunesmithError
from tunesmith.music.melody import NO_EVENT, Melody

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tunesmith"
FOLK = Path(__file__).parent / "data" / "folk"


def assert_valid_melody(melody, where: str) -> None:
    assert isinstance(melody, Melody), f"{where}: returned {type(melody).__name__}"
    events = np.asarray(melody.events)
    assert events.ndim == 1 and events.size > 0, where
    assert events.min() >= NO_EVENT and events.max() <= 127, where
    assert (events >= 0).any(), f"{where}: a melody without a note"


@pytest.fixture(scope="module")
def midi_mutants(tmp_path_factory) -> list[tuple[Path, str]]:
    return fuzzing.write_midi_mutants(tmp_path_factory.mktemp("midi-mutants"), 300, seed=11)


@pytest.fixture(scope="module")
def audio_mutants(tmp_path_factory) -> list[tuple[Path, str]]:
    return fuzzing.write_audio_mutants(tmp_path_factory.mktemp("audio-mutants"), 100, seed=5, long_files=1)


def test_fuzzing_is_deterministic_and_covers_every_kind():
    first = list(fuzzing.midi_mutants(len(fuzzing.MIDI_KINDS) * 2, seed=3))
    assert first == list(fuzzing.midi_mutants(len(fuzzing.MIDI_KINDS) * 2, seed=3))
    assert {kind for _, kind, _ in first} == set(fuzzing.MIDI_KINDS)
    audio = list(fuzzing.audio_mutants(len(fuzzing.AUDIO_KINDS), seed=3, long_files=0))
    assert [d for *_, d in audio] == [d for *_, d in fuzzing.audio_mutants(len(fuzzing.AUDIO_KINDS), seed=3, long_files=0)]
    assert fuzzing.vlq(0x0FFFFFFF) == b"\xff\xff\xff\x7f"


# ----------------------------------------------------------------------------- (a) corpus preparation


@pytest.mark.slow  # 10 s on two busy cores
def test_prepare_corpus_survives_mutated_midi(midi_mutants, tmp_path):
    from tunesmith.data.corpus import prepare_corpus, process_file
    from tunesmith.music.midi import ExtractionSettings

    settings = ExtractionSettings()
    slowest = (0.0, None)
    for path, kind in midi_mutants:
        started = time.perf_counter()
        result = process_file(str(path), settings)  # never raises: it reports
        seconds = time.perf_counter() - started
        slowest = max(slowest, (seconds, f"{path.name} ({kind})"), key=lambda x: x[0])
        assert result.events or result.skip_reason, f"{path.name}: neither melodies nor a reason"
    assert slowest[0] < 2.0, f"slowest file {slowest[1]} took {slowest[0]:.2f} s"

    out = tmp_path / "corpus"
    report = prepare_corpus(midi_mutants[0][0].parent, out, progress=False, workers=2)
    assert report.files_found == len(midi_mutants)
    skipped = {item["file"] for item in report.skipped}
    assert all(item["reason"] and item["detail"] for item in report.skipped)
    sources = set()
    for shard in report.shards["train"] + report.shards["eval"]:
        sources.update(s.split("#", 1)[0] for s in json.loads((out / f"{shard['name']}.sources.json").read_text()))
    assert skipped.isdisjoint(sources)
    assert skipped | sources == {p.name for p, _ in midi_mutants}
    assert json.loads((out / "corpus.json").read_text())["files_found"] == len(midi_mutants)
    assert not fuzzing.temp_files(out)


# ----------------------------------------------------------------------------- (b) primers


@pytest.mark.slow  # 41 s on two busy cores
def test_parse_primer_on_mutated_midi(midi_mutants):
    from tunesmith.music.primer import parse_primer

    outcomes = {"melody": 0, "error": 0}
    for path, kind in midi_mutants[:200]:
        try:
            melody = parse_primer(path)
        except TunesmithError as exc:
            assert str(path.name) in str(exc) or "MIDI" in str(exc) or "notes" in str(exc), str(exc)
            outcomes["error"] += 1
        else:
            assert_valid_melody(melody, f"{path.name} ({kind})")
            outcomes["melody"] += 1
    assert outcomes["melody"] > 10 and outcomes["error"] > 50, outcomes


# ----------------------------------------------------------------------------- (c) audio loading


@pytest.mark.slow  # 4 s on two busy cores
def test_load_audio_and_clips_on_mutated_audio(audio_mutants):
    from tunesmith.audio.io import load_audio
    from tunesmith.audio_model.train import load_clips

    kinds_ok, kinds_refused = set(), set()
    for path, kind in audio_mutants:
        try:
            audio, rate = load_audio(path, 16000, min_samples=512)
        except BadInputError as exc:
            assert path.name in str(exc), str(exc)
            kinds_refused.add(kind)
        else:
            assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size >= 512, path.name
            assert np.isfinite(audio).all() and 1000 <= rate <= 768_000, path.name
            kinds_ok.add(kind)
        try:
            loaded, skipped = load_clips(path, 16000, 512)
        except BadInputError:
            pass
        else:
            assert len(loaded) == 1 and not skipped and np.isfinite(loaded[0][1]).all()
    assert {"zero_length", "nan_inf", "no_samples", "truncate_header"} <= kinds_refused
    assert {"long_sparse", "riff_size"} <= kinds_ok
    loaded, skipped = load_clips(audio_mutants[0][0].parent, 16000, 512)  # a folder: bad files skipped, listed
    assert len(loaded) + len(skipped) == len(audio_mutants) and loaded and skipped


# ----------------------------------------------------------------------------- (d) transcription


@pytest.mark.slow  # 3 s on two busy cores
def test_transcribe_on_mutated_audio(audio_mutants):
    """Every damaged clip gives a Melody or a TunesmithError naming the file; both outcomes must occur, and the
    damage that leaves the audio readable (a wrong RIFF size) must still be transcribed."""
    from tunesmith.audio.transcribe import transcribe

    kinds_ok, kinds_refused = set(), set()
    for path, kind in audio_mutants[:50]:
        try:
            melody = transcribe(path)
        except TunesmithError as exc:
            assert path.name in str(exc), f"{path.name} ({kind}): {exc}"
            kinds_refused.add(kind)
            continue
        assert isinstance(melody, Melody), f"{path.name} ({kind}): {type(melody).__name__}"
        assert np.asarray(melody.events).min() >= NO_EVENT, path.name
        kinds_ok.add(kind)
    assert kinds_ok and kinds_refused, (kinds_ok, kinds_refused)  # neither all refused nor all accepted
    assert {"zero_length", "no_samples"} & kinds_refused and "riff_size" in kinds_ok, (kinds_ok, kinds_refused)


# ----------------------------------------------------------------------------- (e) checkpoints

FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword_is_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def pickle_uses(source: str) -> list[str]:
    """Every pickle path in ``source``: pickle-family imports, torch.load without weights_only=True,
    np.load with allow_pickle=True, torch.save (a pickle writer). Comments and docstrings do not count."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and _dotted(node).split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"line {node.lineno}: {_dotted(node)}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.endswith("torch.load") and not _keyword_is_true(node, "weights_only"):
                found.append(f"line {node.lineno}: torch.load without weights_only=True")
            if name.endswith("torch.save"):
                found.append(f"line {node.lineno}: torch.save writes a pickle; use safetensors")
            if name.split(".")[-1] == "load" and name.split(".")[0] in ("np", "numpy") and _keyword_is_true(node, "allow_pickle"):
                found.append(f"line {node.lineno}: np.load(allow_pickle=True)")
    return found


@pytest.mark.slow  # 4 s on two busy cores
def test_no_pickle_anywhere_in_src():
    assert pickle_uses(
        "import pickle\nx = torch.load(f)\ny = np.load(f, allow_pickle=True)\ntorch.load(f, weights_only=True)"
    ) == ["line 1: import pickle", "line 2: torch.load without weights_only=True", "line 3: np.load(allow_pickle=True)"]
    assert pickle_uses('"""never pickle"""\n# import pickle\n') == []
    offenders = {str(p.relative_to(ROOT)): uses for p in sorted(SRC.rglob("*.py")) if (uses := pickle_uses(p.read_text()))}
    assert not offenders, f"pickle paths in src: {offenders}"


def _melody_model_dir(path: Path, layers=(32, 32)) -> Path:
    from tunesmith.melody.model import build_model, preset

    config = preset("basic_rnn", layers=list(layers))
    checkpoint.save_config(path, "melody", config.__dict__ | {"layers": list(layers)})
    checkpoint.save_weights(path, build_model(config))
    return path


def test_weights_that_disagree_with_config_are_refused(tmp_path):
    from tunesmith.audio_model.generate import load_audio_model
    from tunesmith.audio_model.model import AudioConfig, SpectralLSTM
    from tunesmith.melody.generate import MelodyModel

    model_dir = _melody_model_dir(tmp_path / "melody")
    MelodyModel.load(model_dir)  # consistent: loads
    data = json.loads((model_dir / "config.json").read_text())
    data["config"]["layers"] = [48, 32]
    (model_dir / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="does not match its config"):
        MelodyModel.load(model_dir)

    audio_dir = tmp_path / "audio"
    config = AudioConfig(sample_rate=16000, n_fft=512, hop_length=128, units=32)
    checkpoint.save_config(audio_dir, "audio", config.__dict__)
    checkpoint.save_weights(audio_dir, SpectralLSTM(config))
    load_audio_model(audio_dir, device="cpu")
    checkpoint.save_config(audio_dir, "audio", config.__dict__ | {"units": 64})
    with pytest.raises(ModelError, match="shape mismatch"):
        load_audio_model(audio_dir, device="cpu")

    state_dir = tmp_path / "state"  # a train state from another model is refused too, not half-loaded
    small, big = torch.nn.Linear(4, 4), torch.nn.Linear(4, 8)
    checkpoint.save_train_state(state_dir, small, torch.optim.Adam(small.parameters()), {"step": 1})
    with pytest.raises(ModelError):
        checkpoint.load_train_state(state_dir, big, torch.optim.Adam(big.parameters()))

    weights = model_dir / "model.safetensors"  # truncated weights: damaged, not a crash
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelError, match="damaged"):
        checkpoint.load_weights(model_dir, torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "change, words",
    [
        ({"colour": "blue"}, ["unknown setting", "colour"]),
        ({"layers": "abc"}, ["layers", "should be"]),
        ({"learning_rate": "fast"}, ["learning_rate", "should be"]),
        ({"batch_size": 3.5}, ["batch_size", "should be"]),
        ({"dropout": None}, ["dropout"]),
    ],
)
def test_config_json_with_unknown_keys_or_wrong_types_is_refused(tmp_path, change, words):
    from tunesmith.melody.generate import MelodyModel

    model_dir = _melody_model_dir(tmp_path / "m")
    data = json.loads((model_dir / "config.json").read_text())
    data["config"].update(change)
    (model_dir / "config.json").write_text(json.dumps(data))
    with pytest.raises(TunesmithError) as info:
        MelodyModel.load(model_dir)
    message = str(info.value)
    assert all(w in message for w in words) and "config.json" in message, message


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"kind": "melody", "config": [1]}', ""])
def test_damaged_config_json_is_a_model_error(tmp_path, text):
    from tunesmith.melody.generate import MelodyModel

    model_dir = _melody_model_dir(tmp_path / "m")
    (model_dir / "config.json").write_text(text)
    with pytest.raises(ModelError, match="config.json"):
        MelodyModel.load(model_dir)


# ----------------------------------------------------------------------------- (f) kill -9 and resume


def melody_train_command(model_dir: Path, steps: int = 40) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tunesmith",
        "--quiet",
        "melody",
        "train",
        str(FOLK),
        "-o",
        str(model_dir),
        "--config",
        "basic_rnn",
        "--steps",
        str(steps),
        "--checkpoint-every",
        "5",
        "--eval-every",
        "20",
        "--batch-size",
        "8",
        "--layers",
        "32,32",
        "--seed",
        "3",
    ]


@pytest.mark.slow  # 81 s on two busy cores
def test_training_killed_three_times_resumes_to_identical_weights(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference = subprocess.Popen(melody_train_command(reference_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rng = random.Random(3)
    targets = sorted(rng.sample(range(5, 35, 5), 3))
    try:
        result = fuzzing.kill_and_resume(melody_train_command(killed_dir), killed_dir, targets, rng, max_delay=0.1, timeout=300)
    finally:
        _, reference_err = reference.communicate(timeout=300)
    assert reference.returncode == 0, reference_err.decode()[-2000:]
    assert result["returncode"] == 0, result["stderr"]
    kills = result["kills"]
    assert len(kills) == 3 and not any(k["finished_before_kill"] for k in kills), kills
    assert all("error" not in k and k["saved_step"] >= k["target"] for k in kills), kills
    for k in kills:  # a killed writer may leave its temp file; it is hidden and never read
        assert all(name.startswith(".") for name in k["temp_files_left"]), k
    assert not result["temp_files_at_end"], "the resumed run must clear temp files of the killed one"
    assert fuzzing.weights_equal(reference_dir, killed_dir)
    assert fuzzing.weights_equal(reference_dir, killed_dir, "train_state.safetensors")  # optimizer and RNG too
    rows = [json.loads(line) for line in (killed_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [10, 20, 30, 40]  # no duplicated or torn rows


# ----------------------------------------------------------------------------- (g) full disk


@pytest.fixture
def tiny_disk(tmpfs):
    return tmpfs("tiny", "64k")


@pytest.mark.slow  # 11 s on two busy cores
def test_full_disk_is_reported_and_keeps_the_old_file(tiny_disk):
    from tunesmith.core.files import write_json
    from tunesmith.music.midi import write_midi

    good = tiny_disk / "good.mid"
    write_midi(Melody(np.array([60, -2, 62, -1, 64, -2, -2, -1], dtype=np.int16)), good)
    before = good.read_bytes()
    big_melody = Melody(np.tile(np.arange(40, 90, dtype=np.int16), 2000))  # ~100k notes: ~800 kB of MIDI
    big_linear = torch.nn.Linear(200, 200)
    attempts = {
        "write_midi": lambda: write_midi(big_melody, good),
        "write_json": lambda: write_json(good, {"values": list(range(100_000))}),
        "save_weights": lambda: checkpoint.save_weights(tiny_disk, big_linear),
        "save_train_state": lambda: checkpoint.save_train_state(
            tiny_disk, big_linear, torch.optim.Adam(big_linear.parameters()), {"step": 1}
        ),
    }
    for name, attempt in attempts.items():
        with pytest.raises(TunesmithError, match="disk full"):
            attempt()
        assert good.read_bytes() == before, f"{name} damaged the previous file"
        assert sorted(p.name for p in tiny_disk.iterdir()) == ["good.mid"], f"{name} left files behind"


@pytest.mark.heavy
@pytest.mark.slow  # 130 s on two busy cores
def test_benchmark_quick_mode_prints_one_json_object():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_reliability.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in (
        "machine",
        "midi_prepare",
        "midi_primer",
        "audio_load",
        "audio_train_clips",
        "transcribe",
        "kill_resume",
        "crashes",
        "peak_rss_mb",
    ):
        assert key in report, key
    for key in ("midi_prepare", "midi_primer", "audio_load", "audio_train_clips"):  # transcription: see its own test
        assert report[key]["crashes"] == 0 and report[key]["files"] > 0, report[key]
    audio = report["kill_resume"]["audio"]
    assert audio["kills_survived"] == audio["kills"] == 1 and audio["final_weights_equal_uninterrupted"], audio
    safety = report["data_safety"]  # issue 20: counted here, asserted case by case in tests/test_data_safety.py
    assert safety["cases_tried"] >= 30 and {"tracebacks", "data_lost", "cases"} <= safety.keys(), safety
