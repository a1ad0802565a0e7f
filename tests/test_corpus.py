import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tunesmith.core.errors import CorpusError, TunesmithError
from tunesmith.data.corpus import load_split, prepare_corpus, process_file, split_of
from tunesmith.music.midi import ExtractionSettings


def test_prepare_reports_every_skip_reason(messy_corpus, tmp_path):
    report = prepare_corpus(messy_corpus, tmp_path / "corpus", workers=2, progress=False)
    reasons = {item["file"]: item["reason"] for item in report.skipped}
    assert reasons["text.mid"] == "not_midi"
    assert reasons["empty.mid"] == "empty_file"
    assert reasons["truncated.mid"] == "corrupt"
    assert reasons["drums.mid"] == "drums_only"
    assert reasons["short.mid"] == "too_short"
    assert reasons["two_pitches.mid"] == "too_few_pitches"
    assert reasons["no_notes.mid"] == "no_notes"
    assert report.melodies["train"] + report.melodies["eval"] >= 25
    data = json.loads((tmp_path / "corpus" / "corpus.json").read_text())
    assert data["skip_counts"]["corrupt"] == 1 and sum(data["pitch_histogram"]) > 0
    events, offsets, spb = load_split(tmp_path / "corpus", "train")
    assert offsets[-1] == events.size and len(spb) == len(offsets) - 1
    assert set(np.unique(events)) <= set(range(-2, 128))


def test_split_is_stable_and_independent_of_workers(folk_dir, tmp_path):
    a = prepare_corpus(folk_dir, tmp_path / "a", workers=1, progress=False, eval_ratio=0.3)
    b = prepare_corpus(folk_dir, tmp_path / "b", workers=2, progress=False, eval_ratio=0.3)
    for split in ("train", "eval"):
        ea, oa, _ = load_split(tmp_path / "a", split)
        eb, ob, _ = load_split(tmp_path / "b", split)
        assert np.array_equal(ea, eb) and np.array_equal(oa, ob)
    assert a.melodies == b.melodies and a.melodies["eval"] > 0
    assert split_of("x/y.mid", 0.3) == split_of("x/y.mid", 0.3)


def test_empty_folder_and_only_bad_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no MIDI"):
        prepare_corpus(tmp_path / "empty", tmp_path / "out", progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.mid").write_text("nope")
    with pytest.raises(CorpusError, match="not_midi"):
        prepare_corpus(tmp_path / "bad", tmp_path / "out2", progress=False)


def test_cli_prints_error_without_traceback(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.mid").write_text("nope")
    proc = subprocess.run(
        [sys.executable, "-m", "tunesmith", "prepare", str(tmp_path / "bad"), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "not a MIDI file" in proc.stderr and "Traceback" not in proc.stderr


VOLATILE = {"out_dir", "seconds", "files_processed", "files_reused", "engine"}


def assert_same_corpus(a, b):
    """Same shards byte for byte (melodies, order, split) and the same corpus.json apart from timings and paths."""
    names = sorted(p.name for p in a.iterdir() if p.is_file() and p.name != "corpus.json")
    assert names == sorted(p.name for p in b.iterdir() if p.is_file() and p.name != "corpus.json")
    assert any(n.startswith("eval-") for n in names) and any(n.startswith("train-") for n in names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ja, jb = (json.loads((d / "corpus.json").read_text()) for d in (a, b))
    assert {k: v for k, v in ja.items() if k not in VOLATILE} == {k: v for k, v in jb.items() if k not in VOLATILE}


def counting_process_file(monkeypatch, fail_after=None):
    """Count the files really read by process_file (inline engine: workers=1); optionally Ctrl-C after some."""
    import tunesmith.data.corpus as corpus

    calls = []

    def counted(path, settings):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt
        calls.append(path)
        return process_file(path, settings)

    monkeypatch.setattr(corpus, "process_file", counted)
    return calls


KILL_AFTER = """
import os, sys
import tunesmith.data.corpus as corpus
real, seen = corpus.process_file, []
def dying(path, settings):
    if len(seen) == int(sys.argv[3]):
        os._exit(137)  # like kill -9: no cleanup, no flush
    seen.append(path)
    return real(path, settings)
corpus.process_file = dying
corpus.prepare_corpus(sys.argv[1], sys.argv[2], workers=1, progress=False, flush_files=5)
"""


def test_resume_after_kill_gives_the_uninterrupted_corpus(messy_corpus, tmp_path, monkeypatch):
    total = 37
    prepare_corpus(messy_corpus, tmp_path / "whole", workers=1, progress=False)
    out = tmp_path / "resumed"
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER, str(messy_corpus), str(out), "20"], capture_output=True, text=True)
    assert proc.returncode == 137, proc.stderr
    assert not (out / "corpus.json").exists()
    saved = sum(len(json.loads(p.read_text())["files"]) for p in (out / "parts").glob("part-*.json"))
    assert 5 <= saved < 20  # whole parts only; the files of the unsaved chunk are lost
    (out / "parts" / "part-00099.events.npy").write_bytes(b"half a part")  # arrays whose JSON never came
    calls = counting_process_file(monkeypatch)
    report = prepare_corpus(messy_corpus, out, workers=1, progress=False)
    assert len(calls) == report.files_processed == total - saved and report.files_reused == saved
    assert not (out / "parts" / "part-00099.events.npy").exists()
    assert_same_corpus(tmp_path / "whole", out)


def test_ctrl_c_keeps_finished_files_and_resumes(folk_dir, tmp_path, monkeypatch):
    prepare_corpus(folk_dir, tmp_path / "whole", workers=2, progress=False, eval_ratio=0.3)
    counting_process_file(monkeypatch, fail_after=30)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus(folk_dir, tmp_path / "c", workers=1, progress=False, eval_ratio=0.3)
    calls = counting_process_file(monkeypatch)
    report = prepare_corpus(folk_dir, tmp_path / "c", workers=1, progress=False, eval_ratio=0.3)
    assert report.files_reused >= 24 and len(calls) == report.files_processed == 48 - report.files_reused
    assert_same_corpus(tmp_path / "whole", tmp_path / "c")
    again = prepare_corpus(folk_dir, tmp_path / "c", workers=2, progress=False, eval_ratio=0.1)  # split change: no work
    assert again.files_processed == 0 and again.melodies != report.melodies


def test_grown_folder_processes_only_new_files(folk_dir, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    tunes = sorted(folk_dir.glob("*.mid"))
    for f in tunes[:20]:
        shutil.copy(f, src / f.name)
    prepare_corpus(src, tmp_path / "c", workers=1, progress=False, eval_ratio=0.3)
    for f in tunes[20:]:
        shutil.copy(f, src / f.name)
    (src / "moved").mkdir()
    (src / tunes[0].name).rename(src / "moved" / tunes[0].name)  # same bytes, new path: not read again
    (src / tunes[1].name).unlink()
    calls = counting_process_file(monkeypatch)
    report = prepare_corpus(src, tmp_path / "c", workers=1, progress=False, eval_ratio=0.3)
    assert len(calls) == report.files_processed == len(tunes) - 20 and report.files_found == len(tunes) - 1
    prepare_corpus(src, tmp_path / "fresh", workers=2, progress=False, eval_ratio=0.3)
    assert_same_corpus(tmp_path / "fresh", tmp_path / "c")
    sources = json.loads((tmp_path / "c" / "train-00000.sources.json").read_text())
    sources += json.loads((tmp_path / "c" / "eval-00000.sources.json").read_text())
    assert f"moved/{tunes[0].name}" in sources and tunes[1].name not in sources


def test_other_settings_or_fresh_reprocess_everything(folk_dir, tmp_path):
    prepare_corpus(folk_dir, tmp_path / "c", workers=1, progress=False)
    other = prepare_corpus(folk_dir, tmp_path / "c", workers=1, progress=False, settings=ExtractionSettings(min_bars=4))
    assert other.files_processed == 48
    assert prepare_corpus(folk_dir, tmp_path / "c", workers=1, progress=False, fresh=True).files_processed == 48


def test_missing_ray_is_a_clear_error(folk_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(TunesmithError, match=r"tunesmith\[ray\]"):
        prepare_corpus(folk_dir, tmp_path / "c", engine="ray", progress=False)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray not installed (pip install 'tunesmith[ray]')")
def test_ray_engine_gives_the_process_engine_corpus(messy_corpus, tmp_path):
    prepare_corpus(messy_corpus, tmp_path / "proc", workers=2, progress=False)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray, started and stopped by the run
    cmd = [
        sys.executable,
        "-m",
        "tunesmith",
        "--quiet",
        "prepare",
        str(messy_corpus),
        "-o",
        str(tmp_path / "ray"),
        "--engine",
        "ray",
        "--workers",
        "2",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_corpus(tmp_path / "proc", tmp_path / "ray")
    assert json.loads((tmp_path / "ray" / "corpus.json").read_text())["engine"] == "ray"


def test_engine_errors_say_what_to_do():
    from tunesmith.data import engines

    class Unreachable:
        def init(self, **kwargs):
            raise ConnectionError("Failed to connect to Ray cluster at head:6379")

    with pytest.raises(TunesmithError, match="ray start --head.*RAY_AUTH_MODE=token"):
        engines._connect(Unreachable(), "head:6379")
    with pytest.raises(TunesmithError, match="needs --engine ray"):
        engines.open_engine("process", 2, "head:6379")
    with pytest.raises(TunesmithError, match="unknown engine"):
        engines.open_engine("dask", 2)
