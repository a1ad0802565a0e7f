"""The web studio: API tests through FastAPI's TestClient, and one real-browser run in headless Chromium.

A tiny melody model is trained once for this module (10 steps on the folk tunes) so the tests do not
depend on the shipped model; the server is pointed at a models folder holding it.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import soundfile
import symusic

from tunesmith.web.server import create_app, inside, safe_name

FOLK = Path(__file__).parent / "data" / "folk"
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

    with TestClient(app) as c:
        yield c


def _generate(client, **kwargs):
    body = {"model": "tiny", "primer": "C#4", "n": 1, "steps": 48, "instruments": [], "plot": False, **kwargs}
    return client.post("/api/generate", json=body)


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
    """The page's forms, the CLI and run_pipeline start from the same values (tunesmith.defaults)."""
    import inspect

    from tunesmith import defaults
    from tunesmith.pipeline import run_pipeline

    forms = client.get("/api/info").json()["defaults"]
    signature = inspect.signature(run_pipeline).parameters
    for name in ("n", "steps", "temperature", "seconds", "audio_epochs"):
        assert forms["pipe-form"][name] == signature[name].default
    assert forms["pipe-form"]["instruments"] == list(defaults.PIPELINE_INSTRUMENTS)
    assert forms["audio-gen-form"]["seconds"] == defaults.AUDIO_SECONDS
    # sampling settings are left to the model's config: None here, as in the CLI
    assert forms["audio-gen-form"]["temperature"] is None and forms["audio-gen-form"]["random_chance"] is None
    assert forms["audio-train-form"]["epochs"] == defaults.AUDIO_EPOCHS


def test_generate_from_c_sharp(client):
    r = client.post("/api/generate", json={"model": "tiny", "primer": "C#4", "n": 2, "steps": 64, "instruments": ["piano"]})
    assert r.status_code == 200, r.text
    result = r.json()
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
    ]
    for extra, status, words in cases:
        r = _generate(client, **extra)
        assert r.status_code == status, (extra, r.text)
        assert words in r.json()["error"]


def test_corrupt_uploads_give_messages(client):
    good = sorted(FOLK.glob("*.mid"))[0].read_bytes()
    bad = [
        ("truncated.mid", good[: len(good) // 3], "corrupt"),
        ("text.mid", b"not a MIDI file\n", "not a MIDI file"),
        ("noise.wav", b"RIFF\x00\x00" + bytes(300), "not a MIDI file"),
        ("empty.mid", b"", "empty"),
        ("broken.zip", b"PK\x03\x04" + bytes(100), "zip"),
    ]
    for name, data, words in bad:
        r = client.post("/api/uploads", files={"file": (name, data)})
        assert 400 <= r.status_code < 500, (name, r.text)
        assert words in r.json()["error"], (name, r.json())
    r = client.post("/api/uploads", files={"file": ("tune.mid", good)})
    assert r.status_code == 200 and r.json()["kind"] == "midi"
    upload = r.json()["id"]
    r = _generate(client, primer_upload=upload)
    assert r.status_code == 200, r.text


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

    small = TestClient(create_app(tmp_path / "w", max_upload_mb=0.01, models_dir=models_dir))
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


def test_twenty_concurrent_generations(client, models_dir, tmp_path):
    from tunesmith.compose import generate_to_dir

    expected = {}
    for seed in range(20):  # the same requests one after another, straight through the library
        generate_to_dir(models_dir / "tiny", "C#4", tmp_path / str(seed), 1, steps=48, seed=seed)
        expected[seed] = _notes((tmp_path / str(seed) / "melody_01.mid").read_bytes())
    assert len({tuple(v) for v in expected.values()}) == 20

    def one(seed):
        r = _generate(client, seed=seed, instruments=["piano"])
        assert r.status_code == 200, r.text
        out = r.json()
        return seed, out["job"], client.get(out["outputs"][0]["urls"]["midi"]).content, out["settings"]["seed"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert len({job for _, job, _, _ in results}) == 20
    for seed, _, midi, reported in results:
        assert reported == seed and _notes(midi) == expected[seed]


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


def _wait(client, job_id: str, seconds: float = 60) -> dict:
    deadline = time.time() + seconds
    job = client.get(f"/api/jobs/{job_id}").json()
    while job["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/jobs/{job_id}").json()
    return job


def test_audio_model_and_pipeline_jobs(client, tmp_path):
    import numpy as np

    rate = 44100
    t = np.arange(int(2.5 * rate)) / rate
    tones = np.where(t % 0.5 < 0.25, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 330 * t))
    soundfile.write(tmp_path / "clip.wav", (0.4 * tones).astype(np.float32), rate)
    clip = client.post("/api/uploads", files={"file": ("clip.wav", (tmp_path / "clip.wav").read_bytes())}).json()
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
    assert job["status"] == "done", job
    model = job["result"]["model"]
    assert {"name": model, "kind": "audio"}.items() <= next(
        m for m in client.get("/api/models").json()["models"] if m["name"] == model
    ).items()
    gen = client.post(
        "/api/audio/generate", json={"model": model, "clip_upload": clip["id"], "seconds": 1, "griffin_lim_iters": 4}
    )
    job = _wait(client, gen.json()["job"])
    assert job["status"] == "done", job
    wav = client.get(job["result"]["outputs"][0]).content
    assert soundfile.read(io.BytesIO(wav))[0].shape[0] >= 44100
    assert client.get(job["result"]["spectrograms"][0]).content[:4] == b"\x89PNG"
    wrong = client.post("/api/audio/generate", json={"model": "tiny", "clip_upload": clip["id"]})
    assert wrong.status_code == 400 and "not an audio model" in wrong.json()["error"]
    job = _wait(client, pipe.json()["job"])
    assert job["status"] == "done", job
    assert "<html" in client.get(job["result"]["index"]).text.lower()


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


@pytest.mark.browser
def test_browser_studio(live_server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt install chromium)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(live_server + "/")
            expect(page.locator("#gen-model option[value=tiny]")).to_have_count(1)
            page.select_option("#gen-model", "tiny")
            page.screenshot(path=str(ARTIFACTS / "01-start.png"), full_page=True)

            page.click("#keyboard [data-note='C#4']")  # the on-screen keyboard types the note
            expect(page.locator("#primer")).to_have_value("C#4")
            page.fill("#primer", "C#4")
            page.fill("#gen-form [name=steps]", "64")
            page.click("#generate-btn")
            audio = page.locator("#gen-results audio").first
            audio.wait_for(timeout=60_000)
            wav = page.request.get(live_server + audio.get_attribute("src")).body()
            assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
            samples, rate = soundfile.read(io.BytesIO(wav))
            assert rate > 0 and len(samples) > rate
            roll = page.frame_locator("iframe.roll").first
            roll.locator("canvas").first.wait_for(timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "02-generated.png"), full_page=True)

            with page.expect_download() as download:
                page.locator("a.midi-link").first.click()
            midi = Path(download.value.path()).read_bytes()
            assert _notes(midi)[0][0] == 61

            page.set_input_files(
                "#primer-file",
                files=[{"name": "broken.mid", "mimeType": "audio/midi", "buffer": b"MThd\x00\x00\x00\x06 this is not music"}],
            )
            expect(page.locator("#message")).to_contain_text("corrupt")
            expect(page.locator("#primer-file-status")).to_contain_text("broken.mid")
            page.screenshot(path=str(ARTIFACTS / "03-corrupt-upload.png"), full_page=True)

            page.click(".tabs [data-tab=train]")
            zbuf = io.BytesIO()
            with zipfile.ZipFile(zbuf, "w") as zf:
                for f in sorted(FOLK.glob("*.mid")):
                    zf.write(f, f.name)
            page.set_input_files(
                "#train-files", files=[{"name": "folk.zip", "mimeType": "application/zip", "buffer": zbuf.getvalue()}]
            )
            expect(page.locator("#train-files-status")).to_contain_text("MIDI files")
            page.fill("#train-form [name=name]", "browser-model")
            page.fill("#train-form [name=steps]", "20")
            page.fill("#train-form [name=batch_size]", "8")
            page.click("#train-btn")
            expect(page.locator("#train-result")).to_contain_text("is ready", timeout=60_000)
            expect(page.locator("#gen-model option[value=browser-model]")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "04-trained.png"), full_page=True)

            page.click(".tabs [data-tab=audio]")
            page.screenshot(path=str(ARTIFACTS / "05-audio-tab.png"), full_page=True)
            page.click(".tabs [data-tab=pipeline]")
            from tunesmith import defaults

            assert page.input_value("#pipe-form [name=n]") == str(defaults.PIPELINE_OUTPUTS)  # filled from /api/info
            assert page.input_value("#audio-gen-form [name=temperature]") == ""  # the model's own
            page.screenshot(path=str(ARTIFACTS / "06-pipeline-tab.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
