"""The foundation below every layer: errors, atomic files, output folders, config, device, progress,
checkpoints, the drawing plumbing and the one training loop."""
