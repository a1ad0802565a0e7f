"""Train a SpectralLSTM on audio clips through the shared training loop (tunesmith.core.training).

One epoch visits every training window once, ``batch_size`` windows per step (MAGNet: 39 steps of
64 windows for a 30 s clip). After each epoch the held-out one-step error is logged next to the
"repeat the last frame" baseline, so it is plain whether the model has learnt anything.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tunesmith.audio.io import find_audio_files, load_audio
from tunesmith.audio_model.model import AudioConfig, SpectralLSTM, audio_config_from_dict
from tunesmith.audio_model.spectra import FrameSet, build_frame_set
from tunesmith.core.device import pick_device
from tunesmith.core.errors import BadInputError
from tunesmith.core.training import TrainSettings, claim_model_dir, run_training, use_bf16


def load_clips(clips, sample_rate: int, min_samples: int) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Load every clip; with several files a bad one is skipped and reported, a lone bad file raises."""
    paths = find_audio_files(clips)
    loaded, skipped = [], []
    for path in paths:
        try:
            audio, _ = load_audio(path, sample_rate, min_samples)
            loaded.append((str(path), audio))
        except BadInputError as exc:
            if len(paths) == 1:
                raise
            skipped.append(str(exc))
    if not loaded:
        raise BadInputError("no usable audio clip:\n  " + "\n  ".join(skipped))
    return loaded, skipped


class AudioTask:
    """The audio model as a ``TrainingTask`` for ``run_training``."""

    kind = "audio"

    def __init__(self, config: AudioConfig, data: FrameSet, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.model = SpectralLSTM(config).to(device)
        self.model.set_statistics(data.frames[data.train_frames].to(device))
        self.frames = data.frames.to(device)  # (frames, bins) linear magnitudes: the only copy of the data
        with torch.no_grad():
            self.features = self.model.features(self.frames)  # fixed input transform, computed once
        self.train_starts = data.train_starts
        if config.rollout_steps:  # windows whose rollout targets are training frames of the same clip too
            span = config.sequence_length + config.rollout_steps
            inside = torch.cat([torch.zeros(1, dtype=torch.long), data.train_frames.long().cumsum(0)])
            ends = (self.train_starts + span + 1).clamp(max=len(data.train_frames))
            ok = inside[ends] - inside[self.train_starts] == span + 1
            self.train_starts = self.train_starts[ok]
        self.held_out_starts = data.held_out_starts.to(device)
        self.offsets = torch.arange(config.sequence_length, device=device)
        self.bf16 = use_bf16(config.precision, device)
        self.files = data.files
        self.thread_hints = {"recurrent": True, "units": config.units}

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        params = self.model.parameters()
        if c.optimizer == "adam":
            return torch.optim.Adam(params, c.learning_rate, weight_decay=c.weight_decay)
        if c.optimizer == "adamax":
            return torch.optim.Adamax(params, c.learning_rate, weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, c.learning_rate, weight_decay=c.weight_decay)
        if c.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, c.learning_rate, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, c.learning_rate, momentum=0.9, weight_decay=c.weight_decay)

    def batches_per_epoch(self, world_size: int = 1) -> int:
        return len(self.train_starts) // (self.config.batch_size * world_size)

    def batch(self, epoch: int, index: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        """Window start frames of one batch: a permutation fixed by (seed, epoch), sliced by step and rank."""
        order = np.random.default_rng([self.config.seed, epoch]).permutation(len(self.train_starts))
        size = self.config.batch_size
        first = (index * world_size + rank) * size
        return self.train_starts[torch.from_numpy(order[first : first + size])].to(self.device)

    def _predict(self, starts: torch.Tensor, with_state: bool = False):
        """Feature-space one-step predictions for windows starting at ``starts``: distinct frames embedded once."""
        positions = starts[:, None] + self.offsets
        distinct, index = torch.unique(positions, return_inverse=True)
        # padded to a multiple of 64 rows: oneDNN keeps a bf16 kernel per matmul shape, and a new
        # shape every batch grew the process by ~1 MB per step (40 MB per epoch) without bound
        distinct = F.pad(distinct, (0, -len(distinct) % 64))
        x = self.features[distinct]
        if self.model.training and self.config.input_noise > 0:  # the model learns to pull noisy input back
            x = x + self.config.input_noise * torch.randn_like(x)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            pred, state = self.model(x, index=index, last_only=True)
        return (pred[:, 0].float(), state) if with_state else pred[:, 0].float()

    def loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        length = self.config.sequence_length
        if not self.config.rollout_steps:
            loss = self.model.loss(self._predict(batch), self.frames[batch + length])
            return loss, {"loss": float(loss.detach())}
        # a multi-step loss: the model continues on its own predictions (as in generation), so it learns to
        # correct its own drift instead of only ever seeing true frames (exposure bias)
        pred, state = self._predict(batch, with_state=True)
        one_step = self.model.loss(pred, self.frames[batch + length])
        total = one_step
        for k in range(1, self.config.rollout_steps + 1):
            x = self.model.feed_back(pred)
            if self.config.input_noise > 0:
                x = x + self.config.input_noise * torch.randn_like(x)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                step, state = self.model(x[:, None], state)
            pred = step[:, 0].float()
            total = total + self.model.loss(pred, self.frames[batch + length + k])
        loss = total / (self.config.rollout_steps + 1)
        return loss, {"loss": float(loss.detach()), "one_step": float(one_step.detach())}

    def evaluate(self) -> dict[str, float]:
        """Held-out one-step errors in linear magnitude, with the persistence ("repeat last frame") baseline."""
        starts = self.held_out_starts
        sums = {"loss": 0.0, "mse": 0.0, "msle": 0.0, "persistence_mse": 0.0, "persistence_msle": 0.0}
        length = self.config.sequence_length
        for chunk in starts.split(64):  # small chunks: evaluation must not set the peak memory
            target = self.frames[chunk + length]
            last = self.frames[chunk + length - 1]
            pred = self._predict(chunk)
            mags = self.model.to_magnitude(pred)
            n = len(chunk)
            sums["loss"] += float(self.model.loss(pred, target)) * n
            sums["mse"] += float((mags - target).square().mean()) * n
            sums["msle"] += float((torch.log1p(mags.clamp_min(0)) - torch.log1p(target)).square().mean()) * n
            sums["persistence_mse"] += float((last - target).square().mean()) * n
            sums["persistence_msle"] += float((torch.log1p(last) - torch.log1p(target)).square().mean()) * n
        return {k: v / max(1, len(starts)) for k, v in sums.items()}


def train_audio_model(
    clips,
    model_dir: str | os.PathLike,
    config: AudioConfig | dict | None = None,
    *,
    epochs: int | None = None,
    resume: bool = False,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
    threads: int | None = None,
    checkpoint_every: int | None = None,
    stop_event=None,
    on_log=None,
    force: bool = False,
    **overrides,
) -> dict:
    """Train (or ``resume``) an audio model on ``clips`` (a file, a folder, or a list) into ``model_dir``.

    ``config`` is an AudioConfig or a dict with our or MAGNet's names; ``overrides`` (same names)
    win over it; on resume the saved config is used. Returns ``run_training``'s summary plus the
    files used and skipped. A trained model already in ``model_dir`` is continued with ``resume=True``,
    replaced with ``force=True``, and otherwise refused before any work (see tunesmith.core.folders).
    """
    from tunesmith.core import checkpoint

    def settings_from(base: dict) -> AudioConfig:
        base = {**base, **overrides, "seed": seed}
        if epochs is not None:
            base["epochs"] = epochs
        return audio_config_from_dict(base, "audio config")

    # nonsense numbers (batch_size=0, learning_rate=-1) are refused before the model folder is made
    cfg = settings_from(dataclasses.asdict(config) if isinstance(config, AudioConfig) else dict(config or {}))
    if checkpoint_every is not None and checkpoint_every < 1:
        raise BadInputError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
    with claim_model_dir(model_dir, "audio", resume=resume, force=force):
        model_dir = Path(model_dir)
        if resume and (model_dir / checkpoint.CONFIG).is_file():
            cfg = settings_from(checkpoint.load_config(model_dir)["config"])
        loaded, skipped = load_clips(clips, cfg.sample_rate, cfg.n_fft)
        for note in skipped:
            print(f"note: skipped {note}")
        data = build_frame_set(loaded, cfg.n_fft, cfg.hop_length, cfg.sequence_length)
        torch.manual_seed(seed)  # weight initialisation is part of the run: same seed, same model
        task = AudioTask(cfg, data, pick_device(device))
        task.config_extra = {"clips": [str(Path(f).resolve()) for f in data.files]}  # what evaluation compares against
        per_epoch = task.batches_per_epoch()
        if per_epoch < 1:
            raise BadInputError(
                f"{len(data.train_starts)} training windows are fewer than one batch of {cfg.batch_size}; "
                f"add audio or lower --batch-size (batch_size=) to {max(1, len(data.train_starts))} or less"
            )
        settings = TrainSettings(
            epochs=cfg.epochs,
            eval_every=per_epoch,
            checkpoint_every=checkpoint_every or per_epoch,
            log_every=per_epoch,
            seed=seed,
            resume=resume,
            progress=progress,
            threads=threads,
            stop_event=stop_event,
            on_log=on_log,
        )
        result = run_training(task, model_dir, settings)
        result.update(
            {
                "files": data.files,
                "skipped": skipped,
                "windows": len(data.train_starts),
                "held_out_windows": len(data.held_out_starts),
                "batches_per_epoch": per_epoch,
            }
        )
        return result
