"""Melody RNN training throughput and held-out quality, side by side with Magenta's figures.

Throughput: steps/s, sequences/s and real (unpadded) 16th-note steps/s for basic_rnn at batch 128,
fp32 and bf16 autocast. Quality (``--quality``): train each config for Magenta's 750 x 128 sequences and
report the loss on the 210 held-out files computed as Magenta does (every step, melodies extracted with
its settings, transposed to C, range 48-84). Magenta 2.1.4 here: 33,000 real steps/s; 1.176 nats/step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine, peak_rss_mb, quick  # noqa: E402
from tunesmith.data.corpus import prepare_corpus  # noqa: E402
from tunesmith.melody.dataset import load_tokens  # noqa: E402
from tunesmith.melody.train import evaluate_tokens, train_melody_model  # noqa: E402
from tunesmith.music.midi import ExtractionSettings  # noqa: E402

MAGENTA = {"real_steps_per_s": 33_000, "sequences_per_s": 145, "heldout_loss_750_steps": 1.176}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--quality-configs", default="basic_rnn,lookback_rnn,attention_rnn")
    parser.add_argument("--quality-steps", type=int, default=750)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    magenta_settings = ExtractionSettings(ignore_polyphonic_notes=False)
    work = Path(tempfile.mkdtemp(prefix="tunesmith-bench-"))
    small = quick() or not FOLK.is_dir()
    train_src = TEST_FOLK if small else FOLK / "train"
    prepare_corpus(train_src, work / "train", progress=False, settings=magenta_settings)
    heldout = None
    if not small:
        prepare_corpus(FOLK / "heldout", work / "heldout", progress=False, settings=magenta_settings, eval_ratio=1.0)
        heldout = work / "heldout"
    batch = 8 if small else 128
    steps = 3 if small else args.steps
    throughput = {}
    for precision in ("fp32", "bf16"):
        result = train_melody_model(
            work / "train",
            work / f"tp_{precision}",
            "basic_rnn",
            steps=steps,
            eval_every=10**9,
            checkpoint_every=10**9,
            progress=False,
            batch_size=batch,
            precision=precision,
        )
        seconds = result["seconds"]
        throughput[precision] = {
            "steps": steps,
            "seconds": round(seconds, 2),
            "steps_per_s": round(steps / seconds, 3),
            "sequences_per_s": round(steps * batch / seconds, 1),
            "real_steps_per_s": round(result["train_steps_real"] / seconds),
            "vs_magenta": round(result["train_steps_real"] / seconds / MAGENTA["real_steps_per_s"], 2),
        }
    out = {
        "benchmark": "melody_train",
        "machine": machine(),
        "batch_size": batch,
        "throughput_basic_rnn": throughput,
        "magenta": MAGENTA,
    }
    if args.quality and heldout is not None:
        quality = {}
        for name in args.quality_configs.split(","):
            start = time.perf_counter()
            model_dir = work / f"q_{name}"
            train_melody_model(
                work / "train",
                model_dir,
                name,
                steps=args.quality_steps,
                eval_every=250,
                checkpoint_every=250,
                progress=False,
                precision=args.precision,
            )
            from tunesmith.melody.generate import load_melody_model

            model = load_melody_model(model_dir)
            tokens = load_tokens(heldout, "eval", model.encoding)
            ev = evaluate_tokens(model.module, model.encoding, tokens, None, model.device)
            quality[name] = {
                "train_seconds": round(time.perf_counter() - start, 1),
                "heldout_melodies": len(tokens),
                **{k: round(v, 4) for k, v in ev.items() if isinstance(v, float)},
            }
        out["quality"] = {
            "sequences_seen": args.quality_steps * 128,
            "configs": quality,
            "magenta_basic_rnn_heldout_loss": MAGENTA["heldout_loss_750_steps"],
        }
    out["peak_rss_mb"] = round(peak_rss_mb())
    emit(out)


if __name__ == "__main__":
    main()
