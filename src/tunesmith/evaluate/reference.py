"""What a melody model is judged against: the model loaded, the corpus it is evaluated on (its own held-out split,
or a folder prepared on the fly), and reference melodies of a split as the model sees them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tunesmith.core.errors import BadInputError
from tunesmith.music.melody import Melody


def load_model(model):
    """A MelodyModel as given, or loaded from its name or folder."""
    from tunesmith.melody.generate import MelodyModel, load_melody_model

    return model if isinstance(model, MelodyModel) else load_melody_model(model)


def training_corpus(model_dir: Path) -> Path | None:
    """The corpus a model was trained on: its own corpus/ (raw folder), the one named in config.json, or the
    shipped eval split of a bundled model."""
    for candidate in (model_dir / "corpus", model_dir / "eval-corpus"):
        if (candidate / "corpus.json").is_file():
            return candidate
    from tunesmith.core.models import describe

    named = describe(model_dir).corpus
    return Path(named) if named else None


@contextlib.contextmanager
def corpus_dir(model, data, progress: bool = False) -> Iterator[Path]:
    """The prepared corpus to evaluate on, and what it is; a raw MIDI folder is prepared (all held-out) in a temp dir."""
    if data is None:
        own = training_corpus(Path(model.model_dir)) if model.model_dir else None
        if own is None or not (own / "corpus.json").is_file():
            raise BadInputError(
                f"{model.model_dir}: the model has no corpus/ of its own to evaluate on; "
                "pass data= (a prepared corpus or a folder of MIDI files)"
            )
        yield own
        return
    data = Path(data)
    if (data / "corpus.json").is_file():
        yield data
        return
    if not data.exists():
        raise BadInputError(f"{data}: no such corpus or MIDI folder")
    from tunesmith.data.corpus import prepare_corpus

    with tempfile.TemporaryDirectory(prefix="tunesmith-eval-") as tmp:
        prepare_corpus(data, tmp, eval_ratio=1.0, progress=progress)  # every file is held-out data
        yield Path(tmp)


def reference_melodies(
    corpus: str | os.PathLike, model, *, split: str = "eval", limit: int | None = None, steps: int | None = None, seed: int = 0
) -> list[Melody]:
    """Melodies of one split as the model sees them: squashed into its range in C, cut to ``steps`` steps.

    Cutting makes the reference as long as the generated melodies, so length-dependent features (pitch
    count, range) compare fairly. ``limit`` picks that many at random (seeded).
    """
    from tunesmith.data.corpus import load_meters, load_split
    from tunesmith.music.meter import meter_of_steps

    events, offsets, spb = load_split(corpus, split)
    _, beats = load_meters(corpus, split, model.config.steps_per_quarter)
    order = np.arange(len(offsets) - 1)
    if limit is not None and order.size > limit:
        order = np.sort(np.random.default_rng(seed).choice(order.size, limit, replace=False))
    cfg = model.config
    out = []
    for i in order:
        ev = np.asarray(events[offsets[i] : offsets[i + 1]], dtype=np.int16)
        bar = int(spb[i]) if spb.size else 16
        meter = meter_of_steps(bar, int(beats[i]) if beats.size else None, cfg.steps_per_quarter)
        melody = Melody(ev, steps_per_quarter=cfg.steps_per_quarter, steps_per_bar=bar)
        if (4 * cfg.steps_per_quarter * meter[0]) // meter[1] == bar:
            melody = melody.copy(meter=meter)
        melody = melody.squash(cfg.min_note, cfg.max_note, 0)
        if steps:
            melody = melody.copy(events=melody.events[:steps])
        melody.name = f"{split}_{int(i):05d}"
        out.append(melody)
    return out
