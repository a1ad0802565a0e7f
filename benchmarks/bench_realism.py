"""Realism: can a classifier tell a model's continuations of held-out primers from the real continuations?

Issue 28's classifier two-sample test (``tunesmith.evaluate.realism``): the first 2 bars of held-out tunes continued
to 9 bars with default settings, bars 3-8 against the same tunes' real bars 3-8; two critics (gradient boosting on
key-invariant statistics, a GRU over relative note events), 5-fold CV, bootstrap intervals, real-vs-real
calibration, the statistics that differ most, and the copy figure (runs of 12 notes found in a training corpus).
Targets (issue 28): accuracy <= 0.65 with both critics; copy figure no higher than the real tunes' own.

    python benchmarks/bench_realism.py [--quick] [--model default] [--data DIR] [--n 200] [--train-corpus CORPUS]
        [--markov CORPUS]

``--data``: held-out tunes (a prepared corpus, or a MIDI folder; default: the shared folk-melodies/heldout, all of it
held out). ``--train-corpus``: a prepared corpus whose train split the copy figure searches (e.g. ``tunesmith
prepare ../shared/data/folk-melodies/train -o folk-train --eval-ratio 0``); default: the model's own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import FOLK, TEST_FOLK, emit, machine  # noqa: E402
from tunesmith.evaluate.markov import DEFAULT_ORDER, MarkovMelodies  # noqa: E402
from tunesmith.evaluate.realism import realism_test  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 tunes of the test data, few critic epochs")
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", help="held-out tunes: a prepared corpus or a MIDI folder")
    parser.add_argument("--n", type=int, default=200, help="held-out tunes to continue")
    parser.add_argument("--train-corpus", help="prepared corpus whose train split the copy figure searches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--markov",
        metavar="CORPUS",
        help="the floor: an order-4 Markov chain trained on this prepared corpus's train split continues the tunes",
    )
    args = parser.parse_args()
    data = Path(args.data) if args.data else (TEST_FOLK if args.quick else FOLK / "heldout")
    n = 12 if args.quick else args.n
    started = time.perf_counter()
    result = realism_test(
        args.model,
        data,
        n=n,
        seed=args.seed,
        train_corpus=args.train_corpus,
        sequence_epochs=3 if args.quick else 20,
        progress=not args.quick,
        continue_with=MarkovMelodies.from_corpus(args.markov) if args.markov else None,
    )
    emit(
        {
            "benchmark": "realism",
            "quick": args.quick,
            "model": f"order-{DEFAULT_ORDER} Markov chain on {args.markov}" if args.markov else args.model,
            "data": str(data),
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(),
            "realism": result,
        }
    )


if __name__ == "__main__":
    main()
