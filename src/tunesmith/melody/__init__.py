"""Magenta's Melody RNN rebuilt in PyTorch: encodings, token datasets, model and generation."""
