"""Generation's NumPy frame step must give what SpectralLSTM.step gives, for every architecture option."""

from __future__ import annotations

import pytest
import torch

from tunesmith.audio_model.model import AudioConfig, SpectralLSTM
from tunesmith.audio_model.numpy_step import NumpyStep


@pytest.mark.parametrize(
    "options",
    [
        {},  # the default: embedding, log-standardise, residual, LSTM
        {"rnn": "gru", "layers": 3},
        {"embedding": False, "normalisation": "batchnorm", "residual": False, "layers": 1},
        {"residual": False, "units": 48},
    ],
)
def test_numpy_step_matches_torch_over_many_frames(options):
    torch.manual_seed(0)
    model = SpectralLSTM(AudioConfig(n_fft=256, hop_length=64, units=options.pop("units", 32), **options)).eval()
    for p in model.parameters():  # residual models start with a zero head: give every weight a value
        torch.nn.init.normal_(p, std=0.3)
    if model.batchnorm is not None:
        model.batchnorm.running_mean.normal_()
        model.batchnorm.running_var.uniform_(0.5, 2.0)
    step = NumpyStep(model)
    with torch.inference_mode():
        window = torch.randn(2, 10, model.config.bins)
        _, warm = model(window, last_only=True)  # generation warms the state on the seed window with torch
        x = torch.randn(2, model.config.bins)
        torch_state, numpy_state = warm, warm
        for _ in range(20):  # the state carried frame to frame must agree too
            expected, torch_state = model.step(x, torch_state)
            got, numpy_state = step(x, numpy_state)
            assert got.shape == expected.shape and got.dtype == torch.float32
            assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
            x = torch.tanh(expected)  # feed back, as generation does
        fresh, _ = step(x, None)  # no state: zeros, as torch starts
        assert torch.allclose(fresh, model.step(x, None)[0], atol=1e-4, rtol=1e-4)
