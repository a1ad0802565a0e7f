"""Each benchmark runs in --quick mode and prints one JSON object of the right shape (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # benchmark subprocesses, each a fresh interpreter

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
# the audio, transcription, render and reliability benchmarks are shape-checked beside their own tests
OWN_TESTS = ("bench_reliability", "bench_audio_train", "bench_audio_generate", "bench_transcribe", "bench_render")
SCRIPTS = sorted(p for p in BENCH.glob("bench_*.py") if p.stem not in OWN_TESTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_quick_json(script):
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert data["benchmark"] and data["machine"]["cpu_count"] >= 1 and "device" in data["machine"]
