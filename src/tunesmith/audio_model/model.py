"""SpectralLSTM: a MAGNet-style recurrent net that predicts the next STFT magnitude frame.

Read top to bottom: the config (with MAGNet's knob names as aliases), then the network.

MAGNet (Louis McCallum) feeds 40 linear-magnitude frames through BatchNorm and an LSTM and regresses
the next frame with MSE. On held-out audio that never beats "repeat the last frame". Here, by
default, frames enter as log-magnitudes standardised per frequency bin (statistics from the
training frames, stored with the weights), the network predicts a *change* to the last input frame
in that space (the head starts at zero, so an untrained model is exactly the persistence
predictor), and magnitudes come back through ``expm1`` and a ReLU, so they are never negative.
``normalisation="batchnorm"``, ``residual=False``, ``embedding=False``, ``output_activation="none"``
gives MAGNet's network.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.core.config import config_from_dict, read_config_file
from tunesmith.core.errors import BadInputError
from tunesmith.core.rnn_step import rnn_step
from tunesmith.defaults import AUDIO_EPOCHS

LOSSES = ("mse", "msle", "mae", "huber", "log-spectral")
OPTIMIZERS = ("adam", "adamax", "adamw", "rmsprop", "sgd")


@dataclass
class AudioConfig:
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 512
    sequence_length: int = 40  # frames of context per training window (and the generation seed window)
    layers: int = 2
    units: int = 128
    rnn: str = "lstm"  # "lstm" | "gru"
    dropout: float = 0.0  # between recurrent layers
    embedding: bool = True  # a Linear(bins -> units) before the RNN: 4x fewer FLOPs than bins -> 4*units gates
    normalisation: str = "log-standardise"  # "log-standardise" | "batchnorm" (MAGNet)
    residual: bool = True  # predict the change from the last input frame
    output_activation: str = "relu"  # "relu" | "softplus" | "none" (MAGNet: may go negative)
    loss: str = "mse"  # "mse" | "msle" | "mae" | "huber" | "log-spectral"
    optimizer: str = "adam"  # "adam" | "adamax" | "adamw" | "rmsprop" | "sgd"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = AUDIO_EPOCHS
    precision: str = "auto"  # "auto" (bf16 where the hardware has it) | "bf16" | "fp32"
    input_noise: float = 0.0  # training: std of Gaussian noise on the input frames (feature space)
    rollout_steps: int = 0  # training: after each window, this many steps fed with the model's own predictions
    random_chance: float = 0.02  # generation: chance per frame of a jump to a frame of the seed clip (MAGNet: 0.05)
    impulse_scale: float = 1.0  # generation: gain of an injected frame
    temperature: float = 0.3  # generation: each predicted magnitude times exp(N(0, temperature)): outputs differ
    level_control: bool = True  # generation: keep frames within the seed clip's levels (see generate.py)
    seed: int = 0

    def __post_init__(self) -> None:
        self.rnn = self.rnn.lower()
        self.loss = {
            "mean_squared_error": "mse",
            "mean_squared_logarithmic_error": "msle",
            "log_spectral": "log-spectral",
            "mean_absolute_error": "mae",
        }.get(self.loss.lower(), self.loss.lower())
        self.optimizer = self.optimizer.lower()
        self.normalisation = self.normalisation.lower().replace("normalization", "normalisation")
        self.output_activation = self.output_activation.lower()
        self.precision = self.precision.lower()
        checks = [
            (self.rnn in ("lstm", "gru"), f"rnn must be lstm or gru, not {self.rnn!r}"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"),
            (
                self.normalisation in ("log-standardise", "batchnorm"),
                f"normalisation must be log-standardise or batchnorm, not {self.normalisation!r}",
            ),
            (
                self.output_activation in ("relu", "softplus", "none"),
                f"output_activation must be relu, softplus or none, not {self.output_activation!r}",
            ),
            (self.precision in ("auto", "bf16", "fp32"), f"precision must be auto, bf16 or fp32, not {self.precision!r}"),
            (
                self.n_fft >= 16 and self.hop_length >= 1 and self.sample_rate >= 1000,
                "n_fft must be >= 16, hop_length >= 1 and sample_rate >= 1000",
            ),
            (
                self.sequence_length >= 1 and self.layers >= 1 and self.units >= 1 and self.batch_size >= 1,
                "sequence_length (--sequence-length), layers (--layers), units (--units) and batch_size (--batch-size) "
                f"must be at least 1, not {self.sequence_length}, {self.layers}, {self.units} and {self.batch_size}",
            ),
            (0 <= self.dropout < 1 and 0 <= self.random_chance <= 1, "dropout must be in [0, 1), random_chance in [0, 1]"),
            (
                self.input_noise >= 0 and self.temperature >= 0 and self.rollout_steps >= 0,
                "input_noise, temperature and rollout_steps must be >= 0",
            ),
            (
                self.learning_rate > 0 and self.weight_decay >= 0 and math.isfinite(self.learning_rate + self.weight_decay),
                f"learning_rate (--lr) must be above 0 and weight_decay (--weight-decay) at least 0, not "
                f"{self.learning_rate:g} and {self.weight_decay:g}",
            ),
            (self.epochs >= 1, f"epochs (--epochs) must be at least 1, not {self.epochs}"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInputError(message)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1


# MAGNet's knob names (train.py / generate.py) -> ours.
MAGNET_ALIASES = {
    "loss_type": "loss",
    "number_rnn_layers": "layers",
    "rnn_number_units": "units",
    "opt": "optimizer",
    "learning_rate": "learning_rate",
    "amount_epochs": "epochs",
    "batch_size": "batch_size",
    "sequence_length": "sequence_length",
    "random_chance": "random_chance",
    "impulse_scale": "impulse_scale",
    "n_fft": "n_fft",
    "hop_length": "hop_length",
    "sr": "sample_rate",
}


def audio_config_from_dict(data: dict, source: str = "config") -> AudioConfig:
    """An AudioConfig from our names or MAGNet's (values case-insensitive: "Adamax", "MSLE")."""
    return config_from_dict(AudioConfig, data, MAGNET_ALIASES, source)


def audio_config_from_file(path: str | os.PathLike) -> AudioConfig:
    """Read a JSON/TOML config (or a model's config.json) written with our names or MAGNet's."""
    return audio_config_from_dict(read_config_file(path), str(path))


class SpectralLSTM(nn.Module):
    """Magnitude frames in, next magnitude frame out, one prediction per input step."""

    def __init__(self, config: AudioConfig) -> None:
        super().__init__()
        self.config = config
        bins, units = config.bins, config.units
        # per-bin statistics of log1p(magnitude) over the training frames (saved with the weights)
        self.register_buffer("log_mean", torch.zeros(bins))
        self.register_buffer("log_std", torch.ones(bins))
        self.batchnorm = nn.BatchNorm1d(bins) if config.normalisation == "batchnorm" else None
        self.embed = nn.Linear(bins, units) if config.embedding else None
        rnn = nn.LSTM if config.rnn == "lstm" else nn.GRU
        self.rnn = rnn(
            units if config.embedding else bins,
            units,
            config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.head = nn.Linear(units, bins)
        if config.residual:  # start as the persistence predictor; training learns the corrections
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def log_domain(self) -> bool:
        return self.config.normalisation == "log-standardise"

    def set_statistics(self, frames: torch.Tensor) -> None:
        """Per-bin mean and spread of log1p(magnitude) of the training frames ``(frames, bins)``."""
        logs = torch.log1p(frames.float())
        self.log_mean.copy_(logs.mean(0))
        self.log_std.copy_(logs.std(0).clamp_min(1e-2))  # near-silent bins must not blow up

    def features(self, mags: torch.Tensor) -> torch.Tensor:
        """Linear magnitudes -> the network's input space (standardised log-magnitudes, or as-is for batchnorm)."""
        if self.log_domain:
            return (torch.log1p(mags) - self.log_mean) / self.log_std
        return mags

    def forward(self, x: torch.Tensor, state=None, index: torch.Tensor | None = None, last_only: bool = False):
        """Predict the next frame after each step of ``x`` ``(batch, steps, bins)`` in feature space.

        With ``index`` ``(batch, steps)``, ``x`` is a ``(frames, bins)`` table of *distinct* frames
        and the batch is ``x[index]``: the embedding (the costliest matmul) then runs once per
        distinct frame, not once per window position (windows overlap by ``sequence_length - 1``).
        Returns the raw prediction (feature space: add nothing, see ``to_magnitude``) and the RNN state.
        """
        if self.embed is not None:
            h = self.embed(x)
            h = h[index] if index is not None else h
        else:
            h = x[index] if index is not None else x
        if self.batchnorm is not None:
            h = self.batchnorm(h.transpose(1, 2)).transpose(1, 2)
        out, state = self.rnn(h, state)
        if last_only:  # gather only the frames the prediction is added to
            out = out[:, -1:]
            last_in = x[index[:, -1:]] if index is not None else x[:, -1:]
        else:
            last_in = x[index] if index is not None else x
        pred = self.head(out)
        if self.config.residual:
            pred = pred + last_in.to(pred.dtype)
        return pred, state

    def step(self, x: torch.Tensor, state=None):
        """One frame ``x (batch, bins)`` in feature space -> the next prediction ``(batch, bins)`` and state.

        Generation's inner loop: the same computation as ``forward`` on a one-step sequence (eval mode),
        with the RNN as plain matmuls (``rnn_step``), several times faster than an ``nn.LSTM`` call.
        """
        h = self.embed(x) if self.embed is not None else x
        if self.batchnorm is not None:
            h = self.batchnorm(h)
        out, state = rnn_step(self.rnn, h, state)
        pred = self.head(out)
        return (pred + x.to(pred.dtype) if self.config.residual else pred), state

    def feed_back(self, pred: torch.Tensor) -> torch.Tensor:
        """A feature-space prediction as the next input, as generation feeds it: ``features(relu(magnitude))``.

        In log mode that is ``max(pred, -mean / std)`` (a magnitude clamped at 0, in feature space).
        """
        if self.log_domain and self.config.output_activation == "relu":
            return torch.maximum(pred, -self.log_mean / self.log_std)
        return self.features(self.to_magnitude(pred))

    def raw_magnitude(self, pred: torch.Tensor) -> torch.Tensor:
        """Feature-space prediction -> linear magnitude before the output activation (> -1 in log mode)."""
        pred = pred.float()
        return torch.expm1(pred * self.log_std + self.log_mean) if self.log_domain else pred

    def to_magnitude(self, pred: torch.Tensor) -> torch.Tensor:
        """Feature-space prediction -> non-negative linear magnitudes (unless output_activation is none)."""
        raw = self.raw_magnitude(pred)
        if self.config.output_activation == "relu":
            return F.relu(raw)
        if self.config.output_activation == "softplus":
            return F.softplus(raw)
        return raw

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The configured training loss between a feature-space prediction and linear target magnitudes.

        Losses on linear magnitudes see the value before the activation so a clamped output still
        gets a gradient; "msle" and "log-spectral" compare log1p magnitudes (log-spectral: per-bin
        standardised, so quiet high bins count as much as loud low ones).
        """
        kind = self.config.loss
        if kind in ("msle", "log-spectral"):
            if self.log_domain:
                log_pred = pred.float() * self.log_std + self.log_mean
            else:  # MAGNet/Keras MSLE: negative predictions clamped (and get no gradient there)
                log_pred = torch.log1p(pred.float().clamp_min(0))
            log_target = torch.log1p(target)
            if kind == "log-spectral":
                return F.mse_loss((log_pred - log_target) / self.log_std, torch.zeros_like(log_pred))
            return F.mse_loss(log_pred, log_target)
        raw = self.raw_magnitude(pred)
        if kind == "mse":
            return F.mse_loss(raw, target)
        if kind == "mae":
            return F.l1_loss(raw, target)
        return F.huber_loss(raw, target)
