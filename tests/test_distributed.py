"""DDP: torchrun with 2 CPU processes (gloo) trains the same model on both ranks, checkpoints from rank 0,
and its eval loss tracks a single-process run with the same global batch."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunesmith.data.corpus import prepare_corpus
from tunesmith.melody.train import train_melody_model

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed beside this Python")
def test_torchrun_two_processes(tmp_path):
    from conftest import FOLK

    corpus = tmp_path / "corpus"
    prepare_corpus(FOLK, corpus, eval_ratio=0.25, progress=False, workers=1)
    common = [
        "--config",
        "basic_rnn",
        "--steps",
        "16",
        "--eval-every",
        "8",
        "--checkpoint-every",
        "8",
        "--layers",
        "32,32",
        "--seed",
        "0",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            str(TORCHRUN),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "tunesmith",
            "--quiet",
            "melody",
            "train",
            str(corpus),
            "-o",
            str(tmp_path / "ddp"),
            "--batch-size",
            "4",
            *common,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "weights identical on all ranks: True" in proc.stdout
    single = train_melody_model(
        corpus, tmp_path / "single", "basic_rnn", steps=16, eval_every=8, batch_size=8, layers=[32, 32], seed=0, progress=False
    )
    ddp_rows = [json.loads(r) for r in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    ddp_eval = [r["loss"] for r in ddp_rows if r["split"] == "eval"]
    assert len(ddp_eval) == 2
    assert abs(ddp_eval[-1] - single["eval"]["loss"]) < 0.1 * single["eval"]["loss"]
    # resume with another world size (1 process) continues from the rank-0 checkpoint
    shutil.copytree(tmp_path / "ddp", tmp_path / "resumed")
    more = train_melody_model(
        corpus,
        tmp_path / "resumed",
        "basic_rnn",
        steps=20,
        eval_every=4,
        resume=True,
        batch_size=4,
        layers=[32, 32],
        progress=False,
    )
    assert more["step"] == 20
