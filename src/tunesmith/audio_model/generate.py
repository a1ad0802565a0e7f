"""Make new audio from a trained audio model: seed window -> autoregressive frames -> Griffin-Lim.

The model reads the seed clip's first ``sequence_length`` frames (from ``seed_offset`` seconds),
then feeds each predicted frame back in, carrying the RNN state (O(frames), unlike MAGNet's
re-run of a sliding window). With ``random_chance`` each output, at each frame, may instead be fed
a frame from a random position of the seed clip, scaled by ``impulse_scale`` (MAGNet's "random
jumps", which keep a long generation from settling into a loop). All ``n`` outputs run as one
batch, and their phases are reconstructed together by batched fast Griffin-Lim.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from tunesmith.audio.io import load_audio
from tunesmith.audio_model.model import AudioConfig, SpectralLSTM, audio_config_from_dict
from tunesmith.audio_model.spectra import griffin_lim, magnitudes
from tunesmith.core import checkpoint
from tunesmith.core.device import pick_device, threads_for_small_steps
from tunesmith.core.errors import BadInputError, Cancelled, ModelError

NOISE_BLOCK = 256  # frames of sampling noise drawn per call
LEVEL_EVERY = 4  # frames between level checks (a 20 s output at 44.1 kHz has 1,723 frames)
STOP_EVERY = 16  # frames between looks at a stop_event (and progress reports)


class AudioModel:
    """A trained SpectralLSTM with its config, ready to generate."""

    def __init__(self, config: AudioConfig, model: SpectralLSTM, device: torch.device) -> None:
        self.config = config
        self.model = model.eval()
        self.device = device
        self.notes: list[str] = []
        self._step = None  # the NumPy frame step, made on first CPU generation

    def _numpy_step(self):
        """The model's one-frame step in NumPy (CPU generation: ~3x faster than torch's small ops), made once."""
        if self._step is None:
            from tunesmith.audio_model.numpy_step import NumpyStep

            self._step = NumpyStep(self.model)
        return self._step

    def seed_frames(self, seed_clip) -> torch.Tensor:
        """The seed clip's magnitude frames ``(frames, bins)``; resampled (with a note) if its rate differs."""
        c = self.config
        audio, rate = load_audio(seed_clip, c.sample_rate, c.n_fft)
        if rate != c.sample_rate:
            self.notes.append(f"{seed_clip}: resampled from {rate} Hz to the model's {c.sample_rate} Hz")
        frames = magnitudes(audio, c.n_fft, c.hop_length)
        if frames.shape[0] < c.sequence_length:
            raise BadInputError(
                f"{seed_clip}: {frames.shape[0]} frames; the model needs a seed of at least "
                f"{c.sequence_length} frames ({c.sequence_length * c.hop_length / c.sample_rate:.2f} s)"
            )
        return frames.to(self.device)

    @torch.inference_mode()
    def generate_frames(
        self,
        seed: torch.Tensor,
        frames: int,
        *,
        n: int = 1,
        seed_offset: float = 0.0,
        random_chance: float | None = None,
        impulse_scale: float | None = None,
        temperature: float | None = None,
        level_control: bool | None = None,
        seed_value: int = 0,
        stop_event=None,
        on_frame=None,
    ) -> torch.Tensor:
        """``(n, frames, bins)`` magnitudes continuing the seed window; deterministic for ``seed_value``.

        Settings left at None come from the model's config (its generation defaults). A set ``stop_event``
        stops it within a few frames (Cancelled); ``on_frame(done, total)`` hears how far it got.
        """
        c, model = self.config, self.model
        random_chance = c.random_chance if random_chance is None else random_chance
        impulse_scale = c.impulse_scale if impulse_scale is None else impulse_scale
        temperature = c.temperature if temperature is None else temperature
        level_control = c.level_control if level_control is None else level_control
        length = c.sequence_length
        start = min(max(0, round(seed_offset * c.sample_rate / c.hop_length)), seed.shape[0] - length)
        gen = torch.Generator(device="cpu").manual_seed(seed_value)
        window = seed[start : start + length].expand(n, length, -1)
        pred, state = model(model.features(window), last_only=True)  # warm the state on the seed window
        pred = pred[:, 0]
        out = torch.empty(n, frames, c.bins, device=self.device)
        jumps = torch.rand(frames, n, generator=gen) < random_chance  # drawn up front: same seed, same audio
        where = torch.randint(0, seed.shape[0], (frames, n), generator=gen)
        jump_steps = set(torch.nonzero(jumps.any(dim=1)).flatten().tolist())  # empty when random_chance is 0
        # in log space the loop skips a round trip: features(relu(expm1(z))) is (relu(z) - mean) / std
        log_space = model.log_domain and c.output_activation == "relu"
        limits = seed_limits(seed) if level_control else None
        # never above what audio in [-1, 1] can have (a Hann-windowed frame sums to n_fft / 2): no overflow to inf
        cap = torch.full((c.bins,), math.log1p(c.n_fft / 2), device=self.device)
        ceiling = limits["ceiling"] if limits is not None else cap
        floor = torch.zeros_like(ceiling)
        noise = None
        step = self._numpy_step() if self.device.type == "cpu" else model.step
        with threads_for_small_steps(self.device):  # tiny ops, one frame at a time
            for t in range(frames):
                if t % STOP_EVERY == 0:
                    if stop_event is not None and stop_event.is_set():
                        raise Cancelled(f"audio generation stopped at frame {t} of {frames}")
                    if on_frame is not None:
                        on_frame(t, frames)
                if temperature > 0 and t % NOISE_BLOCK == 0:  # drawn in blocks: one call per 256 frames
                    block = min(NOISE_BLOCK, frames - t)
                    noise = torch.randn(block, n, c.bins, generator=gen).to(self.device).mul_(temperature).exp_()
                if log_space:
                    value = torch.addcmul(model.log_mean, pred.float(), model.log_std).clamp_(min=0)
                    if noise is not None:  # sampling: each output takes its own path
                        value = torch.log1p(torch.expm1(value).mul_(noise[t % NOISE_BLOCK]))
                    value.clamp_(floor, ceiling)
                else:
                    value = model.to_magnitude(pred).clamp_min(0)
                    if noise is not None:
                        value = value * noise[t % NOISE_BLOCK]
                    value = torch.minimum(value.nan_to_num(0.0), torch.expm1(ceiling))
                if limits is not None and t % LEVEL_EVERY == 0:  # levels move slowly: a check every few frames holds them
                    value = keep_level(value, limits, log_space)
                if t in jump_steps:
                    jump = seed[where[t].to(self.device)] * impulse_scale
                    value = torch.where(jumps[t].to(self.device)[:, None], torch.log1p(jump) if log_space else jump, value)
                out[:, t] = value
                feature = (value - model.log_mean).div_(model.log_std) if log_space else model.features(value)
                pred, state = step(feature, state)
        return torch.expm1_(out) if log_space else out  # magnitudes

    def generate(
        self,
        seed_clip,
        *,
        seconds: float = 20.0,
        n: int = 1,
        seed_offset: float = 0.0,
        random_chance: float | None = None,
        impulse_scale: float | None = None,
        temperature: float | None = None,
        level_control: bool | None = None,
        griffin_lim_iters: int = 32,
        seed: int = 0,
        stop_event=None,
        on_frame=None,
    ) -> list[np.ndarray]:
        """``n`` float32 mono clips of ``seconds`` at ``config.sample_rate``, continuing ``seed_clip``
        (``stop_event`` and ``on_frame`` as in ``generate_frames``)."""
        if seconds <= 0 or n < 1:
            raise BadInputError("seconds must be > 0 and n >= 1")
        c = self.config
        samples = int(round(seconds * c.sample_rate))
        frames = samples // c.hop_length + 1
        mags = self.generate_frames(
            self.seed_frames(seed_clip),
            frames,
            n=n,
            seed_offset=seed_offset,
            random_chance=random_chance,
            impulse_scale=impulse_scale,
            temperature=temperature,
            level_control=level_control,
            seed_value=seed,
            stop_event=stop_event,
            on_frame=on_frame,
        )
        if stop_event is not None and stop_event.is_set():
            raise Cancelled("audio generation stopped before the phases were rebuilt")
        with torch.inference_mode():
            audio = griffin_lim(mags, c.n_fft, c.hop_length, griffin_lim_iters, length=samples, seed=seed)
        audio = audio.float().cpu().numpy()
        peak = np.abs(audio).max(axis=1, keepdims=True)
        audio = np.where(peak > 0.99, audio * (0.99 / np.maximum(peak, 1e-9)), audio)  # never clip the WAV
        return [np.ascontiguousarray(a, dtype=np.float32) for a in audio]


# ----------------------------------------------------------------------------- level control


def frame_levels_db(mags: torch.Tensor) -> torch.Tensor:
    """Energy of each magnitude frame ``(..., bins)`` in dB (10 log10 of the summed squares)."""
    return 10 * torch.log10(mags.float().square().sum(-1) + 1e-12)


def seed_limits(seed: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the seed clip allows a generated frame: a level range and a ceiling per bin (log1p magnitude).

    The floor is the clip's quieter frames' level (its 20th percentile of the frames within 40 dB of its
    loudest, so pauses and the fade-out don't set it); the top is its loudest frame; no bin may exceed
    the loudest the clip ever had in that bin (a single tone cannot swell past what the clip played).
    """
    levels = frame_levels_db(seed)
    top = levels.max()
    floor = torch.quantile(levels[levels > top - 40], 0.2)
    return {"floor": floor, "top": top, "ceiling": torch.log1p(seed.float().amax(0))}


def keep_level(value: torch.Tensor, limits: dict[str, torch.Tensor], log_space: bool) -> torch.Tensor:
    """Scale each frame ``(n, bins)`` whose level left the seed's range back to its nearest edge.

    ``value`` holds log1p magnitudes in log space, else magnitudes. Frames inside the range (most of
    them) cost one comparison; a rescaled frame is capped at the seed's per-bin ceiling again.
    """
    mags = torch.expm1(value) if log_space else value
    level = frame_levels_db(mags)
    target = level.clamp(limits["floor"], limits["top"])
    if torch.equal(target, level):
        return value
    mags = mags * torch.pow(10.0, (target - level) / 20)[:, None]
    if log_space:
        return torch.minimum(torch.log1p(mags), limits["ceiling"])
    return torch.minimum(mags, torch.expm1(limits["ceiling"]))


def load_audio_model(model_dir: str | os.PathLike, device: str | None = None) -> AudioModel:
    """Load ``model_dir`` (or ``'default'``/``'audio-default'``, the shipped one) on ``device`` (CUDA if present, else CPU)."""
    from tunesmith.assets import resolve_model_dir

    model_dir = resolve_model_dir(model_dir, kind="audio")
    data = checkpoint.load_config(model_dir)
    if data["kind"] != "audio":
        raise ModelError(f"{model_dir} holds a {data['kind']} model, not an audio model")
    config = audio_config_from_dict(data["config"], f"{model_dir}/{checkpoint.CONFIG}")
    model = SpectralLSTM(config)
    checkpoint.load_weights(model_dir, model)
    dev = pick_device(device)
    return AudioModel(config, model.to(dev), dev)
