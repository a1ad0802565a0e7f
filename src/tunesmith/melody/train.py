"""Training the melody model: a ``TrainingTask`` for the shared loop, and ``train_melody_model``."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tunesmith.core.config import config_from_dict
from tunesmith.core.device import pick_device
from tunesmith.core.errors import TrainingError
from tunesmith.core.training import TrainSettings, check_run_numbers, claim_model_dir, init_distributed, run_training, use_bf16
from tunesmith.melody.dataset import TokenSet, epoch_batches, length_groups, load_tokens, window_batch
from tunesmith.melody.fim import fim_window_batch
from tunesmith.melody.model import DEFAULT_CONFIG, MelodyConfig, build_model, preset
from tunesmith.melody.settings import DEFAULT_TRAIN_STEPS, FINE_TUNE_LR_SCALE, MelodyTraining

LENGTH_GROUPS = 8  # each batch runs as this many parts of similar length (same gradient, less padding)


def sequence_loss(model, encoding, idx: torch.Tensor, lengths: torch.Tensor, meter=None):
    """Per-step NLL, correct predictions and mask over every real (unpadded) step of whole melodies."""
    inputs = encoding.inputs(idx[:, :-1], meter=meter)
    labels = encoding.labels(idx, meter=meter)[:, 1:]
    mask = torch.arange(labels.shape[1], device=idx.device).unsqueeze(0) < (lengths - 1).unsqueeze(1)
    return masked_loss(model, inputs, labels, mask)


def _to(meter, device):
    return None if meter is None else tuple(t.to(device) for t in meter)


def masked_loss(model, inputs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, *fim_order):
    """Per-step NLL over masked steps; ``fim_order``: positions, segments, ahead of a fill-in-the-middle batch (melody/fim.py)."""
    logits, _ = model(inputs, None, *fim_order)
    logits = logits.float()
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none").view_as(labels)
    nll = nll * mask
    correct = (logits.argmax(-1) == labels) & mask
    return nll, correct, mask, labels


class MelodyTask:
    kind = "melody"

    def __init__(
        self,
        config: MelodyConfig,
        train: TokenSet,
        eval_set: TokenSet | None,
        seed: int = 0,
        device: torch.device | None = None,
        corpus_info: dict | None = None,
        precision: str = "auto",
    ):
        self.config = config
        self.encoding = config.melody_encoding
        self.train, self.eval_set = train, eval_set
        self.seed = seed
        self.device = pick_device(device)
        self.model = build_model(config).to(self.device)
        self.corpus_info = corpus_info or {}
        self._epoch_cache: tuple[int, list[np.ndarray]] | None = None
        self.real_steps = 0
        if precision not in ("auto", "fp32", "bf16"):
            raise TrainingError(f"precision must be auto, fp32 or bf16, not {precision!r}")
        self.autocast = use_bf16(precision, self.device)  # auto: bf16 where the hardware does it fast
        self.groups = LENGTH_GROUPS
        recurrent = config.architecture == "rnn"
        self.thread_hints = {"recurrent": recurrent, "units": max(config.layers) if recurrent else config.d_model}

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)

    def _batches(self, epoch: int, world_size: int) -> list[np.ndarray]:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            batches = epoch_batches(self.train.lengths, self.config.batch_size, self.seed, epoch)
            self._epoch_cache = (epoch, batches)
        return self._epoch_cache[1]

    def batches_per_epoch(self, world_size: int = 1) -> int:
        return len(self.train) // self.config.batch_size // world_size

    def batch(self, epoch: int, index: int, rank: int = 0, world_size: int = 1):
        indices = self._batches(epoch, world_size)[index * world_size + rank]
        if self.config.train_window:
            rng = np.random.default_rng([self.seed, epoch, index, rank])  # a function of the step: resumable
            if self.config.fill_in_middle:
                tensors = fim_window_batch(
                    self.train, indices, self.encoding, self.config.train_window, rng, self.config.fill_in_middle
                )
            else:
                tensors = window_batch(self.train, indices, self.encoding, self.config.train_window, rng)
            return "windows", *(t.to(self.device) for t in tensors)
        groups = length_groups(self.train.lengths[indices], self.groups)  # batch() clips each part to max_steps
        parts = [(*self.train.batch(indices[group], self.config.max_steps), self.train.meter(indices[group])) for group in groups]
        return "melodies", [(idx.to(self.device), n.to(self.device), _to(meter, self.device)) for idx, n, meter in parts]

    def learning_rate(self, step: int) -> float:
        """Magenta's constant rate, after an optional linear warm-up (step counts from 0)."""
        warmup = self.config.warmup_steps
        return self.config.learning_rate * (min(1.0, (step + 1) / warmup) if warmup else 1.0)

    def loss(self, batch):
        kind, *tensors = batch
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if kind == "windows":
                parts = [masked_loss(self.model, *tensors)]
            else:
                parts = [sequence_loss(self.model, self.encoding, idx, n, meter) for idx, n, meter in tensors[0]]
        count = sum(mask.sum() for _, _, mask, _ in parts)
        loss = sum(nll.sum() for nll, _, _, _ in parts) / count
        correct = sum(hit.sum() for _, hit, _, _ in parts)
        self.real_steps += int(count) + (sum(len(mask) for _, _, mask, _ in parts) if kind == "melodies" else 0)
        value = float(loss.detach())
        return loss, {"loss": value, "perplexity": math.exp(min(value, 50)), "accuracy": float(correct / count)}

    def evaluate(self) -> dict[str, float]:
        if self.eval_set is None or len(self.eval_set) == 0:
            return {}
        return evaluate_tokens(self.model, self.encoding, self.eval_set, self.config.max_steps, self.device)


def evaluate_tokens(model, encoding, tokens: TokenSet, max_steps: int | None, device, batch_size: int = 64) -> dict:
    """Mean NLL per step over every step of every melody (Magenta's eval), accuracy, note-on/other split."""
    total = correct = steps = 0.0
    on_nll = on_steps = on_correct = 0.0
    order = np.argsort(tokens.lengths)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            idx, lengths = tokens.batch(chosen, max_steps)
            idx, lengths = idx.to(device), lengths.to(device)
            nll, hit, mask, _ = sequence_loss(model, encoding, idx, lengths, _to(tokens.meter(chosen), device))
            target = idx[:, 1:]
            note_on = (target >= 2) & mask
            total += float(nll.sum())
            correct += float(hit.sum())
            steps += float(mask.sum())
            on_nll += float((nll * note_on).sum())
            on_steps += float(note_on.sum())
            on_correct += float((hit & note_on).sum())
    loss = total / max(steps, 1)
    other = max(steps - on_steps, 1)
    return {
        "loss": loss,
        "perplexity": math.exp(loss),
        "accuracy": correct / max(steps, 1),
        "steps": int(steps),
        "note_on_loss": on_nll / max(on_steps, 1),
        "note_on_accuracy": on_correct / max(on_steps, 1),
        "other_loss": (total - on_nll) / other,
        "other_accuracy": (correct - on_correct) / other,
    }


def _corpus_encoding(corpus_dir: Path) -> str:
    import json

    try:
        return json.loads((Path(corpus_dir) / "corpus.json").read_text()).get("encoding", "melody")
    except (OSError, ValueError):
        return "melody"


def warm_start(module: torch.nn.Module, model_dir: str | os.PathLike) -> list[str]:
    """Copy another model's weights into ``module`` where names match; returns the names it widened.

    An input layer that gained inputs at the end (a legacy model -> one with ``beat_inputs``) keeps the old
    columns and starts the new ones at zero, so the new model begins exactly where the old one was; so does a
    fill-in-the-middle segment table the other model lacks (it starts at zero: no effect until trained).
    """
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core import checkpoint

    tensors = checkpoint.read_weights(resolve_model_dir(model_dir))
    state = module.state_dict()
    widened = []
    with torch.no_grad():
        for name, target in state.items():
            source = tensors.get(name)
            if source is None and name.split(".")[0] in ("segment", "ahead"):
                widened.append(name)
                continue
            if source is None:
                raise TrainingError(f"{model_dir}: has no weights {name!r}; warm start needs the same architecture")
            if source.shape == target.shape:
                target.copy_(source)
            elif source.dim() == 2 and source.shape[0] == target.shape[0] and source.shape[1] < target.shape[1]:
                target.zero_()
                target[:, : source.shape[1]] = source
                widened.append(name)
            else:
                raise TrainingError(f"{model_dir}: {name} is {tuple(source.shape)}, this config needs {tuple(target.shape)}")
    return widened


def _saved_config(model: str | os.PathLike) -> dict:
    """The MelodyConfig fields a model folder was trained with (its architecture, for fine-tuning it)."""
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core import checkpoint

    saved = checkpoint.load_config(resolve_model_dir(model))
    if saved.get("kind", "melody") != "melody":
        raise TrainingError(f"{model}: is a {saved.get('kind')} model; --init-from needs a melody model")
    return saved["config"]


def train_melody_model(
    data: str | os.PathLike,
    model_dir: str | os.PathLike,
    config: str | MelodyConfig | dict | None = None,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    seed: int = MelodyTraining.seed,
    resume: bool = False,
    eval_every: int = MelodyTraining.eval_every,
    checkpoint_every: int = MelodyTraining.checkpoint_every,
    progress: bool = True,
    device: str | None = None,
    threads: int | None = None,
    max_seconds: float | None = None,
    workers: int | None = None,
    stop_event=None,
    on_log=None,
    precision: str = MelodyTraining.precision,
    force: bool = False,
    init_from: str | os.PathLike | None = None,
    keep_best: bool = True,
    patience: int | None = MelodyTraining.patience,
    **overrides,
) -> dict:
    """Train a Melody RNN on a prepared corpus or a raw folder of MIDI files (prepared on the fly).

    A trained model already in ``model_dir`` is continued with ``resume=True`` or replaced with ``force=True``,
    and otherwise refused before any work (see tunesmith.core.folders). Under torchrun, rank 0 prepares a raw
    folder while the other ranks wait for it. ``threads=None`` picks the CPU threads for the model
    (tunesmith.core.device.default_threads).
    ``config``: a preset name (default ``DEFAULT_CONFIG``), a MelodyConfig or a dict of its fields.
    ``init_from``: fine-tune: start from another model's weights (``warm_start``; ``"default"`` is the shipped model)
    instead of a random initialisation. The architecture is then that model's own (a preset name is ignored), and a
    corpus smaller than one batch trains in batches of all its melodies (a few of your own tunes are enough). Its
    learning rate is ``FINE_TUNE_LR_SCALE`` of that model's own unless ``learning_rate`` is given.
    ``keep_best``: the saved model is the evaluation (every ``eval_every`` steps, and the last step) with the lowest
    held-out loss, so a longer run is never worse; ``patience``: stop once that many evaluations in a row found no
    better one (None or 0: run all the steps). The returned ``best_step`` and ``best_eval_loss`` say which was kept.
    Without held-out melodies the last step's weights are saved. Neither ``steps`` nor ``epochs``: 1,000 steps
    (``DEFAULT_TRAIN_STEPS``, the same for the CLI and the web studio). Defaults and bounds: ``MelodyTraining``.
    """
    from tunesmith.core import checkpoint
    from tunesmith.data.corpus import POLYPHONIC, prepare_corpus
    from tunesmith.melody.polyphonic import PolyphonicConfig, train_polyphonic_model

    if config == "polyphonic" or isinstance(config, PolyphonicConfig):  # the polyphonic Transformer (melody/polyphonic.py)
        if init_from is not None:
            raise TrainingError("--init-from is not supported for the polyphonic config yet; train it from scratch")
        return train_polyphonic_model(
            data,
            model_dir,
            config if isinstance(config, PolyphonicConfig) else None,
            steps=steps,
            epochs=epochs,
            seed=seed,
            resume=resume,
            eval_every=eval_every,
            checkpoint_every=checkpoint_every,
            progress=progress,
            device=device,
            threads=threads,
            max_seconds=max_seconds,
            stop_event=stop_event,
            on_log=on_log,
            force=force,
            keep_best=keep_best,
            patience=patience,
            workers=workers,
            **overrides,
        )
    # nonsense numbers (batch_size=0, learning_rate=-1, steps=0) are refused before the model folder is made
    if init_from is not None and (config is None or isinstance(config, str)):
        config = _saved_config(init_from)  # a fine-tuned model has the shape of the one it starts from
    if config is None:
        config = DEFAULT_CONFIG
    overrides = {k: v for k, v in overrides.items() if v is not None}  # None: the config's own value
    if isinstance(config, MelodyConfig):
        cfg = dataclasses.replace(config, **overrides)
    elif isinstance(config, dict):
        cfg = config_from_dict(MelodyConfig, {**config, **overrides})
    else:
        cfg = preset(config, **overrides)
    if init_from is not None and "learning_rate" not in overrides:  # a fine-tune nudges what it starts from
        cfg = dataclasses.replace(cfg, learning_rate=cfg.learning_rate * FINE_TUNE_LR_SCALE)
    if steps is None and epochs is None:
        steps = DEFAULT_TRAIN_STEPS
    check_run_numbers(
        steps=steps,
        epochs=epochs,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        threads=threads,
        max_seconds=max_seconds,
        workers=workers,
    )
    with claim_model_dir(model_dir, "melody", resume=resume, force=force):
        data = Path(data)
        model_dir = Path(model_dir)
        if resume and (model_dir / checkpoint.CONFIG).is_file():
            cfg = config_from_dict(MelodyConfig, checkpoint.load_config(model_dir)["config"], source=str(model_dir))
        if (data / "corpus.json").is_file():
            corpus_dir = data
        else:  # a raw folder: prepare it beside the model (kept, so a resume re-uses it)
            corpus_dir = model_dir / "corpus"
            rank, world = init_distributed()  # under torchrun: one rank prepares, the others wait, then all read it
            if rank == 0 and not (resume and (corpus_dir / "corpus.json").is_file()):
                report = prepare_corpus(data, corpus_dir, progress=progress, workers=workers)
                if progress:
                    print(report.summary())
            if world > 1:
                torch.distributed.barrier()
        if _corpus_encoding(corpus_dir) == POLYPHONIC:
            raise TrainingError(
                f"{corpus_dir}: prepared with --polyphonic; train it with --config polyphonic, or prepare the "
                "source again without --polyphonic for a melody model"
            )
        encoding = cfg.melody_encoding
        train = load_tokens(corpus_dir, "train", encoding, cfg.steps_per_quarter)
        eval_set = load_tokens(corpus_dir, "eval", encoding, cfg.steps_per_quarter)
        if len(train) < cfg.batch_size and init_from is not None and not resume and len(train):
            cfg = dataclasses.replace(cfg, batch_size=len(train))
        if len(train) < cfg.batch_size:
            raise TrainingError(
                f"{corpus_dir}: {len(train)} training melodies is fewer than one batch of {cfg.batch_size}; "
                f"add more MIDI files, lower --batch-size to {max(1, len(train))} (batch_size= from Python), or fine-tune "
                "the shipped model with --init-from default, which learns from a few tunes"
            )
        torch.manual_seed(seed)  # weight init is part of the run: same seed, same model
        task = MelodyTask(cfg, train, eval_set, seed=seed, device=pick_device(device), precision=precision)
        task.config_extra = {"corpus": str(corpus_dir.resolve())}  # where evaluation finds the held-out split
        if init_from is not None and not resume:
            task.config_extra["init_from"] = str(init_from)
            warm_start(task.model, init_from)
        settings = TrainSettings.from_arguments(locals(), clip_norm=cfg.clip_norm)
        result = run_training(task, model_dir, settings)
        result.update(
            {
                "train_melodies": len(train),
                "eval_melodies": len(eval_set),
                "train_steps_real": task.real_steps,
                "corpus": str(corpus_dir),
            }
        )
        return result
