"""Data safety (issue 20): every way a run could lose or mix a user's data, tried through the CLI as a user would.

``safety_figures(work)`` runs the cases and counts, per case, the tries, the tracebacks (any exception but a
TunesmithError, or "Traceback" in a CLI's stderr) and whether data was lost or mixed. tests/test_data_safety.py
asserts the outcomes; benchmarks/bench_reliability.py reports the counts of the full set.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import traceback
from pathlib import Path

import fuzzing

TEST_FOLK = Path(__file__).resolve().parent / "data" / "folk"
PY = [sys.executable, "-m", "tunesmith", "--quiet"]


class Cases:
    """Outcomes of the data-safety cases: each returns {"lost": bool, ...}; an exception is a traceback."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def run(self, name: str, fn) -> None:
        started = time.perf_counter()
        try:
            row = fn()
        except Exception as exc:  # not a TunesmithError reaching the user: a traceback
            row = {"traceback": f"{type(exc).__name__}: {exc}"[:300] + " @ " + _where(exc)}
        row["seconds"] = round(time.perf_counter() - started, 2)
        self.rows[name] = row

    def report(self) -> dict:
        rows = self.rows
        return {
            "cases_tried": sum(r.get("tries", 1) for r in rows.values()),
            "tracebacks": sum(r.get("tracebacks", 0) + ("traceback" in r) for r in rows.values()),
            "data_lost": sum(int(r.get("lost", 0)) for r in rows.values()),
            "cases": rows,
        }


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"


def _tree(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".tunesmith.lock"
    }


def _cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *map(str, args)], capture_output=True, text=True, timeout=kwargs.pop("timeout", 600), **kwargs)


def _train_args(data, out, steps=10, seed=0):
    return ["melody", "train", data, "-o", out, "--config", "basic_rnn", "--steps", steps, "--batch-size", "8", "--layers",
            "16", "--eval-every", "5", "--checkpoint-every", "5", "--seed", seed]  # fmt: skip


def safety_figures(work: Path, quick: bool = False) -> dict:
    """The issue-20 cases, tried through the CLI as a user would (``quick``: the in-process and short ones only)."""
    import os
    import signal

    import numpy as np

    from tunesmith.cli import main as cli_main
    from tunesmith.data.corpus import prepare_corpus

    cases = Cases()
    user = {"results-001.npy": b"mine", "notes.sources.json": b"[]", "parts/part-0001.json": b"{}"}

    def folder_of_user_files() -> dict:
        out = work / "users-folder"
        for name, data in user.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        refused = _cli("prepare", TEST_FOLK, "-o", out, "--workers", "1")
        forced = _cli("prepare", TEST_FOLK, "-o", out, "--workers", "1", "--force")
        kept = all((out / n).read_bytes() == d for n, d in user.items())
        return {"tries": 2, "refused": refused.returncode == 1 and "holds other files" in refused.stderr,
                "forced_ok": forced.returncode == 0, "lost": not kept,
                "tracebacks": sum("Traceback" in p.stderr for p in (refused, forced))}  # fmt: skip

    cases.run("prepare_into_a_folder_of_other_files", folder_of_user_files)
    corpus = work / "corpus"
    prepare_corpus(TEST_FOLK, corpus, progress=False, workers=1)

    def train_over_a_model() -> dict:
        model = work / "model"
        first = _cli(*_train_args(corpus, model, 10))
        before = _tree(model)
        again = _cli(*_train_args(corpus, model, 5))
        after = _tree(model)
        forced = _cli(*_train_args(corpus, model, 5), "--force")
        return {"tries": 2, "refused": again.returncode == 1 and "--resume" in again.stderr, "lost": before != after,
                "first_ok": first.returncode == 0, "force_replaced": forced.returncode == 0,
                "tracebacks": sum("Traceback" in p.stderr for p in (first, again, forced))}  # fmt: skip

    cases.run("melody_train_over_a_trained_model", train_over_a_model)

    clip = work / "clip.wav"
    import soundfile as sf

    sf.write(clip, np.concatenate([fuzzing.tone(1.0, 16000, seed=s) for s in range(2)]), 16000)
    audio_args = ["audio", "train", clip, "--epochs", "1", "--sr", "16000", "--n-fft", "512", "--hop", "128", "--units", "16"]

    def audio_train_over_a_model() -> dict:
        model = work / "audio-model"
        first = _cli(*audio_args, "-o", model)
        before = _tree(model)
        again = _cli(*audio_args, "-o", model)
        return {"refused": again.returncode == 1 and "--resume" in again.stderr, "lost": before != _tree(model),
                "first_ok": first.returncode == 0,
                "tracebacks": sum("Traceback" in p.stderr for p in (first, again))}  # fmt: skip

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("audio_train_over_a_trained_model", audio_train_over_a_model)

    many, shards = work / "many-midi", {}
    if not quick:  # 800 distinct files: long enough a prepare for two runs to overlap and for a kill mid-run
        fuzzing.write_midi_mutants(many, 800, seed=9)
        prepare_corpus(many, work / "reference-corpus", progress=False, workers=2)
        shards = {k: v for k, v in _tree(work / "reference-corpus").items() if not k.startswith("parts") and k != "corpus.json"}

    def concurrent_prepares() -> dict:
        tries, mixed, tracebacks, refused = 3, 0, 0, 0
        for i in range(tries):
            out = work / f"concurrent-{i}"
            procs = [subprocess.Popen([*PY, "prepare", str(many), "-o", str(out), "--workers", "1"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
            errs = [p.communicate(timeout=900)[1] for p in procs]
            tracebacks += sum("Traceback" in e for e in errs)
            refused += sum(p.returncode == 1 and "in use" in e for p, e in zip(procs, errs, strict=True))
            ok = [p.returncode == 0 or "in use" in e for p, e in zip(procs, errs, strict=True)]
            got = {k: v for k, v in _tree(out).items() if not k.startswith("parts") and k != "corpus.json"}
            mixed += not all(ok) or got != shards
        return {"tries": tries, "second_run_refused": refused, "lost": mixed, "tracebacks": tracebacks}

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("two_prepares_at_one_folder", concurrent_prepares)

    def concurrent_trains() -> dict:
        tries, bad, tracebacks = 2, 0, 0
        for i in range(tries):
            out = work / f"concurrent-model-{i}"
            procs = [subprocess.Popen([*PY, *map(str, _train_args(corpus, out, 20, seed))], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True) for seed in (1, 2)]  # fmt: skip
            errs = [p.communicate(timeout=900)[1] for p in procs]
            tracebacks += sum("Traceback" in e for e in errs)
            winners = sum(p.returncode == 0 for p in procs)
            rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
            keys = [(r["step"], r["split"]) for r in rows]
            state = json.loads(__import__("safetensors").safe_open(str(out / "train_state.safetensors"), "pt").metadata()["json"])
            config = json.loads((out / "config.json").read_text())
            from tunesmith.melody.generate import load_melody_model

            load_melody_model(out)  # config and weights agree
            # exactly one run wrote the folder; its log has each row once; its weights and state are one run's
            seed = next((s for p, s in zip(procs, (1, 2), strict=True) if p.returncode == 0), None)
            bad += winners != 1 or len(keys) != len(set(keys)) or (state["state"]["step"], state["state"]["seed"]) != (20, seed)
            bad += config["kind"] != "melody"
        return {"tries": tries, "lost": bad, "tracebacks": tracebacks}

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("two_melody_trains_at_one_folder", concurrent_trains)

    def kill_prepare_workers() -> dict:
        tries, left = 3, 0
        for i in range(tries):
            proc = subprocess.Popen([*PY, "prepare", str(many), "-o", str(work / f"killed-{i}"), "--workers", "2", "--fresh"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            workers: list[int] = []
            deadline = time.monotonic() + 120
            while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
                workers = _children(proc.pid)
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(3)
            alive = [w for w in workers if _running(w)]
            left += len(alive)
            for w in alive:
                os.kill(w, signal.SIGKILL)
        return {"tries": tries, "workers_left_running": left, "lost": left > 0}

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("kill_9_on_prepare_workers", kill_prepare_workers)

    def ctrl_c_resume() -> dict:
        tries, differ, interrupted, tracebacks = 2, 0, 0, 0
        rng = random.Random(7)
        ref = work / "ctrl-c-reference"
        _cli(*_train_args(corpus, ref, 60, 5), "--dropout", "0.5")
        for i in range(tries):
            out = work / f"ctrl-c-{i}"
            proc = subprocess.Popen([*PY, *map(str, _train_args(corpus, out, 60, 5)), "--dropout", "0.5"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=fuzzing.ctrl_c_as_typed)  # fmt: skip
            while proc.poll() is None and (fuzzing.train_state_step(out) or 0) < 10:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.2))
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=300)
            interrupted += "interrupted" in err
            tracebacks += "Traceback" in err
            _cli(*_train_args(corpus, out, 60, 5), "--dropout", "0.5", "--resume")
            differ += not (fuzzing.weights_equal(ref, out) and fuzzing.weights_equal(ref, out, "train_state.safetensors"))
        return {"tries": tries, "interrupted": interrupted, "resumes_not_bit_identical": differ, "lost": differ,
                "tracebacks": tracebacks}  # fmt: skip

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("ctrl_c_then_resume", ctrl_c_resume)

    cases.run("disk_full", lambda: _disk_full(work, corpus))

    def bad_outputs() -> dict:
        import contextlib
        import io

        a_file = work / "a-file"
        a_file.write_text("keep")
        for suffix in (".wav", ".html", ".mp4", ".mid", ".png"):  # a folder where a file is needed
            (work / f"dir{suffix}").mkdir()
        song = sorted(TEST_FOLK.glob("*.mid"))[0]
        commands = {
            "prepare": ["prepare", TEST_FOLK, "-o", "{o}"], "render": ["render", song, "-o", "{o}.wav"],
            "plot": ["plot", song, "-o", "{o}.html"], "video": ["video", song, "-o", "{o}.mp4"],
            "transcribe": ["transcribe", clip, "-o", "{o}.mid"], "spectrogram": ["spectrogram", clip, "-o", "{o}.png"],
            "melody_train": ["melody", "train", TEST_FOLK, "-o", "{o}", "--steps", "1"],
            "melody_generate": ["melody", "generate", "--primer", "C4", "-o", "{o}"],
            "audio_train": ["audio", "train", clip, "-o", "{o}"],
            "audio_generate": ["audio", "generate", "--seed-clip", clip, "-o", "{o}"],
        }  # fmt: skip
        tries = tracebacks = unclear = 0
        for place in (str(a_file / "out"), str(a_file), "/proc/tunesmith-out"):
            for argv in commands.values():
                tries += 1
                target = str(work / "dir") if place == str(a_file) and "{o}." in " ".join(map(str, argv)) else place
                argv = [str(a).replace("{o}", target) for a in argv]
                err = io.StringIO()
                try:
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                        code = cli_main(["--quiet", *argv])
                except Exception:
                    tracebacks += 1
                    continue
                unclear += code != 1 or not err.getvalue().startswith("error: ")
        return {"tries": tries, "tracebacks": tracebacks, "unclear_or_accepted": unclear,
                "lost": a_file.read_text() != "keep"}  # fmt: skip

    cases.run("bad_output_paths", bad_outputs)

    def leftovers() -> dict:
        out = work / "generated"
        _cli("melody", "generate", "--primer", "C4", "-n", "4", "--steps", "32", "-o", out)
        _cli("melody", "generate", "--primer", "C4", "-n", "2", "--steps", "32", "-o", out)
        names = sorted(p.name for p in out.glob("melody_*"))
        return {"left_over": [n for n in names if n not in ("melody_01.mid", "melody_02.mid")], "lost": 0,
                "mixed": names != ["melody_01.mid", "melody_02.mid"]}  # fmt: skip

    cases.run("generate_leftovers", leftovers)

    def video_kill() -> dict:
        out = work / "video"
        out.mkdir()
        song = sorted(TEST_FOLK.glob("*.mid"))[0]
        proc = subprocess.Popen([*PY, "video", str(song), "-o", str(out / "song.mp4")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not list(out.glob(".*.tmp.mp4")):
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left_after_kill = [p.name for p in out.iterdir() if ".tmp" in p.name]
        again = _cli("video", song, "-o", out / "song.mp4")
        left = [p.name for p in out.iterdir() if ".tmp" in p.name]
        return {"temp_files_after_kill": len(left_after_kill), "temp_files_after_next_run": len(left),
                "next_run_ok": again.returncode == 0, "lost": 0, "tracebacks": "Traceback" in again.stderr}  # fmt: skip

    if not quick:  # subprocess-heavy: the test suite covers it in tests/test_outputs.py
        cases.run("kill_9_on_video", video_kill)

    if not quick and Path(sys.executable).with_name("torchrun").exists():

        def torchrun_raw_folder() -> dict:
            tries, failed = 2, 0
            for i in range(tries):
                done = subprocess.run(
                    [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc-per-node", "2", "-m", "tunesmith",
                     "--quiet", *map(str, _train_args(TEST_FOLK, work / f"ddp-{i}", 4))],
                    capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"),
                )  # fmt: skip
                failed += done.returncode != 0
            return {"tries": tries, "failed": failed, "lost": failed}

        cases.run("torchrun_on_a_raw_folder", torchrun_raw_folder)
    return cases.report()


def _disk_full(work: Path, corpus: Path) -> dict:
    """prepare's last stage and render on a full disk: a real 1 MiB tmpfs as root, else ENOSPC at the write."""
    import errno
    import os
    import shutil

    from tunesmith.audio.render import render_to_file
    from tunesmith.core.errors import DiskFullError
    from tunesmith.data import corpus as corpus_module

    mount = work / "tiny-disk"
    mount.mkdir()
    real = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode == 0
    lost, said = 0, 0
    try:
        out = mount / "corpus"
        corpus_module.prepare_corpus(TEST_FOLK, out, progress=False, workers=1)
        before = {k: v for k, v in _tree(out).items() if not k.startswith("parts")}
        song = sorted(TEST_FOLK.glob("*.mid"))[0]
        old_wav = mount / "song.wav"
        old_wav.write_bytes(b"old render")
        if real:
            free = shutil.disk_usage(mount).free - 2048
            with open(mount / "filler", "wb") as handle:
                try:
                    handle.write(b"\0" * free)
                except OSError:
                    pass
            patch = None
        else:
            patch = corpus_module.np.save

            def full(*args, **kwargs):
                raise OSError(errno.ENOSPC, "No space left on device")

            corpus_module.np.save = full
        try:
            corpus_module.prepare_corpus(TEST_FOLK, out, progress=False, workers=1, eval_ratio=0.3)
        except DiskFullError as exc:
            said += "disk full" in str(exc)
        finally:
            if patch is not None:
                corpus_module.np.save = patch
        lost += {k: v for k, v in _tree(out).items() if not k.startswith("parts")} != before
        if real:
            try:
                render_to_file(song, old_wav, "piano", force=True)  # replacing it is asked for: the disk refuses
            except DiskFullError as exc:
                said += "disk full" in str(exc)
            lost += old_wav.read_bytes() != b"old render"
    finally:
        if real:
            subprocess.run(["umount", "-l", str(mount)], check=False)
    return {"tries": 2 if real else 1, "real_full_disk": real, "said_disk_full": said, "lost": lost}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
