"""The audio model's one-frame step in NumPy, for generation on the CPU.

Generation runs one frame at a time with a batch of one: each step is a handful of matrix-vector products
and gate functions on 128-512 numbers. torch spends more on dispatching each of those ~25 small ops than on
the arithmetic (~250 µs a frame); the same step as NumPy calls on the same weights takes about a third of
that, which is most of a 20 s generation's frame loop. Same weights, same results to float rounding
(tested against ``SpectralLSTM.step``); the CUDA path keeps torch.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit
from torch import nn

from tunesmith.audio_model.model import SpectralLSTM


def _array(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().float().cpu().numpy())


class NumpyStep:
    """``step(x, state)`` as ``SpectralLSTM.step`` (eval mode) for torch CPU tensors, computed with NumPy.

    The first state may be torch's ``(h, c)`` / ``h`` of shape ``[layers, batch, hidden]`` (what ``forward``
    returns), so generation warms it on the seed window with torch and continues here.
    """

    def __init__(self, model: SpectralLSTM) -> None:
        self.residual = bool(model.config.residual)
        self.embed = (_array(model.embed.weight.T), _array(model.embed.bias)) if model.embed is not None else None
        self.norm = None
        if model.batchnorm is not None:  # eval mode: a fixed affine map per feature
            bn = model.batchnorm
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            self.norm = (_array(scale), _array(bn.bias - bn.running_mean * scale))
        rnn = model.rnn
        self.lstm = isinstance(rnn, nn.LSTM)
        self.hidden = rnn.hidden_size
        self.layers = []
        for k in range(rnn.num_layers):
            w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
            b_ih = getattr(rnn, f"bias_ih_l{k}") if rnn.bias else torch.zeros(w_ih.shape[0])
            b_hh = getattr(rnn, f"bias_hh_l{k}") if rnn.bias else torch.zeros(w_hh.shape[0])
            if self.lstm:  # the two biases always add up
                self.layers.append((_array(w_ih.T), _array(w_hh.T), _array(b_ih + b_hh), None))
            else:  # a GRU keeps the hidden bias apart: r multiplies (h W_hn + b_hn)
                self.layers.append((_array(w_ih.T), _array(w_hh.T), _array(b_ih), _array(b_hh)))
        self.head = (_array(model.head.weight.T), _array(model.head.bias))

    def __call__(self, x: torch.Tensor, state):
        """One frame ``x (batch, bins)`` -> (prediction ``(batch, bins)`` as a torch tensor, new state).

        ``state`` is torch's ``[layers, batch, hidden]`` state (from ``forward``) or what the last call returned
        (per-layer NumPy arrays, kept as they are between frames).
        """
        xs = x.detach().float().numpy()
        h_in = xs @ self.embed[0] + self.embed[1] if self.embed is not None else xs
        if self.norm is not None:
            h_in = h_in * self.norm[0] + self.norm[1]
        if isinstance(state, list):
            layers = state
        elif state is None:
            zeros = np.zeros((xs.shape[0], self.hidden), np.float32)
            layers = [(zeros, zeros) if self.lstm else zeros] * len(self.layers)
        elif self.lstm:
            layers = [(state[0][k].float().numpy(), state[1][k].float().numpy()) for k in range(len(self.layers))]
        else:
            layers = [state[k].float().numpy() for k in range(len(self.layers))]
        new_state = []
        for (w_ih, w_hh, b_i, b_h), held in zip(self.layers, layers):
            if self.lstm:
                h, c = _lstm(h_in, held[0], held[1], w_ih, w_hh, b_i, self.hidden)
                new_state.append((h, c))
            else:
                h = _gru(h_in, held, w_ih, w_hh, b_i, b_h, self.hidden)
                new_state.append(h)
            h_in = h
        pred = h_in @ self.head[0] + self.head[1]
        if self.residual:
            pred += xs
        return torch.from_numpy(pred), new_state


def _lstm(x, h0, c0, w_ih, w_hh, bias, n):
    gates = x @ w_ih
    gates += h0 @ w_hh
    gates += bias
    expit(gates[:, : 2 * n], out=gates[:, : 2 * n])  # input and forget gates
    expit(gates[:, 3 * n :], out=gates[:, 3 * n :])  # output gate
    np.tanh(gates[:, 2 * n : 3 * n], out=gates[:, 2 * n : 3 * n])  # candidate
    c = gates[:, n : 2 * n] * c0
    c += gates[:, :n] * gates[:, 2 * n : 3 * n]
    return gates[:, 3 * n :] * np.tanh(c), c


def _gru(x, h0, w_ih, w_hh, b_ih, b_hh, n):
    gi, gh = x @ w_ih + b_ih, h0 @ w_hh + b_hh
    r = expit(gi[:, :n] + gh[:, :n])
    z = expit(gi[:, n : 2 * n] + gh[:, n : 2 * n])
    cand = np.tanh(gi[:, 2 * n :] + r * gh[:, 2 * n :])
    return cand + z * (h0 - cand)
