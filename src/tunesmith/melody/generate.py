"""Generation: batched sampling (temperature, top-k, top-p, key/scale mask) and Magenta's beam search.

All outputs (and all beams of all outputs) advance together as ONE batch per step, carrying the
LSTM state, so 100 melodies cost about as much as one.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunesmith import checkpoint
from tunesmith.config import config_from_dict
from tunesmith.device import pick_device
from tunesmith.errors import BadInputError, Cancelled, ModelError
from tunesmith.melody.encoding import NUM_SPECIAL, MelodyEncoding
from tunesmith.melody.model import MelodyConfig, build_model, count_parameters
from tunesmith.music.melody import Melody, fold_into_range
from tunesmith.music.notes import SCALES
from tunesmith.music.primer import parse_primer


@dataclass
class GenerationSettings:
    steps: int = 128
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1
    key: str | None = None
    scale: str = "major"
    qpm: float | None = None
    exclude_primer: bool = False
    strict: bool = False
    seed: int = 0


class MelodyModel:
    """A trained melody model ready to generate: ``MelodyModel.load(dir).generate("C#4", n=4)``."""

    def __init__(self, module: torch.nn.Module, config: MelodyConfig, model_dir: Path | None = None, info: dict | None = None):
        self.module = module.eval()
        self.config = config
        self.encoding: MelodyEncoding = config.melody_encoding
        self.model_dir = model_dir
        self.info = info or {}
        self.device = next(module.parameters()).device

    @classmethod
    def load(cls, model_dir: str | os.PathLike, device: str | None = None) -> MelodyModel:
        from tunesmith.assets import resolve_model_dir

        path = resolve_model_dir(model_dir)
        data = checkpoint.load_config(path)
        if data["kind"] != "melody":
            raise ModelError(f"{path} holds a {data['kind']} model, not a melody model")
        config = config_from_dict(MelodyConfig, data["config"], source=str(path / checkpoint.CONFIG))
        module = build_model(config)
        checkpoint.load_weights(path, module)
        module.to(pick_device(device))
        return cls(module, config, path, data)

    def __repr__(self) -> str:
        where = f" from {self.model_dir}" if self.model_dir else ""
        return f"MelodyModel({self.config.name}{where}, {count_parameters(self.module):,} parameters)"

    def _repr_html_(self) -> str:
        from tunesmith.notebook import model_html

        return model_html(self)

    # --- primer ----------------------------------------------------------------------------
    def prepare_primer(self, primer, *, strict: bool = False, primer_bars: int | None = None, seed: int = 0) -> Melody:
        melody = parse_primer(primer, steps_per_quarter=self.config.steps_per_quarter, primer_bars=primer_bars)
        if melody is None:
            rng = np.random.default_rng(seed)
            low = max(self.config.min_note, 60 - 6)
            melody = Melody(
                [int(rng.integers(low, min(low + 12, self.config.max_note)))], steps_per_quarter=self.config.steps_per_quarter
            )
        if melody.steps_per_quarter != self.config.steps_per_quarter:
            raise BadInputError(
                f"primer has {melody.steps_per_quarter} steps per quarter, the model {self.config.steps_per_quarter}"
            )
        pitches = melody.pitches
        lo, hi = self.config.min_note, self.config.max_note
        if pitches.size and (pitches.min() < lo or pitches.max() >= hi):
            from tunesmith.music.notes import pitch_to_name

            message = (
                f"primer notes {pitch_to_name(int(pitches.min()))}-{pitch_to_name(int(pitches.max()))} lie outside "
                f"the model's range {pitch_to_name(lo)}-{pitch_to_name(hi - 1)}"
            )
            if strict:
                raise BadInputError(message + "; transpose the primer or drop --strict to fold it by octaves")
            warnings.warn(message + "; moved by octaves into range", stacklevel=3)
            events = melody.events.astype(np.int32)
            events[events >= 0] = fold_into_range(events[events >= 0], lo, hi)
            melody = melody.copy(events=events.astype(np.int16))
        melody.steps_per_bar = self.config.steps_per_bar
        return melody

    # --- generation ------------------------------------------------------------------------
    def generate(self, primer=None, n: int = 1, steps: int = 128, **kwargs) -> list[Melody]:
        """Continue ``primer`` (any form ``parse_primer`` accepts) into ``n`` melodies of ``steps`` total steps."""
        settings = GenerationSettings(steps=steps, **{k: v for k, v in kwargs.items() if k != "primer_bars"})
        primer_melody = self.prepare_primer(
            primer, strict=settings.strict, primer_bars=kwargs.get("primer_bars"), seed=settings.seed
        )
        return generate_melodies(self, primer_melody, n, settings)

    def log_likelihood(self, melodies: list[Melody]) -> np.ndarray:
        """Total log-probability of each melody's steps after the first (model units: nats)."""
        out = []
        for m in melodies:
            idx = self.encoding.event_to_index(torch.as_tensor(m.events.astype(np.int64))).unsqueeze(0).to(self.device)
            with torch.no_grad():
                logits, _ = self.module(self.encoding.inputs(idx[:, :-1]))
                logp = torch.log_softmax(logits, -1)
                labels = self.encoding.labels(idx)[:, 1:]
                out.append(float(logp.gather(-1, labels.unsqueeze(-1)).sum()))
        return np.asarray(out)


def generate_melodies(
    model: MelodyModel, primer: Melody, n: int, settings: GenerationSettings, *, on_step=None, stop_event=None
) -> list[Melody]:
    """Continue ``primer`` into ``n`` melodies. ``on_step(done, total)`` hears about progress about every
    16 new steps; setting the ``threading.Event`` ``stop_event`` raises :class:`Cancelled` at the next check."""
    if n < 1 or settings.steps < 1:
        raise BadInputError("number of outputs and steps must be at least 1")
    if settings.temperature <= 0:
        raise BadInputError("temperature must be > 0")
    if settings.beam_size < 1 or settings.branch_factor < 1 or settings.steps_per_iteration < 1:
        raise BadInputError("beam size, branch factor and steps per iteration must be >= 1")
    enc = model.encoding
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    primer_idx = enc.event_to_index(torch.as_tensor(primer.events.astype(np.int64)))
    total_steps = max(settings.steps, len(primer) + 1)
    new_steps = total_steps - len(primer)
    beams = settings.beam_size
    batch = n * beams
    history = primer_idx.unsqueeze(0).repeat(batch, 1).to(device)
    scale_mask = _scale_mask(enc, settings.key, settings.scale, device)
    with torch.inference_mode():
        logits, state = model.module(enc.inputs(history))
        logits = logits[:, -1]
        scores = torch.zeros(batch, device=device)
        done = 0
        while done < new_steps:
            chunk = min(settings.steps_per_iteration, new_steps - done)
            if beams > 1 and settings.branch_factor > 1:
                history, state, logits, scores = _branch(history, state, logits, scores, settings.branch_factor)
            for _ in range(chunk):
                history, state, logits, scores = _sample_step(
                    model, history, state, logits, scores, scale_mask, settings, generator
                )
            done += chunk
            if beams > 1:
                history, state, logits, scores = _prune(history, state, logits, scores, n, beams)
            if (on_step or stop_event) and (done % 16 < chunk or done == new_steps):
                if stop_event is not None and stop_event.is_set():
                    raise Cancelled(f"generation stopped at step {done} of {new_steps}")
                if on_step:
                    on_step(done, new_steps)
        if beams > 1:  # keep the best beam of each output
            best = scores.view(n, beams).argmax(dim=1) + torch.arange(n, device=device) * beams
            history, scores = history[best], scores[best]
    events = enc.index_to_event(history.cpu()).numpy().astype(np.int16)
    qpm = settings.qpm or primer.qpm
    outputs = []
    for i in range(n):
        ev = events[i]
        primer_steps = len(primer)
        if settings.exclude_primer:
            ev, primer_steps = ev[len(primer) :], 0
        outputs.append(
            Melody(
                ev,
                steps_per_quarter=primer.steps_per_quarter,
                steps_per_bar=model.config.steps_per_bar,
                qpm=qpm,
                primer_steps=primer_steps,
                name=f"melody_{i + 1:02d}",
                meta={"log_likelihood": float(scores[i]), "seed": settings.seed},
            )
        )
    return outputs


def _sample_step(model, history, state, logits, scores, scale_mask, settings, generator):
    enc = model.encoding
    logp = torch.log_softmax(logits.float(), dim=-1)
    mask = _class_mask(enc, history, scale_mask)
    if mask is not None:
        logp = torch.log_softmax(logp.masked_fill(~mask, float("-inf")), dim=-1)
    sample_logits = logp / settings.temperature
    sample_logits = _top_k_top_p(sample_logits, settings.top_k, settings.top_p)
    probs = torch.softmax(sample_logits, dim=-1).cpu()
    classes = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(history.device)
    scores = scores + logp.gather(1, classes.unsqueeze(1)).squeeze(1)
    new_idx = enc.class_to_index(classes, history)
    history = torch.cat([history, new_idx.unsqueeze(1)], dim=1)
    window = history[:, -(2 * enc.steps_per_bar + 1) :] if enc.lookbacks else history[:, -1:]
    inputs = enc.inputs(window, offset=history.shape[1] - window.shape[1])[:, -1:]
    logits, state = model.module(inputs, state)
    return history, state, logits[:, -1], scores


def _top_k_top_p(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = torch.softmax(sorted_logits, -1).cumsum(-1)
        drop = cumulative - torch.softmax(sorted_logits, -1) > top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)
    return logits


def _scale_mask(enc: MelodyEncoding, key: str | None, scale: str, device) -> torch.Tensor | None:
    """Allowed event indices (no-event, note-off, in-scale pitches) or None for no constraint."""
    if key is None:
        return None
    from tunesmith.music.notes import name_to_pitch

    if scale not in SCALES:
        raise BadInputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    tonic = name_to_pitch(key.strip() + ("4" if key.strip()[-1].isalpha() or key.strip()[-1] in "#b" else "")) % 12
    allowed = torch.ones(enc.num_events, dtype=torch.bool, device=device)
    for pitch in range(enc.min_note, enc.max_note):
        allowed[pitch - enc.min_note + NUM_SPECIAL] = (pitch - tonic) % 12 in SCALES[scale]
    return allowed


def _class_mask(enc: MelodyEncoding, history: torch.Tensor, allowed_events: torch.Tensor | None):
    if allowed_events is None:
        return None
    mask = allowed_events.unsqueeze(0).expand(history.shape[0], -1)
    if not enc.lookbacks:
        return mask
    extra = []
    for distance in enc.lookbacks:  # a "repeat" class is allowed only if what it repeats is allowed
        if history.shape[1] >= distance:
            extra.append(allowed_events[history[:, history.shape[1] - distance]])
        else:
            extra.append(torch.ones(history.shape[0], dtype=torch.bool, device=history.device))
    return torch.cat([mask, torch.stack(extra, dim=1)], dim=1)


def _select_state(state, index: torch.Tensor):
    if isinstance(state, torch.Tensor):  # LSTM h/c are [1, batch, units]; everything else is batch-first
        return state[:, index] if state.dim() == 3 and state.shape[0] == 1 else state[index]
    if isinstance(state, dict):
        return {k: _select_state(v, index) if k != "offset" else v for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_select_state(s, index) for s in state)
    return state


def _branch(history, state, logits, scores, factor):
    index = torch.arange(history.shape[0], device=history.device).repeat_interleave(factor)
    return history[index], _select_state(state, index), logits[index], scores[index]


def _prune(history, state, logits, scores, n, beams):
    """Keep the ``beams`` best sequences of each output (Magenta's beam search step)."""
    per_output = history.shape[0] // n
    top = scores.view(n, per_output).topk(beams, dim=1).indices
    index = (top + torch.arange(n, device=history.device).unsqueeze(1) * per_output).reshape(-1)
    return history[index], _select_state(state, index), logits[index], scores[index]


def settings_dict(settings: GenerationSettings) -> dict:
    return dataclasses.asdict(settings)


def load_melody_model(model_dir: str | os.PathLike = "default", device: str | None = None) -> MelodyModel:
    """Load a trained melody model directory, or ``'default'`` for the shipped one."""
    return MelodyModel.load(model_dir, device=device)
