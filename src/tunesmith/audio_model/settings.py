"""The knobs of audio generation a person turns: length, count, and MAGNet's sampling knobs.

Each field carries its default, bounds and help text (``tunesmith.core.options.setting``); ``tunesmith audio
generate``, the web studio and ``generate_audio`` are built from it. The sampling knobs default to None: the
model's own setting, saved in its config (``AudioConfig``). No torch here, so the command line reads it fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.core.options import MAX_SEED, setting


@dataclass
class AudioGeneration:
    seconds: float = setting(20.0, low=0, above=True, help="length of each output")
    n: int = setting(1, low=1, flags=("-n", "--num-outputs"), help="how many outputs")
    seed_offset: float = setting(0.0, low=0, help="seconds into the seed clip to start from")
    random_chance: float | None = setting(
        None, low=0, high=1, help="MAGNet's jumps: chance per frame of a jump to a seed-clip frame (default: the model's)"
    )
    impulse_scale: float | None = setting(
        None, low=0, help="MAGNet's impulse: scale of the re-seeded frame (default: the model's)"
    )
    temperature: float | None = setting(
        None, low=0, help="sampling: magnitudes times exp(N(0, T)); 0 = deterministic (default: the model's)"
    )
    level_control: bool | None = setting(None, help="keep frames within the seed clip's levels (default: the model's, on)")
    griffin_lim_iters: int = setting(32, low=1, help="phase reconstruction iterations (more: cleaner, slower)")
    seed: int = setting(0, low=0, high=MAX_SEED, help="same seed, same audio")
