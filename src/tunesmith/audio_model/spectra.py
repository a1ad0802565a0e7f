"""Audio in, magnitude frames out, and back again: loading, STFT, training windows, Griffin-Lim.

Terms: an STFT *frame* is the spectrum of one ``n_fft``-sample stretch of audio; consecutive frames
start ``hop_length`` samples apart. Its *magnitude* (``|STFT|``, one value per frequency *bin*,
``n_fft // 2 + 1`` bins) is what the audio model predicts; the *phase* is thrown away and
re-estimated by Griffin-Lim when audio is made again.

Frames are stored time-major, ``(frames, bins)``, in ONE contiguous array per data set, so a
training window of ``sequence_length`` frames is a strided view (never a copy; MAGNet materialised
every window, 40x the data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from tunesmith.core.errors import BadInputError

HELD_OUT_FRACTION = 0.1


# ----------------------------------------------------------------------------- STFT


def magnitudes(audio: np.ndarray | torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """``|STFT|`` as ``(frames, bins)`` float32: Hann window of ``n_fft``, centred frames (as MAGNet/librosa)."""
    audio = torch.as_tensor(audio, dtype=torch.float32)
    spec = torch.stft(
        audio, n_fft, hop_length, window=torch.hann_window(n_fft, device=audio.device), center=True, return_complex=True
    )
    return spec.abs().transpose(-1, -2).contiguous()


# ----------------------------------------------------------------------------- training windows


@dataclass
class FrameSet:
    """All clips' magnitude frames in one ``(frames, bins)`` array, plus where windows may start.

    A window starting at frame ``s`` is frames ``s .. s+sequence_length-1``; its target is frame
    ``s+sequence_length``. Windows never cross a clip boundary. Windows whose target lies in the
    last ``HELD_OUT_FRACTION`` of a clip's frames are held out for evaluation.
    """

    frames: torch.Tensor  # (frames, bins) float32 linear magnitudes
    train_starts: torch.Tensor  # (windows,) int64
    held_out_starts: torch.Tensor  # (windows,) int64
    train_frames: torch.Tensor  # (frames,) bool: frames used only by training windows (for statistics)
    sequence_length: int
    files: list[str]

    def windows(self) -> torch.Tensor:
        """Every window as a ``(frames - L + 1, L, bins)`` strided view of ``frames``: no copy."""
        return self.frames.unfold(0, self.sequence_length, 1).transpose(1, 2)


def build_frame_set(clips: list[tuple[str, np.ndarray]], n_fft: int, hop_length: int, sequence_length: int) -> FrameSet:
    """STFT every clip, concatenate the frames once, and index the train / held-out windows."""
    blocks, train_starts, held_starts, train_mask, names = [], [], [], [], []
    offset = 0
    for name, audio in clips:
        mags = magnitudes(audio, n_fft, hop_length)
        count = mags.shape[0]
        if count < sequence_length + 2:
            raise BadInputError(
                f"{name}: {count} STFT frames, too short for windows of {sequence_length} frames "
                f"plus a target; use a longer clip (at least "
                f"{(sequence_length + 1) * hop_length} samples) or a smaller sequence_length"
            )
        targets = np.arange(sequence_length, count)  # every window's target frame, within this clip
        split = max(sequence_length + 1, min(count - 1, int(math.floor((1 - HELD_OUT_FRACTION) * count))))
        starts = targets - sequence_length
        train_starts.append(torch.from_numpy(offset + starts[targets < split]))
        held_starts.append(torch.from_numpy(offset + starts[targets >= split]))
        mask = torch.zeros(count, dtype=torch.bool)
        mask[:split] = True
        train_mask.append(mask)
        blocks.append(mags)
        names.append(name)
        offset += count
    return FrameSet(
        torch.cat(blocks), torch.cat(train_starts), torch.cat(held_starts), torch.cat(train_mask), sequence_length, names
    )


# ----------------------------------------------------------------------------- Griffin-Lim


def _overlap_add(frames: torch.Tensor, hop_length: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Sum ``(..., T, n_fft)`` frames placed ``hop_length`` apart; fast path when hop divides n_fft."""
    *lead, count, n_fft = frames.shape
    length = n_fft + hop_length * (count - 1)
    if n_fft % hop_length == 0:
        k = n_fft // hop_length
        blocks = frames.reshape(*lead, count, k, hop_length)
        out = frames.new_empty(*lead, length) if out is None else out
        rows = out.view(*lead, count + k - 1, hop_length)
        rows.zero_()
        for j in range(k):  # k shifted adds instead of a scatter
            rows[..., j : j + count, :] += blocks[..., j, :]
        return out
    flat = frames.reshape(-1, count, n_fft).transpose(1, 2)
    result = torch.nn.functional.fold(flat, (1, length), (1, n_fft), stride=(1, hop_length)).reshape(*lead, length)
    return result if out is None else out.copy_(result)


def griffin_lim(
    mags: torch.Tensor,
    n_fft: int,
    hop_length: int,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Audio whose STFT magnitude matches ``mags`` ``(batch, frames, bins)``: fast Griffin-Lim, batched.

    Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) adds a momentum term to the classic
    alternating projections and converges in far fewer iterations; this follows librosa.griffinlim
    (random initial phase, momentum 0.99, centred Hann frames, zero padding) but runs all outputs as
    one batch and replaces istft/stft by irfft, overlap-add, a strided re-framing and rfft, all into
    preallocated buffers (the loop is memory-bound: fresh 10 MB tensors per op cost more than the FFTs).
    """
    single = mags.dim() == 2
    mags = (mags[None] if single else mags).to(torch.float32).contiguous()
    batch, count, bins = mags.shape
    if bins != n_fft // 2 + 1:
        raise BadInputError(f"magnitudes have {bins} bins; n_fft {n_fft} needs {n_fft // 2 + 1}")
    device = mags.device
    window = torch.hann_window(n_fft, device=device)
    full = n_fft + hop_length * (count - 1)
    norm = _overlap_add(window.square().expand(count, n_fft), hop_length)
    inv_norm = torch.where(norm > 1e-8, 1.0 / norm.clamp_min(1e-8), torch.zeros_like(norm))
    pad = n_fft // 2
    inv_norm[:pad] = 0  # as istft trims the centring pad and stft pads with zeros again
    inv_norm[full - pad :] = 0
    gen = torch.Generator(device="cpu").manual_seed(seed)
    phase = torch.rand(batch, count, bins, generator=gen).to(device) * (2 * math.pi)
    spec = torch.polar(mags, phase)
    rebuilt, previous = torch.empty_like(spec), torch.zeros_like(spec)
    frames = mags.new_empty(batch, count, n_fft)
    signal = mags.new_empty(batch, full)
    scale = torch.empty_like(mags)
    beta = momentum / (1 + momentum)

    def to_audio(spectrum: torch.Tensor) -> torch.Tensor:
        torch.fft.irfft(spectrum, n=n_fft, out=frames)
        frames.mul_(window)
        return _overlap_add(frames, hop_length, out=signal).mul_(inv_norm)

    for _ in range(n_iter):
        to_audio(spec)
        torch.mul(signal.unfold(-1, n_fft, hop_length), window, out=frames)
        torch.fft.rfft(frames, out=rebuilt)
        angles = torch.view_as_real(spec)  # angles = rebuilt - beta * previous, written over spec
        torch.add(torch.view_as_real(rebuilt), torch.view_as_real(previous), alpha=-beta, out=angles)
        rebuilt, previous = previous, rebuilt
        # scale = mags / |angles|, as mags * rsqrt(re^2 + im^2): torch.hypot is 3x slower on CPU
        torch.mul(angles[..., 0], angles[..., 0], out=scale)
        scale.addcmul_(angles[..., 1], angles[..., 1]).add_(1e-32).rsqrt_().mul_(mags)
        angles.mul_(scale.unsqueeze(-1))
    audio = to_audio(spec)[..., pad : full - pad].clone()
    if length is not None:
        audio = (
            audio[..., :length] if audio.shape[-1] >= length else torch.nn.functional.pad(audio, (0, length - audio.shape[-1]))
        )
    return audio[0] if single else audio


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """``||A - B||_F / ||A||_F`` of two magnitude arrays: 0 is identical, 1 is an error as large as A."""
    return float(torch.linalg.vector_norm(reference - estimate) / torch.linalg.vector_norm(reference))
