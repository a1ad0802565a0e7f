"""MelodyRNN: Magenta's basic / lookback / attention Melody RNN in PyTorch (plus a small Transformer).

Read top to bottom: the config and the named presets, the network, then its step function for
generation. LSTM layers are ``torch.nn.LSTM`` (fused oneDNN/cuDNN kernels). Attention, as in
Magenta's ``attention_rnn``, looks back over the last ``attention_length`` outputs of the top layer;
here it is computed for all steps at once (a banded causal mask) instead of inside the cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.core.errors import BadInputError
from tunesmith.core.rnn_step import rnn_step
from tunesmith.melody.encoding import MelodyEncoding
from tunesmith.melody.settings import MelodyTraining


class FastDropout(nn.Dropout):
    """``nn.Dropout`` whose mask, on the CPU, is drawn as random bytes.

    torch's CPU Bernoulli sampler draws one value per element slowly: 7-9 ms for a length group of
    16 x 250 x 128 activations, a quarter of a basic_rnn training step; random bytes take ~1.5 ms. The drop
    rate is rounded to 1/256 (0.5 is exact) and the kept values are scaled by the exact inverse keep rate.
    The bytes come from torch's generator, so a resumed run draws the same masks. CUDA keeps torch's dropout.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        drop = round(self.p * 256)
        keep = torch.randint(0, 256, x.shape, dtype=torch.uint8) >= drop
        return x * keep.to(x.dtype) * (256 / (256 - drop))


@dataclass
class MelodyConfig:
    name: str = "basic_rnn"
    encoding: str = "one_hot"  # "one_hot" (basic_rnn) | "lookback"
    architecture: str = "rnn"  # "rnn" | "transformer"
    min_note: int = 48
    max_note: int = 84
    steps_per_quarter: int = 4
    steps_per_bar: int = 16  # the bar when a melody brings no meter (and every bar, unless meter_aware)
    # bar/beat inputs from each melody's own meter (False: Magenta's fixed 16-step bar; configs saved before meters)
    meter_aware: bool = False
    beat_inputs: bool = False  # two more inputs: the next step starts a beat / a bar (tells 6/8 from 3/4)
    layers: list[int] = field(default_factory=lambda: [128, 128])
    dropout: float = 0.5
    attention_length: int = 0
    forget_bias: float = 1.0  # added to the LSTM forget-gate bias at initialisation, as TensorFlow (and Magenta) do
    # transformer only
    d_model: int = 128
    heads: int = 4
    transformer_layers: int = 4
    attention_window: int = 0  # transformer: each step sees at most this many steps (0: all); set to train_window
    # how training reads melodies: whole (0) or random windows of this many steps (cheap for the transformer)
    train_window: int = 0
    warmup_steps: int = 0  # linear learning-rate warm-up (the transformer wants it)
    # transformer: share of training windows presented in fill-in-the-middle order (melody/fim.py), so it can infill
    fill_in_middle: float = 0.0
    # training defaults (Magenta's)
    learning_rate: float = 1e-3
    clip_norm: float = 5.0
    batch_size: int = 128
    max_steps: int = 512

    def __post_init__(self) -> None:
        if self.encoding not in ("one_hot", "lookback"):
            raise BadInputError(f"encoding must be one_hot or lookback, not {self.encoding!r}")
        if self.architecture not in ("rnn", "transformer"):
            raise BadInputError(f"architecture must be rnn or transformer, not {self.architecture!r}")
        if self.max_note - self.min_note < 12 or not 0 <= self.min_note < self.max_note <= 128:
            raise BadInputError(f"note range [{self.min_note}, {self.max_note}) must span an octave within 0-128")
        if not self.layers or min(self.layers) < 1 or not 0 <= self.dropout < 1:
            raise BadInputError("layers must be positive sizes and dropout in [0, 1)")
        if self.architecture == "transformer" and self.d_model % self.heads:
            raise BadInputError("d_model must be divisible by heads")
        if self.train_window < 0 or self.attention_window < 0 or self.warmup_steps < 0 or self.attention_window == 1:
            raise BadInputError("train_window, attention_window (not 1) and warmup_steps must be >= 0")
        if not 0 <= self.fill_in_middle <= 1 or (
            self.fill_in_middle and not (self.architecture == "transformer" and self.train_window)
        ):
            raise BadInputError("fill_in_middle is a share in [0, 1], for the transformer trained on windows (train_window)")
        if self.batch_size < 1:
            raise BadInputError(f"batch_size (--batch-size) must be at least 1, not {self.batch_size}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise BadInputError(f"learning_rate (--learning-rate) must be above 0, not {self.learning_rate}")
        if self.steps_per_quarter < 1 or self.max_steps < 2 or self.attention_length < 0 or self.clip_norm < 0:
            raise BadInputError(
                "steps_per_quarter (--steps-per-quarter) must be at least 1, max_steps at least 2, "
                "attention_length (--attention-length) and clip_norm at least 0"
            )

    @property
    def melody_encoding(self) -> MelodyEncoding:
        return MelodyEncoding(
            self.encoding,
            self.min_note,
            self.max_note,
            self.steps_per_bar,
            meter_aware=self.meter_aware,
            beat_inputs=self.beat_inputs and self.encoding == "lookback",
            steps_per_beat=self.steps_per_quarter,
        )


DEFAULT_CONFIG = MelodyTraining.config  # the transformer: learns most per minute of training (README figures)

CONFIGS = {
    "basic_rnn": MelodyConfig(meter_aware=True),
    "lookback_rnn": MelodyConfig(name="lookback_rnn", encoding="lookback", meter_aware=True),
    "attention_rnn": MelodyConfig(
        name="attention_rnn", encoding="lookback", attention_length=40, clip_norm=3.0, meter_aware=True
    ),
    # Small on purpose: at equal time on 2 CPU cores this beats bigger ones (more steps). Trained on random
    # 128-step windows (8 bars: far enough back to copy a repeated phrase) and attends 128 steps back.
    "transformer": MelodyConfig(
        name="transformer",
        encoding="lookback",
        architecture="transformer",
        meter_aware=True,
        beat_inputs=True,
        dropout=0.1,
        layers=[96],
        d_model=96,
        heads=4,
        transformer_layers=2,
        attention_window=128,
        train_window=128,
        batch_size=32,
        learning_rate=2e-3,
        warmup_steps=50,
        clip_norm=1.0,
    ),
}


def preset(name: str, **overrides) -> MelodyConfig:
    if name not in CONFIGS:
        raise BadInputError(f"unknown config {name!r}; choose one of {', '.join(CONFIGS)}")
    return replace(CONFIGS[name], **{k: v for k, v in overrides.items() if v is not None})


class MelodyRNN(nn.Module):
    """Stacked LSTM (+ optional local attention) from encoded inputs to class logits."""

    def __init__(self, config: MelodyConfig):
        super().__init__()
        self.config = config
        enc = config.melody_encoding
        sizes = [enc.input_size] + list(config.layers)
        self.lstms = nn.ModuleList(nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(config.layers)))
        self.dropout = FastDropout(config.dropout)
        top = config.layers[-1]
        if config.attention_length:
            self.query = nn.Linear(top, top, bias=False)
            self.key = nn.Linear(top, top, bias=False)
            self.mix = nn.Linear(2 * top, top)
        self.head = nn.Linear(top, enc.num_classes)
        self._init_like_tensorflow()

    @torch.no_grad()
    def _init_like_tensorflow(self) -> None:
        """Initialise as Magenta's TensorFlow graph does: it learns much faster than torch's defaults.

        Measured on the benchmark corpus (basic_rnn, 750 steps x 128): held-out 1.091 nats/step with
        this, 1.177 with torch's uniform(+-1/sqrt(hidden)) weights and biases. TF's LSTM cell holds one
        Glorot-uniform kernel over [input + hidden, 4 * hidden], zero biases, and adds ``forget_bias``
        to the forget gate; its linear layers are Glorot-uniform with zero bias.
        """
        for lstm in self.lstms:
            hidden = lstm.hidden_size
            limit = math.sqrt(6.0 / (lstm.input_size + hidden + 4 * hidden))
            for name, param in lstm.named_parameters():
                if name.startswith("weight"):
                    param.uniform_(-limit, limit)
                else:
                    param.zero_()
                    if name.startswith("bias_ih"):
                        param[hidden : 2 * hidden] = self.config.forget_bias
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)

    def forward(self, inputs: torch.Tensor, state: dict | None = None) -> tuple[torch.Tensor, dict]:
        """``inputs [B, T, input_size]`` -> ``logits [B, T, classes]``; ``state`` carries LSTM and attention memory."""
        state = state or {}
        hidden = []
        x = inputs
        previous = state.get("lstm", [None] * len(self.lstms))
        one_step = x.shape[1] == 1 and not self.training  # generation: cell arithmetic beats a fused call
        for i, lstm in enumerate(self.lstms):
            if one_step:
                out, hc = rnn_step(lstm, x[:, 0], previous[i])
                x = out.unsqueeze(1)
            else:
                x, hc = lstm(x, previous[i])
            hidden.append(hc)
            x = self.dropout(x)
        new_state = {"lstm": hidden}
        if self.config.attention_length:
            x, new_state["memory"] = self._attend(x, state.get("memory"))
        return self.head(x), new_state

    def _attend(self, x: torch.Tensor, memory: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each step attends over the previous ``attention_length`` top-layer outputs (not itself)."""
        length = self.config.attention_length
        past = x if memory is None else torch.cat([memory, x], dim=1)
        n_new, n_all = x.shape[1], past.shape[1]
        q = self.query(x)
        k = self.key(past)
        positions_q = torch.arange(n_all - n_new, n_all, device=x.device).unsqueeze(1)
        positions_k = torch.arange(n_all, device=x.device).unsqueeze(0)
        allowed = (positions_k < positions_q) & (positions_k >= positions_q - length)
        allowed[:, 0] |= ~allowed.any(dim=1)  # step 0 has no past: let it see slot 0 (itself) instead of nothing
        context = F.scaled_dot_product_attention(q, k, past, attn_mask=allowed)
        out = torch.tanh(self.mix(torch.cat([x, context], dim=-1)))
        return out, past[:, -length:].detach()


class MelodyTransformer(nn.Module):
    """A small decoder-only Transformer with rotary positions over the same inputs and classes.

    Each step attends at most ``attention_window`` steps back (a banded causal mask; the generation
    cache keeps only that many keys), so it trains on short random windows yet runs on whole
    melodies of any length with the same view of the past.
    """

    def __init__(self, config: MelodyConfig):
        super().__init__()
        self.config = config
        enc = config.melody_encoding
        self.embed = nn.Linear(enc.input_size, config.d_model)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.transformer_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, enc.num_classes)
        if config.fill_in_middle:  # prefix / suffix / middle (melody/fim.py); the prefix's row stays zero
            self.segment = nn.Embedding(3, config.d_model, padding_idx=0)
            nn.init.zeros_(self.segment.weight)
            self.ahead = nn.Linear(2 * enc.num_events, config.d_model, bias=False)  # the events 1 and 2 bars ahead
            nn.init.zeros_(self.ahead.weight)

    def forward(self, inputs: torch.Tensor, state: dict | None = None, positions=None, segments=None, ahead=None):
        """``inputs [B, T, F]`` -> ``logits [B, T, classes]`` and the state to continue from. ``positions`` ``[B, T]``:
        each step's rotary position (default: in order from the state's offset); ``segments`` ``[B, T]``: FIM segment
        ids; ``ahead`` ``[B, T, 2 * events]``: the events 1 and 2 bars after the next step, where known. All three are
        for whole presentations (fill-in-the-middle), not for continuing a cached state."""
        state = state or {}
        offset = state.get("offset", 0)
        caches = state.get("cache", [None] * len(self.blocks))
        x = self.embed(inputs)
        if segments is not None and hasattr(self, "segment"):
            x = x + self.segment(segments)
        if ahead is not None and hasattr(self, "ahead"):
            x = x + self.ahead(ahead)
        new_caches = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(x, offset, cache, positions)
            new_caches.append(cache)
        return self.head(self.norm(x)), {"offset": offset + inputs.shape[1], "cache": new_caches}


class _Block(nn.Module):
    def __init__(self, config: MelodyConfig):
        super().__init__()
        d = config.d_model
        self.heads = config.heads
        self.window = config.attention_window
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = FastDropout(config.dropout)

    def forward(self, x, offset, cache, positions=None):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = _rotary(q, offset, positions), _rotary(k, offset, positions)
        if self.window and cache is not None and t == 1:
            y, cache = self._attend_one(q, k, v, cache, offset)
        else:
            y, cache = self._attend(q, k, v, cache, offset)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))
        x = x + self.drop(self.mlp(self.norm2(x)))
        return x, cache

    def _attend(self, q, k, v, cache, offset):
        """Attention for ``t`` new steps at once (training, evaluation, a primer)."""
        t = q.shape[2]
        if cache is not None:
            past_k, past_v = self._ordered(cache, offset) if self.window else cache
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        n = k.shape[2]
        dropout = self.drop.p if self.training else 0.0
        if n == t and (not self.window or t <= self.window):  # plain causal: the fast fused kernel
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            key_pos = torch.arange(n, device=q.device).unsqueeze(0)
            query_pos = torch.arange(n - t, n, device=q.device).unsqueeze(1)
            mask = key_pos <= query_pos
            if self.window:
                mask &= key_pos > query_pos - self.window
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        if not self.window:
            return y, (k, v)
        if self.training:  # nothing continues from a training batch: no ring to build on the hot path
            return y, None
        # keep the last ``window`` keys in a ring: the key of position p lives in slot p % window
        end = offset + t
        keep = min(n, self.window)
        slots = torch.arange(end - keep, end, device=q.device) % self.window
        ring_k = k.new_zeros(*k.shape[:2], self.window, k.shape[3])
        ring_v = torch.zeros_like(ring_k)
        ring_k[:, :, slots], ring_v[:, :, slots] = k[:, :, -keep:], v[:, :, -keep:]
        return y, (ring_k, ring_v)

    def _attend_one(self, q, k, v, ring, offset):
        """One new step against the ring of past keys: written in place, no copy of the past (generation).

        Keys carry their rotary phase, so their order in the ring does not matter; the slot being
        overwritten held position ``offset - window``, which has just left the band.
        """
        ring_k, ring_v = ring
        slot = offset % self.window
        ring_k[:, :, slot], ring_v[:, :, slot] = k[:, :, 0], v[:, :, 0]
        mask = None if offset + 1 >= self.window else (torch.arange(self.window, device=q.device) <= offset)[None]
        return F.scaled_dot_product_attention(q, ring_k, ring_v, attn_mask=mask), ring

    def _ordered(self, ring, offset):
        """The ring's keys and values in position order (for several new steps at once)."""
        count = min(offset, self.window)
        slots = torch.arange(offset - count, offset, device=ring[0].device) % self.window
        return ring[0][:, :, slots], ring[1][:, :, slots]


def _rotary(x: torch.Tensor, offset: int, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Rotary position embedding (RoPE): rotates feature pairs by position-dependent angles.

    ``positions`` ``[B, T]``: each row's own positions (fill-in-the-middle order); else ``offset, offset + 1, ...``.
    """
    half = x.shape[-1] // 2
    freqs = 1.0 / (10000 ** (torch.arange(half, device=x.device, dtype=torch.float32) / half))
    if positions is not None:
        angles = positions.to(x.device, torch.float32)[:, None, :, None] * freqs
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        x1, x2 = x[..., :half], x[..., half : 2 * half]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, x[..., 2 * half :]], dim=-1)
    pos = torch.arange(offset, offset + x.shape[-2], device=x.device, dtype=torch.float32)
    angles = pos[:, None] * freqs[None, :]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, x[..., 2 * half :]], dim=-1)


def build_model(config: MelodyConfig) -> nn.Module:
    return MelodyTransformer(config) if config.architecture == "transformer" else MelodyRNN(config)


def count_parameters(model: nn.Module) -> int:
    """Trainable weights of a model (melody or audio): the size figure reports and model listings quote."""
    return sum(p.numel() for p in model.parameters())
