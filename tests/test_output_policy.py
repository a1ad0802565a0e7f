"""Nothing lost, round two (issue 30): the newer commands follow the one output policy of tunesmith.core.folders.

Each test is a case a user met: ``pipeline``/``evaluate``/``demo`` writing over a user's ``index.html`` or
``report.html`` in a non-empty ``-o``, two pipelines or two renders at one output, ``prepare`` taking any folder
with a ``corpus.json`` for its own, single-file outputs replacing a user's file without a word, ``-o`` messages
that said "File exists" or named a hidden temp file, ``evaluate`` checking ``-o`` after its work, and Ctrl-C of
``pipeline`` advising a ``--resume`` it does not have. Each one failed on the code before this policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fuzzing
from tunesmith.core.errors import Cancelled, OutputError, TunesmithError
from tunesmith.core.folders import LOCK_NAME, file_lock, folder_kind, output_dir

FOLK = Path(__file__).parent / "data" / "folk"
SONG = sorted(FOLK.glob("*.mid"))[0]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (lock file aside) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def _boom(*args, **kwargs):
    raise AssertionError("the work started before the output was checked")


def user_folder(folder: Path, names=("index.html", "results.json", "seed.wav", "notes.txt")) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    files = {name: f"the user's own {name}".encode() for name in names}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "clip.wav"
    path.write_bytes(fuzzing.wav_bytes(fuzzing.tone(1.0), 16000))
    return path


# ----------------------------------------------------------------------------- pipeline


@pytest.mark.slow  # 7 s on two busy cores
def test_pipeline_refuses_a_users_folder_before_any_work_and_force_replaces_only_its_own_names(tmp_path, clip, monkeypatch):
    from tunesmith import pipeline

    out = tmp_path / "my-site"
    mine = user_folder(out)
    real_load_clip = pipeline.load_clip
    monkeypatch.setattr(pipeline, "load_clip", _boom)
    with pytest.raises(OutputError, match=r"my-site holds other files .*--force"):
        pipeline.run_pipeline(clip, out, audio_model="none", primer="C4 E4 G4", progress=False)
    assert tree(out) == mine  # nothing written, nothing replaced
    monkeypatch.setattr(pipeline, "load_clip", real_load_clip)
    settings = dict(audio_model="none", primer="C4 E4 G4", instruments=["piano"], n=1, steps=32, progress=False)
    pipeline.run_pipeline(clip, out, force=True, **settings)
    assert (out / "notes.txt").read_bytes() == mine["notes.txt"]  # not one of the pipeline's names: kept
    assert (out / "index.html").read_bytes() != mine["index.html"]  # --force: its own names are replaced
    assert json.loads((out / "results.json").read_text())["kind"] == "pipeline"
    assert folder_kind(out) == "pipeline"
    pipeline.run_pipeline(clip, out, **settings)  # its own folder now: a rerun needs no --force
    assert (out / "notes.txt").read_bytes() == mine["notes.txt"]


def test_pipeline_cli_refuses_a_folder_holding_only_an_index_html(tmp_path, clip, capsys):
    from tunesmith.cli import main

    out = tmp_path / "site"
    mine = user_folder(out, ("index.html",))  # every name is one the pipeline writes: still not its folder
    argv = ["--quiet", "pipeline", str(clip), "--audio-model", "none", "--primer", "C4", "-n", "1", "-o", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "holds other files (index.html)" in err and "--force" in err, err
    assert tree(out) == mine


def test_a_second_pipeline_at_one_folder_is_refused_before_it_writes_anything(tmp_path, clip):
    from tunesmith.pipeline import run_pipeline

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(  # another run's lock on OUT itself, held as run_pipeline holds it
        [sys.executable, "-c", f"import fcntl, os, time; fd = os.open({str(out / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.perf_counter()
        with pytest.raises(OutputError, match="in use by another tunesmith run"):
            run_pipeline(clip, out, audio_model="none", primer="C4", n=1, steps=32, instruments=["piano"], progress=False)
        assert time.perf_counter() - started < 5
        assert tree(out) == {}  # not even seed.wav
    finally:
        holder.kill()
        holder.wait()


def test_ctrl_c_of_the_pipeline_does_not_advise_a_resume_it_lacks(tmp_path, clip, monkeypatch):
    from tunesmith import pipeline
    from tunesmith.audio_model import train

    def interrupted(*args, **kwargs):  # what training says when Ctrl-C stops it
        raise TunesmithError("training interrupted at step 3; checkpoint saved, continue with --resume")

    monkeypatch.setattr(train, "train_audio_model", interrupted)
    with pytest.raises(Cancelled) as info:
        pipeline.run_pipeline(clip, tmp_path / "out", audio_model="train", progress=False)
    message = str(info.value)
    assert "--resume" not in message and "run the same command again" in message, message


# ----------------------------------------------------------------------------- evaluate, demo


def test_evaluate_checks_its_output_before_any_work_and_keeps_a_users_report(tmp_path, monkeypatch, capsys):
    from tunesmith.cli import main
    from tunesmith.evaluate import report

    out = tmp_path / "reports"
    mine = user_folder(out, ("report.html", "report.json"))
    monkeypatch.setattr(report, "_evaluate", _boom)
    assert main(["--quiet", "evaluate", "--model", "default", "-n", "4", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "holds other files" in err and "AssertionError" not in err, err
    assert tree(out) == mine


@pytest.mark.slow  # 20 s on two busy cores (no realism test: that has its own)
def test_evaluate_force_replaces_only_its_report_and_reruns_in_its_own_folder(tmp_path):
    from tunesmith.evaluate import evaluate_model

    out = tmp_path / "reports"
    mine = user_folder(out, ("report.html", "photo.jpg"))
    evaluate_model("default", out, n=4, steps=16, realism=0, progress=False, force=True)
    assert (out / "photo.jpg").read_bytes() == mine["photo.jpg"]
    assert json.loads((out / "report.json").read_text())["kind"] == "melody evaluation"
    evaluate_model("default", out, n=4, steps=16, realism=0, progress=False)  # its own folder: no --force needed


def test_demo_refuses_a_users_folder_before_any_work(tmp_path, monkeypatch):
    from tunesmith import demo
    from tunesmith.melody import generate

    out = tmp_path / "site"
    mine = user_folder(out, ("index.html",))
    monkeypatch.setattr(generate, "load_melody_model", _boom)
    with pytest.raises(OutputError, match="not a demo"):
        demo.run_demo(out, progress=False)
    assert tree(out) == mine


# ----------------------------------------------------------------------------- folders known by content


def test_prepare_does_not_take_a_folder_with_someone_elses_corpus_json(tmp_path, monkeypatch):
    from tunesmith.data import corpus

    out = tmp_path / "work"
    mine = user_folder(out, ("corpus.json",))
    monkeypatch.setattr(corpus, "find_corpus_files", _boom)
    with pytest.raises(OutputError, match="holds other files \\(corpus.json\\)"):
        corpus.prepare_corpus(FOLK, out, progress=False, workers=1)
    assert tree(out) == mine


def test_a_corpus_is_known_by_its_content_old_and_new(tmp_path):
    from tunesmith.data.corpus import prepare_corpus

    out = tmp_path / "corpus"
    prepare_corpus(FOLK, out, progress=False, workers=1)
    data = json.loads((out / "corpus.json").read_text())
    assert data["kind"] == "corpus" and folder_kind(out) == "corpus"
    del data["kind"]  # a corpus written before corpus.json had its "kind"
    (out / "corpus.json").write_text(json.dumps(data))
    assert folder_kind(out) == "corpus"
    prepare_corpus(FOLK, out, progress=False, workers=1)  # taken as its own, no --force


def test_a_users_generation_json_is_not_an_audio_generation(tmp_path, clip, monkeypatch):
    from tunesmith.audio_model import generate
    from tunesmith.outputs.audio_generation import generate_audio

    out = tmp_path / "out"
    mine = user_folder(out, ("generation.json",))
    assert folder_kind(out) is None
    monkeypatch.setattr(generate, "load_audio_model", _boom)
    with pytest.raises(OutputError, match="holds other files"):
        generate_audio("default", clip, out)
    assert tree(out) == mine


# ----------------------------------------------------------------------------- single-file outputs

SINGLE = {  # command line (OUT is the output), the suffix, and its first piece of real work
    "render": (["render", str(SONG), "-o", "OUT"], ".wav", "tunesmith.audio.render.render"),
    "transcribe": (["transcribe", "CLIP", "-o", "OUT"], ".mid", "tunesmith.audio.transcribe.transcribe"),
    "score": (["score", str(SONG), "-o", "OUT"], ".svg", "tunesmith.music.export.load_melody"),
    "export": (["export", str(SONG), "-o", "OUT"], ".abc", "tunesmith.music.export.load_melody"),
    "harmonize": (["harmonize", str(SONG), "-o", "OUT"], ".mid", "tunesmith.music.export.load_melody"),
    "plot": (["plot", str(SONG), "-o", "OUT"], ".png", "tunesmith.outputs.plots.note_arrays"),
    "spectrogram": (["spectrogram", "CLIP", "-o", "OUT"], ".png", "tunesmith.outputs.plots.stft_db"),
    "video": (["video", str(SONG), "-o", "OUT"], ".mp4", "tunesmith.audio.render.render"),
}


@pytest.mark.slow  # 4 s on two busy cores
@pytest.mark.parametrize("command", list(SINGLE))
def test_an_existing_file_is_not_replaced_without_force(command, tmp_path, clip, monkeypatch, capsys):
    from tunesmith.cli import main

    args, suffix, work = SINGLE[command]
    mine = tmp_path / f"my_take{suffix}"
    mine.write_bytes(b"the only copy of my take")
    argv = ["--quiet", *[str(mine) if a == "OUT" else str(clip) if a == "CLIP" else a for a in args]]
    module, name = work.rsplit(".", 1)
    with monkeypatch.context() as patch:
        patch.setattr(__import__(module, fromlist=[name]), name, _boom)
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"error: {mine} exists; pass --force to replace it, or choose another name\n", err
    assert mine.read_bytes() == b"the only copy of my take"
    if command == "video":
        pytest.importorskip("imageio_ffmpeg")
    if command in ("render", "video"):
        from tunesmith.audio.render import RenderError, find_soundfont

        try:
            find_soundfont()
        except RenderError as exc:
            pytest.skip(f"no SoundFont: {exc}")
    extra = ["--size", "128x72", "--fps", "5"] if command == "video" else []
    assert main([*argv, *extra, "--force"]) == 0, capsys.readouterr().err
    assert mine.read_bytes() != b"the only copy of my take"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no lock or temp file left


def test_force_never_writes_over_the_input(tmp_path, capsys):
    from tunesmith.cli import main

    tune = tmp_path / "tune.abc"
    tune.write_text("X:1\nT:t\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\n")
    before = tune.read_bytes()
    assert main(["--quiet", "export", str(tune), "-o", str(tune), "--force"]) == 1
    assert "is also the input" in capsys.readouterr().err
    assert tune.read_bytes() == before


@pytest.mark.slow  # 6 s on two busy cores
def test_two_renders_to_one_file_do_not_both_succeed(tmp_path):
    from tunesmith.audio.render import RenderError, find_soundfont

    try:
        find_soundfont()
    except RenderError as exc:
        pytest.skip(f"no SoundFont: {exc}")
    out = tmp_path / "take.wav"
    cli = [sys.executable, "-m", "tunesmith", "--quiet", "render", str(SONG), "-o", str(out), "--instrument"]
    runs = [subprocess.Popen([*cli, inst], stderr=subprocess.PIPE, text=True) for inst in ("piano", "guitar")]
    results = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    err = next(err for code, err in results if code == 1)
    assert "being written by another tunesmith run" in err or "exists; pass --force" in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]


def test_a_single_file_lock_refuses_a_second_holder_at_once(tmp_path):
    out = tmp_path / "take.wav"
    with file_lock(out):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", f"from tunesmith.core.folders import file_lock\nwith file_lock({str(out)!r}): pass"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 1 and "being written by another tunesmith run" in done.stderr, done.stderr
        assert time.perf_counter() - started < 10
    assert list(tmp_path.iterdir()) == []  # the lock file goes with its holder's end
    with file_lock(out):  # free again
        pass


def test_a_folder_claimed_by_this_run_is_not_locked_twice(tmp_path):
    """The pipeline holds OUT and then generates into it: one run, not two."""
    with output_dir(tmp_path, "pipeline"), output_dir(tmp_path, "melody generation", force=True):
        pass
    import threading

    errors = []

    def another_job():  # another thread (a web studio job) is another run
        try:
            with output_dir(tmp_path, "pipeline"):
                pass
        except OutputError as exc:
            errors.append(str(exc))

    with output_dir(tmp_path, "pipeline"):
        job = threading.Thread(target=another_job)
        job.start()
        job.join()
    assert errors and "in use by another tunesmith run" in errors[0]


# ----------------------------------------------------------------------------- messages


@pytest.mark.parametrize("command, suffix", [("score", ".svg"), ("export", ".abc"), ("harmonize", ".mid")])
def test_output_path_errors_name_the_path_the_user_gave(command, suffix, tmp_path, monkeypatch, capsys):
    from tunesmith.cli import main

    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("keep me")
    Path(f"folder{suffix}").mkdir()
    for out, words in ((f"a-file/x{suffix}", "a-file is a file"), (f"folder{suffix}", f"folder{suffix} is a folder")):
        assert main(["--quiet", command, str(SONG), "-o", out]) == 1
        err = capsys.readouterr().err
        assert words in err and "File exists" not in err and ".tmp" not in err and str(tmp_path) not in err, err
    assert Path("a-file").read_text() == "keep me" and os.listdir(f"folder{suffix}") == []


def test_compare_refuses_a_users_folder_before_judging_any_model(tmp_path, monkeypatch):
    from tunesmith.evaluate import report

    out = tmp_path / "table"
    mine = user_folder(out, ("compare.md",))
    monkeypatch.setattr(report, "load_model", _boom)
    with pytest.raises(OutputError, match="not a model comparison"):
        report.compare_models(["default"], out_dir=out, n=2)
    assert tree(out) == mine


def test_loss_curve_writes_only_into_a_model_folder(tmp_path, capsys):
    from tunesmith.cli import main

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "log.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n')  # a user's own log
    (folder / "diary.txt").write_text("mine")
    assert main(["--quiet", "loss-curve", str(folder)]) == 1
    assert "is not a model folder" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["diary.txt", "log.jsonl"]
