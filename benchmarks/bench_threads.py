"""Training speed as a user runs it: the CLI as shipped, at 1 thread, 2 threads and its own default choice.

Every run is a fresh ``python -m tunesmith ... train`` process with no OMP_NUM_THREADS / MKL_NUM_THREADS
in its environment (nothing overrides the shipped thread choice except ``--threads`` where the row says
so). Settings run interleaved round by round (1, 2, default, then the next config, then again), and the
1-minute load average is recorded before and after each run, so the ratios inside one round are
same-run ratios and a busy machine shows in the figures. Steady state: from step ``--warmup`` to the
last logged step (melody), from the second epoch (audio), read from the model's ``log.jsonl``.

    python benchmarks/bench_threads.py                  # every config, 2 rounds (~15 min quiet, 2 cores)
    python benchmarks/bench_threads.py --configs basic_rnn,audio --rounds 3
    python benchmarks/bench_threads.py --magenta-venv ../magenta/venv --magenta-tfrecord DATA.tfrecord
      (adds Magenta 2.1.4's melody_rnn_train basic_rnn, interleaved with basic_rnn in each round)

Prints one JSON object. Goal (issue 24): each config's default >= 0.9x its best thread count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import CLIPS, FOLK, ROOT, TEST_FOLK, emit, machine  # noqa: E402

MELODY = ("basic_rnn", "lookback_rnn", "attention_rnn", "transformer")
CLEAN_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_BLOCKTIME")
MAGENTA_MEAN_LENGTH = 226.7  # real 16th-note steps per sequence of the shared split (Magenta REPORT.md)


EXTRA_ENV: dict[str, str] = {}  # --env K=V: a hypothesis to test (e.g. OMP_WAIT_POLICY=PASSIVE), recorded in the JSON


def user_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(EXTRA_ENV)
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TUNESMITH_QUIET"] = "1"
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tunesmith", "--quiet", *args]


def real_steps(corpus: Path, config: str, first: int, last: int, batch: int | None = None) -> int:
    """Real (unpadded) 16th-note steps the melody trainer sees in steps (first, last]: same seed, same batches."""
    import torch

    from tunesmith.melody.dataset import load_tokens
    from tunesmith.melody.model import preset
    from tunesmith.melody.train import MelodyTask

    cfg = preset(config, batch_size=batch)
    task = MelodyTask(cfg, load_tokens(corpus, "train", cfg.melody_encoding), None, device=torch.device("cpu"))
    per_epoch = task.batches_per_epoch()
    total = 0
    for step in range(first, last):
        kind, *tensors = task.batch(*divmod(step, per_epoch))
        total += int(tensors[2].sum()) if kind == "windows" else sum(int(part[1].sum()) for part in tensors[0])
    return total


def train_cli(args: list[str], out: Path) -> dict:
    """Run one training command as a user would; its process, the logged train rows and the load before it."""
    load = os.getloadavg()[0]
    proc = subprocess.run(cli(*args), env=user_env(), capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr[-800:]}
    rows = [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r.get("split") == "train"]
    return {"proc": proc, "rows": rows, "load": load}


def run_melody(corpus: Path, config: str, threads: int | None, steps: int, warmup: int, work: Path, batch: int | None) -> dict:
    out = work / f"{config}-{threads or 'default'}-{time.monotonic_ns()}"
    args = ["melody", "train", str(corpus), "-o", str(out), "--config", config, "--steps", str(steps)]
    args += ["--eval-every", str(10**6), "--checkpoint-every", str(10**6)]
    args += ["--threads", str(threads)] if threads else []
    args += ["--batch-size", str(batch)] if batch else []
    run = train_cli(args, out)
    if "error" in run:
        return run
    proc, rows, load = run["proc"], run["rows"], run["load"]
    start = next(r for r in rows if r["step"] >= warmup)
    end = rows[-1]
    used = re.search(r"\((\d+) CPU thread", proc.stdout)
    return {
        "threads": int(used[1]) if used else threads,
        "steps": [start["step"], end["step"]],
        "seconds": round(end["time"] - start["time"], 3),
        "steps_per_s": round((end["step"] - start["step"]) / (end["time"] - start["time"]), 4),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def run_audio(clip: Path, threads: int | None, epochs: int, work: Path) -> dict:
    out = work / f"audio-{threads or 'default'}-{time.monotonic_ns()}"
    args = ["audio", "train", str(clip), "-o", str(out), "--epochs", str(epochs)]
    args += ["--threads", str(threads)] if threads else []
    run = train_cli(args, out)
    if "error" in run:
        return run
    proc, rows, load = run["proc"], run["rows"], run["load"]
    summary = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    per_epoch = (rows[-1]["time"] - rows[0]["time"]) / max(1, len(rows) - 1)  # from the end of epoch 1
    return {
        "threads": summary.get("threads", threads),
        "epochs": len(rows),
        "s_per_epoch": round(per_epoch, 3),
        "steps_per_s": round(1 / per_epoch, 4),  # epochs per second: higher is better, like the melody rows
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def run_magenta(venv: Path, tfrecord: Path, steps: int, warmup: int, work: Path) -> dict:
    """Magenta's own trainer (basic_rnn, batch 128) on its own tfrecord; steps/s from its logged step times."""
    run_dir = work / f"magenta-{time.monotonic_ns()}"
    command = [
        str(venv / "bin" / "melody_rnn_train"),
        "--config=basic_rnn",
        f"--run_dir={run_dir}",
        f"--sequence_example_file={tfrecord}",
        f"--num_training_steps={steps}",
        "--summary_frequency=10",
    ]
    load = os.getloadavg()[0]
    proc = subprocess.run(command, capture_output=True, text=True)
    points = []
    for line in proc.stderr.splitlines():
        m = re.match(r"^I\d{4} (\d\d:\d\d:\d\d\.\d+) .*Global Step = (\d+)", line)
        if m:
            points.append((datetime.datetime.strptime(m[1], "%H:%M:%S.%f"), int(m[2])))
    points = [p for p in points if p[1] >= warmup]
    if len(points) < 2:
        return {"error": (proc.stderr or proc.stdout)[-800:]}
    (t0, s0), (t1, s1) = points[0], points[-1]
    rate = (s1 - s0) / (t1 - t0).total_seconds()
    return {
        "steps": [s0, s1],
        "steps_per_s": round(rate, 4),
        "real_steps_per_s": round(rate * 128 * MAGENTA_MEAN_LENGTH),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join((*MELODY, "audio")), help="melody configs and/or 'audio'")
    parser.add_argument("--threads", default="1,2,default", help="settings to compare, e.g. 1,2,4,default")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60, help="melody steps per run (timed from --warmup)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=4, help="audio epochs per run (timed from the 2nd)")
    parser.add_argument("--magenta-venv", type=Path, help="a venv with magenta 2.1.4 (melody_rnn_train)")
    parser.add_argument("--magenta-tfrecord", type=Path, help="Magenta's basic_rnn training_melodies.tfrecord")
    parser.add_argument("--quick", action="store_true", help="tiny runs on the test tunes: a shape check")
    parser.add_argument("--env", action="append", default=[], help="K=V set for every run (default: none, as shipped)")
    args = parser.parse_args()
    EXTRA_ENV.update(item.split("=", 1) for item in args.env)
    if args.quick:  # a shape check for the test suite: one small config, 1 thread and the default
        args.steps, args.warmup, args.epochs, args.rounds = 12, 4, 2, 1
        args.configs, args.threads = "basic_rnn", "1,default"
    settings = [None if s == "default" else int(s) for s in args.threads.split(",")]
    configs = args.configs.split(",")
    work = Path(tempfile.mkdtemp(prefix="tunesmith-threads-"))
    source = TEST_FOLK if args.quick or not FOLK.is_dir() else FOLK / "train"
    corpus = work / "corpus"
    subprocess.run(
        cli("prepare", str(source), "-o", str(corpus), "--eval-ratio", "0.05"), env=user_env(), check=True, capture_output=True
    )
    clip = CLIPS / "bach-bwv66.6-guitar-30s.wav"
    runs: dict[str, dict[str, list]] = {c: {str(s or "default"): [] for s in settings} for c in configs}
    magenta: list[dict] = []
    pairs = []
    for round_ in range(args.rounds):
        for config in configs:
            order = settings if round_ % 2 == 0 else settings[::-1]  # alternate who goes first
            results = {}
            for threads in order:
                if config == "audio":
                    r = run_audio(clip, threads, args.epochs if not args.quick else 2, work)
                else:
                    r = run_melody(corpus, config, threads, args.steps, args.warmup, work, 8 if args.quick else None)
                runs[config][str(threads or "default")].append(r)
                results[str(threads or "default")] = r
            if config == "basic_rnn" and args.magenta_venv and args.magenta_tfrecord:
                magenta.append(run_magenta(args.magenta_venv, args.magenta_tfrecord, args.steps, args.warmup, work))
                results["magenta"] = magenta[-1]
            pairs.append({"round": round_, "config": config, "runs": results})
    summary = {}
    for config, by_setting in runs.items():
        rates = {
            k: statistics.median(r["steps_per_s"] for r in v if "steps_per_s" in r)
            for k, v in by_setting.items()
            if any("steps_per_s" in r for r in v)
        }
        if not rates:
            continue
        best = max(rates, key=rates.get)
        row = {"median_rate": rates, "best": best, "rate_unit": "epochs/s" if config == "audio" else "steps/s"}
        if "default" in rates:
            row["default_threads"] = next((r["threads"] for r in by_setting["default"] if "threads" in r), None)
            row["default_vs_best"] = round(rates["default"] / rates[best], 3)
        summary[config] = row
    if "basic_rnn" in configs and "default" in runs.get("basic_rnn", {}):
        per_step = real_steps(corpus, "basic_rnn", args.warmup, args.steps, 8 if args.quick else None)
        per_step /= max(1, args.steps - args.warmup)
        row = summary.get("basic_rnn", {})
        if "default" in row.get("median_rate", {}):
            row["default_real_steps_per_s"] = round(row["median_rate"]["default"] * per_step)
        if magenta and any("real_steps_per_s" in m for m in magenta):
            ours = [
                p["runs"]["default"]["steps_per_s"] * per_step / p["runs"]["magenta"]["real_steps_per_s"]
                for p in pairs
                if p["config"] == "basic_rnn" and "steps_per_s" in p["runs"].get("magenta", {})
            ]
            row["default_vs_magenta_same_round"] = [round(x, 2) for x in ours]
    emit(
        {
            "benchmark": "threads",
            "machine": machine(),
            "quick": args.quick,
            "note": "each round runs every setting back to back; ratios within a round are same-run ratios",
            "steps": args.steps,
            "warmup": args.warmup,
            "env": EXTRA_ENV,
            "summary": summary,
            "rounds": pairs,
        }
    )


if __name__ == "__main__":
    main()
