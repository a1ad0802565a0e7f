"""Configs compared at equal training time: attention_rnn vs the Transformer (and others) on 2 cores.

Each config trains for ``--seconds`` of wall time on the benchmark corpus (Magenta's extraction
settings), then its loss on the 210 held-out files is computed the Magenta way. Goal (issue 10): the
Transformer >= 5% lower held-out loss than attention_rnn at equal time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine  # noqa: E402
from tunesmith.data.corpus import prepare_corpus  # noqa: E402
from tunesmith.melody.dataset import load_tokens  # noqa: E402
from tunesmith.melody.generate import load_melody_model  # noqa: E402
from tunesmith.melody.train import evaluate_tokens, train_melody_model  # noqa: E402
from tunesmith.music.midi import ExtractionSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--configs", default="attention_rnn,transformer")
    parser.add_argument("--precision", default="bf16")
    args = parser.parse_args()
    small = args.quick or not FOLK.is_dir()
    work = Path(tempfile.mkdtemp(prefix="tunesmith-compare-"))
    settings = ExtractionSettings(ignore_polyphonic_notes=False)
    prepare_corpus(
        TEST_FOLK if small else FOLK / "train",
        work / "train",
        progress=False,
        settings=settings,
        eval_ratio=0.3 if small else 0.1,
    )
    heldout = work / "train"
    if not small:
        prepare_corpus(FOLK / "heldout", work / "heldout", progress=False, settings=settings, eval_ratio=1.0)
        heldout = work / "heldout"
    seconds = 5 if small else args.seconds
    results = {}
    for name in args.configs.split(","):
        result = train_melody_model(
            work / "train",
            work / name,
            name,
            steps=10**7,
            eval_every=10**9,
            checkpoint_every=10**9,
            progress=False,
            max_seconds=seconds,
            precision=args.precision,
            **({"batch_size": 8} if small else {}),
        )
        model = load_melody_model(work / name)
        tokens = load_tokens(heldout, "eval", model.encoding)
        ev = evaluate_tokens(model.module, model.encoding, tokens, None, model.device)
        results[name] = {
            "steps": result["step"],
            "train_seconds": round(result["seconds"], 1),
            "parameters": sum(p.numel() for p in model.module.parameters()),
            "heldout_loss": round(ev["loss"], 4),
            "heldout_accuracy": round(ev["accuracy"], 4),
        }
    out = {"benchmark": "model_compare", "machine": machine(), "seconds_per_config": seconds, "results": results}
    if "attention_rnn" in results and "transformer" in results:
        a, t = results["attention_rnn"]["heldout_loss"], results["transformer"]["heldout_loss"]
        out["transformer_vs_attention_rnn"] = {"relative_loss_reduction": round((a - t) / a, 4) if a else None, "goal": 0.05}
    emit(out)


if __name__ == "__main__":
    main()
