"""The web studio: API tests through FastAPI's TestClient, and real-browser runs in headless Chromium.

A tiny melody model is trained once for this module (10 steps on the folk tunes) so the tests do not
depend on the shipped model; the server is pointed at a models folder holding it.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile
import symusic

from conftest import make_score, scale_tune
from tunesmith.web.jobs import INTERNAL_ERROR
from tunesmith.web.server import create_app, inside, plain, safe_name

FOLK = Path(__file__).parent / "data" / "folk"
BASE = "http://127.0.0.1:7860"  # the studio refuses other Host headers (TestClient's default is "testserver")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    from tunesmith.melody.train import train_melody_model

    root = tmp_path_factory.mktemp("models")
    train_melody_model(FOLK, root / "tiny", "basic_rnn", steps=10, batch_size=8, layers=[32, 32], progress=False)
    return root


@pytest.fixture(scope="module")
def app(models_dir, tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("studio"), models_dir=models_dir)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url=BASE) as c:
        yield c


def _wait(client, job_id: str, seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    job = client.get(f"/api/jobs/{job_id}").json()
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{job_id}").json()
    return job


def _start_generate(client, **kwargs):
    body = {"model": "tiny", "primer": "C#4", "n": 1, "steps": 48, "instruments": [], "plot": False, **kwargs}
    return client.post("/api/generate", json=body)


def _generate(client, **kwargs) -> dict:
    """A finished generation's result (generation is a job: start it, wait for it)."""
    r = _start_generate(client, **kwargs)
    assert r.status_code == 200, r.text
    job = _wait(client, r.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    return job["result"]


def _midi_bytes(notes, **kwargs) -> bytes:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tunesmith-web-{os.getpid()}-{time.monotonic_ns()}.mid"
    make_score(notes, **kwargs).dump_midi(str(path))
    data = path.read_bytes()
    path.unlink()
    return data


def _wav_bytes(samples: np.ndarray, rate: int = 22050, subtype: str = "FLOAT") -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _events(midi: bytes, steps_per_quarter: int = 4) -> np.ndarray:
    from tunesmith.music.midi import melody_from_score

    return melody_from_score(symusic.Score.from_midi(midi), steps_per_quarter=steps_per_quarter).events


def _notes(midi: bytes) -> list[tuple[int, int, int]]:
    score = symusic.Score.from_midi(midi)
    return [(n.pitch, n.time, n.duration) for t in score.tracks for n in t.notes]


# --- API ------------------------------------------------------------------------------------------
def test_info_and_models(client):
    info = client.get("/api/info").json()
    assert "piano" in info["instruments"] and "major" in info["scales"] and "basic_rnn" in info["melody_configs"]
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert "tiny" in names
    page = client.get("/")
    assert page.status_code == 200 and "tunesmith" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
    for asset in ("/static/app.js", "/static/style.css"):
        text = client.get(asset).text
        assert "https://" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def test_forms_share_the_library_defaults(client):
    """The page's forms, the CLI and the library start from the same values: the settings dataclasses."""
    import inspect

    from tunesmith.audio_model.model import AudioConfig
    from tunesmith.audio_model.settings import AudioGeneration
    from tunesmith.melody.settings import DEFAULT_STEPS, DEFAULT_TRAIN_STEPS, MelodyTraining
    from tunesmith.pipeline import run_pipeline
    from tunesmith.settings import PipelineSettings

    forms = client.get("/api/info").json()["defaults"]
    signature = inspect.signature(run_pipeline).parameters
    for name in ("n", "seconds", "audio_epochs", "max_seconds"):
        assert forms["pipe-form"][name] == signature[name].default
    assert forms["pipe-form"]["instruments"] == PipelineSettings().instruments
    assert forms["pipe-form"]["steps"] == forms["gen-form"]["steps"] == DEFAULT_STEPS  # new steps, in both
    assert forms["audio-gen-form"]["seconds"] == AudioGeneration.seconds
    # sampling settings are left to the model's config: None here, as in the CLI
    assert forms["audio-gen-form"]["temperature"] is None and forms["audio-gen-form"]["random_chance"] is None
    assert forms["audio-train-form"]["epochs"] == AudioConfig.epochs
    # web training and `tunesmith melody train` share one default: the transformer, 1,000 steps
    assert forms["train-form"]["config"] == MelodyTraining.config == "transformer"
    assert forms["train-form"]["steps"] == DEFAULT_TRAIN_STEPS == 1000


def test_a_three_four_request_writes_three_four_files(client):
    """Every generation option reaches the files: a 3/4 request with bars, form, key, top-k/top-p and notation
    downloads gives 3/4 MIDI, ABC and MusicXML (the API once answered 200 and wrote 4/4)."""
    r = _generate(
        client,
        meter="3/4",
        bars=8,
        form="AABB",
        end_on_tonic=True,
        key="G",
        scale="major",
        top_k=20,
        top_p=0.95,
        formats=["abc", "musicxml"],
    )
    assert r["meter"] == "3/4" and r["settings"]["bars"] == 8 and r["settings"]["form"] == "AABB"
    out = r["outputs"][0]
    assert out["bars"] == 8
    score = symusic.Score.from_midi(client.get(out["urls"]["midi"]).content)
    assert [(ts.numerator, ts.denominator) for ts in score.time_signatures][:1] == [(3, 4)]
    assert "M:3/4" in client.get(out["urls"]["abc"]).text
    xml = client.get(out["urls"]["musicxml"]).text
    assert "<beats>3</beats>" in xml and "<beat-type>4</beat-type>" in xml
    pitches = {p % 12 for p, _, _ in _notes(client.get(out["urls"]["midi"]).content)}
    assert pitches <= {7, 9, 11, 0, 2, 4, 6, 1}  # G major (C#4 primer folded in as given)


def test_out_of_range_settings_are_refused_with_the_field_name(client):
    r = _start_generate(client, top_p=1.5)
    assert r.status_code == 422 and "top_p" in r.json()["error"]
    r = _start_generate(client, meter="3/4", bars=0)
    assert r.status_code == 422 and "bars" in r.json()["error"]


def test_generate_from_c_sharp(client):
    result = _generate(client, n=2, steps=64, instruments=["piano"], plot=True)
    assert len(result["outputs"]) == 2
    for out in result["outputs"]:
        midi = client.get(out["urls"]["midi"])
        assert midi.status_code == 200
        notes = _notes(midi.content)
        assert notes and notes[0][0] == 61  # the primer C#4 opens every melody
        wav = client.get(out["audio"][0]["url"]).content
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
        audio, rate = soundfile.read(io.BytesIO(wav))
        assert rate > 0 and len(audio) > rate and abs(audio).max() > 0.01
        roll = client.get(out["urls"]["piano_roll_html"]).text
        assert "Bokeh" in roll and "cdn.bokeh.org" not in roll


def test_generate_reports_bad_input(client):
    cases = [
        ({"primer": "H9"}, 400, "bad token"),
        ({"primer": "/etc/passwd"}, 400, "upload"),
        ({"model": "nope"}, 404, "no melody model"),
        ({"model": "../tiny"}, 404, "no melody model"),
        ({"temperature": -1}, 422, "temperature"),
        ({"primer_upload": "0" * 32}, 404, "upload"),
        ({"seed": 10**30}, 422, "seed"),
        ({"seed": 2**63}, 422, "seed"),
        ({"primer": "C4 " * 600}, 422, "at most 1000 characters"),
        ({"primer_bars": 0}, 422, "primer_bars"),
        ({"steps": 10**9}, 422, "steps"),
        ({"qpm": 1e9}, 422, "qpm"),
    ]
    for extra, status, words in cases:
        r = _start_generate(client, **extra)
        assert r.status_code == status, (extra, r.text)
        error = r.json()["error"]
        assert words in error, (extra, error)
        assert "Traceback" not in error and "Exception" not in error and "/tmp" not in error and "site-packages" not in error


def test_error_messages_hold_no_server_paths_or_exception_text(client, monkeypatch):
    assert plain("/home/me/.tunesmith/studio/uploads/0a/tune.mid: corrupt MIDI") == "tune.mid: corrupt MIDI"
    assert plain("step 3/4, MIDI / audio") == "step 3/4, MIDI / audio"
    r = client.post("/api/melody/train", json={"folder": "/nonexistent/secret/place"})
    assert r.status_code == 400 and "--data-root" in r.json()["error"] and "/nonexistent" not in r.json()["error"]
    import tunesmith.outputs.compose

    def broken(*args, **kwargs):
        raise RuntimeError("boom at /srv/private/thing.py line 3")

    monkeypatch.setattr(tunesmith.outputs.compose, "generate_to_dir", broken)
    job = _wait(client, _start_generate(client).json()["job"])
    assert job["status"] == "error" and job["error"] == INTERNAL_ERROR, job


def test_corrupt_uploads_give_messages(client):
    good = sorted(FOLK.glob("*.mid"))[0].read_bytes()
    bad = [
        ("truncated.mid", good[: len(good) // 3], "corrupt"),
        ("text.mid", b"not a MIDI file\n", "not a MIDI file"),
        ("noise.wav", b"RIFF\x00\x00" + bytes(300), "not a MIDI file"),
        ("empty.mid", b"", "empty"),
        ("broken.zip", b"PK\x03\x04" + bytes(100), "zip"),
    ]
    rate = 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    nan, inf = tone.copy(), tone.copy()
    nan[::7] = np.nan
    inf[100:200] = np.inf
    bad += [
        ("no_notes.mid", _midi_bytes([]), "holds no notes"),
        ("drums.mid", _midi_bytes([(36, i, 0.5) for i in range(16)], is_drum=True), "only drum notes"),
        ("nan.wav", _wav_bytes(nan), "NaN"),
        ("inf.wav", _wav_bytes(inf), "NaN or infinite"),
        ("silence.wav", _wav_bytes(np.zeros(rate, np.float32)), "silent"),
    ]
    for name, data, words in bad:
        r = client.post("/api/uploads", files={"file": (name, data)})
        assert 400 <= r.status_code < 500, (name, r.text)
        assert words in r.json()["error"], (name, r.json())
    uploads = app_uploads(client)
    # a MIDI file given where an audio clip belongs is refused at upload, not later at Train
    r = client.post("/api/uploads?purpose=clip", files={"file": ("tune.mid", good)})
    assert r.status_code == 400 and "tune.mid is a MIDI file; this needs an audio clip" in r.json()["error"]
    r = client.post("/api/uploads?purpose=training", files={"file": ("tone.wav", _wav_bytes(tone))})
    assert r.status_code == 400 and "needs a MIDI file or a zip" in r.json()["error"]
    assert app_uploads(client) == uploads  # nothing refused was kept
    assert client.post("/api/uploads?purpose=clip", files={"file": ("tone.wav", _wav_bytes(tone))}).json()["kind"] == "audio"
    r = client.post("/api/uploads?purpose=primer", files={"file": ("tune.mid", good)})
    assert r.status_code == 200 and r.json()["kind"] == "midi"
    _generate(client, primer_upload=r.json()["id"])


def app_uploads(client) -> set[str]:
    return {p.name for p in client.app.state.studio.uploads.iterdir()}


def test_continue_an_uploaded_tune_longer_than_the_primer(client):
    tune = _midi_bytes(scale_tune(bars=8))  # 8 bars of quarter notes = 128 steps at 4 steps per quarter
    upload = client.post("/api/uploads?purpose=primer", files={"file": ("scale.mid", tune)}).json()
    tune_events = _events(tune)
    assert len(tune_events) == 128  # 128 steps of notes: the last note's end is no extra step
    for bars, new in ((2, 32), (None, 24)):
        result = _generate(client, primer="", primer_upload=upload["id"], primer_bars=bars, steps=new, instruments=["piano"])
        primer_steps = result["primer_steps"]
        # the last N bars that hold notes, cut at bar lines (bar positions stay the meter's); else the whole tune
        assert primer_steps == 16 * bars if bars else primer_steps == 128
        assert result["new_steps"] == new
        out = result["outputs"][0]
        assert out["steps"] == primer_steps + new  # the tune comes back continued, not as the primer alone
        events = _events(client.get(out["urls"]["midi"]).content)
        start = 128 - 16 * bars if bars else 0
        np.testing.assert_array_equal(events[:primer_steps], tune_events[start : start + primer_steps])
        assert len(events) > primer_steps


def test_generation_reports_progress_and_cancels(client):
    r = _start_generate(client, n=16, steps=2048, beam_size=8, instruments=["piano"], plot=True)
    assert r.status_code == 200, r.text
    job_id = r.json()["job"]
    deadline = time.time() + 60
    job = client.get(f"/api/jobs/{job_id}").json()
    while job["progress"] == 0 and time.time() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "running" and 0 < job["progress"] < 1 and "sampling: step" in job["message"], job
    client.post(f"/api/jobs/{job_id}/cancel")
    job = _wait(client, job_id, 60)
    assert job["status"] == "cancelled" and job["result"] is None, job
    listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert listed[job_id]["status"] == "cancelled" and listed[job_id]["params"]["steps"] == 2048


def test_zip_upload_cannot_escape(client, app):
    buf = io.BytesIO()
    good = sorted(FOLK.glob("*.mid"))[0].read_bytes()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escaped.mid", good)
        zf.writestr("/abs/also.mid", good)
        zf.writestr("notes.txt", "hello")
        zf.writestr("bad.mid", b"MThd broken")
    r = client.post("/api/uploads", files={"file": ("../../set.zip", buf.getvalue())})
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["kind"] == "zip" and meta["files"] == 2 and len(meta["skipped"]) == 2
    workdir = app.state.studio.workdir
    kept = sorted(p.name for p in (workdir / "uploads" / meta["id"] / "midi").iterdir())
    assert kept == ["also.mid", "escaped.mid"]
    assert not (workdir / "escaped.mid").exists() and not (workdir.parent / "escaped.mid").exists()
    assert safe_name("../../x/..\\y.mid") == "y.mid" and safe_name("..") == "file"


def test_oversized_upload_is_413(models_dir, tmp_path):
    from fastapi.testclient import TestClient

    small = TestClient(create_app(tmp_path / "w", max_upload_mb=0.01, models_dir=models_dir), base_url=BASE)
    r = small.post("/api/uploads", files={"file": ("big.mid", b"MThd" + bytes(20_000))})
    assert r.status_code == 413 and "limit" in r.json()["error"]

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for _ in range(20):
            yield bytes(1024)

    r = small.post("/api/uploads", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert small.get("/api/info").status_code == 200  # the server lives on


def test_path_traversal_is_refused(client, app, tmp_path):
    for path in (
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2f..%2fetc%2fpasswd",
        "/files/jobs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/model-files/%2e%2e/x",
        "/files/uploads/..%5c..%5cetc%5cpasswd",
        "/model-files/tiny/model.safetensors",
    ):
        r = client.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert "root:" not in r.text
    workdir = app.state.studio.workdir
    (workdir / "link").unlink(missing_ok=True)
    (workdir / "link").symlink_to("/etc/passwd")
    assert client.get("/files/link").status_code == 404  # a symlink out of the workdir is not followed
    assert inside(workdir, "a/../../etc/passwd") is None


@pytest.mark.slow  # 5 s on two busy cores
def test_twenty_concurrent_generations(client, models_dir, tmp_path):
    from tunesmith.outputs.compose import generate_to_dir

    expected = {}
    steps = 48  # new steps after the primer C#4
    for seed in range(20):  # the same requests one after another, straight through the library
        generate_to_dir(models_dir / "tiny", "C#4", tmp_path / str(seed), 1, steps=steps, seed=seed)
        expected[seed] = _notes((tmp_path / str(seed) / "melody_01.mid").read_bytes())
    assert len({tuple(v) for v in expected.values()}) == 20

    def one(seed):
        out = _generate(client, seed=seed, instruments=["piano"])
        return seed, out["job"], client.get(out["outputs"][0]["urls"]["midi"]).content, out["settings"]["seed"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert len({job for _, job, _, _ in results}) == 20
    for seed, _, midi, reported in results:
        assert reported == seed and _notes(midi) == expected[seed]


@pytest.mark.slow  # 11 s on two busy cores
def test_training_job_runs_and_cancels(client):
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for f in sorted(FOLK.glob("*.mid")):
            zf.write(f, f.name)
    upload = client.post("/api/uploads", files={"file": ("folk.zip", zbuf.getvalue())}).json()
    r = client.post("/api/melody/train", json={"name": "web-run", "uploads": [upload["id"]], "steps": 10_000, "batch_size": 8})
    assert r.status_code == 200, r.text
    job_id = r.json()["job"]
    deadline = time.time() + 60
    job = client.get(f"/api/jobs/{job_id}").json()
    while not job["log"] and job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "running" and job["log"], job
    assert client.get("/api/info").status_code == 200  # the server answers while it trains
    client.post(f"/api/jobs/{job_id}/cancel")
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["result"]["step"] < 10_000, job
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert job["result"]["model"] in names
    assert client.get("/api/jobs/" + "f" * 32).status_code == 404


@pytest.mark.slow  # a few seconds: 3 steps from the shipped model
def test_training_can_start_from_the_shipped_model(client):
    """The studio's "start from the shipped model" fine-tunes it: the model takes the default's architecture and
    learns from fewer tunes than one batch; the page cannot name a server path to start from."""
    uploads = []
    for f in sorted(FOLK.glob("*.mid"))[:12]:
        uploads.append(client.post("/api/uploads", files={"file": (f.name, f.read_bytes())}).json()["id"])
    body = {"name": "tuned", "uploads": uploads, "steps": 3, "config": "basic_rnn", "start_from_default": True}
    job_id = client.post("/api/melody/train", json=body).json()["job"]
    deadline = time.time() + 120
    job = client.get(f"/api/jobs/{job_id}").json()
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    listed = client.get("/api/models").json()
    (model,) = [m for m in listed["models"] if m["name"] == job["result"]["model"]]
    assert model["config"] == "transformer" and job["result"]["train_melodies"] < 32
    from tunesmith.web.requests import MelodyTrainRequest

    assert "init_from" not in MelodyTrainRequest.model_fields  # no server path reaches training from the page


# --- training folders: only under --data-root; Cancel reaches prepare's workers ------------------------
def _stored_jobs(app) -> str:
    return "\n".join(p.read_text() for p in sorted(app.state.studio.jobs_dir.glob("*.json")))


@pytest.mark.slow  # 5 s on two busy cores
def test_training_folder_is_confined_to_the_data_root(models_dir, tmp_path):
    """No --data-root: no folder at all. With one: relative to it, resolved, never out of it ('..', symlinks)."""
    from fastapi.testclient import TestClient

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(sorted(FOLK.glob("*.mid"))[0], outside / "secret.mid")
    root = tmp_path / "collections"
    (root / "folk").mkdir(parents=True)
    for f in sorted(FOLK.glob("*.mid")):
        shutil.copy(f, root / "folk" / f.name)
    (root / "folk" / "linked-secret.mid").symlink_to(outside / "secret.mid")  # a file leading out: left out
    (root / "away").symlink_to(outside)  # a folder leading out: refused

    plain_app = create_app(tmp_path / "w0", models_dir=models_dir)
    c = TestClient(plain_app, base_url=BASE)
    assert c.get("/api/info").json()["data_root"] is None
    for folder in ("../..", str(root / "folk"), "."):
        r = c.post("/api/melody/train", json={"folder": folder, "steps": 1})
        assert r.status_code == 400 and "--data-root" in r.json()["error"], (folder, r.text)

    app = create_app(tmp_path / "w1", models_dir=tmp_path / "m1", data_root=root)
    c = TestClient(app, base_url=BASE)
    assert c.get("/api/info").json()["data_root"] == "collections"  # its name only
    for folder, words in (
        ("../..", "without '..'"),
        ("folk/../..", "without '..'"),
        ("..", "without '..'"),
        ("away", "outside the data folder"),
        (str(outside), "outside the data folder"),
        ("/etc", "outside the data folder"),
        ("~", "inside the data folder"),
        ("nothing-here", "no such folder"),
        ("folk/" + sorted(FOLK.glob("*.mid"))[0].name, "not a folder"),
    ):
        r = c.post("/api/melody/train", json={"folder": folder, "steps": 1})
        assert r.status_code == 400 and words in r.json()["error"], (folder, r.text)
        assert str(tmp_path) not in r.json()["error"]
    r = c.post("/api/melody/train", json={"name": "from-folder", "folder": str(root / "folk"), "steps": 2, "batch_size": 8})
    assert r.status_code == 200, r.text
    job = _wait(c, r.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    assert job["params"]["folder"] == "folk"  # stored relative to the root
    corpus = json.loads((tmp_path / "m1" / "from-folder" / "corpus" / "corpus.json").read_text())
    assert corpus["files_found"] == 48  # the linked file from outside was not read
    stored = _stored_jobs(app)
    assert str(tmp_path) not in stored and str(root) not in stored  # no server paths in the history


@pytest.mark.slow  # 3 s on two busy cores
def test_cancel_reaches_prepare_and_its_workers(models_dir, tmp_path):
    """Cancel during a long prepare ends it within seconds, with its worker processes; nothing is kept."""
    import psutil
    from fastapi.testclient import TestClient

    root = tmp_path / "data"
    big = root / "big"
    big.mkdir(parents=True)
    pitches = np.random.default_rng(0).integers(55, 80, 4000)
    score = make_score([(int(p), i * 0.5, 0.5) for i, p in enumerate(pitches)])
    for i in range(2500):  # seconds of work for two workers; distinct files (prepare skips repeated content)
        score.tracks[0].name = f"tune {i}"
        score.dump_midi(str(big / f"t{i:04d}.mid"))
    app = create_app(tmp_path / "w", models_dir=tmp_path / "m", data_root=root)
    c = TestClient(app, base_url=BASE)
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    job_id = c.post("/api/melody/train", json={"name": "big", "folder": "big", "steps": 5, "batch_size": 8}).json()["job"]
    deadline = time.time() + 60
    job = c.get(f"/api/jobs/{job_id}").json()
    while "preparing the corpus" not in job["message"] and job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)
        job = c.get(f"/api/jobs/{job_id}").json()
    assert "preparing the corpus: 2500 files" in job["message"], job
    time.sleep(0.5)  # the workers are busy
    workers = [p for p in me.children(recursive=True) if p.pid not in before]
    assert workers, "prepare runs in worker processes"
    started = time.monotonic()
    c.post(f"/api/jobs/{job_id}/cancel")
    job = _wait(c, job_id, 30)
    took = time.monotonic() - started
    assert job["status"] == "cancelled" and job["result"] is None, job
    assert took < 5, took
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, alive
    assert not list((tmp_path / "m").glob(".training-*")) and not (tmp_path / "m" / "big").exists()


@pytest.mark.slow  # forks a pool beside the module's job threads: hung once in the fast tier on busy cores
def test_prepare_workers_end_on_sigterm_even_under_a_server_handler():
    """Workers forked from a server inherit its SIGTERM handler (uvicorn's only sets a flag): they must reset it."""
    import psutil

    from tunesmith.data.engines import ProcessEngine

    old = signal.signal(signal.SIGTERM, lambda *args: None)
    try:
        engine = ProcessEngine(2)
        results = engine.map_unordered(time.sleep, [0.2, 0.2, 5, 5])
        next(results)
        workers = [psutil.Process(p.pid) for p in engine.pool._processes.values()]
    finally:
        signal.signal(signal.SIGTERM, old)
    try:
        for w in workers:
            w.terminate()
        _, alive = psutil.wait_procs(workers, timeout=3)
        assert not alive, alive
    finally:
        for w in workers:
            with contextlib.suppress(psutil.Error):
                w.kill()
        with contextlib.suppress(Exception):
            engine.close()


# --- what the page is told: warnings, partial results, refusals --------------------------------------------
def test_jobs_carry_the_library_warnings(client):
    r = _start_generate(client, primer="C1 E1 G1", steps=16)
    job = _wait(client, r.json()["job"])
    assert job["status"] == "done" and any("moved by octaves" in w for w in job["warnings"]), job
    assert job["message"].startswith("1 melody: ")
    tune = _midi_bytes(scale_tune(bars=12))
    upload = client.post("/api/uploads?purpose=primer", files={"file": ("long.mid", tune)}).json()
    job = _wait(client, _start_generate(client, primer="", primer_upload=upload["id"], steps=16).json()["job"])
    assert any("last 8 bars" in w for w in job["warnings"]), job
    listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert listed[job["id"]]["warnings"] == job["warnings"]  # kept in the history too
    assert "/" not in "".join(job["warnings"]).replace("8 bars", "")  # no server paths in them


POLY_PRIMER = "C4 E4 G4 | F4 A4 C5"


def test_generate_with_the_polyphonic_model(client, models_dir, tmp_path):
    """The Generate tab lists the shipped polyphonic model (and one trained into the models folder) as polyphonic and
    runs ``polyphonic_to_dir`` for it: a MIDI file with a track per part, a WAV, a piano roll PNG and a score SVG."""
    from tunesmith.assets import MODELS

    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert models["polyphonic-default"]["kind"] == "polyphonic" and models["polyphonic-default"]["bundled"]
    assert models["tiny"]["kind"] == "melody"
    body = {"model": "polyphonic-default", "primer": POLY_PRIMER, "n": 2, "bars": 4, "seed": 3, "temperature": 0.9,
            "top_p": 0.9, "steps": 64, "beam_size": 2, "instruments": ["piano"], "plot": True}  # fmt: skip
    r = client.post("/api/generate", json=body)
    assert r.status_code == 200, r.text
    job = _wait(client, r.json()["job"], 300)
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    result = job["result"]
    assert result["model_kind"] == "polyphonic" and result["primer"] == POLY_PRIMER and len(result["outputs"]) == 2
    assert result["settings"] == {"bars": 4, "temperature": 0.9, "top_p": 0.9, "seed": 3}
    assert result["note"] == "the polyphonic model does not use beam_size, steps"  # as the command line says it
    midis = []
    for out in result["outputs"]:
        assert set(out["urls"]) == {"midi", "piano_roll_png", "score_svg", f"audio_{out['audio'][0]['instrument']}"}
        midi = client.get(out["urls"]["midi"]).content
        score = symusic.Score.from_midi(midi)
        assert [t.name for t in score.tracks] == ["melody", "accompaniment"] and all(len(t.notes) for t in score.tracks)
        assert [len(t.notes) for t in score.tracks] == out["notes_per_part"]
        midis.append(midi)
        audio, rate = soundfile.read(io.BytesIO(client.get(out["audio"][0]["url"]).content))
        assert len(audio) > rate and abs(audio).max() > 0.01
        assert client.get(out["urls"]["piano_roll_png"]).content[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in client.get(out["urls"]["score_svg"]).text
    assert midis[0] != midis[1]  # two pieces, not one twice
    listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert listed[job["id"]]["params"]["model_kind"] == "polyphonic"
    for extra, words in (({"primer": "C4 E4 | X9"}, "not a note name"), ({"primer": "C4 E4 G4 |"}, "empty chord"),
                         ({"meter": "7"}, "meter")):  # fmt: skip
        r = client.post("/api/generate", json=body | extra)
        assert r.status_code == 400 and words in r.json()["error"], (extra, r.text)
    # an uploaded MIDI file (a tune over a bass line) is continued from its last bars
    bass = [(36 + (b % 2) * 7, b * 4, 4.0) for b in range(6)]
    upload = client.post(
        "/api/uploads?purpose=primer",
        files={"file": ("duet.mid", _midi_bytes(scale_tune(bars=6), extra_tracks=[(bass, 32, False)]))},
    )
    r = client.post("/api/generate", json=body | {"primer": "", "primer_upload": upload.json()["id"], "primer_bars": 2, "n": 1})
    job = _wait(client, r.json()["job"], 300)
    assert job["status"] == "done" and job["result"]["primer"] == "duet.mid", job
    (out,) = job["result"]["outputs"]
    assert out["bars"] == 4 and out["primer_steps"] == 2 * 48 and out["programs"] == [0, 32]  # the primer's instruments
    clip = client.post("/api/uploads?purpose=primer", files={"file": ("clip.wav", _wav_bytes(np.sin(np.arange(22050) / 9)))})
    r = client.post("/api/generate", json=body | {"primer": "", "primer_upload": clip.json()["id"]})
    assert r.status_code == 400 and "MIDI" in r.json()["error"], r.text
    # a polyphonic model trained into the studio's models folder is listed and used the same way
    own = tmp_path / "models"
    shutil.copytree(models_dir / "tiny", own / "tiny")
    shutil.copytree(MODELS / "polyphonic-default", own / "my-chorales", ignore=shutil.ignore_patterns("report.json"))
    from fastapi.testclient import TestClient

    with TestClient(create_app(tmp_path / "studio", models_dir=own), base_url=BASE) as other:
        listed = {m["name"]: m for m in other.get("/api/models").json()["models"]}
        assert listed["my-chorales"]["kind"] == "polyphonic" and not listed["my-chorales"]["bundled"]
        r = other.post("/api/generate", json=body | {"model": "my-chorales", "n": 1, "instruments": [], "plot": False})
        job = _wait(other, r.json()["job"], 300)
        assert job["status"] == "done" and set(job["result"]["outputs"][0]["urls"]) == {"midi"}, job
        r = other.post("/api/edit", json={"edit": "over-chords", "model": "my-chorales", "progression": "C G"})
        assert r.status_code == 400 and "polyphonic model, not a melody model" in r.json()["error"]


def _edit(client, **body) -> dict:
    """A finished edit's result (an edit is a job: start it, wait for it)."""
    r = client.post("/api/edit", json={"model": "tiny", "n": 2, "instruments": [], "plot": False, **body})
    assert r.status_code == 200, r.text
    job = _wait(client, r.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    return job["result"]


def _bar_notes(roll: dict, bars: set[int]) -> list:
    """The notes that start in the given bars (1-based) of a roll the Edit tab draws, cut at their bar's end: what
    those bars play (the first rewritten step may hold the last kept note on, which is no change to its bar)."""
    spb = roll["steps_per_bar"]
    return [[p, s, min(e, (s // spb + 1) * spb)] for p, s, e in roll["notes"] if s // spb + 1 in bars]


def test_edit_rewrites_chosen_bars_of_an_uploaded_tune(client):
    tune = _midi_bytes(scale_tune(bars=8))
    upload = client.post("/api/uploads?purpose=tune", files={"file": ("scale.mid", tune)}).json()
    drawn = client.get(f"/api/edit/tune?upload={upload['id']}&model=tiny").json()
    assert drawn["bars"] == 8 and drawn["steps_per_bar"] == 16 and len(drawn["notes"]) == 32
    result = _edit(client, edit="infill", tune_upload=upload["id"], bars="3-4", seed=1, formats=["abc"])
    assert result["edit"] == "infill" and result["tune"] == "scale.mid" and result["tune_roll"]["notes"] == drawn["notes"]
    kept = set(range(1, 9)) - {3, 4}
    versions = set()
    for out in result["outputs"]:
        assert out["infilled"] == [3, 4]
        assert _bar_notes(out["roll"], kept) == _bar_notes(drawn, kept)  # every other bar note for note
        versions.add(str(_bar_notes(out["roll"], {3, 4})))
        midi = client.get(out["urls"]["midi"]).content
        np.testing.assert_array_equal(_events(midi)[:32], _events(tune)[:32])
        assert client.get(out["urls"]["abc"]).text.startswith("X:")
    assert len(versions) == 2  # the two versions differ in the rewritten bars


def test_edit_varies_the_last_generation_and_writes_over_chords(client):
    made = _generate(client, bars=8, steps=None, seed=3)
    name = made["outputs"][0]["name"]
    drawn = client.get(f"/api/edit/tune?job={made['job']}&name={name}&model=tiny").json()
    assert drawn["bars"] == 8
    result = _edit(client, edit="vary", tune_job=made["job"], tune_name=name, strength="new", seed=2, instruments=["piano"])
    for out in result["outputs"]:
        assert out["strength"] == "new" and out["infilled"] and out["audio"][0]["instrument"] == "piano"
        assert _bar_notes(out["roll"], {8}) == _bar_notes(drawn, {8})  # the cadence bar stays
    over = _edit(client, edit="over-chords", progression="C G Am F", plot=True)
    assert over["tune"] is None
    for out in over["outputs"]:
        assert out["chords"] == ["C", "G", "Am", "F"] and out["roll"]["bars"] == 4 and "piano_roll_html" in out["urls"]
        score = symusic.Score.from_midi(client.get(out["urls"]["midi"]).content)
        assert score.tracks[-1].name == "chords"


def test_edit_over_the_chords_of_an_uploaded_song(client):
    """'use the tune's own chords': the chords its accompaniment track plays steer the rewritten bars, or carry a new
    melody; they sound as the chord track and label the bars."""
    chords = {"C": (48, 52, 55), "G": (43, 47, 50), "Am": (45, 48, 52), "F": (41, 45, 48)}
    progression = ["C", "G", "Am", "F"]
    accompaniment = [(p, 4 * bar, 4) for bar, c in enumerate(progression) for p in chords[c]]
    song = _midi_bytes(scale_tune(bars=4), extra_tracks=[(accompaniment, 0, False)])
    upload = client.post("/api/uploads?purpose=tune", files={"file": ("song.mid", song)}).json()["id"]
    rewritten = _edit(client, edit="infill", tune_upload=upload, bars="2-3", own_chords=True)
    new = _edit(client, edit="over-chords", tune_upload=upload, own_chords=True)
    for result in (rewritten, new):
        for out in result["outputs"]:
            assert out["chords"] == progression and out["roll"]["chords"] == progression
            assert symusic.Score.from_midi(client.get(out["urls"]["midi"]).content).tracks[-1].name == "chords"
    assert rewritten["tune"] == "song.mid" and new["tune"] is None  # over chords: a new melody, not the song's


# An 8-bar reel in G, one chord symbol a bar: ABC's eighth notes (L:1/8) are 2 steps at 4 steps per quarter.
REEL_CHORDS = ["G", "C", "G", "D", "G", "C", "D", "G"]
REEL_BARS = ["GABc dBGB", "cdec dBAG", "GABc dBGB", "ABcA G4", "gfed edBd", "cdec dBAG", "ABcd efge", "dBAG G4"]
ABC_PITCHES = {"G": 67, "A": 69, "B": 71, "c": 72, "d": 74, "e": 76, "f": 78, "g": 79}  # f is F sharp in K:G


def _reel_abc() -> bytes:
    body = "|".join(f'"{c}"{bar}' for c, bar in zip(REEL_CHORDS, REEL_BARS))
    return f"X:1\nT:Studio Reel\nM:4/4\nL:1/8\nQ:1/4=120\nK:G\n|{body}|]\n".encode()


def _reel_notes() -> list[list[int]]:
    """The reel's notes as the Edit tab draws them, [pitch, start, end] in steps, counted from the ABC text itself."""
    notes, t = [], 0
    for bar in REEL_BARS:
        for letter, length in re.findall(r"([A-Ga-g])(\d*)", bar):
            steps = 2 * int(length or 1)
            notes.append([ABC_PITCHES[letter], t, t + steps])
            t += steps
    return notes


def _musicxml(fmt: str, pitches: list[int], chords: list[str]) -> bytes:
    """A MusicXML (``musicxml``) or compressed MusicXML (``mxl``) tune written by music21: a quarter note per pitch in
    4/4, a chord symbol (<harmony>) on each bar's downbeat."""
    from tempfile import TemporaryDirectory

    from music21 import harmony, key, meter, note, stream

    part = stream.Part()
    for bar, symbol in enumerate(chords):
        measure = stream.Measure(number=bar + 1)
        if bar == 0:
            measure.append([meter.TimeSignature("4/4"), key.Key("C")])
        measure.insert(0, harmony.ChordSymbol(symbol))
        for p in pitches[4 * bar : 4 * bar + 4]:
            measure.append(note.Note(p, quarterLength=1))
        part.append(measure)
    with TemporaryDirectory() as tmp:
        path = stream.Score([part]).write(fmt, fp=Path(tmp) / f"tune.{fmt}")
        return Path(path).read_bytes()


def test_edit_an_abc_tune_with_its_own_chords(client):
    """An ABC reel: uploaded as a tune (kept as .abc, even under another name), drawn note for note, bars rewritten
    over its own chord symbols with every other bar kept, a new melody over those chords, and the same file as a
    Generate primer."""
    reel, expected = _reel_abc(), _reel_notes()
    upload = client.post("/api/uploads?purpose=tune", files={"file": ("reel.abc", reel)}).json()
    assert upload["kind"] == "score" and upload["format"] == "abc" and upload["notes"] == len(expected)
    stored = client.app.state.studio.uploads / upload["id"]
    assert (stored / "reel.abc").read_bytes() == reel  # the ABC reader goes by the suffix
    renamed = client.post("/api/uploads?purpose=tune", files={"file": ("reel.txt", reel)}).json()
    assert renamed["format"] == "abc" and renamed["path"] == "reel.abc"  # told by its X: and K: fields
    drawn = client.get(f"/api/edit/tune?upload={upload['id']}&model=tiny").json()
    assert drawn["name"] == "reel.abc" and drawn["bars"] == 8 and drawn["steps_per_bar"] == 16
    assert drawn["notes"] == expected
    result = _edit(client, edit="infill", tune_upload=upload["id"], bars="3-4", own_chords=True, seed=1)
    assert result["tune"] == "reel.abc" and result["tune_roll"]["notes"] == expected
    kept = set(range(1, 9)) - {3, 4}
    for out in result["outputs"]:
        assert out["infilled"] == [3, 4] and out["chords"] == REEL_CHORDS and out["roll"]["chords"] == REEL_CHORDS
        assert _bar_notes(out["roll"], kept) == _bar_notes({"notes": expected, "steps_per_bar": 16}, kept)
        assert symusic.Score.from_midi(client.get(out["urls"]["midi"]).content).tracks[-1].name == "chords"
    over = _edit(client, edit="over-chords", tune_upload=upload["id"], own_chords=True, seed=2)
    assert over["tune"] is None
    for out in over["outputs"]:
        assert out["chords"] == REEL_CHORDS and out["roll"]["bars"] == 8 and out["roll"]["notes"]
    primer = client.post("/api/uploads?purpose=primer", files={"file": ("reel.abc", reel)}).json()
    made = _generate(client, primer="", primer_upload=primer["id"], primer_bars=2, steps=16)
    assert made["primer_steps"] == 32 and made["primer"] == "reel.abc"  # the reel's last two bars, continued


def test_edit_a_musicxml_tune_with_its_harmony(client):
    """A MusicXML tune written by music21 (chord symbols as <harmony>): bars rewritten over its own chords, every
    other bar kept; a new melody over them; the compressed form (.mxl) reads the same."""
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 65, 62]
    chords = ["C", "G", "Am", "F"]
    expected = [[p, 4 * i, 4 * i + 4] for i, p in enumerate(pitches)]
    upload = client.post("/api/uploads?purpose=tune", files={"file": ("tune.musicxml", _musicxml("musicxml", pitches, chords))})
    upload = upload.json()
    assert upload["kind"] == "score" and upload["format"] == "musicxml" and upload["notes"] == 16
    drawn = client.get(f"/api/edit/tune?upload={upload['id']}&model=tiny").json()
    assert drawn["bars"] == 4 and drawn["notes"] == expected
    result = _edit(client, edit="infill", tune_upload=upload["id"], bars="2-3", own_chords=True, seed=3)
    for out in result["outputs"]:
        assert out["infilled"] == [2, 3] and out["chords"] == chords
        assert _bar_notes(out["roll"], {1, 4}) == _bar_notes(drawn, {1, 4})
    over = _edit(client, edit="over-chords", tune_upload=upload["id"], own_chords=True, seed=4)
    assert all(out["chords"] == chords and out["roll"]["bars"] == 4 for out in over["outputs"])
    renamed = client.post("/api/uploads?purpose=tune", files={"file": ("tune.txt", _musicxml("musicxml", pitches, chords))})
    assert renamed.json()["path"] == "tune.musicxml"  # told by its score element
    mxl = _musicxml("mxl", pitches, chords)
    for name in ("tune.mxl", "tune.zip"):  # a compressed MusicXML is told from a zip of MIDI files by its content
        packed = client.post("/api/uploads?purpose=tune", files={"file": (name, mxl)}).json()
        assert packed["format"] == "musicxml" and packed["path"] == "tune.mxl", packed
        assert client.get(f"/api/edit/tune?upload={packed['id']}&model=tiny").json()["notes"] == expected


def test_damaged_score_uploads_are_refused_with_a_message(client):
    reel = _reel_abc()
    xml = _musicxml("musicxml", [60, 62, 64, 65], ["C"])
    before = app_uploads(client)
    cases = [
        ("broken.abc", bytes(range(256)) * 4, "no ABC tune"),
        ("headers.abc", reel.split(b"|")[0], "no ABC tune"),  # the header, cut off before any note
        ("cut.musicxml", xml[: len(xml) // 2], "could not read it"),
        ("cut.mxl", b"PK\x03\x04" + bytes(200), "could not read it"),
        ("notes.txt", b"some notes I wrote down\n", "not a MIDI file"),
    ]
    for name, data, words in cases:
        for probe in ("/api/uploads?purpose=tune", "/api/uploads"):
            r = client.post(probe, files={"file": (name, data)})
            assert r.status_code == 400 and words in r.json()["error"], (name, probe, r.text)
            assert r.json()["error"].startswith(name) and "/" not in r.json()["error"]  # named as uploaded
    r = client.post("/api/uploads?purpose=tune", files={"file": ("notes.txt", b"some notes I wrote down\n")})
    assert "notes.txt: not a MIDI file or an ABC or MusicXML tune" in r.json()["error"]  # what the Edit tab takes
    r = client.post("/api/uploads?purpose=clip", files={"file": ("reel.abc", reel)})
    assert r.status_code == 400 and "reel.abc is an ABC or MusicXML tune; this needs an audio clip" in r.json()["error"]
    assert app_uploads(client) == before  # nothing refused was kept


def test_edit_refuses_bad_requests_at_once(client):
    tune = _midi_bytes(scale_tune(bars=8))
    upload = client.post("/api/uploads?purpose=tune", files={"file": ("scale.mid", tune)}).json()["id"]
    base = {"model": "tiny", "tune_upload": upload}
    cases = [
        ({"edit": "infill"}, "choose the bars"),
        ({"edit": "infill", "bars": "12"}, "outside the tune"),
        ({"edit": "infill", "bars": "1-8"}, "whole tune"),
        ({"edit": "vary", "progression": "C H7"}, "H7"),
        ({"edit": "infill", "bars": "2", "progression": "../song.mid"}, "type chord symbols"),
        ({"edit": "infill", "bars": "2", "own_chords": True}, "no chords to write over"),
        ({"edit": "over-chords", "tune_upload": None}, "type a chord progression"),
        ({"edit": "vary", "tune_upload": None}, "choose a tune"),
        ({"edit": "vary", "tune_upload": None, "tune_job": "0" * 32, "tune_name": "melody_01"}, "that result is gone"),
        ({"edit": "vary", "strength": "wild"}, "strength"),
    ]
    for body, words in cases:
        r = client.post("/api/edit", json={**base, **body})
        assert r.status_code in (400, 404, 422) and words in r.json()["error"], (body, r.text)
    assert (
        "/"
        not in client.post("/api/edit", json={**base, "edit": "infill", "bars": "2", "own_chords": True})
        .json()["error"]
        .split("give the chords")[0]
    )  # no server path in the message


def test_edit_settings_are_the_edit_functions_defaults(client):
    import inspect

    from tunesmith.melody.edit import STRENGTHS, infill, vary
    from tunesmith.melody.settings import EDIT_STRENGTHS, EditSettings

    defaults = client.get("/api/info").json()["defaults"]["edit-form"]
    signature = {**inspect.signature(infill).parameters, **inspect.signature(vary).parameters}
    for name in ("candidates", "strength", "temperature", "key", "scale", "seed"):
        assert defaults[name] == getattr(EditSettings, name) == signature[name].default, name
    assert EDIT_STRENGTHS == STRENGTHS


@pytest.mark.slow  # 4 s on two busy cores
def test_a_cancelled_generation_keeps_what_it_wrote(client):
    r = _start_generate(client, n=16, steps=64, instruments=["piano"], plot=True)
    job_id = r.json()["job"]
    deadline = time.time() + 120
    job = client.get(f"/api/jobs/{job_id}").json()
    while "writing files for melody 2" not in job["message"] and job["status"] == "running" and time.time() < deadline:
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job_id}").json()
    client.post(f"/api/jobs/{job_id}/cancel")
    job = _wait(client, job_id)
    assert job["status"] == "cancelled", job
    outputs = job["result"]["outputs"]
    assert 1 <= len(outputs) < 16 and job["result"]["stopped"].startswith("stopped after writing"), job
    assert job["message"] == job["result"]["stopped"]
    for out in outputs:
        assert client.get(out["urls"]["midi"]).content[:4] == b"MThd"
        assert client.get(out["audio"][0]["url"]).content[:4] == b"RIFF"


def test_pipeline_with_no_instrument_is_refused(client, tmp_path):
    clip = client.post("/api/uploads?purpose=clip", files={"file": ("clip.wav", _clip(tmp_path))}).json()
    r = client.post("/api/pipeline", json={"clip_upload": clip["id"], "melody_model": "tiny", "instruments": []})
    assert r.status_code == 400 and "at least one instrument" in r.json()["error"], r.text
    body = {"clip_upload": clip["id"], "melody_model": "tiny", "instruments": ["piano"]}
    for chords, words in (("../../song.mid", "not a file name"), ("C G Am F", "bars of chords"), ("C H7 C C C", "H7")):
        r = client.post("/api/pipeline", json={**body, "over_chords": chords})
        assert r.status_code == 400 and words in r.json()["error"], (chords, r.text)
    assert client.get("/api/info").json()["defaults"]["pipe-form"]["over_chords"] is None


@pytest.mark.slow
def test_audio_generation_cancels_between_frames(models_dir, tmp_path):
    from fastapi.testclient import TestClient

    from tunesmith.audio_model.train import train_audio_model

    models = tmp_path / "models"
    soundfile.write(tmp_path / "clip.wav", soundfile.read(io.BytesIO(_clip(tmp_path)))[0], 44100)
    train_audio_model(
        str(tmp_path / "clip.wav"),
        models / "hum",
        None,
        epochs=1,
        layers=1,
        units=16,
        sequence_length=8,
        batch_size=32,
        progress=False,
    )
    c = TestClient(create_app(tmp_path / "w", models_dir=models), base_url=BASE)
    clip = c.post("/api/uploads?purpose=clip", files={"file": ("clip.wav", _clip(tmp_path))}).json()
    job_id = c.post(
        "/api/audio/generate", json={"model": "hum", "clip_upload": clip["id"], "seconds": 120, "n": 8, "griffin_lim_iters": 4}
    ).json()["job"]
    deadline = time.time() + 60
    job = c.get(f"/api/jobs/{job_id}").json()
    while "frame" not in job["message"] and job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)
        job = c.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "running" and "generating audio: frame" in job["message"], job
    started = time.monotonic()
    c.post(f"/api/jobs/{job_id}/cancel")
    job = _wait(c, job_id, 60)
    assert job["status"] == "cancelled" and job["result"] is None and "stopped at frame" in job["message"], job
    assert time.monotonic() - started < 5


def _clip(tmp_path: Path) -> bytes:
    rate = 44100
    t = np.arange(int(2.5 * rate)) / rate
    tones = np.where(t % 0.5 < 0.25, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 330 * t))
    soundfile.write(tmp_path / "clip.wav", (0.4 * tones).astype(np.float32), rate)
    return (tmp_path / "clip.wav").read_bytes()


@pytest.mark.slow  # 9 s on two busy cores
def test_spectrograms_from_threads(tmp_path):
    """matplotlib's mathtext parser is shared: unlocked, 8 threads drawing log axes failed 31 of 40 times."""
    from tunesmith.outputs.plots import save_spectrogram

    rate = 22050
    audio = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    with ThreadPoolExecutor(max_workers=8) as pool:
        draw = lambda i: save_spectrogram(audio, tmp_path / f"s{i}.png", sample_rate=rate, width=400, height=200)  # noqa: E731
        paths = list(pool.map(draw, range(12)))
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


@pytest.mark.slow
def test_audio_model_and_pipeline_jobs(client, tmp_path):
    clip = client.post("/api/uploads?purpose=clip", files={"file": ("clip.wav", _clip(tmp_path))}).json()
    assert clip["kind"] == "audio" and clip["seconds"] == 2.5
    train = client.post(
        "/api/audio/train",
        json={
            "name": "hum",
            "clip_upload": clip["id"],
            "epochs": 1,
            "layers": 1,
            "units": 16,
            "sequence_length": 8,
            "batch_size": 32,
        },
    )
    pipe = client.post(
        "/api/pipeline",
        json={
            "clip_upload": clip["id"],
            "audio_model": "none",
            "melody_model": "tiny",
            "instruments": ["piano"],
            "n": 1,
            "steps": 48,
        },
    )
    assert train.status_code == 200 and pipe.status_code == 200, (train.text, pipe.text)
    job = _wait(client, train.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    model = job["result"]["model"]
    assert {"name": model, "kind": "audio"}.items() <= next(
        m for m in client.get("/api/models").json()["models"] if m["name"] == model
    ).items()
    gen = client.post(
        "/api/audio/generate", json={"model": model, "clip_upload": clip["id"], "seconds": 1, "griffin_lim_iters": 4}
    )
    job = _wait(client, gen.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    wav = client.get(job["result"]["outputs"][0]).content
    assert soundfile.read(io.BytesIO(wav))[0].shape[0] >= 44100
    assert client.get(job["result"]["spectrograms"][0]).content[:4] == b"\x89PNG"
    wrong = client.post("/api/audio/generate", json={"model": "tiny", "clip_upload": clip["id"]})
    assert wrong.status_code == 400 and "not an audio model" in wrong.json()["error"]
    job = _wait(client, pipe.json()["job"])
    assert job["status"] == "done", (job.get("error"), job.get("message"))
    assert job["message"].startswith("1 melody in "), job["message"]  # not "1 melodies"
    assert "<html" in client.get(job["result"]["index"]).text.lower()

    # 4 audio jobs (spectrograms drawn on worker threads) and 2 plotted generations at once: all succeed
    body = {"model": model, "clip_upload": clip["id"], "seconds": 0.5, "griffin_lim_iters": 2}
    started = [client.post("/api/audio/generate", json=body | {"seed": i}).json()["job"] for i in range(4)]
    started += [_start_generate(client, seed=i, plot=True, instruments=["piano"]).json()["job"] for i in range(2)]
    for job_id in started:
        job = _wait(client, job_id)
        assert job["status"] == "done", (job.get("error"), job.get("message"))

    # the pipeline reports its stages and can be cancelled (here while it trains an audio model on the clip)
    pipe = client.post(
        "/api/pipeline",
        json={"clip_upload": clip["id"], "audio_model": "train", "audio_epochs": 500, "melody_model": "tiny", "n": 1},
    ).json()["job"]
    deadline = time.time() + 60
    job = client.get(f"/api/jobs/{pipe}").json()
    while "training the audio model" not in job["message"] and time.time() < deadline:
        time.sleep(0.2)
        job = client.get(f"/api/jobs/{pipe}").json()
    assert job["status"] == "running" and job["progress"] > 0, job
    client.post(f"/api/jobs/{pipe}/cancel")
    job = _wait(client, pipe)
    assert job["status"] == "cancelled", job


def test_host_and_origin_are_checked(app):
    from fastapi.testclient import TestClient

    for base in ("http://evil.example:7860", "http://rebind.attacker.test", "http://192.168.1.5:7860"):
        r = TestClient(app, base_url=base).get("/api/info")
        assert r.status_code == 400 and "Host header" in r.json()["error"], (base, r.text)
    for base in ("http://localhost:7860", "http://[::1]:7860", BASE):
        assert TestClient(app, base_url=base).get("/api/info").status_code == 200, base
    local = TestClient(app, base_url=BASE)
    tune = _midi_bytes(scale_tune(bars=2))
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        r = local.post("/api/uploads", files={"file": ("t.mid", tune)}, headers=headers)
        assert r.status_code == 403 and "another web site" in r.json()["error"], headers
        r = local.post("/api/generate", json={"model": "tiny"}, headers=headers)
        assert r.status_code == 403, headers
    ok = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}
    assert local.post("/api/uploads", files={"file": ("t.mid", tune)}, headers=ok).status_code == 200
    assert local.get("/api/docs").status_code == 404 and local.get("/api/redoc").status_code == 404
    assert "cdn" not in local.get("/api/openapi.json").text.lower()


@pytest.mark.slow  # 2 s on two busy cores
def test_work_folder_retention(models_dir, tmp_path):
    from fastapi.testclient import TestClient

    app = create_app(tmp_path / "w", models_dir=models_dir, keep_results=2, max_work_mb=0)
    c = TestClient(app, base_url=BASE)
    jobs = [_generate(c, seed=i)["job"] for i in range(4)]
    jobs_dir = app.state.studio.jobs_dir
    assert sorted(p.name for p in jobs_dir.iterdir()) == sorted([*jobs[2:], *(j + ".json" for j in jobs[2:])])
    assert c.get(f"/api/jobs/{jobs[0]}").status_code == 404 and c.get(f"/api/jobs/{jobs[3]}").json()["status"] == "done"

    # a size limit: results with renders (~0.5 MB each) over 0.6 MB -> the oldest go, the newest stays
    app = create_app(tmp_path / "s", models_dir=models_dir, keep_results=100, max_work_mb=0.6)
    c = TestClient(app, base_url=BASE)
    jobs = [_generate(c, seed=i, instruments=["piano"])["job"] for i in range(3)]
    kept = {p.name for p in app.state.studio.jobs_dir.iterdir() if p.is_dir()}
    assert jobs[-1] in kept and jobs[0] not in kept


@pytest.mark.slow
def test_history_survives_a_server_restart(models_dir, tmp_path):
    """A real `tunesmith web` process: a result and a running training; kill -9; start again."""
    import json
    import shutil
    import urllib.request

    workdir = tmp_path / "studio"
    shutil.copytree(models_dir / "tiny", workdir / "models" / "tiny")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TUNESMITH_QUIET="1")
    command = [sys.executable, "-m", "tunesmith", "web", "--port", str(port), "--workdir", str(workdir)]

    def call(path, body=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url + path, data=data, headers={"Content-Type": content_type} if data else {})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def start():
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                call("/api/info")
                return proc
            except OSError:
                time.sleep(0.3)
        proc.kill()
        raise AssertionError("tunesmith web did not start")

    proc = start()
    try:
        done = call("/api/generate", {"model": "tiny", "primer": "C4 E4", "steps": 16, "instruments": [], "plot": False})["job"]
        deadline = time.time() + 60
        while call(f"/api/jobs/{done}")["status"] != "done" and time.time() < deadline:
            time.sleep(0.3)
        boundary = "tunesmithboundary"
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as zf:
            for f in sorted(FOLK.glob("*.mid"))[:40]:
                zf.write(f, f.name)
        form = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="folk.zip"\r\n'
                "Content-Type: application/zip\r\n\r\n"
            ).encode()
            + zbuf.getvalue()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        upload = call("/api/uploads?purpose=training", raw=form, content_type=f"multipart/form-data; boundary={boundary}")
        running = call("/api/melody/train", {"name": "long", "uploads": [upload["id"]], "steps": 100_000, "batch_size": 8})["job"]
        deadline = time.time() + 90
        while call(f"/api/jobs/{running}")["log_total"] == 0 and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(1.2)  # let the history catch up with the progress (written once a second)
        before = call(f"/api/jobs/{running}")
        assert before["status"] == "running" and before["log_total"] > 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert list((workdir / "models").glob(".training-*"))  # the killed training left its temp folder

    proc = start()
    try:
        jobs = {j["id"]: j for j in call("/api/jobs")["jobs"]}
        assert jobs[done]["status"] == "done"
        midi = jobs[done]["result"]["outputs"][0]["urls"]["midi"]
        with urllib.request.urlopen(url + midi, timeout=30) as resp:
            assert resp.read()[:4] == b"MThd"
        after = call(f"/api/jobs/{running}")
        assert after["status"] == "interrupted" and "start it again" in after["message"]
        assert after["log"] and after["progress"] > 0  # its progress and loss rows up to the stop are kept
        assert not list((workdir / "models").glob(".training-*"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- a real browser ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(app):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_raw_traversal_over_http(live_server):
    host, port = live_server.removeprefix("http://").split(":")
    for raw in ("/files/../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd", "/files/..\\..\\etc\\passwd"):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", raw)  # sent as written: no client-side normalisation
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status in (400, 404), (raw, resp.status)
        assert b"root:" not in body


def _start_training(page, name: str, steps: int) -> None:
    """Upload the folk tunes as a zip on the Train tab and start training a model ``name`` (batch 8)."""
    from playwright.sync_api import expect

    page.click(".tabs [data-tab=train]")
    page.set_input_files("#train-files", files=[{"name": "folk.zip", "mimeType": "application/zip", "buffer": _folk_zip()}])
    expect(page.locator("#train-files-status")).to_contain_text("MIDI files")
    page.fill("#train-form [name=name]", name)
    page.fill("#train-form [name=steps]", str(steps))
    page.fill("#train-form [name=batch_size]", "8")
    page.click("#train-btn")


def _folk_zip() -> bytes:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for f in sorted(FOLK.glob("*.mid")):
            zf.write(f, f.name)
    return zbuf.getvalue()


def _browser(p):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt install chromium)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def _open(page, url: str):
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def _fill_form(page, form: str, **values) -> None:
    """Type each value into the field of that name in ``form`` (a CSS selector)."""
    for name, value in values.items():
        page.fill(f"{form} [name={name}]", str(value))


@contextlib.contextmanager
def _studio_page(url: str):
    """A headless Chromium page on the studio at ``url``, ready, with the page errors it raises collected:
    yields ``(page, errors)`` and closes the browser after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, url)
            yield page, errors
        finally:
            browser.close()


# WCAG contrast of each tab's text against the background that is really behind it
CONTRAST_JS = """() => {
  const lum = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (n) => { for (; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor;
    if (c && c !== "transparent" && !/rgba\\(.*, 0\\)$/.test(c)) return c; } return "rgb(255, 255, 255)"; };
  const header = document.querySelector(".top").getBoundingClientRect();
  return [...document.querySelectorAll(".tabs button")].map((b) => {
    const r = b.getBoundingClientRect();
    const [l1, l2] = [lum(getComputedStyle(b).color), lum(bg(b))];
    return { tab: b.dataset.tab, ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05),
      inside_header: r.top >= header.top - 0.5 && r.bottom <= header.bottom + 0.5 };
  });
}"""


@pytest.mark.browser
def test_browser_studio(live_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, live_server + "/#generate")
            expect(page.locator("#gen-model option[value=tiny]")).to_have_count(1)
            page.select_option("#gen-model", "tiny")
            # every setting a musician meets is explained where it is set
            for name in ("steps", "temperature", "beam_size", "qpm", "seed"):
                field = page.locator(f"#gen-form label:has([name={name}])")
                assert len(field.get_attribute("title") or "") > 20 or field.locator(".help").count(), name
            assert "16 steps = 1 bar" in page.locator("#gen-form label:has([name=steps])").inner_text()
            page.screenshot(path=str(ARTIFACTS / "01-start.png"), full_page=True)

            page.click("#keyboard [data-note='C#4']")  # the on-screen keyboard types the note
            expect(page.locator("#primer")).to_have_value("C#4")
            page.fill("#gen-form [name=steps]", "32")
            page.fill("#gen-form [name=qpm]", "90")
            page.click("#generate-btn")
            audio = page.locator("#gen-results audio").first
            audio.wait_for(timeout=60_000)
            wav = page.request.get(live_server + audio.get_attribute("src")).body()
            assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
            samples, rate = soundfile.read(io.BytesIO(wav))
            assert rate > 0 and len(samples) > rate
            roll = page.frame_locator("iframe.roll").first
            roll.locator("canvas").first.wait_for(timeout=30_000)
            score = page.locator("#gen-results img.score").first  # the engraved score beside the piano roll
            score.wait_for(state="attached", timeout=60_000)
            assert page.request.get(live_server + score.get_attribute("src")).body().lstrip().startswith(b"<")
            assert "log-likelihood" in page.locator("#gen-results .meta").first.get_attribute("title")
            expect(page.locator("#gen-results .summary")).to_contain_text("4 primer steps + 32 new steps")
            page.screenshot(path=str(ARTIFACTS / "02-generated.png"), full_page=True)

            with page.expect_download() as download:
                page.locator("a.midi-link").first.click()
            midi = Path(download.value.path()).read_bytes()
            assert _notes(midi)[0][0] == 61
            assert abs(symusic.Score.from_midi(midi).tempos[0].qpm - 90) < 0.5  # the tempo control

            # a bad upload shows a banner; the next good one clears it; the tune is continued from its last 2 bars
            page.set_input_files(
                "#primer-file",
                files=[{"name": "broken.mid", "mimeType": "audio/midi", "buffer": b"MThd\x00\x00\x00\x06 this is not music"}],
            )
            expect(page.locator("#message")).to_contain_text("corrupt")
            expect(page.locator("#primer-file-status")).to_contain_text("broken.mid")
            page.screenshot(path=str(ARTIFACTS / "03-corrupt-upload.png"), full_page=True)
            tune = _midi_bytes(scale_tune(bars=8))
            page.set_input_files("#primer-file", files=[{"name": "scale.mid", "mimeType": "audio/midi", "buffer": tune}])
            expect(page.locator("#primer-file-status")).to_contain_text("scale.mid: MIDI, 32 notes")
            expect(page.locator("#message")).to_be_hidden()
            page.select_option("#gen-primer-bars", "2")
            page.fill("#gen-form [name=steps]", "16")
            page.check("#gen-video")
            page.click("#generate-btn")
            expect(page.locator("#gen-results .summary")).to_contain_text("scale.mid (last 2 bars)", timeout=120_000)
            expect(page.locator("#gen-results .summary")).to_contain_text("+ 16 new steps")
            video = page.locator("#gen-results video").first
            assert page.request.get(live_server + video.get_attribute("src")).body()[4:8] == b"ftyp"
            page.screenshot(path=str(ARTIFACTS / "04-continued.png"), full_page=True)

            # a trained model is listed but never silently selected
            _start_training(page, "browser-model", steps=20)
            expect(page.locator("#train-result")).to_contain_text("is ready", timeout=90_000)
            expect(page.locator("#gen-model option[value=browser-model]")).to_have_count(1)
            assert page.locator("#gen-model").input_value() == "tiny"
            assert page.locator("#pipe-melody-model").input_value() != "browser-model"
            page.screenshot(path=str(ARTIFACTS / "05-trained.png"), full_page=True)

            page.click(".tabs [data-tab=history]")
            expect(page.locator("#history-table")).to_contain_text("train melody model")
            page.locator("#history-table tr:has-text('generate') button").first.click()
            expect(page.locator("#tab-generate")).to_be_visible()
            page.click(".tabs [data-tab=audio]")
            page.screenshot(path=str(ARTIFACTS / "06-audio-tab.png"), full_page=True)
            page.click(".tabs [data-tab=pipeline]")
            from tunesmith.settings import PipelineSettings

            assert page.input_value("#pipe-form [name=n]") == str(PipelineSettings.n)  # filled from /api/info
            assert page.input_value("#audio-gen-form [name=temperature]") == ""  # the model's own
            # every generation option is on both forms, with the library's defaults
            assert page.is_checked("#pipe-form [name=end_on_tonic]") and page.input_value("#pipe-form [name=form]") == "auto"
            assert (
                page.locator("#gen-form [name=meter]").count() == 1
                and page.locator("#pipe-form [data-list=formats]").count() == 3
            )
            page.screenshot(path=str(ARTIFACTS / "07-pipeline-tab.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_phone_and_reload(live_server):
    """390 px wide: no sideways scroll, readable tabs, the roll inside its box; a reload finds a running training."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, live_server + "/#generate")
            page.select_option("#gen-model", "tiny")
            page.fill("#primer", "C4 E4 G4")
            page.fill("#gen-form [name=steps]", "32")
            page.click("#generate-btn")
            page.frame_locator("iframe.roll").first.locator("canvas").first.wait_for(timeout=60_000)
            for tab in ("generate", "edit", "train", "audio", "pipeline", "history"):
                page.click(f".tabs [data-tab={tab}]")
                width = page.evaluate("() => document.documentElement.scrollWidth")
                assert width <= 390, (tab, width)
                page.screenshot(path=str(ARTIFACTS / f"phone-{tab}.png"), full_page=True)
            for tab in page.evaluate(CONTRAST_JS):
                assert tab["ratio"] >= 4.5 and tab["inside_header"], tab
            page.click(".tabs [data-tab=generate]")
            box = page.locator(".roll-box").first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box

            # a long training; the page is reloaded while it runs and finds it, its progress and its Cancel
            _start_training(page, "phone-model", steps=100000)
            expect(page.locator("#train-status")).to_contain_text("step", timeout=90_000)
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            expect(page.locator("#tab-train")).to_be_visible()
            expect(page.locator("#train-status")).to_contain_text("running: step", timeout=30_000)
            expect(page.locator("#train-cancel")).to_be_enabled()
            page.wait_for_function("() => document.querySelector('#train-progress').value > 0", timeout=30_000)
            expect(page.locator("#train-chart polyline").first).to_be_attached()
            expect(page.locator("#gen-results article").first).to_be_attached()  # the last generation is back too
            page.screenshot(path=str(ARTIFACTS / "phone-reloaded-training.png"), full_page=True)
            page.click("#train-cancel")
            expect(page.locator("#train-status")).to_contain_text("cancelled", timeout=60_000)
            expect(page.locator("#train-result")).to_contain_text("stopped early")
            assert page.locator("#gen-model").input_value() == "tiny"
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_records_a_phrase(live_server, tmp_path):
    """The microphone (Chromium's fake device playing a synthesised phrase) -> WAV upload -> transcribed primer -> continued."""
    from playwright.sync_api import expect, sync_playwright

    rate = 48000
    phrase = []
    for pitch in (60, 64, 67, 72):  # C4 E4 G4 C5, half a second each with a short gap
        t = np.arange(int(0.45 * rate)) / rate
        tone = np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * np.minimum(1, np.minimum(t, t[::-1]) * 50)
        phrase += [0.5 * tone, np.zeros(int(0.05 * rate))]
    phrase.append(np.zeros(rate // 2))
    wav = tmp_path / "phrase.wav"
    soundfile.write(wav, np.concatenate(phrase).astype(np.float32), rate, subtype="PCM_16")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as p:
        if not CHROMIUM.exists():
            pytest.skip("/usr/bin/chromium is not installed (apt install chromium)")
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["microphone"])
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, live_server + "/#generate")
            page.select_option("#gen-model", "tiny")
            page.click("#rec-start")
            expect(page.locator("#rec-status")).to_contain_text("recording… 2 s", timeout=15_000)
            page.click("#rec-stop")
            expect(page.locator("#primer-file-status")).to_contain_text("recording.wav: audio", timeout=30_000)
            expect(page.locator("#primer-file-status")).to_contain_text("(recorded)")
            expect(page.locator("#rec-audio")).to_be_visible()
            page.select_option("#gen-primer-bars", "")  # the whole recording
            page.fill("#gen-form [name=steps]", "16")
            page.click("#generate-btn")
            summary = page.locator("#gen-results .summary")
            expect(summary).to_contain_text("primer recording.wav", timeout=120_000)
            expect(summary).to_contain_text("+ 16 new steps")
            midi = page.request.get(live_server + page.locator("a.midi-link").first.get_attribute("href")).body()
            primer_steps = int(summary.inner_text().split(" primer steps")[0].rsplit(" ", 1)[-1])
            score = symusic.Score.from_midi(midi)
            tpq = score.tpq
            primer_pitches = [n.pitch for t in score.tracks for n in t.notes if n.time < primer_steps * tpq // 4]
            assert len(primer_pitches) >= 3, primer_pitches  # the sung phrase came back as notes
            assert sum(p % 12 in (0, 4, 7) for p in primer_pitches) >= 0.75 * len(primer_pitches), primer_pitches
            page.screenshot(path=str(ARTIFACTS / "08-recorded.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_browser_keyboard_warnings_reload_and_phone_roll(live_server):
    """One desktop and one phone session: the skip link and the tabs pattern, announced status lines, the folder
    field off without --data-root, warnings on the page, the form back after a reload, a cancelled generate's
    melodies shown; on a phone the whole piano roll and score reachable by scrolling their boxes."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, live_server + "/")
            for sel in (
                "#gen-status",
                "#train-status",
                "#audio-status",
                "#audio-gen-status",
                "#pipe-status",
                "#primer-file-status",
            ):
                assert page.get_attribute(sel, "aria-live") == "polite" and page.get_attribute(sel, "role") == "status", sel
            active = "() => document.activeElement.id"
            page.keyboard.press("Tab")  # the first Tab stop skips to Generate
            assert page.evaluate(active) == "skip-generate"
            page.keyboard.press("Enter")
            assert page.evaluate(active) == "generate-btn"

            # tabs: one Tab stop, arrows (wrapping), Home and End; the panel follows
            page.focus("#tabbtn-generate")
            for key, tab in (
                ("ArrowRight", "edit"),
                ("End", "history"),
                ("ArrowRight", "generate"),
                ("ArrowLeft", "history"),
                ("Home", "generate"),
                ("ArrowRight", "edit"),
            ):
                page.keyboard.press(key)
                assert page.evaluate(active) == f"tabbtn-{tab}", key
                assert page.get_attribute(f"#tabbtn-{tab}", "aria-selected") == "true"
                expect(page.locator(f"#tab-{tab}")).to_be_visible()
                assert page.locator(".tabs [role=tab][tabindex='0']").count() == 1
            assert page.get_attribute("#tab-train", "role") == "tabpanel"
            expect(page.locator("#train-folder")).to_be_disabled()  # this studio was started without --data-root
            assert "--data-root" in page.get_attribute("#train-folder", "placeholder")
            page.keyboard.press("Home")

            # what the library warns about is on the page; the form comes back after a reload
            page.select_option("#gen-model", "tiny")
            page.fill("#primer", "C1 E1 G1")
            page.fill("#gen-form [name=steps]", "24")
            page.fill("#gen-form [name=n]", "1")
            page.fill("#gen-form [name=seed]", "7")
            page.fill("#gen-form [name=temperature]", "1.3")
            page.click("#generate-btn")
            expect(page.locator("#gen-status")).to_contain_text("done: 1 melody:", timeout=60_000)
            expect(page.locator("#gen-warnings")).to_contain_text("moved by octaves")
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            for name, value in (("primer", "C1 E1 G1"), ("steps", "24"), ("n", "1"), ("seed", "7"), ("temperature", "1.3")):
                assert page.input_value(f"#gen-form [name={name}]") == value, name
            expect(page.locator("#gen-warnings")).to_contain_text("moved by octaves")

            # Cancel while files are written: the melodies written so far are shown
            page.fill("#gen-form [name=n]", "16")
            page.fill("#gen-form [name=steps]", "64")
            page.click("#generate-btn")
            expect(page.locator("#gen-status")).to_contain_text("writing files for melody", timeout=60_000)
            page.click("#gen-cancel")
            expect(page.locator("#gen-results .summary")).to_contain_text("cancelled", timeout=60_000)
            assert 1 <= page.locator("#gen-results article").count() < 16
            page.screenshot(path=str(ARTIFACTS / "web-desktop-cancelled.png"), full_page=True)
            assert not errors, errors

            phone = browser.new_page(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(phone, live_server + "/#generate")
            phone.select_option("#gen-model", "tiny")
            phone.fill("#primer", "C4 E4 G4")
            phone.fill("#gen-form [name=steps]", "160")
            phone.fill("#gen-form [name=n]", "1")
            phone.click("#generate-btn")
            expect(phone.locator("#gen-status")).to_contain_text("done: 1 melody: 12 primer + 160", timeout=60_000)
            phone.frame_locator("iframe.roll").first.locator("canvas").first.wait_for(timeout=60_000)
            phone.locator("#gen-results img.score").first.wait_for(timeout=60_000)
            sizes = """() => { const f = document.querySelector('iframe.roll'), box = f.parentElement;
              const score = document.querySelector('.score-box'), img = score.querySelector('img');
              return { frame: f.clientWidth, plot: f.contentDocument.documentElement.scrollWidth, box: box.clientWidth,
                       boxScroll: box.scrollWidth, score: score.clientWidth, scoreScroll: score.scrollWidth,
                       img: img.naturalWidth ? img.clientWidth : -1, page: document.documentElement.scrollWidth }; }"""
            phone.wait_for_function("() => document.querySelector('iframe.roll').clientWidth > 600", timeout=20_000)
            s = phone.evaluate(sizes)
            assert s["frame"] >= s["plot"] and s["boxScroll"] >= s["frame"] > s["box"], s  # the whole roll, by scrolling
            assert s["scoreScroll"] > s["score"] and s["img"] > s["score"], s  # the score keeps its size and scrolls
            assert s["page"] <= 390, s  # the page itself does not scroll sideways
            phone.screenshot(path=str(ARTIFACTS / "web-phone-roll.png"), full_page=True)
            phone.evaluate("() => { for (const b of document.querySelectorAll('.roll-box')) b.scrollLeft = b.scrollWidth; }")
            phone.screenshot(path=str(ARTIFACTS / "web-phone-roll-end.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_edit_tab(live_server):
    """The Edit tab: upload a tune, press two bars, rewrite them (versions side by side, kept bars marked, audio that
    plays), variations of the same tune, a melody over typed chords, and a melody of the last generation as the tune."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            _open(page, live_server + "/#edit")
            expect(page.locator("#tab-edit")).to_be_visible()
            page.select_option("#edit-model", "tiny")
            page.fill("#edit-form [name=n]", "2")
            tune = _midi_bytes(scale_tune(bars=8))
            page.set_input_files("#edit-file", files=[{"name": "scale.mid", "mimeType": "audio/midi", "buffer": tune}])
            expect(page.locator("#edit-file-status")).to_contain_text("scale.mid: MIDI, 32 notes")
            expect(page.locator("#edit-tune button.bar")).to_have_count(8)
            expect(page.locator("#edit-tune button.bar").first.locator("rect")).to_have_count(4)  # 4 quarter notes a bar
            page.click("#edit-tune [data-bar='3']")
            page.click("#edit-tune [data-bar='4']")
            expect(page.locator("#edit-bars")).to_have_value("3-4")
            expect(page.locator("#edit-tune [data-bar='4']")).to_have_attribute("aria-pressed", "true")
            page.screenshot(path=str(ARTIFACTS / "edit-01-bars-chosen.png"), full_page=True)
            page.click("#edit-infill-btn")
            versions = page.locator("#edit-results .version")
            expect(versions).to_have_count(2, timeout=60_000)
            expect(page.locator("#edit-results .summary")).to_contain_text("rewritten bars of scale.mid")
            expect(page.locator("#edit-results .original .bar")).to_have_count(8)  # the original beside the versions
            for i in range(2):
                version = versions.nth(i)
                assert version.locator(".bar.new").evaluate_all("els => els.map(e => e.dataset.bar)") == ["3", "4"]
                expect(version.locator(".bar.kept")).to_have_count(6)
                wav = page.request.get(live_server + version.locator("audio").get_attribute("src")).body()
                assert wav[:4] == b"RIFF"
            boxes = [versions.nth(i).bounding_box() for i in range(2)]
            assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"]  # side by side
            page.screenshot(path=str(ARTIFACTS / "edit-02-rewritten.png"), full_page=True)

            page.select_option("#edit-strength", "new")
            page.click("#edit-vary-btn")
            expect(page.locator("#edit-results .summary")).to_contain_text("variations of scale.mid", timeout=60_000)
            expect(versions.first.locator(".meta").first).to_contain_text("new, bars")
            assert versions.first.locator(".bar.kept").count() >= 1  # the cadences stay

            page.fill("#edit-progression", "C G Am F")
            page.click("#edit-chords-btn")
            expect(page.locator("#edit-results .summary")).to_contain_text("melodies over chords", timeout=60_000)
            assert versions.first.locator(".bar-chord").all_inner_texts() == ["C", "G", "Am", "F"]
            expect(versions.first.locator(".chords")).to_contain_text("chords: C G Am F")
            page.screenshot(path=str(ARTIFACTS / "edit-03-over-chords.png"), full_page=True)

            # an ABC tune, its bars rewritten over its own chord symbols
            expect(page.locator("#edit-file-field")).to_contain_text("Upload a MIDI, ABC or MusicXML tune")
            assert ".abc" in page.get_attribute("#edit-file", "accept").split(",")
            page.fill("#edit-progression", "")
            page.set_input_files("#edit-file", files=[{"name": "reel.abc", "mimeType": "text/plain", "buffer": _reel_abc()}])
            expect(page.locator("#edit-file-status")).to_contain_text(f"reel.abc: ABC tune, {len(_reel_notes())} notes")
            expect(page.locator("#edit-tune button.bar")).to_have_count(8)
            page.check("#edit-form [name=own_chords]")
            page.fill("#edit-bars", "3-4")
            page.click("#edit-infill-btn")
            expect(page.locator("#edit-results .summary")).to_contain_text("rewritten bars of reel.abc", timeout=60_000)
            assert versions.first.locator(".bar-chord").all_inner_texts() == REEL_CHORDS
            expect(versions.first.locator(".bar.kept")).to_have_count(6)
            page.screenshot(path=str(ARTIFACTS / "edit-04-abc-own-chords.png"), full_page=True)
            page.uncheck("#edit-form [name=own_chords]")

            # a melody of the last generation is a tune to edit, too
            page.click(".tabs [data-tab=generate]")
            page.select_option("#gen-model", "tiny")
            page.fill("#primer", "C4 E4 G4")
            page.fill("#gen-form [name=steps]", "52")
            page.click("#generate-btn")
            expect(page.locator("#gen-results .summary")).to_contain_text("+ 52 new steps", timeout=120_000)
            page.click(".tabs [data-tab=edit]")
            page.select_option("#edit-source", label="melody_01 of the last generation")
            expect(page.locator("#edit-file-field")).to_be_hidden()
            expect(page.locator("#edit-tune button.bar")).to_have_count(4)
            page.fill("#edit-bars", "2")
            page.click("#edit-infill-btn")
            expect(page.locator("#edit-results .summary")).to_contain_text("rewritten bars of melody_01", timeout=60_000)
            page.reload()  # the tune chosen and the last edit come back
            page.wait_for_selector("body[data-ready='1']")
            expect(page.locator("#edit-tune button.bar")).to_have_count(4)
            expect(page.locator("#edit-results .summary")).to_contain_text("rewritten bars of melody_01")
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_generates_with_the_polyphonic_model(live_server):
    """Generate lists the shipped polyphonic model as such; its pieces show a player, the piano roll by part, the
    score and a MIDI download, and options it does not use are named."""
    from playwright.sync_api import expect

    with _studio_page(live_server + "/#generate") as (page, errors):
        expect(page.locator("#gen-model option[value=polyphonic-default]")).to_have_text(
            "polyphonic-default (shipped) (polyphonic)"
        )
        expect(page.locator("#edit-model option[value=polyphonic-default]")).to_have_count(0)  # Edit rewrites melodies
        page.select_option("#gen-model", "polyphonic-default")
        page.fill("#primer", POLY_PRIMER)
        _fill_form(page, "#gen-form", n=1, bars=4, steps=40)
        page.click("#generate-btn")
        expect(page.locator("#gen-status")).to_contain_text("done: 1 piece", timeout=120_000)
        expect(page.locator("#gen-results .summary")).to_contain_text("melody + accompaniment")
        expect(page.locator("#gen-results .note")).to_contain_text("does not use steps")
        expect(page.locator("#gen-results .meta").first).to_contain_text("melody,")
        roll = page.locator("#gen-results img.roll-png").first
        assert page.request.get(live_server + roll.get_attribute("src")).body()[:4] == b"\x89PNG"
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", roll.element_handle())
        wav = page.request.get(live_server + page.locator("#gen-results audio").first.get_attribute("src")).body()
        assert wav[:4] == b"RIFF"
        expect(page.locator("#gen-results img.score")).to_have_count(1)
        with page.expect_download() as download:
            page.locator("a.midi-link").first.click()
        assert len(symusic.Score.from_midi(Path(download.value.path()).read_bytes()).tracks) == 2
        page.screenshot(path=str(ARTIFACTS / "polyphonic-generated.png"), full_page=True)
        assert not errors, errors
