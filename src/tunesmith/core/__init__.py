"""The foundation below every layer: errors, atomic files, output folders, config, device, progress, checkpoints and the one training loop."""
