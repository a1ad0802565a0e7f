import json
import subprocess
import sys

import numpy as np
import pytest

from tunesmith.errors import CorpusError
from tunesmith.music.corpus import load_split, prepare_corpus, split_of


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
    proc = subprocess.run([sys.executable, "-m", "tunesmith", "prepare", str(tmp_path / "bad"), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "not a MIDI file" in proc.stderr and "Traceback" not in proc.stderr
