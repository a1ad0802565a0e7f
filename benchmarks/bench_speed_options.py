"""Training speed options measured (issue 12): bf16 autocast, torch.compile, larger batches; prints one JSON object.

    .venv/bin/python benchmarks/bench_speed_options.py [--steps 12] [--quick]

For basic_rnn (whole melodies, batch 128) and the transformer (128-step windows, batch 32) on the
benchmark corpus: real (unpadded) training steps per second under each option, same data, same
machine, one process. torch.compile's first steps (compilation) are reported apart from its speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine  # noqa: E402
from tunesmith.data.corpus import prepare_corpus  # noqa: E402
from tunesmith.melody.dataset import load_tokens  # noqa: E402
from tunesmith.melody.model import preset  # noqa: E402
from tunesmith.melody.train import MelodyTask  # noqa: E402


def measure(config, tokens, precision: str, compile_model: bool, steps: int) -> dict:
    torch.manual_seed(0)
    task = MelodyTask(config, tokens, None, seed=0, device=torch.device("cpu"), precision=precision)
    optimizer = task.make_optimizer()
    if compile_model:
        task.model = torch.compile(task.model)
    per_epoch = task.batches_per_epoch()

    def step(i: int) -> None:
        loss, _ = task.loss(task.batch(*divmod(i, per_epoch)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.model.parameters(), config.clip_norm)
        optimizer.step()

    start = time.perf_counter()
    for i in range(2):  # warm-up (and compilation)
        step(i)
    warmup = time.perf_counter() - start
    task.real_steps = 0
    start = time.perf_counter()
    for i in range(2, 2 + steps):
        step(i)
    seconds = time.perf_counter() - start
    return {
        "steps_per_s": round(steps / seconds, 3),
        "real_steps_per_s": round(task.real_steps / seconds),
        "warmup_seconds": round(warmup, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (it needs a C++ compiler)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tunesmith-speed-"))
    prepare_corpus(TEST_FOLK if args.quick else FOLK / "train", work, progress=False, eval_ratio=0.0)
    steps = 1 if args.quick else args.steps
    results = {}
    for name in ("basic_rnn", "transformer"):
        base = preset(name, **({"batch_size": 8} if args.quick else {}))
        tokens = load_tokens(work, "train", base.melody_encoding)
        options = {
            "fp32": (base, "fp32", False),
            "bf16": (base, "bf16", False),
            "bf16_batch_x2": (preset(name, batch_size=base.batch_size * 2), "bf16", False),
        }
        if not args.no_compile and not args.quick:
            options["bf16_compile"] = (base, "bf16", True)
        results[name] = {}
        for label, (config, precision, compiled) in options.items():
            try:
                results[name][label] = {"batch_size": config.batch_size, **measure(config, tokens, precision, compiled, steps)}
            except Exception as exc:  # a compile failure is a finding, not a crash
                results[name][label] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    emit({"benchmark": "speed_options", "machine": machine(), "steps": steps, "results": results})


if __name__ == "__main__":
    main()
