"""Generation: batched sampling (temperature, top-k, top-p, key/scale mask), Magenta's beam search, and form.

All outputs (and all beams of all outputs) advance together as ONE batch per step, carrying the
LSTM state, so 100 melodies cost about as much as one.

Whole tunes: ``steps`` counts the NEW steps after the primer; ``bars`` asks for a melody of that many whole bars
(primer included). ``form`` restates earlier bars as a tune does (``forms.py``: ``"auto"``, ``"AABB"``, ...), the
model continuing from each restatement; ``end_on_tonic`` makes the last note the tonic, placed on the downbeat of
the last whole bar and held at least a beat (the key: ``key`` when given, else the key ``estimate_key`` finds in the
primer and all generated so far). Bars and beats follow the primer's meter, and the output keeps it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from tunesmith.core import checkpoint
from tunesmith.core.config import config_from_dict
from tunesmith.core.device import pick_device
from tunesmith.core.errors import BadInputError, Cancelled, ModelError
from tunesmith.core.options import check_bounds
from tunesmith.melody.encoding import NUM_SPECIAL, MelodyEncoding
from tunesmith.melody.forms import check_form, parse_form, plan_bars
from tunesmith.melody.model import MelodyConfig, build_model, count_parameters
from tunesmith.melody.settings import DEFAULT_STEPS, GenerationSettings
from tunesmith.music.key import estimate_key
from tunesmith.music.melody import NO_EVENT, NOTE_OFF, Melody, fold_into_range
from tunesmith.music.meter import parse_meter
from tunesmith.music.midi import MAX_QPM, MIN_QPM
from tunesmith.music.notes import KEY_NAMES, SCALES
from tunesmith.music.primer import last_bars

MAX_PRIMER_BARS = 8  # a longer primer is cut to its last 8 bars (with a warning) unless primer_bars says otherwise
FORM_BARS_PER_SECTION = 4  # a named form without bars or steps: 4 bars a section (AABB -> 16 bars)
MAX_FORM_DEFAULT_BARS = 64  # ... up to 16 sections; a longer form needs its length given with --bars
MAX_TOTAL_STEPS = 1 << 16  # the longest melody generated (4,096 bars of 4/4, over 2 hours at 120 qpm)


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
            hint = "; continue it with tunesmith.generate_polyphonic" if data["kind"] == "polyphonic" else ""
            raise ModelError(f"{path} holds a {data['kind']} model, not a melody model{hint}")
        config = config_from_dict(MelodyConfig, data["config"], source=str(path / checkpoint.CONFIG))
        module = build_model(config)
        checkpoint.load_weights(path, module)
        module.to(pick_device(device))
        return cls(module, config, path, data)

    def __repr__(self) -> str:
        where = f" from {self.model_dir}" if self.model_dir else ""
        return f"MelodyModel({self.config.name}{where}, {count_parameters(self.module):,} parameters)"

    # --- primer ----------------------------------------------------------------------------
    def prepare_primer(
        self, primer, *, strict: bool = False, primer_bars: int | None = None, seed: int = 0, meter: str | None = None
    ) -> Melody:
        """The primer as a Melody in the model's range, in its own meter; a primer longer than ``MAX_PRIMER_BARS``
        is cut to its last bars (a warning says so) unless ``primer_bars`` chooses how many to keep."""
        from tunesmith.audio.transcribe import read_primer  # an audio primer is transcribed (librosa loads then)

        melody = read_primer(primer, steps_per_quarter=self.config.steps_per_quarter, primer_bars=primer_bars, meter=meter)
        if melody is None:
            rng = np.random.default_rng(seed)
            low = max(self.config.min_note, 60 - 6)
            melody = Melody(
                [int(rng.integers(low, min(low + 12, self.config.max_note)))],
                steps_per_quarter=self.config.steps_per_quarter,
                meter=parse_meter(meter, self.config.steps_per_quarter),
            )
        elif primer_bars is None and len(melody) > MAX_PRIMER_BARS * melody.steps_per_bar:
            cut = last_bars(melody, MAX_PRIMER_BARS)
            where = f"primer {melody.name or str(primer)[:60]}"
            warnings.warn(
                f"{where} is {len(melody) / melody.steps_per_bar:.0f} bars long; continuing from its last "
                f"{MAX_PRIMER_BARS} bars (choose with --primer-bars N)",
                stacklevel=3,
            )
            melody = cut
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
        return melody

    # --- generation ------------------------------------------------------------------------
    def generate(
        self,
        primer=None,
        n: int = 1,
        steps: int | None = None,
        *,
        bars: int | None = None,
        form: str | None = "auto",
        meter: str | None = None,
        end_on_tonic: bool = True,
        primer_bars: int | None = None,
        **kwargs,
    ) -> list[Melody]:
        """Continue ``primer`` (any form ``read_primer`` accepts: notes, events, a score or an audio file) into ``n`` melodies.

        ``steps`` new steps after the primer (default 128), or ``bars`` whole bars in all; ``form`` ("auto", "AABB",
        "AA'BB'", None), ``meter`` ("6/8", for primers without one), ``end_on_tonic``; other keywords are
        ``GenerationSettings`` (temperature, top_k, top_p, beam_size, key, scale, seed, ...).
        """
        settings = GenerationSettings(steps=steps, bars=bars, form=form, meter=meter, end_on_tonic=end_on_tonic, **kwargs)
        primer_melody = self.prepare_primer(
            primer, strict=settings.strict, primer_bars=primer_bars, seed=settings.seed, meter=settings.meter
        )
        return generate_melodies(self, primer_melody, n, settings)

    def log_likelihood(self, melodies: list[Melody]) -> np.ndarray:
        """Total log-probability of each melody's steps after the first (model units: nats)."""
        out = []
        for m in melodies:
            idx = self.encoding.event_to_index(torch.as_tensor(m.events.astype(np.int64))).unsqueeze(0).to(self.device)
            meter = (m.steps_per_bar, m.steps_per_beat)
            with torch.no_grad():
                logits, _ = self.module(self.encoding.inputs(idx[:, :-1], meter=meter))
                logp = torch.log_softmax(logits, -1)
                labels = self.encoding.labels(idx, meter=meter)[:, 1:]
                out.append(float(logp.gather(-1, labels.unsqueeze(-1)).sum()))
        return np.asarray(out)


def _lengths(primer: Melody, settings: GenerationSettings) -> tuple[int, int | None]:
    """(total steps, bars the form spans) from steps/bars/form; clear errors for what cannot be made."""
    spb = primer.steps_per_bar
    named = settings.form not in (None, "auto")
    if settings.steps is not None and settings.bars is not None:
        raise BadInputError("give --steps (new steps after the primer) or --bars (whole melody), not both")
    if settings.steps is not None and settings.steps < 1:
        raise BadInputError(f"--steps must be at least 1 (new steps after the primer), not {settings.steps}")
    if settings.bars is not None and settings.bars < 1:
        raise BadInputError(f"--bars must be at least 1, not {settings.bars}")
    if named:
        parse_form(settings.form)
    bars = settings.bars
    if bars is None and settings.steps is None and named:
        sections = len(parse_form(settings.form))
        bars = FORM_BARS_PER_SECTION * sections
        if bars > MAX_FORM_DEFAULT_BARS:
            raise BadInputError(
                f"form {_short(settings.form)} has {sections} sections: at {FORM_BARS_PER_SECTION} bars a section "
                f"(the length a form sets when neither --bars nor --steps is given) that is {bars} bars; "
                f"give the length with --bars (a multiple of {sections}), or use a shorter form"
            )
    if bars is not None:
        check_form(settings.form, bars)
        total = bars * spb
        if len(primer) >= total:
            raise BadInputError(
                f"the primer is already {len(primer) / spb:g} bars long; ask for more than that with --bars, "
                "or keep fewer primer bars with --primer-bars"
            )
        _check_total(total, spb)
        return total, bars
    total = len(primer) + (settings.steps or DEFAULT_STEPS)
    _check_total(total, spb)
    if named:
        whole = total // spb
        if whole < 1 or whole % len(parse_form(settings.form)):
            raise BadInputError(
                f"form {_short(settings.form)} needs whole bars in a multiple of {len(parse_form(settings.form))}; "
                f"{total} steps are {total / spb:g} bars of {spb} steps: use --bars instead of --steps"
            )
        return total, whole
    return total, None


def _short(form: str) -> str:
    """A form as quoted in a message (a 100-section form is not printed whole)."""
    return repr(form) if len(form) <= 24 else f"{form[:20]!r}... ({len(form)} characters)"


def _check_total(total: int, spb: int) -> None:
    if total > MAX_TOTAL_STEPS:
        raise BadInputError(
            f"a melody of {total:,} steps ({total / spb:,.0f} bars) is longer than tunesmith writes "
            f"({MAX_TOTAL_STEPS:,} steps, {MAX_TOTAL_STEPS // spb:,} bars); ask for fewer --steps or --bars"
        )


def _copy_sources(primer: Melody, total: int, form_bars: int | None, n: int, settings: GenerationSettings, end: int):
    """``[n, total]`` absolute positions each step restates (-1: sample it), and the plans as text."""
    spb = primer.steps_per_bar
    sources = torch.full((n, total), -1, dtype=torch.long)
    plans = []
    bars = form_bars if form_bars is not None else -(-total // spb)
    for i in range(n):
        plan = plan_bars(settings.form, bars, np.random.default_rng([settings.seed, 7919, i]))
        plans.append(plan)
        for bar, source in enumerate(plan):
            if source < 0:
                continue
            lo, hi = max(bar * spb, len(primer)), min((bar + 1) * spb, total, end)
            if lo < hi:
                sources[i, lo:hi] = torch.arange(lo, hi) - (bar - source) * spb
    return sources, plans


def generate_melodies(
    model: MelodyModel, primer: Melody, n: int, settings: GenerationSettings, *, on_step=None, stop_event=None
) -> list[Melody]:
    """Continue ``primer`` into ``n`` melodies. ``on_step(done, total)`` hears about progress about every
    16 new steps; setting the ``threading.Event`` ``stop_event`` raises :class:`Cancelled` at the next check."""
    check_settings(settings, n)
    enc = model.encoding
    device = model.device
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    primer_idx = enc.event_to_index(torch.as_tensor(primer.events.astype(np.int64)))
    total_steps, form_bars = _lengths(primer, settings)
    new_steps = total_steps - len(primer)
    spb, beat = primer.steps_per_bar, primer.steps_per_beat
    meter = (spb, beat) if enc.meter_aware else None
    context = 2 * (spb if enc.meter_aware else enc.steps_per_bar)
    end = (total_steps // spb - 1) * spb if settings.end_on_tonic else total_steps
    if end < len(primer):  # the primer already covers the last downbeat: nothing to close
        end = total_steps
    sources, plans = _copy_sources(primer, total_steps, form_bars, n, settings, end)
    beams = settings.beam_size
    batch = n * beams
    history = primer_idx.unsqueeze(0).repeat(batch, 1).to(device)
    scale_mask = _scale_mask(enc, settings.key, settings.scale, device)
    fixed_tonic = _tonic(settings.key, settings.scale) if settings.key else None
    tonics = None
    with torch.inference_mode():
        logits, state = model.module(enc.inputs(history, meter=meter))
        logits = logits[:, -1]
        scores = torch.zeros(batch, device=device)
        done = 0
        while done < new_steps:
            chunk = min(settings.steps_per_iteration, new_steps - done)
            if beams > 1 and settings.branch_factor > 1:
                history, state, logits, scores = _branch(history, state, logits, scores, settings.branch_factor)
            for _ in range(chunk):
                position = history.shape[1]
                if position == end:
                    tonics = _ending_tonics(enc, history, fixed_tonic)
                allowed = _step_mask(enc, scale_mask, position, end, beat, tonics, history.shape[0], device)
                per_output = history.shape[0] // n
                src = sources[:, position].to(device).repeat_interleave(per_output)
                forced = torch.where(src >= 0, history[torch.arange(history.shape[0], device=device), src.clamp(min=0)], -1)
                history, state, logits, scores = _sample_step(
                    model, history, state, logits, scores, allowed, forced, settings, generator, meter, context
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
        meta = {"log_likelihood": float(scores[i]), "seed": settings.seed}
        if settings.form:
            meta["plan"] = _plan_text(plans[i])
        if tonics is not None:
            meta["tonic"] = KEY_NAMES[int(tonics[i * (history.shape[0] // n)]) % 12]
        outputs.append(
            Melody(
                ev,
                steps_per_quarter=primer.steps_per_quarter,
                steps_per_bar=spb,
                meter=primer.meter,
                qpm=qpm,
                primer_steps=primer_steps,
                name=f"melody_{i + 1:02d}",
                meta=meta,
            )
        )
    return outputs


def check_settings(settings: GenerationSettings, n: int = 1) -> None:
    """Refuse nonsense numbers before any work, naming the option (``--qpm``) and the Python name (``qpm=``):
    each field's own bounds (``tunesmith.melody.settings``), the ones the CLI and the web page check too."""
    if n < 1:
        raise BadInputError(f"-n (n=, the number of melodies) must be at least 1, not {n}")
    if settings.qpm is not None and (not np.isfinite(settings.qpm) or not MIN_QPM <= settings.qpm <= MAX_QPM):
        raise BadInputError(
            f"--qpm (qpm=) must be {MIN_QPM:g}-{MAX_QPM:g} quarter notes per minute, not {settings.qpm:g} "
            "(a tempo of 0 would play the whole melody at once)"
        )
    check_bounds(settings, ("temperature", "beam_size", "branch_factor", "steps_per_iteration", "top_k", "top_p", "min_p"))


def _plan_text(plan: list[int]) -> str:
    """A bar plan as text: ``"1 2 3 4 =1 =2 7 8"`` (``=k``: restates bar k)."""
    return " ".join(f"={s + 1}" if s >= 0 else str(b + 1) for b, s in enumerate(plan))


def _tonic(key: str, scale: str) -> int:
    from tunesmith.music.notes import name_to_pitch

    key = key.strip()
    return name_to_pitch(key + ("4" if key[-1].isalpha() or key[-1] in "#b" else "")) % 12


def _ending_tonics(enc: MelodyEncoding, history: torch.Tensor, fixed: int | None) -> torch.Tensor:
    """The pitch class to end on, per row: the given key's tonic, else the tonic ``estimate_key`` finds in all so far
    (the key the score and the chords of the same tune are written in)."""
    if fixed is not None:
        return torch.full((history.shape[0],), fixed, dtype=torch.long)
    events = enc.index_to_event(history.cpu()).numpy()
    return torch.tensor([estimate_key(row)[0].tonic if (row >= 0).any() else 0 for row in events], dtype=torch.long)


def _step_mask(enc, scale_mask, position: int, end: int, beat: int, tonics, rows: int, device):
    """Allowed events ``[rows, events]`` at this position (None: no constraint): the scale, and the ending.

    At ``end`` only the tonic may sound; then the tonic holds to the next beat, after which it may stop (no new note).
    """
    if position < end or tonics is None:
        return scale_mask
    allowed = torch.zeros(rows, enc.num_events, dtype=torch.bool, device=device)
    if position == end:
        pitches = torch.arange(enc.min_note, enc.max_note, device=device)
        allowed[:, NUM_SPECIAL:] = (pitches.unsqueeze(0) % 12) == tonics.to(device).unsqueeze(1)
        if scale_mask is not None:
            allowed &= scale_mask
    else:
        allowed[:, NO_EVENT + NUM_SPECIAL] = True
        allowed[:, NOTE_OFF + NUM_SPECIAL] = position - end >= beat
    return allowed


def _sample_step(model, history, state, logits, scores, allowed, forced, settings, generator, meter, context):
    enc = model.encoding
    logp = torch.log_softmax(logits.float(), dim=-1)
    model_logp = logp  # scores stay the model's own log-likelihood, whatever the masks allow
    mask = _class_mask(enc, history, allowed, meter)
    if mask is not None:
        logp = torch.log_softmax(logp.masked_fill(~mask, float("-inf")), dim=-1)
    sample_logits = logp / settings.temperature
    sample_logits = _top_k_top_p(sample_logits, settings.top_k, settings.top_p, settings.min_p)
    probs = torch.softmax(sample_logits, dim=-1).cpu()
    classes = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(history.device)
    new_idx = enc.class_to_index(classes, history, meter)
    restate = forced >= 0
    if bool(restate.any()):  # a restated bar: the event is the earlier bar's; score the class the model would give it
        new_idx = torch.where(restate, forced, new_idx)
        classes = torch.where(restate, _event_class(enc, history, forced.clamp(min=0), meter), classes)
    scores = scores + model_logp.gather(1, classes.unsqueeze(1)).squeeze(1)
    history = torch.cat([history, new_idx.unsqueeze(1)], dim=1)
    window = history[:, -(context + 1) :] if enc.lookbacks else history[:, -1:]
    inputs = enc.inputs(window, offset=history.shape[1] - window.shape[1], meter=meter)[:, -1:]
    logits, state = model.module(inputs, state)
    return history, state, logits[:, -1], scores


def _event_class(enc: MelodyEncoding, history: torch.Tensor, idx: torch.Tensor, meter) -> torch.Tensor:
    """The class of event ``idx`` appended to ``history`` (Magenta's label: the longest matching lookback wins)."""
    return enc.labels(torch.cat([history, idx.unsqueeze(1)], dim=1), meter=meter)[:, -1]


def _top_k_top_p(logits: torch.Tensor, top_k: int | None, top_p: float | None, min_p: float | None = None) -> torch.Tensor:
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = torch.softmax(sorted_logits, -1).cumsum(-1)
        drop = cumulative - torch.softmax(sorted_logits, -1) > top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)
    if min_p:  # min-p sampling: the cut follows the model's confidence, so uncertain steps keep their choices
        logits = logits.masked_fill(logits < logits.max(-1, keepdim=True).values + math.log(min_p), float("-inf"))
    return logits


def _scale_mask(enc: MelodyEncoding, key: str | None, scale: str, device) -> torch.Tensor | None:
    """Allowed event indices (no-event, note-off, in-scale pitches) or None for no constraint."""
    if key is None:
        return None
    if scale not in SCALES:
        raise BadInputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    tonic = _tonic(key, scale)
    allowed = torch.ones(enc.num_events, dtype=torch.bool, device=device)
    for pitch in range(enc.min_note, enc.max_note):
        allowed[pitch - enc.min_note + NUM_SPECIAL] = (pitch - tonic) % 12 in SCALES[scale]
    return allowed


def _class_mask(enc: MelodyEncoding, history: torch.Tensor, allowed_events: torch.Tensor | None, meter=None):
    """Allowed classes ``[B, classes]`` from allowed events (``[events]`` or one row each ``[B, events]``)."""
    if allowed_events is None:
        return None
    rows = history.shape[0]
    mask = allowed_events.unsqueeze(0).expand(rows, -1) if allowed_events.dim() == 1 else allowed_events
    if not enc.lookbacks:
        return mask
    extra = []
    index = torch.arange(rows, device=history.device)
    t = history.shape[1]
    for distance in enc.repeat_distances(rows, meter, history.device):  # a "repeat" class is allowed if what it repeats is
        back = t - (distance if torch.is_tensor(distance) else torch.full_like(index, distance))
        repeated = torch.where(back >= 0, history[index, back.clamp(min=0)], torch.full_like(index, NO_EVENT + NUM_SPECIAL))
        extra.append(mask[index, repeated])
    return torch.cat([mask, torch.stack(extra, dim=1)], dim=1)


def class_values(enc, history: torch.Tensor, values: torch.Tensor, meter) -> torch.Tensor:
    """Per-event values ``[B, events]`` -> per-class ``[B, classes]`` (a "repeat" class takes its event's value)."""
    if not enc.lookbacks:
        return values
    rows = torch.arange(history.shape[0])
    t = history.shape[1]
    extra = []
    for distance in enc.repeat_distances(history.shape[0], meter, history.device):
        back = t - (distance if torch.is_tensor(distance) else torch.full_like(rows, distance))
        repeated = torch.where(back >= 0, history[rows, back.clamp(min=0)], torch.full_like(rows, NO_EVENT + NUM_SPECIAL))
        extra.append(values[rows, repeated])
    return torch.cat([values, torch.stack(extra, dim=1)], dim=1)


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
