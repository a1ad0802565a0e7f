"""rnn_step must give what nn.LSTM / nn.GRU give for one step, for any layer count and state."""

import pytest
import torch
from torch import nn

from tunesmith.core.rnn_step import rnn_step


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layers", [1, 3])
def test_one_step_matches_the_module(kind, layers):
    torch.manual_seed(0)
    rnn = kind(20, 16, layers, batch_first=True).eval()
    x = torch.randn(5, 7, 20)
    expected, expected_state = rnn(x)
    state, outputs = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = rnn_step(rnn, x[:, t], state)
            outputs.append(out)
    torch.testing.assert_close(torch.stack(outputs, dim=1), expected.detach(), rtol=1e-5, atol=1e-5)
    for got, want in zip(state if kind is nn.LSTM else (state,), expected_state if kind is nn.LSTM else (expected_state,)):
        torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-5)


def test_refuses_bidirectional():
    with pytest.raises(ValueError):
        rnn_step(nn.LSTM(4, 4, bidirectional=True), torch.zeros(1, 4))
