"""The knobs of the melody model a person turns: how to continue a primer, and how long to train.

Each field carries its default, its bounds and its help text (``tunesmith.core.options.setting``); the
command line, the web studio and the library's own checks are built from these two dataclasses
(``tunesmith.settings``). No torch here: the command line reads them before it knows which command runs.

``steps`` means one thing everywhere: **new** 16th-note steps after the primer when generating, and
optimiser steps when training.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.core.options import MAX_SEED, setting
from tunesmith.music.midi import MAX_QPM, MIN_QPM

DEFAULT_STEPS = 128  # new steps after the primer when neither steps nor bars is given (8 bars of 4/4)
DEFAULT_TRAIN_STEPS = 1000  # training steps when neither steps nor epochs is given
# a fine-tune's learning rate, as a share of the starting model's own: at the full rate the shipped default fine-tuned
# on 100 tunes had its best held-out loss at the first evaluation (1.36), at a quarter 1.09 (benchmarks/results.md)
FINE_TUNE_LR_SCALE = 0.25


@dataclass
class GenerationSettings:
    """How to continue a primer. ``steps``: new steps after the primer (128 when neither it nor ``bars`` is given);
    ``bars``: the whole melody, primer included, in bars of the primer's meter; ``form``: see ``forms.py``
    (None: no restatement); ``end_on_tonic``: close on the tonic; ``meter``: the primer's time signature ("6/8")."""

    steps: int | None = setting(
        None,
        low=1,
        help=f"new 16th-note steps after the primer (default: {DEFAULT_STEPS}; a named --form alone: 4 bars a section)",
    )
    bars: int | None = setting(None, low=1, help="a melody of N whole bars in the primer's meter, primer included")
    form: str | None = setting(
        "auto",
        help="sections that restate: auto (each 8-bar strain restates its opening, as folk tunes do), "
        "e.g. AABB, ABAC, AA'BB' (' = new last bar), or none",
    )
    end_on_tonic: bool = setting(
        True, help="close on the tonic (of --key, else of the tune) on the last bar's downbeat (default: on)"
    )
    meter: str | None = setting(None, help="the primer's time signature, e.g. 6/8 or 3/4 (note-name primers are 4/4 otherwise)")
    temperature: float = setting(1.0, low=0, above=True, help="below 1: safer, more repetitive; above 1: more surprising")
    top_k: int | None = setting(None, low=1, help="sample only among the k likeliest events")
    top_p: float | None = setting(  # 0.97: the tail it cuts held the stray rests and notes out of key (results.md)
        0.97, low=0, high=1, above=True, help="sample only among the likeliest events that cover this probability (1: all)"
    )
    min_p: float | None = setting(
        None, low=0, high=1, below=True, help="drop events less likely than this share of the likeliest one (cuts the tail)"
    )
    beam_size: int = setting(1, low=1, help="keep the N likeliest continuations (beam search); 1 = plain sampling")
    branch_factor: int = setting(1, low=1, help="beam search: candidates sampled per beam")
    steps_per_iteration: int = setting(1, low=1, help="beam search: steps sampled between prunings")
    key: str | None = setting(None, help="keep notes in this key, e.g. D or F#")
    scale: str = setting("major", help="with --key: major, minor, dorian, mixolydian, pentatonic, blues, ...")
    qpm: float | None = setting(None, low=MIN_QPM, high=MAX_QPM, help="tempo of the written MIDI, quarter notes per minute")
    exclude_primer: bool = setting(False, help="write only the new notes, not the primer")
    strict: bool = setting(False, help="refuse a primer outside the model's range (default: fold it in)")
    seed: int = setting(0, low=0, high=MAX_SEED, help="same seed, same melodies")

    def __post_init__(self) -> None:
        if isinstance(self.form, str) and self.form.strip().lower() in ("none", ""):  # as typed: no restatement
            self.form = None


@dataclass
class MelodyTraining:
    """How long and how to train a melody model (the model's own shape is its ``MelodyConfig``; the fields that
    default to None here override that config's value)."""

    config: str = setting(  # the transformer learns most per minute of training; the RNNs are Magenta's
        "transformer",
        help="transformer (best per minute of training) | basic_rnn | lookback_rnn | attention_rnn | "
        "polyphonic (every part, from `prepare --polyphonic`)",
    )
    init_from: str | None = setting(
        None,
        flags=("--init-from",),
        help="fine-tune: start from this model's weights and take its architecture ('default': the shipped model), "
        "at a quarter of its learning rate; a few of your own tunes are enough",
    )
    steps: int | None = setting(None, low=1, help=f"training steps (default: {DEFAULT_TRAIN_STEPS} unless --epochs is given)")
    epochs: int | None = setting(None, low=1, help="passes over the training melodies, instead of --steps")
    seed: int = setting(0, low=0, high=MAX_SEED, help="same seed, same model")
    eval_every: int = setting(100, low=1, help="steps between held-out evaluations")
    checkpoint_every: int = setting(100, low=1, help="steps between checkpoints")
    patience: int | None = setting(
        10,
        low=0,
        help="stop after this many held-out evaluations without a better loss (0: run all the steps); "
        "the model saved is always the evaluation with the best held-out loss",
    )
    batch_size: int | None = setting(None, low=1, help="melodies per step (default: the config's)")
    layers: list[int] | None = setting(None, help="LSTM sizes, e.g. 128,128 (default: the config's)")
    dropout: float | None = setting(None, low=0, high=1, below=True, help="dropout between layers (default: the config's)")
    learning_rate: float | None = setting(
        None, low=0, above=True, flags=("--learning-rate", "--lr"), help="Adam's step size (default: the config's)"
    )
    min_note: int | None = setting(None, low=0, high=127, help="lowest MIDI pitch the model plays (default: the config's)")
    max_note: int | None = setting(None, low=1, high=128, help="highest MIDI pitch + 1 (default: the config's)")
    steps_per_quarter: int | None = setting(None, low=1, high=96, help="time grid: 4 = 16th notes (default: the config's)")
    attention_length: int | None = setting(None, low=0, help="attention_rnn: steps attended back (default: the config's)")
    fill_in_middle: float | None = setting(
        None,
        low=0,
        high=1,
        help="transformer: share of training windows shown as before / after / middle, so the model can fill in "
        "bars itself (melody infill --method fim; default: the config's)",
    )
    device: str | None = setting(None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    threads: int | None = setting(
        None,
        low=1,
        help="CPU threads (default: 1 for the small RNNs, all allowed CPUs for the transformer; honours OMP_NUM_THREADS)",
    )
    max_seconds: float | None = setting(None, low=0, above=True, help="stop after this much wall time (checkpoint kept)")
    precision: str = setting(
        "auto", choices=("auto", "bf16", "fp32"), help="auto: bf16 autocast where the CPU/GPU does it fast (same loss), else fp32"
    )


# the MelodyTraining fields that override the model's MelodyConfig (None: the config's own value)
CONFIG_OVERRIDES = (
    "batch_size",
    "layers",
    "dropout",
    "learning_rate",
    "min_note",
    "max_note",
    "steps_per_quarter",
    "attention_length",
    "fill_in_middle",
)


EDIT_STRENGTHS = ("ornament", "light", "medium", "new")  # melody.edit.vary: how much of the tune is rewritten


@dataclass
class EditSettings:
    """How to edit a tune (``tunesmith.melody.edit``: ``infill``, ``vary``, ``generate_over_chords``): the knobs the web
    studio's Edit tab sends. Their defaults are those of the edit functions (``tests/test_edit.py`` holds them equal)."""

    candidates: int = setting(64, low=1, help="candidates sampled per version and span (more: joins closer to both sides)")
    strength: str = setting("medium", choices=EDIT_STRENGTHS, help="variations: how much to rewrite, a few bars ... all of it")
    temperature: float = setting(1.0, low=0, above=True, high=10, help="below 1: safer; above 1: more surprising")
    key: str | None = setting(None, help="keep new notes in this key, e.g. D or F#")
    scale: str = setting("major", help="with key: major, minor, dorian, ...")
    seed: int = setting(0, low=0, high=MAX_SEED, help="same seed, same versions")
