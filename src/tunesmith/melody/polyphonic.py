"""The polyphonic model: a small decoder-only Transformer over the token stream of ``tunesmith.music.polyphony``.

Read top to bottom: the config, the network (token embedding + the rotary, windowed blocks of ``melody/model.py``),
the training task for the shared loop (``tunesmith.core.training``: resume, checkpoints, keep-best, progress),
held-out likelihood, then sampling (``continue_tokens``), which holds every sample to the format's grammar (a
``DUR`` after each ``NOTE``, no shift across a bar line, ``BAR`` exactly at the bar line) and, optionally, a key.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.core.errors import BadInputError, ModelError, TrainingError
from tunesmith.melody.model import _Block
from tunesmith.music import polyphony as poly

KIND = "polyphonic"


@dataclass
class PolyphonicConfig:
    name: str = "polyphonic"
    parts: int = 2
    steps_per_quarter: int = poly.STEPS_PER_QUARTER
    d_model: int = 128
    heads: int = 4
    transformer_layers: int = 3
    attention_window: int = 512  # each token sees at most this many back (generation keeps only these keys)
    train_window: int = 256  # training reads random windows of this many tokens
    dropout: float = 0.1
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    clip_norm: float = 1.0
    transpose: int = 3  # training: each window moved by a random -3..+3 semitones (more keys from few pieces)

    def __post_init__(self) -> None:
        if self.parts not in (1, 2):
            raise BadInputError(f"parts must be 1 or 2, not {self.parts}")
        if self.d_model % self.heads:
            raise BadInputError("d_model must be divisible by heads")
        if self.train_window < 8 or self.batch_size < 1 or not self.learning_rate > 0:
            raise BadInputError("train_window must be at least 8, batch_size at least 1, learning_rate above 0")

    @property
    def vocab_size(self) -> int:
        return poly.vocab_size(self.parts)


class PolyphonicTransformer(nn.Module):
    """Token embedding -> rotary windowed causal blocks -> logits over the vocabulary (weights tied)."""

    def __init__(self, config: PolyphonicConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.transformer_layers))
        self.norm = nn.LayerNorm(config.d_model)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        state = state or {}
        offset = state.get("offset", 0)
        caches = state.get("cache", [None] * len(self.blocks))
        x = self.embed(tokens)
        new = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(x, offset, cache)
            new.append(cache)
        logits = self.norm(x) @ self.embed.weight.t()
        return logits, {"offset": offset + tokens.shape[1], "cache": new}


# --- data -----------------------------------------------------------------------------------------
class PolyTokens:
    """One split of a polyphonic corpus: all pieces' tokens in one array plus offsets (memory-mapped)."""

    def __init__(self, corpus_dir: str | os.PathLike, split: str):
        from tunesmith.data.corpus import load_split

        events, offsets, _ = load_split(corpus_dir, split)
        self.tokens = np.asarray(events, dtype=np.int64) if events.size else np.zeros(0, np.int64)
        self.offsets = np.asarray(offsets, np.int64)
        self.lengths = np.diff(self.offsets)

    def __len__(self) -> int:
        return int(self.lengths.size)

    def piece(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]


def transpose_tokens(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """Move every NOTE token by ``semitones`` (a note pushed off the piano stays where it was)."""
    if not semitones:
        return tokens
    out = tokens.copy()
    notes = out >= poly.NOTE0
    rel = out[notes] - poly.NOTE0
    part, pitch = rel // poly.PITCHES, rel % poly.PITCHES
    moved = pitch + semitones
    ok = (moved >= 0) & (moved < poly.PITCHES)
    out[notes] = poly.NOTE0 + part * poly.PITCHES + np.where(ok, moved, pitch)
    return out


def window_batch(data: PolyTokens, size: int, window: int, rng: np.random.Generator, transpose: int = 0):
    """``size`` random windows of ``window + 1`` tokens (pieces drawn by length; short ones padded): inputs, labels."""
    weights = data.lengths / data.lengths.sum()
    pieces = rng.choice(len(data), size=size, p=weights)
    batch = np.zeros((size, window + 1), np.int64)
    for row, i in enumerate(pieces):
        n = int(data.lengths[i])
        start = int(rng.integers(0, max(1, n - window)))
        chunk = data.piece(i)[start : start + window + 1]
        shift = int(rng.integers(-transpose, transpose + 1)) if transpose else 0
        batch[row, : chunk.size] = transpose_tokens(chunk, shift)
    batch = torch.from_numpy(batch)
    return batch[:, :-1], batch[:, 1:]


class PolyphonicTask:
    """The polyphonic model as a ``TrainingTask`` of the shared loop (kind ``polyphonic``)."""

    kind = KIND

    def __init__(self, config: PolyphonicConfig, train: PolyTokens, eval_set: PolyTokens | None, seed: int = 0, device=None):
        from tunesmith.core.device import pick_device

        self.config, self.train, self.eval_set, self.seed = config, train, eval_set, seed
        self.device = pick_device(device)
        self.model = PolyphonicTransformer(config).to(self.device)
        self.thread_hints = {"recurrent": False, "units": config.d_model}

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.model.parameters(), lr=self.config.learning_rate, weight_decay=0.01)

    def batches_per_epoch(self, world_size: int = 1) -> int:
        tokens = int(self.train.lengths.sum())
        return max(1, tokens // (self.config.batch_size * self.config.train_window) // world_size)

    def batch(self, epoch: int, index: int, rank: int = 0, world_size: int = 1):
        rng = np.random.default_rng([self.seed, epoch, index, rank])  # a function of the step: resumable
        inputs, labels = window_batch(self.train, self.config.batch_size, self.config.train_window, rng, self.config.transpose)
        return inputs.to(self.device), labels.to(self.device)

    def learning_rate(self, step: int) -> float:
        warmup = self.config.warmup_steps
        return self.config.learning_rate * (min(1.0, (step + 1) / warmup) if warmup else 1.0)

    def loss(self, batch):
        inputs, labels = batch
        logits, _ = self.model(inputs)
        mask = labels != poly.PAD
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
        nll = nll.view_as(labels) * mask
        count = mask.sum().clamp(min=1)
        loss = nll.sum() / count
        value = float(loss.detach())
        accuracy = float(((logits.argmax(-1) == labels) & mask).sum() / count)
        return loss, {"loss": value, "perplexity": math.exp(min(value, 50)), "accuracy": accuracy}

    def evaluate(self) -> dict[str, float]:
        if self.eval_set is None or len(self.eval_set) == 0:
            return {}
        return evaluate_tokens(self.model, self.eval_set, self.config.attention_window, self.device)


def evaluate_tokens(model: nn.Module, data: PolyTokens, window: int, device, batch: int = 8) -> dict:
    """Held-out NLL: nats per token over every token after the first of every piece (pieces longer than the
    attention window are read in windows of it, each seeing only its own past), and nats per note (NOTE + its DUR
    + the VEL/shift tokens before it, i.e. all nats divided by the notes: comparable across encodings)."""
    total = notes_nll = 0.0
    tokens = notes = correct = 0
    chunks = []
    for i in range(len(data)):
        piece = data.piece(i)
        for start in range(0, max(1, piece.size - 1), window):
            chunks.append(piece[start : start + window + 1])
    model.eval()
    with torch.no_grad():
        for first in range(0, len(chunks), batch):
            group = chunks[first : first + batch]
            width = max(c.size for c in group)
            arr = np.zeros((len(group), width), np.int64)
            for row, c in enumerate(group):
                arr[row, : c.size] = c
            x = torch.from_numpy(arr).to(device)
            logits, _ = model(x[:, :-1])
            labels = x[:, 1:]
            mask = labels != poly.PAD
            nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
            nll = (nll.view_as(labels) * mask).sum()
            correct += int(((logits.argmax(-1) == labels) & mask).sum())
            total += float(nll)
            tokens += int(mask.sum())
            notes += int((labels >= poly.NOTE0).sum())
    loss = total / max(tokens, 1)
    notes_nll = total / max(notes, 1)
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 50)),
        "accuracy": correct / max(tokens, 1),
        "tokens": tokens,
        "notes": notes,
        "nats_per_note": notes_nll,
    }


# --- training ----------------------------------------------------------------------------------
def train_polyphonic_model(
    data: str | os.PathLike,
    model_dir: str | os.PathLike,
    config: PolyphonicConfig | dict | None = None,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    resume: bool = False,
    eval_every: int = 100,
    checkpoint_every: int = 100,
    progress: bool = True,
    device: str | None = None,
    threads: int | None = None,
    max_seconds: float | None = None,
    stop_event=None,
    on_log=None,
    force: bool = False,
    keep_best: bool = True,
    patience: int | None = 10,
    workers: int | None = None,
    **overrides,
) -> dict:
    """Train the polyphonic Transformer on a corpus made by ``prepare --polyphonic`` (or a raw folder, prepared
    polyphonically into ``model_dir/corpus``). Same loop, checkpoints, resume and keep-best as the melody models."""
    from tunesmith.core import checkpoint
    from tunesmith.core.config import config_from_dict
    from tunesmith.core.device import pick_device
    from tunesmith.core.training import TrainSettings, check_run_numbers, claim_model_dir, run_training
    from tunesmith.data.corpus import POLYPHONIC, prepare_corpus
    from tunesmith.melody.settings import DEFAULT_TRAIN_STEPS
    from tunesmith.music.polyphony import PolyphonySettings

    known = {f.name for f in dataclasses.fields(PolyphonicConfig)}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TrainingError(f"the polyphonic config has no {', '.join(unknown)}; it takes {', '.join(sorted(known))}")
    if isinstance(config, PolyphonicConfig):
        cfg = dataclasses.replace(config, **overrides)
    else:
        cfg = config_from_dict(PolyphonicConfig, {**(config or {}), **overrides})
    if steps is None and epochs is None:
        steps = DEFAULT_TRAIN_STEPS
    check_run_numbers(steps=steps, epochs=epochs, eval_every=eval_every, checkpoint_every=checkpoint_every, threads=threads)
    with claim_model_dir(model_dir, "melody", resume=resume, force=force):
        data, model_dir = Path(data), Path(model_dir)
        if resume and (model_dir / checkpoint.CONFIG).is_file():
            cfg = config_from_dict(PolyphonicConfig, checkpoint.load_config(model_dir)["config"], source=str(model_dir))
        if (data / "corpus.json").is_file():
            corpus_dir = data
        else:
            corpus_dir = model_dir / "corpus"
            if not (resume and (corpus_dir / "corpus.json").is_file()):
                report = prepare_corpus(
                    data, corpus_dir, settings=PolyphonySettings(parts=cfg.parts), progress=progress, workers=workers
                )
                if progress:
                    print(report.summary())
        info = _corpus_info(corpus_dir)
        if info.get("encoding") != POLYPHONIC:
            raise TrainingError(
                f"{corpus_dir}: a melody corpus; the polyphonic model needs one prepared with "
                f"`tunesmith prepare SOURCE -o CORPUS --polyphonic`"
            )
        train, eval_set = PolyTokens(corpus_dir, "train"), PolyTokens(corpus_dir, "eval")
        if cfg.parts == 1:  # a 2-part corpus for a 1-part model: its part-1 notes are folded into part 0
            for split in (train, eval_set):
                split.tokens = _fold_parts(split.tokens)
        if len(train) == 0:
            raise TrainingError(f"{corpus_dir}: no training pieces; add MIDI files to the source folder")
        torch.manual_seed(seed)
        task = PolyphonicTask(cfg, train, eval_set, seed=seed, device=pick_device(device))
        task.config_extra = {"corpus": str(corpus_dir.resolve())}
        settings = TrainSettings.from_arguments(locals(), clip_norm=cfg.clip_norm)
        result = run_training(task, model_dir, settings)
        result.update(
            {
                "train_melodies": len(train),
                "eval_melodies": len(eval_set),
                "train_tokens": int(train.lengths.sum()),
                "corpus": str(corpus_dir),
            }
        )
        return result


def _fold_parts(tokens: np.ndarray) -> np.ndarray:
    out = tokens.copy()
    notes = out >= poly.NOTE0 + poly.PITCHES
    out[notes] -= poly.PITCHES
    return out


def _corpus_info(corpus_dir: Path) -> dict:
    import json

    try:
        return json.loads((corpus_dir / "corpus.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainingError(f"{corpus_dir}: not a prepared corpus ({exc})") from exc


def is_polyphonic_model(model: str | os.PathLike) -> bool:
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core import checkpoint

    try:
        return checkpoint.load_config(resolve_model_dir(model)).get("kind") == KIND
    except Exception:
        return False


def load_polyphonic_model(model: str | os.PathLike, device: str | None = None) -> tuple[PolyphonicTransformer, dict]:
    """The network (eval mode) and its saved config.json of a polyphonic model folder (or 'polyphonic-default')."""
    from tunesmith.assets import resolve_model_dir
    from tunesmith.core import checkpoint
    from tunesmith.core.config import config_from_dict

    path = resolve_model_dir(model)
    saved = checkpoint.load_config(path)
    if saved.get("kind") != KIND:
        raise ModelError(f"{path}: a {saved.get('kind')} model, not a polyphonic one (train with --config polyphonic)")
    cfg = config_from_dict(PolyphonicConfig, saved["config"], source=str(path))
    net = PolyphonicTransformer(cfg)
    checkpoint.load_weights(path, net)
    net.eval()
    if device:
        net.to(device)
    return net, saved


# --- sampling --------------------------------------------------------------------------------
def _grammar(vocab: int, parts: int) -> dict[str, torch.Tensor]:
    ids = torch.arange(vocab)
    return {
        "note": ids >= poly.NOTE0,
        "dur": (ids >= poly.DUR0) & (ids < poly.NOTE0),
        "vel": (ids >= poly.VEL0) & (ids < poly.DUR0),
        "shift_steps": torch.where((ids >= poly.SHIFT0) & (ids < poly.VEL0), ids - poly.SHIFT0 + 1, 0),
        "pitch_class": torch.where(ids >= poly.NOTE0, (ids - poly.NOTE0) % poly.PITCHES + poly.MIN_PITCH, -1) % 12,
    }


def continue_tokens(
    model: PolyphonicTransformer,
    primer: np.ndarray,
    bar_steps: int,
    bars: int,
    *,
    n: int = 1,
    temperature: float = 1.0,
    top_p: float | None = None,
    scale: tuple[int, ...] | None = None,
    seed: int = 0,
    max_tokens: int | None = None,
) -> list[np.ndarray]:
    """Sample ``n`` continuations of ``primer`` (tokens, BOS first, ending inside a bar) until ``bars`` more bars are
    complete; all samples run as one batch. ``scale``: pitch classes the notes are held to."""
    if not temperature > 0:
        raise BadInputError(f"temperature must be above 0, not {temperature}")
    if top_p is not None and not 0 < top_p <= 1:
        raise BadInputError(f"top_p must be in (0, 1], not {top_p}")
    vocab = model.config.vocab_size
    g = _grammar(vocab, model.config.parts)
    if scale is not None:
        allowed_pitch = torch.zeros(12, dtype=torch.bool)
        allowed_pitch[list(scale)] = True
        in_key = ~g["note"] | allowed_pitch[g["pitch_class"]]
    else:
        in_key = torch.ones(vocab, dtype=torch.bool)
    primer = np.asarray(primer, np.int64)
    primer = primer[primer != poly.EOS]
    # where the primer ends: the position inside the current bar
    last_bar = np.flatnonzero(primer == poly.BAR)
    after = primer[last_bar[-1] + 1 :] if len(last_bar) else primer
    pos0 = int(sum(t - poly.SHIFT0 + 1 for t in after if poly.SHIFT0 <= t < poly.VEL0))
    window = model.config.attention_window
    context = primer[-window:]
    generator = torch.Generator().manual_seed(int(seed))
    device = next(model.parameters()).device
    x = torch.from_numpy(np.tile(context, (n, 1))).to(device)
    pos = torch.full((n,), pos0, dtype=torch.long)
    bars_done = torch.zeros(n, dtype=torch.long)
    last = torch.full((n,), int(primer[-1]), dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(n)]
    limit = max_tokens or bars * bar_steps * 4 + 64
    with torch.no_grad():
        logits, state = model(x)
        logits = logits[:, -1].float().cpu()
        for _ in range(limit):
            mask = torch.zeros(n, vocab, dtype=torch.bool)
            after_note = g["note"][last]
            after_vel = g["vel"][last]
            at_bar = pos >= bar_steps
            free = ~after_note & ~at_bar
            mask[after_note] = g["dur"]
            mask[at_bar & ~after_note, poly.BAR] = True
            room = (bar_steps - pos).clamp(min=0)
            shift_ok = (g["shift_steps"][None, :] >= 1) & (g["shift_steps"][None, :] <= room[:, None])
            rows = free & ~after_vel
            general = (g["note"] & in_key)[None, :] | g["vel"][None, :] | shift_ok
            mask[rows] = general[rows]
            vel_rows = free & after_vel
            mask[vel_rows] = (g["note"] & in_key)[None, :].expand(int(vel_rows.sum()), -1)
            scores = (logits / temperature).masked_fill(~mask, float("-inf"))
            probs = torch.softmax(scores, -1)
            if top_p is not None and top_p < 1:
                sorted_p, order = probs.sort(-1, descending=True)
                cut = sorted_p.cumsum(-1) - sorted_p > top_p
                sorted_p[cut] = 0
                probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
                probs = probs / probs.sum(-1, keepdim=True)
            nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            is_bar = nxt == poly.BAR
            bars_done += (is_bar & ~done).long()
            finished = done | (is_bar & (bars_done >= bars))
            for i in torch.nonzero(~finished).flatten().tolist():
                out[i].append(int(nxt[i]))
            done = finished
            if bool(done.all()):
                break
            pos = torch.where(is_bar, torch.zeros_like(pos), pos + g["shift_steps"][nxt])
            last = nxt
            logits, state = model(nxt[:, None].to(device), state)  # the blocks keep a ring of the last window
            logits = logits[:, -1].float().cpu()
    return [np.concatenate([primer, np.asarray(o, np.int64)]).astype(np.int16) for o in out]


def primer_piece(primer, *, parts: int = 2, meter: tuple[int, int] | None = None) -> poly.PolyPiece:
    """A polyphonic primer: None (start from nothing), typed chords ``"C4 E4 G4 | F4 A4 C5"``, a MIDI/MusicXML
    path, or a ``PolyPiece``."""
    from tunesmith.music.midi import read_score

    if isinstance(primer, poly.PolyPiece):
        return primer
    if primer is None or (isinstance(primer, str) and not primer.strip()):
        empty = np.zeros(0, np.int64)
        return poly.PolyPiece(empty, empty, empty, empty, empty, meters=[(0, meter or (4, 4))])
    text = str(primer)
    if isinstance(primer, os.PathLike) or Path(text).suffix.lower() in (
        ".mid",
        ".midi",
        ".musicxml",
        ".mxl",
        ".xml",
        ".abc",
        ".krn",
    ):
        if not Path(text).is_file():
            raise BadInputError(f"{text}: no such primer file")
        extraction = poly.extract_polyphony(read_score(text), poly.PolyphonySettings(parts=parts, min_notes=1, min_bars=1))
        if extraction.piece is None:
            raise BadInputError(f"{text}: no notes to continue ({extraction.skip_reason}: {extraction.detail})")
        piece = extraction.piece
        if parts == 1:
            piece.part[:] = 0
        return piece
    return poly.piece_from_chords(text, meter or (4, 4))


def generate_polyphonic(
    model: str | os.PathLike | PolyphonicTransformer,
    primer=None,
    n: int = 1,
    *,
    bars: int | None = None,
    primer_bars: int = 4,
    temperature: float = 1.0,
    top_p: float | None = 0.95,
    key: str | None = None,
    meter: str | None = None,
    qpm: float | None = None,
    programs: tuple[int, ...] | None = None,
    seed: int = 0,
) -> list[poly.PolyPiece]:
    """Continue a polyphonic primer ``n`` times. ``bars``: the whole piece, primer included (default: the primer's
    last ``primer_bars`` bars + 8 new ones); ``key``: hold the new notes to its scale ("G", "Em"); ``meter``: of a
    typed-chords or empty primer ("3/4"). Same seed, same pieces."""
    from tunesmith.music.key import parse_key
    from tunesmith.music.meter import meter_steps, parse_meter

    net = model if isinstance(model, PolyphonicTransformer) else load_polyphonic_model(model)[0]
    if n < 1 or primer_bars < 1 or (bars is not None and bars < 1):
        raise BadInputError("n, bars and primer_bars must be at least 1")
    piece = primer_piece(primer, parts=net.config.parts, meter=parse_meter(meter, poly.STEPS_PER_QUARTER))
    tokens = poly.encode(piece, net.config.parts)[:-1]  # without EOS
    if len(piece):
        tokens = poly.last_bars(tokens, primer_bars)
    else:
        tokens = tokens[: np.flatnonzero(tokens == poly.BAR)[0] + 2]  # BOS BAR METER: an empty first bar
    primer_piece_cut = poly.decode(tokens)
    have = poly.bar_count(tokens)
    total = bars if bars is not None else (have if len(piece) else 0) + 8
    bar_meter = piece.meters[-1][1]
    bar_steps = meter_steps(bar_meter, poly.STEPS_PER_QUARTER)[0]
    crossings = total - have + 1 if len(piece) else total
    if crossings < 1:
        raise BadInputError(f"bars={total} is not more than the primer's {have} bars; ask for more bars")
    scale = parse_key(key).scale if key else None
    outs = continue_tokens(net, tokens, bar_steps, crossings, n=n, temperature=temperature, top_p=top_p, scale=scale, seed=seed)
    tempo = qpm or piece.qpm
    progs = tuple(programs) if programs else piece.programs
    pieces = []
    for i, o in enumerate(outs):
        p = poly.decode(o, qpm=tempo, programs=progs)
        length = int(sum(int(t) - poly.SHIFT0 + 1 for t in o if poly.SHIFT0 <= t < poly.VEL0))
        p.duration = np.maximum(1, np.minimum(p.duration, length - p.start))  # nothing rings past the last bar
        p.primer_steps = primer_piece_cut.end if len(piece) else 0
        p.name = f"piece {i + 1}"
        pieces.append(p)
    return pieces
