"""Model directories: safetensors weights + JSON config + training state, written atomically, no pickle.

A model directory is self-describing::

    model.safetensors        weights for inference
    config.json              {"kind": "melody"|"audio", "config": {...}}
    train_state.safetensors  weights + optimizer tensors + step + RNG, one file so it is never inconsistent
    log.jsonl                one JSON object per logged step / eval
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tunesmith.core.errors import ModelError
from tunesmith.core.files import write_bytes, write_json

if TYPE_CHECKING:  # torch loads when weights are read or written, not to read a config or a log
    import numpy as np
    import torch

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TRAIN_STATE = "train_state.safetensors"
LOG = "log.jsonl"  # one JSON object per line: {"step", "split", "loss", ...}; appended at each checkpoint


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    # serialised in memory, written by Python: a full disk is then an OSError that write_bytes reports as
    # "disk full" (safetensors' save_file raises its own SafetensorError for it)
    write_bytes(path, save(tensors, metadata={"json": json.dumps(metadata or {})}))


def _load_tensors(path: Path, framework: str = "pt") -> tuple[dict, dict]:
    """The tensors of a safetensors file (``framework="np"``: NumPy arrays, no torch import) and its metadata."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ModelError(f"{path} is missing; is {path.parent} a tunesmith model directory?")
    try:
        with safe_open(str(path), framework=framework) as handle:
            metadata = json.loads((handle.metadata() or {}).get("json", "{}"))
            return {k: handle.get_tensor(k) for k in handle.keys()}, metadata  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is damaged ({exc}); retrain or restore it from a backup") from exc


def save_config(model_dir: str | os.PathLike, kind: str, config: dict, extra: dict | None = None) -> None:
    write_json(Path(model_dir) / CONFIG, {"kind": kind, "config": config, **(extra or {})})


def load_config(model_dir: str | os.PathLike) -> dict:
    path = Path(model_dir) / CONFIG
    if not path.is_file():
        raise ModelError(f"{model_dir}: no {CONFIG}; not a tunesmith model directory (train one or use --model default)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or "kind" not in data or not isinstance(data.get("config"), dict):
        raise ModelError(f"{path} lacks 'kind' and 'config'; the model directory is damaged")
    return data


def save_weights(
    model_dir: str | os.PathLike, model: torch.nn.Module | dict[str, torch.Tensor], metadata: dict | None = None
) -> None:
    """Write ``model.safetensors`` from a module or a state dict (e.g. a kept best evaluation's weights)."""
    tensors = model if isinstance(model, dict) else model.state_dict()
    _save_tensors(Path(model_dir) / WEIGHTS, tensors, metadata)


def load_weights(model_dir: str | os.PathLike, model: torch.nn.Module) -> dict:
    """Load weights into ``model``, refusing any missing, extra or mis-shaped tensor."""
    tensors, metadata = _load_tensors(Path(model_dir) / WEIGHTS)
    _check_and_load(model, tensors, Path(model_dir) / WEIGHTS)
    return metadata


def load_numpy_weights(model_dir: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """The weights as NumPy arrays and their metadata, without importing torch (the NumPy frame step runs on them)."""
    return _load_tensors(Path(model_dir) / WEIGHTS, framework="np")


def _check_and_load(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or extra or wrong:
        raise ModelError(
            f"{path} does not match its config.json (missing {missing[:3]}, unexpected {extra[:3]}, "
            f"shape mismatch {wrong[:3]}); the directory mixes files from different models"
        )
    model.load_state_dict(tensors)


def save_train_state(
    model_dir: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict,
    best: dict[str, torch.Tensor] | None = None,
) -> None:
    """One file holding weights, optimizer tensors, step counters and RNG: a resume is always consistent.

    ``best``: the weights of the best evaluation so far (``model.safetensors``), kept here too so a resume carries
    on comparing against them.
    """
    import torch

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (best or {}).items()})
    opt = optimizer.state_dict()
    scalars: dict = {}
    for pid, pstate in opt["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {"state": state, "param_groups": opt["param_groups"], "optim_scalars": scalars}
    _save_tensors(Path(model_dir) / TRAIN_STATE, tensors, metadata)


def load_train_state(model_dir: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    import torch

    path = Path(model_dir) / TRAIN_STATE
    tensors, metadata = _load_tensors(path)
    _check_and_load(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    for key, value in metadata.get("optim_scalars", {}).items():
        pid, name = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": metadata["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return metadata["state"]


def load_best_weights(model_dir: str | os.PathLike) -> dict[str, torch.Tensor] | None:
    """The best evaluation's weights saved in the train state (None for a run that kept none)."""
    tensors, _ = _load_tensors(Path(model_dir) / TRAIN_STATE)
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    return best or None


def read_train_state_step(model_dir: str | os.PathLike) -> int:
    """The step saved in the train state, read from its header only (no tensors loaded)."""
    from safetensors import safe_open

    with safe_open(str(Path(model_dir) / TRAIN_STATE), framework="pt") as handle:
        return int(json.loads((handle.metadata() or {}).get("json", "{}"))["state"]["step"])


def has_train_state(model_dir: str | os.PathLike) -> bool:
    return (Path(model_dir) / TRAIN_STATE).is_file()


def read_log(model_dir: str | os.PathLike) -> list[dict]:
    """The rows of a model directory's training log; [] when there is none yet."""
    path = Path(model_dir) / LOG
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a torn last line from a kill: ignore it
    return rows
