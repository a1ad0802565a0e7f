"""Likelihood (Magenta's eval): held-out loss per step, perplexity, accuracy, and the train/eval gap."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.evaluate.reference import corpus_dir, load_model


# --- likelihood ------------------------------------------------------------------------------------
def _corpus_steps_per_quarter(corpus: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads((corpus / "corpus.json").read_text())["settings"]["steps_per_quarter"])
    return None


def training_gap(model_dir: str | os.PathLike | None, window: int = 3) -> dict:
    """Eval-minus-train loss at each evaluation in ``log.jsonl``, and the ``overfitting`` flag.

    ``overfitting`` is True when the gap widened at each of the last ``window`` evaluations while the
    held-out loss stopped improving (its latest value is above its best): more training now memorises.
    """
    from tunesmith.core.checkpoint import read_log

    rows = read_log(model_dir) if model_dir else []
    train = sorted((r["step"], r["loss"]) for r in rows if r.get("split") == "train" and "loss" in r)
    history = []
    for r in rows:
        if r.get("split") != "eval" or "loss" not in r:
            continue
        before = [loss for step, loss in train if step <= r["step"]]
        if before:
            history.append({"step": r["step"], "train_loss": before[-1], "eval_loss": r["loss"], "gap": r["loss"] - before[-1]})
    gaps = [h["gap"] for h in history[-window:]]
    evals = [h["eval_loss"] for h in history]
    growing = len(gaps) == window and all(b > a for a, b in zip(gaps, gaps[1:]))
    overfitting = bool(growing and evals[-1] > min(evals))
    return {"history": history, "gap": history[-1]["gap"] if history else None, "overfitting": overfitting}


def likelihood(model, data=None, *, max_train_melodies: int = 1000, progress: bool = False) -> dict:
    """Held-out loss (nats/step), perplexity, accuracy and note-on vs hold/off split of a melody model.

    ``data``: None (the model directory's own ``corpus/`` eval split), a prepared corpus directory, or a
    folder of MIDI files (prepared into a temp dir, every file held out). Train-split figures (at most
    ``max_train_melodies``) and the training-log gap come along when available.
    """
    model = load_model(model)
    with corpus_dir(model, data, progress) as corpus:
        out = likelihood_on_corpus(model, corpus, max_train_melodies)
    out["data"] = str(data) if data is not None else str(corpus)
    return out


def _subset(tokens, indices: np.ndarray):
    from tunesmith.melody.dataset import TokenSet

    pieces = [tokens.melody(int(i)) for i in indices]
    lengths = np.array([p.size for p in pieces], dtype=np.int64)
    bars = tokens.steps_per_bar[indices] if tokens.steps_per_bar is not None else None
    beats = tokens.steps_per_beat[indices] if tokens.steps_per_beat is not None else None
    return TokenSet(np.concatenate(pieces), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), bars, beats)


def likelihood_on_corpus(model, corpus: Path, max_train_melodies: int = 1000) -> dict:
    from tunesmith.melody.dataset import load_tokens
    from tunesmith.melody.train import evaluate_tokens

    spq = _corpus_steps_per_quarter(corpus)
    if spq is not None and spq != model.config.steps_per_quarter:
        raise BadInputError(
            f"{corpus} was prepared at {spq} steps per quarter, the model uses "
            f"{model.config.steps_per_quarter}; prepare the data again with the model's setting"
        )
    out: dict = {"data": str(corpus)}
    for split in ("eval", "train"):
        tokens = load_tokens(corpus, split, model.encoding, model.config.steps_per_quarter)
        if len(tokens) == 0:
            out[split] = None
            continue
        if split == "train" and len(tokens) > max_train_melodies:
            pick = np.sort(np.random.default_rng(0).choice(len(tokens), max_train_melodies, replace=False))
            tokens = _subset(tokens, pick)
        figures = evaluate_tokens(model.module, model.encoding, tokens, model.config.max_steps, model.device)
        figures["bits_per_step"] = figures["loss"] / math.log(2)
        figures["melodies"] = len(tokens)
        out[split] = figures
    if out["eval"] is None:
        raise BadInputError(f"{corpus}: no held-out (eval) melodies to evaluate on; pass data= with more files")
    out.update({k: out["eval"][k] for k in ("loss", "perplexity", "accuracy", "note_on_loss", "other_loss")})
    gap = training_gap(model.model_dir)
    out["train_eval_gap"] = out["eval"]["loss"] - out["train"]["loss"] if out["train"] else None
    out["log_gap_history"] = gap["history"]
    out["overfitting"] = gap["overfitting"]
    return out
