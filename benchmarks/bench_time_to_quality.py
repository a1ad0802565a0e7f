"""Time to quality: wall time for each melody config to reach Magenta basic_rnn's held-out loss.

Target: 1.176 nats/step, Magenta 2.1.4 basic_rnn after 750 x 128 sequences on the shared split
(folk-melodies train -> heldout), which took Magenta ~11 minutes on this 2-core machine (its REPORT.md:
750 steps at 1.134 steps/s = 661 s). Goal (issue 24): the default config in <= 1/20 of that.

Each config trains as shipped (its preset, seed 0, precision auto, its default thread choice from
tunesmith.core.device; nothing overrides threads) through the same library call path the CLI uses
(``run_training`` with a ``MelodyTask``), on ALL of the train folder, evaluated on the held-out folder
as Magenta evaluates (every step of every melody, Magenta's extraction settings). The clock stops at
the first evaluation at or below the target; time spent evaluating is reported and subtracted.

    python benchmarks/bench_time_to_quality.py                     # every config, 15 min budget each
    python benchmarks/bench_time_to_quality.py --configs transformer --budget 600

Prints one JSON object (load average recorded before and after each config).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine  # noqa: E402
from tunesmith.core.training import TrainSettings, run_training  # noqa: E402
from tunesmith.data.corpus import prepare_corpus  # noqa: E402
from tunesmith.melody.dataset import load_tokens  # noqa: E402
from tunesmith.melody.model import (
    DEFAULT_CONFIG,  # noqa: E402
    preset,  # noqa: E402
)
from tunesmith.melody.train import MelodyTask, evaluate_tokens  # noqa: E402
from tunesmith.music.midi import ExtractionSettings  # noqa: E402

TARGET = 1.176
MAGENTA_SECONDS = 661.0  # 750 steps at 1.134 steps/s (Magenta REPORT.md, same machine)
EVAL_EVERY = {"basic_rnn": 25, "lookback_rnn": 25, "attention_rnn": 25, "transformer": 50}


class HeldOutTask(MelodyTask):
    """The melody task evaluated as Magenta evaluates: every step of every held-out melody (no length cap)."""

    def evaluate(self) -> dict[str, float]:
        return evaluate_tokens(self.model, self.encoding, self.eval_set, None, self.device)


def time_to_target(
    name: str, train_dir: Path, heldout_dir: Path, work: Path, budget: float, target: float, batch: int | None = None
) -> dict:
    cfg = preset(name, batch_size=batch)
    train = load_tokens(train_dir, "train", cfg.melody_encoding)
    heldout = load_tokens(heldout_dir, "eval", cfg.melody_encoding)
    torch.manual_seed(0)  # as train_melody_model does: same seed, same initial weights
    task = HeldOutTask(cfg, train, heldout, seed=0)
    stop = threading.Event()
    marks: dict = {"evals": [], "eval_seconds": 0.0}
    began = time.perf_counter()

    def on_log(row: dict) -> None:
        now = time.perf_counter()
        if row["split"] == "train":
            marks["before_eval"] = now
            return
        marks["eval_seconds"] += now - marks.get("before_eval", now)
        point = {"step": row["step"], "loss": round(row["loss"], 4), "seconds": round(now - began - marks["eval_seconds"], 1)}
        marks["evals"].append(point)
        if row["loss"] <= target and "reached" not in marks:
            marks["reached"] = point
            stop.set()

    settings = TrainSettings(
        steps=10**7,
        eval_every=EVAL_EVERY.get(name, 25),
        checkpoint_every=10**7,
        log_every=EVAL_EVERY.get(name, 25),
        clip_norm=cfg.clip_norm,
        seed=0,
        progress=False,
        max_seconds=budget,
        stop_event=stop,
        on_log=on_log,
    )
    load = os.getloadavg()[0]
    result = run_training(task, work / name, settings)
    reached = marks.get("reached")
    return {
        "threads": result["threads"],
        "reached": reached is not None,
        "seconds_to_target": reached["seconds"] if reached else None,
        "steps_to_target": reached["step"] if reached else None,
        "vs_magenta_time": round(MAGENTA_SECONDS / reached["seconds"], 1) if reached else None,
        "best_loss": min((e["loss"] for e in marks["evals"]), default=None),
        "eval_seconds_excluded": round(marks["eval_seconds"], 1),
        "curve": marks["evals"],
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = DEFAULT_CONFIG  # what `tunesmith melody train` trains when no --config is given
    parser.add_argument("--configs", default="transformer,basic_rnn,lookback_rnn,attention_rnn")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds of training per config at most")
    parser.add_argument("--target", type=float, default=TARGET)
    parser.add_argument("--quick", action="store_true", help="test tunes, loose target: a shape check")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tunesmith-ttq-"))
    magenta_settings = ExtractionSettings(ignore_polyphonic_notes=False)
    small = args.quick or not FOLK.is_dir()
    train_src, heldout_src = (TEST_FOLK, TEST_FOLK) if small else (FOLK / "train", FOLK / "heldout")
    prepare_corpus(train_src, work / "train", progress=False, settings=magenta_settings, eval_ratio=0.0)
    prepare_corpus(heldout_src, work / "heldout", progress=False, settings=magenta_settings, eval_ratio=1.0)
    target = 3.0 if args.quick else args.target
    budget = 30.0 if args.quick else args.budget
    results = {
        name: time_to_target(name, work / "train", work / "heldout", work, budget, target, 8 if args.quick else None)
        for name in args.configs.split(",")
    }
    emit(
        {
            "benchmark": "time_to_quality",
            "machine": machine(),
            "quick": args.quick,
            "target_heldout_loss": target,
            "magenta_seconds": MAGENTA_SECONDS,
            "default_config": default,
            "budget_seconds": budget,
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
