"""What a model folder is: ``describe(model_dir)`` reads its ``config.json`` once (and its figures), for
``tunesmith models``, the web studio's model list and evaluation; ``list_models`` prints the bundled and local ones."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.assets import BUNDLED
from tunesmith.core.checkpoint import CONFIG


@dataclass(frozen=True)
class ModelDescription:
    """A model folder as a person reads it: its kind ("melody" or "audio"; None when ``config.json`` is unreadable),
    its config's name (``transformer``, ``basic_rnn``...), the corpus it names, the clips an audio model learned
    from, its held-out figures as a phrase, and its loss curve when drawn."""

    path: Path
    kind: str | None
    config_name: str | None = None
    config: dict = field(default_factory=dict)
    corpus: str | None = None
    clips: tuple[Path, ...] = ()
    figures: str = ""
    loss_png: Path | None = None

    @property
    def damaged(self) -> bool:
        return self.kind is None

    def line(self, name: str | None = None) -> str:
        """One line of ``tunesmith models``: ``name  [melody: transformer]  held-out loss 1.234, accuracy 0.567``."""
        if self.damaged:
            return f"{name or self.path}: damaged ({CONFIG} unreadable)"
        return f"{name or self.path}  [{self.kind}: {self.config_name or self.kind}]  {self.figures}".rstrip()


def describe(model_dir: str | os.PathLike) -> ModelDescription:
    """Read a model folder's ``config.json`` (once) and its figures: ``report.json``'s held-out ones, else the last
    evaluation in ``log.jsonl``. Never raises for a damaged folder: its description says so."""
    model_dir = Path(model_dir)
    try:
        data = json.loads((model_dir / CONFIG).read_text())
        if not isinstance(data, dict):
            raise ValueError
    except (OSError, ValueError):
        return ModelDescription(model_dir, None)
    config = data.get("config") or {}
    loss_png = model_dir / "plots" / "loss.png"
    return ModelDescription(
        path=model_dir,
        kind=data.get("kind"),
        config_name=config.get("name"),
        config=config,
        corpus=data.get("corpus"),
        clips=tuple(Path(c) for c in data.get("clips") or ()),
        figures=_figures(model_dir),
        loss_png=loss_png if loss_png.is_file() else None,
    )


def _figures(model_dir: Path) -> str:
    report = model_dir / "report.json"
    if report.is_file():
        heldout = json.loads(report.read_text()).get("heldout", {})
        if "loss" not in heldout:
            return ""
        figures = f"held-out loss {heldout['loss']:.3f}"
        if "accuracy" in heldout:  # a melody model's share of steps predicted right
            figures += f", accuracy {heldout['accuracy']:.3f}"
        elif "persistence_mse" in heldout and "mse" in heldout:  # an audio model: against repeating the last frame
            figures += f", MSE {heldout['mse']:.3f} vs {heldout['persistence_mse']:.3f} repeating the last frame"
        return figures
    from tunesmith.core.checkpoint import read_log

    evals = [r for r in read_log(model_dir) if r.get("split") == "eval" and isinstance(r.get("loss"), int | float)]
    if not evals:
        return ""
    best = min(evals, key=lambda r: r["loss"])  # the weights training kept (keep_best), not the last evaluation's
    return f"eval loss {best['loss']:.3f} at step {best.get('step', '?')}"


def list_models(search: list[str | os.PathLike] | None = None) -> list[str]:
    lines = ["Bundled:"]
    for name, path in BUNDLED.items():
        if name == "melody-default":
            continue
        lines.append("  " + (describe(path).line(name) if (path / CONFIG).is_file() else f"{name}: not installed"))
    local = []
    for root in [Path(p) for p in (search or [Path.cwd()])]:
        for config in sorted(root.glob(f"*/{CONFIG}")) + sorted(root.glob(f"*/*/{CONFIG}")):
            local.append("  " + describe(config.parent).line(str(config.parent)))
    lines.append("Local:" if local else "Local: none found here (train one: tunesmith melody train MIDI_DIR -o MODEL_DIR)")
    return lines + local
