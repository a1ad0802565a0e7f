"""One time step of a stacked ``nn.LSTM`` / ``nn.GRU`` as plain matmuls, for fast generation.

Generation feeds one step at a time, where ``nn.LSTM`` spends ~300 µs per call on CPU setting up
its fused (oneDNN) kernel for a one-step sequence; torch's one-step cell (``torch.lstm_cell``: two small
matmuls and the gates) takes a tenth of that. Same weights, same state layout
(``[layers, batch, hidden]``), same result as the module to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn


def rnn_step(rnn: nn.LSTM | nn.GRU, x: torch.Tensor, state=None):
    """``x [batch, input]`` one step through every layer of ``rnn`` -> (``output [batch, hidden]``, new state)."""
    if rnn.bidirectional or getattr(rnn, "proj_size", 0):
        raise ValueError("rnn_step supports unidirectional RNNs without projections")
    lstm = isinstance(rnn, nn.LSTM)
    batch, hidden = x.shape[0], rnn.hidden_size
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, batch, hidden)
        state = (zeros, zeros) if lstm else zeros
    hs, cs = [], []
    inp = x
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = (getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")) if rnn.bias else (None, None)
        if lstm:
            h, c = torch.lstm_cell(inp, (state[0][k], state[1][k]), w_ih, w_hh, b_ih, b_hh)
            cs.append(c)
        else:
            h = torch.gru_cell(inp, state[k], w_ih, w_hh, b_ih, b_hh)
        hs.append(h)
        inp = h  # inter-layer dropout is off in generation (eval mode)
    new_h = torch.stack(hs)
    return inp, ((new_h, torch.stack(cs)) if lstm else new_h)
