"""``tunesmith models``: the bundled and local model directories with their config and eval figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tunesmith.assets import BUNDLED


def describe(model_dir: Path, name: str | None = None) -> str:
    try:
        data = json.loads((model_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return f"{name or model_dir}: damaged (config.json unreadable)"
    config = data.get("config", {})
    label = config.get("name") or data.get("kind")
    figures = ""
    report = model_dir / "report.json"
    evals = [r for r in _log_rows(model_dir) if r.get("split") == "eval"]
    if report.is_file():
        heldout = json.loads(report.read_text()).get("heldout", {})
        if "loss" in heldout:
            figures = f"held-out loss {heldout['loss']:.3f}"
            if "accuracy" in heldout:  # a melody model's share of steps predicted right
                figures += f", accuracy {heldout['accuracy']:.3f}"
            elif "persistence_mse" in heldout and "mse" in heldout:  # an audio model: against repeating the last frame
                figures += f", MSE {heldout['mse']:.3f} vs {heldout['persistence_mse']:.3f} repeating the last frame"
    elif evals:
        figures = f"eval loss {evals[-1]['loss']:.3f} at step {evals[-1]['step']}"
    return f"{name or model_dir}  [{data.get('kind')}: {label}]  {figures}".rstrip()


def _log_rows(model_dir: Path) -> list[dict]:
    from tunesmith.core.checkpoint import read_log

    return read_log(model_dir)


def list_models(search: list[str | os.PathLike] | None = None) -> list[str]:
    lines = ["Bundled:"]
    for name, path in BUNDLED.items():
        if name == "melody-default":
            continue
        lines.append("  " + (describe(path, name) if (path / "config.json").is_file() else f"{name}: not installed"))
    local = []
    for root in [Path(p) for p in (search or [Path.cwd()])]:
        for config in sorted(root.glob("*/config.json")) + sorted(root.glob("*/*/config.json")):
            local.append("  " + describe(config.parent, str(config.parent)))
    lines.append("Local:" if local else "Local: none found here (train one: tunesmith melody train MIDI_DIR -o MODEL_DIR)")
    return lines + local
