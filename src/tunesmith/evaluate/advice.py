"""Plain-words warnings on an evaluation: a model that copies its corpus, a corpus too small to learn from.

A musician reads the report for "is this mine, and is it new?"; the figures answer it, these lines say it.
"""

from __future__ import annotations

SMALL_CORPUS = 200  # training melodies below which a model trained from scratch mostly learns its tunes by heart
COPY_MARGIN = 0.10  # generated tunes holding a long run of a training tune, above the real tunes' own share
OVERFITTING = (
    "Its held-out loss got worse while its training loss kept falling: it was learning its tunes by heart. "
    "Training keeps the best evaluation's weights; a shorter run or more tunes would do as well."
)


def evaluation_warnings(report: dict, init_from: str | None = None) -> list[str]:
    """The warnings a melody evaluation ``report`` (``evaluate_model``'s dict) calls for, each one sentence or two.

    ``init_from``: the model this one was fine-tuned from (its config.json's ``init_from``); a fine-tuned model
    may learn from few tunes, so the small-corpus warning then says nothing.
    """
    out = []
    train = (report.get("likelihood") or {}).get("train") or {}
    melodies = train.get("melodies")
    if melodies is not None and melodies < SMALL_CORPUS and not init_from:
        out.append(
            f"The model learnt from only {melodies} melodies, trained from scratch; under {SMALL_CORPUS} a model "
            "mostly learns them by heart. Fine-tune the shipped model on them instead: "
            "tunesmith melody train YOUR_TUNES -o MODEL --init-from default"
        )
    copying = (report.get("realism") or {}).get("copying")
    if copying and copying["generated"] > copying["real"] + COPY_MARGIN:
        out.append(
            f"It copies its corpus: {copying['generated']:.0%} of its continuations hold a run of "
            f"{copying['run_notes']} notes from a training tune (real new tunes: {copying['real']:.0%}). "
            "Train on more tunes, fine-tune the default, or sample with a higher temperature."
        )
    if (report.get("likelihood") or {}).get("overfitting"):
        out.append(OVERFITTING)
    return out
