"""Nothing lost: output folders, concurrent runs, interrupted runs and full disks (issue 20).

Each test is one case a user met: a folder of other files under ``-o``, a trained model trained over, two runs
at one folder, kill -9 and Ctrl-C, a full disk (a real 64 KiB-1 MiB tmpfs when run as root, else an OSError
ENOSPC raised where the write happens), ``-o`` that is a file or read-only, leftovers of an earlier run, and the
messages of damaged inputs. Every one of them failed on the code before the output policy (tunesmith.core.folders).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import fuzzing
from conftest import fill
from tunesmith.core import checkpoint
from tunesmith.core.errors import DiskFullError, OutputError, TunesmithError
from tunesmith.core.files import write_bytes
from tunesmith.core.folders import LOCK_NAME, check_output_file, folder_kind, folder_lock

FOLK = Path(__file__).parent / "data" / "folk"
SMALL = dict(batch_size=8, layers=[16], eval_every=100, checkpoint_every=100, progress=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (lock file aside) with its bytes: what a run must not have changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


def user_files(folder: Path) -> dict[str, bytes]:
    """A user's folder whose names look like tunesmith's (the shard globs of the old code matched them)."""
    (folder / "parts").mkdir(parents=True)
    files = {
        "results-001.npy": b"my results",
        "notes.sources.json": b'["mine"]',
        "parts/part-0001.json": b'{"mine": 1}',
        "train-00000.txt": b"my notes",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.fixture
def corpus(tmp_path) -> Path:
    from tunesmith.data.corpus import prepare_corpus

    prepare_corpus(FOLK, tmp_path / "corpus", progress=False, workers=1)
    return tmp_path / "corpus"


@pytest.fixture
def tiny_disk(tmpfs):
    """A real small file system: writes there fail with ENOSPC when it is full."""
    return tmpfs("disk", "1m")


# ----------------------------------------------------------------------------- the policy


def test_folder_kinds_and_file_checks(tmp_path, corpus):
    assert folder_kind(corpus) == "corpus"
    assert folder_kind(tmp_path / "missing") is None
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "melody_01.mid").write_bytes(b"x")
    (gen / "melody_01_music-box.wav").write_bytes(b"x")
    assert folder_kind(gen) == "melody generation"
    (gen / "holiday.jpg").write_bytes(b"x")
    assert folder_kind(gen) is None
    some_file = tmp_path / "file.txt"
    some_file.write_text("keep me")
    with pytest.raises(OutputError, match="is a file"):
        check_output_file(some_file / "out.wav", (".wav",))
    with pytest.raises(OutputError, match="must end in .wav"):
        check_output_file(some_file, (".wav",))
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, (".wav",))
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"x")
    with pytest.raises(OutputError, match="also the input"):
        check_output_file(wav, (".wav",), inputs=[str(wav)])
    with pytest.raises(OutputError, match=r"in\.wav exists; pass --force to replace it, or choose another name"):
        check_output_file(wav, (".wav",))  # an existing file is replaced only with --force (issue 30)
    assert check_output_file(wav, (".wav",), force=True) == wav
    assert some_file.read_text() == "keep me"


def test_prepare_refuses_a_folder_of_other_files_and_force_deletes_none_of_them(tmp_path):
    from tunesmith.data.corpus import prepare_corpus

    out = tmp_path / "out"
    mine = user_files(out)
    with pytest.raises(OutputError, match="holds other files"):
        prepare_corpus(FOLK, out, progress=False, workers=1)
    assert tree(out) == mine  # nothing written, nothing deleted
    report = prepare_corpus(FOLK, out, progress=False, workers=1, force=True)
    assert report.melodies["train"] > 0
    after = tree(out)
    assert all(after[name] == data for name, data in mine.items()), "a user's file was deleted or changed"
    prepare_corpus(FOLK, out, progress=False, workers=1, fresh=True)  # now a corpus: reruns need no --force
    assert all(tree(out)[name] == data for name, data in mine.items())


def test_melody_train_never_replaces_a_trained_model_without_resume_or_force(corpus, tmp_path):
    from tunesmith.melody.train import train_melody_model

    model = tmp_path / "model"
    train_melody_model(corpus, model, "basic_rnn", steps=4, **SMALL)
    before = tree(model)
    with pytest.raises(OutputError, match=r"already holds a trained melody model \(trained 4 steps\).*--resume.*--force"):
        train_melody_model(corpus, model, "basic_rnn", steps=2, **SMALL)
    assert tree(model) == before
    assert train_melody_model(corpus, model, "basic_rnn", steps=6, resume=True, **SMALL)["step"] == 6
    assert train_melody_model(corpus, model, "basic_rnn", steps=2, force=True, **SMALL)["step"] == 2
    assert checkpoint.read_train_state_step(model) == 2
    rows = [json.loads(line) for line in (model / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in rows) == 2  # the old run's log went with its model


def test_audio_train_refuses_a_trained_model_before_reading_any_clip(tmp_path, monkeypatch):
    from tunesmith.audio_model import train as audio_train
    from tunesmith.audio_model.model import AudioConfig, SpectralLSTM

    model = tmp_path / "audio"
    config = AudioConfig(sample_rate=16000, n_fft=512, hop_length=128, units=16)
    checkpoint.save_config(model, "audio", config.__dict__)
    checkpoint.save_weights(model, SpectralLSTM(config))
    before = tree(model)
    monkeypatch.setattr(audio_train, "load_clips", lambda *a, **k: pytest.fail("work started before the check"))
    with pytest.raises(OutputError, match="already holds a trained audio model"):
        audio_train.train_audio_model(tmp_path / "clip.wav", model, epochs=1, progress=False)
    with pytest.raises(OutputError, match="holds a audio model, not a melody model"):
        from tunesmith.melody.train import train_melody_model

        train_melody_model(FOLK, model, "basic_rnn", steps=1, **SMALL)
    assert tree(model) == before


def test_generate_removes_its_own_leftovers_and_nothing_else(tmp_path):
    from tunesmith.cli import main

    out = tmp_path / "gen"
    assert main(["--quiet", "melody", "generate", "--primer", "C4 E4", "-n", "4", "--steps", "32", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.glob("melody_*")) == [f"melody_0{i}.mid" for i in range(1, 5)]
    assert main(["--quiet", "melody", "generate", "--primer", "C4 E4", "-n", "2", "--steps", "32", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.glob("melody_*")) == ["melody_01.mid", "melody_02.mid"]
    (out / "my-notes.txt").write_text("mine")  # a file of the user's in a generation folder: kept, never deleted
    assert main(["--quiet", "melody", "generate", "--primer", "C4", "-n", "1", "--steps", "32", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME) == ["generation.json", "melody_01.mid", "my-notes.txt"]
    other = tmp_path / "photos"  # a folder that is not a generation: refused, untouched, unless --force
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"jpeg")
    argv = ["--quiet", "melody", "generate", "--primer", "C4", "-n", "1", "--steps", "32", "-o", str(other)]
    assert main(argv) == 1
    assert tree(other) == {"holiday.jpg": b"jpeg"}
    assert main([*argv, "--force"]) == 0
    assert (other / "holiday.jpg").read_bytes() == b"jpeg" and (other / "melody_01.mid").is_file()
    assert json.loads((out / "generation.json").read_text())["kind"] == "melody generation"


# ----------------------------------------------------------------------------- one run per folder


def test_a_second_run_at_a_locked_folder_is_refused_at_once(tmp_path, corpus):
    from tunesmith.data.corpus import prepare_corpus
    from tunesmith.melody.train import train_melody_model

    before = tree(corpus)
    with folder_lock(corpus):  # as another process's run would hold it
        started = time.perf_counter()
        with pytest.raises(OutputError, match="in use by another tunesmith run"):
            prepare_corpus(FOLK, corpus, progress=False, workers=1, fresh=True)
        assert time.perf_counter() - started < 5
    assert tree(corpus) == before
    model = tmp_path / "model"
    model.mkdir()
    with folder_lock(model), pytest.raises(OutputError, match="in use"):
        train_melody_model(corpus, model, "basic_rnn", steps=2, **SMALL)
    assert train_melody_model(corpus, model, "basic_rnn", steps=2, **SMALL)["step"] == 2  # lock released: runs


def test_the_lock_is_held_across_processes_and_dies_with_its_holder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import fcntl, os, time; fd = os.open({str(out / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        cli = [sys.executable, "-m", "tunesmith", "--quiet", "prepare", str(FOLK), "-o", str(out), "--workers", "1"]
        done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and "in use by another tunesmith run" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        done = subprocess.run(cli, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        holder.kill()
        holder.wait()
    with open(out / LOCK_NAME) as handle:  # released at the end of the run: free again
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


# ----------------------------------------------------------------------------- kill -9, Ctrl-C


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_on_prepare_takes_its_workers_with_it(tmp_path):
    files = fuzzing.write_midi_mutants(tmp_path / "midi", 600, seed=7)
    cli = [sys.executable, "-m", "tunesmith", "--quiet", "prepare", str(files[0][0].parent), "-o", str(tmp_path / "out")]
    proc = subprocess.Popen([*cli, "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = [
                c for c in _children(proc.pid) if "python" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
            ]
            time.sleep(0.05)
        assert workers, "no worker processes appeared"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(w) for w in workers):
            time.sleep(0.1)
        alive = [w for w in workers if not _gone(w)]
    finally:
        for w in _children(proc.pid) + workers:
            try:
                os.kill(w, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    assert not alive, f"workers {alive} outlived their killed parent"


def test_ctrl_c_mid_step_resumes_bit_identical(corpus, tmp_path, monkeypatch):
    """A Ctrl-C that lands inside a step (here: right after the optimizer moved the weights) must not save
    that half-counted step; resuming then gives the same weights, optimizer and RNG as an unbroken run."""
    from tunesmith.melody import train as melody_train

    settings = dict(batch_size=8, layers=[16], eval_every=5, checkpoint_every=5, progress=False, dropout=0.5)
    melody_train.train_melody_model(corpus, tmp_path / "straight", "basic_rnn", steps=12, seed=4, **settings)
    original = melody_train.MelodyTask.make_optimizer
    calls = {"n": 0}

    def make_optimizer(task):
        optimizer = original(task)
        step = optimizer.step

        def step_then_ctrl_c(*args, **kwargs):
            result = step(*args, **kwargs)
            calls["n"] += 1
            if calls["n"] == 8:  # Ctrl-C between the weight update and the step count
                os.kill(os.getpid(), signal.SIGINT)
            return result

        optimizer.step = step_then_ctrl_c
        return optimizer

    monkeypatch.setattr(melody_train.MelodyTask, "make_optimizer", make_optimizer)
    broken = tmp_path / "broken"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job ignores it)
    try:
        with pytest.raises(TunesmithError, match="interrupted at step 8; checkpoint saved"):
            melody_train.train_melody_model(corpus, broken, "basic_rnn", steps=12, seed=4, **settings)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.setattr(melody_train.MelodyTask, "make_optimizer", original)
    melody_train.train_melody_model(corpus, broken, "basic_rnn", steps=12, seed=4, resume=True, **settings)
    assert fuzzing.weights_equal(tmp_path / "straight", broken)
    assert fuzzing.weights_equal(tmp_path / "straight", broken, "train_state.safetensors")


def test_a_killed_video_leaves_no_temp_file_after_the_next_run(tmp_path, monkeypatch):
    from tunesmith.audio.render import RenderError, find_soundfont
    from tunesmith.music.melody import Melody, Note
    from tunesmith.outputs import video

    try:
        find_soundfont()
    except RenderError as exc:
        pytest.skip(f"no SoundFont: {exc}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [tmp_path / f".tune.mp4.{dead.pid}-abcd1234.tmp.mp4", tmp_path / f".tune.mp4.{dead.pid}-efgh5678.tmp.wav"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)  # what kill -9 left: the half-written video and its audio
    live = tmp_path / f".other.mp4.{os.getpid()}-ijkl9012.tmp.mp4"
    live.write_bytes(b"x")  # a live writer's temp (this pid): left alone
    bars = []
    import tunesmith.core.progress as progress

    real_bar = progress.progress_bar

    def spy(total=None, **kwargs):
        bars.append((total, kwargs.get("desc")))
        return real_bar(total=total, **kwargs)

    monkeypatch.setattr(progress, "progress_bar", spy)
    melody = Melody.from_notes([Note(60 + i, 2 * i, 2 * i + 2) for i in range(4)])
    video.make_video(melody, tmp_path / "tune.mp4", fps=5, width=128, height=72)
    assert not any(p.exists() for p in stale)
    assert live.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tune")) == []
    assert bars and bars[0][1] == "video" and bars[0][0] > 0  # a progress bar over the frames


# ----------------------------------------------------------------------------- full disks


@pytest.mark.parametrize("how", ["tmpfs", "enospc"])
def test_disk_full_in_prepares_last_stage_keeps_the_previous_corpus(how, tmp_path, request, monkeypatch):
    from tunesmith.data import corpus as corpus_module

    if how == "tmpfs":
        out = request.getfixturevalue("tiny_disk") / "corpus"
    else:
        out = tmp_path / "corpus"
    corpus_module.prepare_corpus(FOLK, out, progress=False, workers=1)
    before = tree(out)
    shards = {k: v for k, v in before.items() if not k.startswith("parts")}
    if how == "tmpfs":
        fill(out.parent, leave=2048)
    else:
        real_save = np.save

        def full_save(handle, array, *args, **kwargs):
            if Path(getattr(handle, "name", "")).parent.name == ".corpus-staging":
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_save(handle, array, *args, **kwargs)

        monkeypatch.setattr(corpus_module.np, "save", full_save)
    with pytest.raises(DiskFullError) as info:
        corpus_module.prepare_corpus(FOLK, out, progress=False, workers=1, eval_ratio=0.3)  # new split: new shards
    message = str(info.value)
    assert "disk full" in message and str(out) in message and "previous corpus" in message and "whole" in message
    after = tree(out)
    assert {k: v for k, v in after.items() if not k.startswith("parts")} == shards, "the previous corpus was damaged"
    assert not (out / ".corpus-staging").exists()
    from tunesmith.data.corpus import load_split

    assert len(load_split(out, "train")[1]) > 1


def test_disk_full_while_rendering_says_so_and_keeps_the_old_file(tiny_disk):
    from tunesmith.audio.render import RenderError, find_soundfont
    from tunesmith.cli import main

    try:
        find_soundfont()
    except RenderError as exc:
        pytest.skip(f"no SoundFont: {exc}")
    song = sorted(FOLK.glob("*.mid"))[0]
    old = tiny_disk / "song.wav"
    old.write_bytes(b"RIFF-the-old-render")
    fill(tiny_disk, leave=4096)
    assert main(["--quiet", "render", str(song), "-o", str(old), "--instrument", "piano", "--force"]) == 1
    assert old.read_bytes() == b"RIFF-the-old-render"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "song.wav"]


def test_disk_full_while_rendering_reports_disk_full_on_enospc(tmp_path, monkeypatch, capsys):
    """The same without root: the write raises ENOSPC as a full disk does."""
    from tunesmith.audio.io import write_audio
    from tunesmith.core import files

    old = tmp_path / "song.wav"
    old.write_bytes(b"old")
    real_replace = files.os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(DiskFullError, match=f"disk full while writing {old}"):
        write_audio(np.zeros(100, np.float32), 16000, old)
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert old.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["song.wav"]


def test_disk_full_while_making_a_video_says_so_and_leaves_no_temp_file(tiny_disk):
    from tunesmith.audio.render import RenderError, find_soundfont
    from tunesmith.music.melody import Melody, Note
    from tunesmith.outputs.video import make_video

    try:
        find_soundfont()
    except RenderError as exc:
        pytest.skip(f"no SoundFont: {exc}")
    old = tiny_disk / "tune.mp4"
    old.write_bytes(b"the old video")
    fill(tiny_disk, leave=4096)
    melody = Melody.from_notes([Note(60 + i, 4 * i, 4 * i + 4) for i in range(8)])
    with pytest.raises(DiskFullError, match=f"disk full while writing {old}"):
        make_video(melody, old, fps=5, width=128, height=72, force=True)
    assert old.read_bytes() == b"the old video"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "tune.mp4"]


# ----------------------------------------------------------------------------- -o checked before any work


def _boom(*args, **kwargs):
    raise AssertionError("the work started before the output path was checked")


WORK = {  # the first piece of real work of each command: it must not be reached
    "prepare": "tunesmith.data.corpus.find_corpus_files",
    "render": "tunesmith.audio.render.render",
    "plot": "tunesmith.outputs.plots.note_arrays",
    "video": "tunesmith.audio.render.render",
    "transcribe": "tunesmith.audio.transcribe.transcribe",
    "spectrogram": "tunesmith.outputs.plots.stft_db",
    "melody-train": "tunesmith.data.corpus.prepare_corpus",
    "melody-generate": "tunesmith.outputs.compose.load_melody_model",
    "audio-train": "tunesmith.audio_model.train.load_clips",
    "audio-generate": "tunesmith.audio_model.generate.load_audio_model",
}


def _argv(command: str, out: str, clip: Path) -> list[str]:
    song = str(sorted(FOLK.glob("*.mid"))[0])
    return {
        "prepare": ["prepare", str(FOLK), "-o", out],
        "render": ["render", song, "-o", out + ".wav"],
        "plot": ["plot", song, "-o", out + ".html"],
        "video": ["video", song, "-o", out + ".mp4"],
        "transcribe": ["transcribe", str(clip), "-o", out + ".mid"],
        "spectrogram": ["spectrogram", str(clip), "-o", out + ".png"],
        "melody-train": ["melody", "train", str(FOLK), "-o", out, "--steps", "1"],
        "melody-generate": ["melody", "generate", "--primer", "C4", "-o", out],
        "audio-train": ["audio", "train", str(clip), "-o", out],
        "audio-generate": ["audio", "generate", "--seed-clip", str(clip), "-o", out],
    }[command]


@pytest.mark.parametrize("place", ["under_a_file", "is_a_file", "read_only"])
@pytest.mark.parametrize("command", list(WORK))
def test_bad_output_paths_are_refused_before_any_work(command, place, tmp_path, monkeypatch, capsys, request):
    from tunesmith.cli import main

    clip = tmp_path / "clip.wav"
    clip.write_bytes(fuzzing.wav_bytes(fuzzing.tone(0.5), 16000))
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    if place == "under_a_file":
        out = str(a_file / "out")
    elif place == "is_a_file":
        if command in ("render", "plot", "video", "transcribe", "spectrogram"):
            out = str(tmp_path)  # a folder where a file is needed: the suffix is added, so name a folder "x.wav"
            (tmp_path / "dir.wav").mkdir()
            (tmp_path / "dir.html").mkdir()
            (tmp_path / "dir.mp4").mkdir()
            (tmp_path / "dir.mid").mkdir()
            (tmp_path / "dir.png").mkdir()
            out = str(tmp_path / "dir")
        else:
            out = str(a_file)
    else:
        if os.geteuid() != 0:
            read_only = tmp_path / "ro"
            read_only.mkdir()
            read_only.chmod(0o555)
        else:  # root writes through permission bits: a read-only mount is what refuses root
            read_only = tmp_path / "ro"
            read_only.mkdir()
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(read_only)], capture_output=True)
            if done.returncode:
                pytest.skip("cannot mount a read-only tmpfs")
            request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(read_only)], check=False))
        out = str(read_only / "out")
    module, name = WORK[command].rsplit(".", 1)
    monkeypatch.setattr(sys.modules[module] if module in sys.modules else __import__(module, fromlist=[name]), name, _boom)
    code = main(["--quiet", *_argv(command, out, clip)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("error: ") and "Traceback" not in err and "AssertionError" not in err, err
    assert a_file.read_text() == "keep me"


# ----------------------------------------------------------------------------- torchrun on a raw folder


@pytest.mark.slow
@pytest.mark.skipif(not Path(sys.executable).with_name("torchrun").exists(), reason="torchrun not installed")
def test_torchrun_on_a_raw_midi_folder_prepares_once(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", TUNESMITH_QUIET="1")
    command = [
        str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc-per-node", "2", "-m", "tunesmith",
        "--quiet", "melody", "train", str(FOLK), "-o", str(tmp_path / "ddp"), "--config", "basic_rnn", "--steps", "4",
        "--batch-size", "4", "--layers", "16", "--eval-every", "4", "--checkpoint-every", "4",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "weights identical on all ranks: True" in done.stdout
    corpus = tmp_path / "ddp" / "corpus"
    assert json.loads((corpus / "corpus.json").read_text())["files_found"] == len(list(FOLK.glob("*.mid")))
    parts = [r for p in sorted((corpus / "parts").glob("part-*.json")) for r in json.loads(p.read_text())["files"]]
    assert parts and len(parts) == len({r["key"] for r in parts})  # every file processed once: one rank prepared


# ----------------------------------------------------------------------------- messages


def test_each_empty_file_is_reported_under_its_own_name(tmp_path):
    from tunesmith.data.corpus import prepare_corpus

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(sorted(FOLK.glob("*.mid"))[0], src / "good.mid")
    for name in ("a-empty.mid", "b-empty.mid", "c-empty.mid"):
        (src / name).write_bytes(b"")
    (src / "gone.mid").symlink_to(tmp_path / "nowhere.mid")
    report = prepare_corpus(src, tmp_path / "out", progress=False, workers=1)
    skipped = {item["file"]: item for item in report.skipped}
    for name in ("a-empty.mid", "b-empty.mid", "c-empty.mid"):
        assert skipped[name]["reason"] == "empty_file"
        others = {"a-empty.mid", "b-empty.mid", "c-empty.mid"} - {name}
        assert not any(o in skipped[name]["detail"] for o in others), skipped[name]
    assert skipped["gone.mid"]["reason"] == "unreadable" and "broken link" in skipped["gone.mid"]["detail"]
    assert "gone.mid" in report.summary()


def test_files_without_notes_are_named(tmp_path):
    from conftest import make_score
    from tunesmith.music.primer import parse_primer
    from tunesmith.outputs.plots import save_piano_roll_png

    silent = tmp_path / "silent-song.mid"
    make_score([]).dump_midi(str(silent))
    with pytest.raises(TunesmithError, match="silent-song.mid"):
        parse_primer(str(silent))
    with pytest.raises(TunesmithError, match="silent-song.mid"):
        save_piano_roll_png(silent, tmp_path / "roll.png")


def test_audio_messages_are_plain_and_damaged_clips_warn(tmp_path):
    from tunesmith.audio.io import load_audio

    junk = tmp_path / "notes.mp3"
    junk.write_bytes(b"this is not audio at all, just text " * 40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TunesmithError) as info:
            load_audio(junk, 16000)
    message = str(info.value)
    assert "notes.mp3" in message and "convert it" in message
    assert "NoBackendError" not in message and "Error" not in message, message
    assert not caught, [str(w.message) for w in caught]  # no library deprecation noise

    whole = fuzzing.wav_bytes(fuzzing.tone(1.0), 16000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.warns(UserWarning, match=r"cut\.wav: the file is cut short"):
        audio, _ = load_audio(cut, 16000)
    assert 0.4 < audio.size / 16000 < 0.6
    silent = tmp_path / "silent.wav"
    silent.write_bytes(fuzzing.wav_bytes(np.zeros(16000, np.float32), 16000))
    with pytest.warns(UserWarning, match=r"silent\.wav: the clip is silent"):
        load_audio(silent, 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole clip: no warning
        full = tmp_path / "full.wav"
        full.write_bytes(whole)
        load_audio(full, 16000)


def test_write_bytes_over_a_dead_writers_temp(tmp_path):
    """atomic writes clear what a killed writer of the same file left, and never a live writer's temp."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = tmp_path / f".x.json.{dead.pid}-abcdefgh.tmp.json"
    left.write_text("half")
    live = tmp_path / f".x.json.{os.getpid() if os.getpid() != dead.pid else 1}-ijklmnop.tmp.json"
    live.write_text("busy")
    foreign = tmp_path / ".x.json.swp.tmp"
    foreign.write_text("an editor's file")
    write_bytes(tmp_path / "x.json", b"{}")
    assert not left.exists() and live.exists() and foreign.exists()
