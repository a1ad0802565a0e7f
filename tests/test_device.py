"""The device/thread choice: OMP_NUM_THREADS and the CPU affinity are honoured, the model picks the default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tunesmith.cli import build_parser
from tunesmith.core.device import available_cpus, default_threads, pick_device, thread_limit, use_threads
from tunesmith.core.errors import BadInputError

SRC = Path(__file__).resolve().parents[1] / "src"
PROBE = (
    "import json, torch\n"
    "from tunesmith.core.device import available_cpus, default_threads, thread_limit\n"
    "print(json.dumps([available_cpus(), thread_limit(), default_threads(), default_threads(recurrent=True, units=128)]))"
)


def _probe(env: dict, preexec=None) -> list[int]:
    env = {**os.environ, "PYTHONPATH": str(SRC), **env}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, preexec_fn=preexec, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_omp_num_threads_is_the_limit(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_limit() == 3
    assert default_threads() == 3  # the transformer takes all it may
    assert default_threads(processes=2) == 1  # DDP ranks share the limit
    assert default_threads(recurrent=True, units=128) == 1
    assert default_threads(recurrent=True, units=1024) == 3  # a big RNN: unmeasured, use what is allowed
    monkeypatch.setenv("OMP_NUM_THREADS", "nonsense")
    assert thread_limit() == available_cpus()


@pytest.mark.slow  # 5 s on two busy cores
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_cpu_affinity_is_the_limit_in_a_pinned_process():
    env = {"OMP_NUM_THREADS": ""}
    cpus, limit, default, rnn = _probe(env, preexec=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    assert (cpus, limit, default, rnn) == (1, 1, 1, 1)
    cpus, limit, default, rnn = _probe(env)
    assert cpus == limit == default == len(os.sched_getaffinity(0))
    assert rnn == 1


def test_use_threads_sets_torch_and_rejects_zero():
    before = torch.get_num_threads()
    try:
        assert use_threads(1) == 1 and torch.get_num_threads() == 1
        assert use_threads(None, recurrent=True, units=64) == 1
        with pytest.raises(BadInputError, match="--threads 0"):
            use_threads(0)
    finally:
        torch.set_num_threads(before)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.slow
def test_training_uses_the_model_default_and_restores_threads(tmp_path, folk_dir, monkeypatch):
    from tunesmith.melody.train import train_melody_model

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    small = dict(batch_size=4, layers=[32], max_steps=64, eval_every=10**6, checkpoint_every=10**6, progress=False)
    rnn = train_melody_model(folk_dir, tmp_path / "rnn", "basic_rnn", steps=2, **small)
    assert rnn["threads"] == 1
    assert torch.get_num_threads() == 2  # put back for whatever runs after training
    pinned = train_melody_model(tmp_path / "rnn" / "corpus", tmp_path / "t", "transformer", steps=2, threads=1, **small)
    assert pinned["threads"] == 1
    default = train_melody_model(tmp_path / "rnn" / "corpus", tmp_path / "t2", "transformer", steps=2, **small)
    assert default["threads"] == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["melody", "train", "data", "-o", "m", "--threads", "1"],
        ["melody", "generate", "-o", "o", "--threads", "1"],
        ["audio", "train", "clip.wav", "-o", "m", "--threads", "1"],
        ["audio", "generate", "--seed-clip", "c.wav", "-o", "o", "--threads", "1"],
        ["pipeline", "clip.wav", "-o", "o", "--threads", "1"],
    ],
)
def test_threads_option_on_heavy_commands(argv):
    assert build_parser().parse_args(argv).threads == 1


def test_bf16_asked_for_on_a_cpu_without_it_trains_in_fp32_with_a_warning():
    """oneDNN has no bf16 LSTM on a CPU without AVX512-BF16/AMX: "bf16" then means fp32, said once, not a crash."""
    import warnings

    from tunesmith.core.training import _bf16_supported, use_bf16

    cpu = torch.device("cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert use_bf16("bf16", cpu) is _bf16_supported(cpu)
        assert use_bf16("fp32", cpu) is False and use_bf16("auto", cpu) is _bf16_supported(cpu)
    said = [str(w.message) for w in caught if "no bf16 arithmetic" in str(w.message)]
    assert len(said) == (0 if _bf16_supported(cpu) else 1)
