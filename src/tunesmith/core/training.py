"""One training loop for both models: steps/epochs, eval, progress bar, log, checkpoints, resume, DDP.

A model family plugs in as a ``TrainingTask``: it owns the model, builds deterministic batches
from ``(epoch, index)``, computes the loss, and evaluates on held-out data. The loop does the
rest identically for the melody and the audio model. Batches depend only on ``(seed, epoch,
index)`` and torch's RNG is checkpointed, so a resumed run ends with the same weights as an
uninterrupted one.

With ``keep_best`` the weights written to ``model.safetensors`` are those of the evaluation with the lowest
held-out loss so far (the training state still holds the last step's, so a resume continues from there), and
``patience`` stops the run once that many evaluations in a row have not improved on the best: training longer
never gives a worse model.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import torch

from tunesmith.core import checkpoint
from tunesmith.core.allocator import release_freed_memory, reuse_freed_memory
from tunesmith.core.checkpoint import LOG, read_log
from tunesmith.core.device import use_threads
from tunesmith.core.errors import Interrupted, OutputError, TrainingError
from tunesmith.core.files import remove_stale_temps, write_text
from tunesmith.core.folders import output_dir, remove_own_files
from tunesmith.core.progress import progress_bar


class TrainingTask(Protocol):
    model: torch.nn.Module
    kind: str  # "melody" | "audio"

    def config_dict(self) -> dict: ...
    def make_optimizer(self) -> torch.optim.Optimizer: ...
    def batches_per_epoch(self, world_size: int = 1) -> int: ...
    def batch(self, epoch: int, index: int, rank: int = 0, world_size: int = 1) -> Any: ...
    def loss(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...
    def evaluate(self) -> dict[str, float]: ...

    # optional: thread_hints, a dict for tunesmith.core.device.default_threads (recurrent=True, units=128)

    # optional: learning_rate(step) -> float, a schedule applied before every optimizer step


@dataclass
class TrainSettings:
    steps: int | None = None
    epochs: int | None = None
    eval_every: int = 200
    checkpoint_every: int = 200
    log_every: int = 10
    clip_norm: float | None = None
    seed: int = 0
    resume: bool = False
    progress: bool = True
    threads: int | None = None  # None: tunesmith.core.device.default_threads for the task's model
    max_seconds: float | None = None  # stop (with a checkpoint) after this much wall time
    stop_event: Any = None  # a threading.Event: set it to stop cleanly (the web page's Cancel)
    on_log: Any = None  # called with each logged row (live progress in the web page)
    keep_best: bool = False  # model.safetensors holds the weights of the best held-out loss, not the last step's
    patience: int | None = None  # with keep_best: stop after this many evaluations without a new best (None: never)

    @classmethod
    def from_arguments(cls, arguments: dict, **extra) -> TrainSettings:
        """The loop's settings taken from a trainer's own arguments (its ``locals()``), so the melody and the
        polyphonic trainers do not each repeat the list."""
        names = {f.name for f in fields(cls)} - extra.keys()
        return cls(**{k: v for k, v in arguments.items() if k in names}, **extra)


def check_run_numbers(**values) -> None:
    """Refuse nonsense run settings before anything is made: ``steps=0``, ``eval_every=-5``... (None: not given).
    The message names the command-line option (``--eval-every``) and the Python argument."""
    for name, value in values.items():
        if value is None:
            continue
        low_ok = value > 0 if name == "max_seconds" else value >= 1
        if not low_ok or (isinstance(value, float) and not math.isfinite(value)):
            option = "--" + name.replace("_", "-")
            need = "above 0" if name == "max_seconds" else "at least 1"
            raise TrainingError(f"{option} ({name}=) must be {need}, not {value}")


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast only where it is fast: CUDA with bf16, or a CPU with AVX512-BF16/AMX (oneDNN).

    ``"bf16"`` asked for on a CPU without them trains in fp32, with a warning: there oneDNN has no bf16 LSTM at all
    ("could not create a primitive descriptor"), and bf16 matrix products are emulated, slower than fp32."""
    if precision == "fp32":
        return False
    supported = _bf16_supported(device)
    if precision == "bf16" and not supported:
        warnings.warn(
            f"this {device.type.upper()} has no bf16 arithmetic (AVX512-BF16/AMX on a CPU): training in fp32", stacklevel=2
        )
    return supported


def _bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def claim_model_dir(model_dir: str | os.PathLike, kind: str, *, resume: bool, force: bool):
    """Check and lock ``model_dir`` for a training run (rank 0 only under DDP); a context manager.

    A trained model there is continued with ``resume``, replaced with ``force``, and otherwise never touched:
    training into it is refused before any work.
    """
    if int(os.environ.get("RANK", "0")) != 0:  # the other ranks write nothing; rank 0 holds the lock
        return contextlib.nullcontext(Path(model_dir))
    return _claim(Path(model_dir), f"{kind} model", resume, force)


@contextlib.contextmanager
def _claim(model_dir: Path, kind: str, resume: bool, force: bool):
    with output_dir(model_dir, kind, force=force and not resume):
        trained = [n for n in (checkpoint.WEIGHTS, checkpoint.TRAIN_STATE) if (model_dir / n).is_file()]
        if trained and not resume:
            if not force:
                step = _saved_step(model_dir)
                raise OutputError(
                    f"{model_dir} already holds a trained {kind}{step}; continue it with --resume, pass --force to "
                    "replace it with a new one, or choose another output folder"
                )
            # start over: the model's own files go; a prepared corpus/ is kept (it is reused by content)
            remove_own_files(model_dir, kind, keep=("corpus",))
        yield model_dir


def _saved_step(model_dir: Path) -> str:
    with contextlib.suppress(Exception):
        return f" (trained {int(checkpoint.read_train_state_step(model_dir))} steps)"
    return ""


def init_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def run_training(task: TrainingTask, model_dir: str | os.PathLike, settings: TrainSettings) -> dict:
    """Train ``task.model``, checkpointing into ``model_dir``; returns the final metrics.

    Runs on ``settings.threads`` CPU threads, else the model's default (tunesmith.core.device); the
    process's thread count is put back afterwards, so generation after training is unaffected.
    """
    rank, world = init_distributed()
    before = torch.get_num_threads()
    threads = use_threads(settings.threads, **getattr(task, "thread_hints", {}), processes=world)
    try:
        return dict(_train(task, Path(model_dir), settings, rank, world), threads=threads)
    finally:
        torch.set_num_threads(before)


def _train(task: TrainingTask, model_dir: Path, settings: TrainSettings, rank: int, world: int) -> dict:
    reuse_freed_memory()  # no page faults re-zeroing the same buffers every step
    per_epoch = task.batches_per_epoch(world)
    if per_epoch < 1:
        raise TrainingError("the training set is too small for one batch; add data or lower the batch size")
    if settings.steps is None and settings.epochs is None:
        raise TrainingError("give --steps or --epochs")
    total = settings.steps if settings.steps is not None else settings.epochs * per_epoch
    optimizer = task.make_optimizer()
    step = 0
    best: dict | None = None  # {"step", "loss", "weights"}: the evaluation with the lowest held-out loss so far
    if rank == 0:
        remove_stale_temps(model_dir, legacy=True)  # half-written temp files of a killed run: never read, never kept
    if settings.resume and checkpoint.has_train_state(model_dir):
        state = checkpoint.load_train_state(model_dir, task.model, optimizer)
        step = int(state["step"])
        if state.get("seed", settings.seed) != settings.seed:
            raise TrainingError(f"{model_dir} was trained with --seed {state['seed']}; resume with the same seed")
        if settings.keep_best and "best_step" in state:
            weights = checkpoint.load_best_weights(model_dir)
            if weights is not None:
                best = {"step": int(state["best_step"]), "loss": float(state["best_loss"]), "weights": weights}
        _truncate_log(model_dir, step)
    elif settings.resume:
        raise TrainingError(f"{model_dir}: nothing to resume (no {checkpoint.TRAIN_STATE}); start without --resume")
    else:
        torch.manual_seed(settings.seed)
        if rank == 0:
            model_dir.mkdir(parents=True, exist_ok=True)
            (model_dir / LOG).unlink(missing_ok=True)
    model = task.model
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(task.model)
    if rank == 0:
        checkpoint.save_config(model_dir, task.kind, task.config_dict(), getattr(task, "config_extra", None))
    log_rows: list[dict] = []
    bar = progress_bar(total=total, desc=f"train {task.kind}", unit="step", disable=not settings.progress or rank != 0)
    bar.update(step)
    first_step = step
    started = time.perf_counter()
    window: dict[str, list[float]] = {}
    last_eval: dict[str, float] = {}

    saved_step = step

    def save(final: bool = False) -> None:
        nonlocal saved_step
        saved_step = step
        if rank == 0:
            _save(final)
        if world > 1:
            torch.distributed.barrier()  # no rank runs ahead of a checkpoint another rank may resume from

    def _save(final: bool) -> None:
        _append_log(model_dir, log_rows)
        log_rows.clear()
        state = {"step": step, "seed": settings.seed}
        if best is None:
            checkpoint.save_weights(model_dir, task.model, {"step": step})
        else:  # the best evaluation's weights are the model; the last step's stay in the train state for a resume
            checkpoint.save_weights(
                model_dir, best["weights"], {"step": best["step"], "eval_loss": best["loss"], "last_step": step}
            )
            state.update(best_step=best["step"], best_loss=best["loss"])
        checkpoint.save_train_state(model_dir, task.model, optimizer, state, best=best["weights"] if best is not None else None)
        if final:
            release_freed_memory()  # drawing the curve must not add to the training loop's cached buffers
            try:
                from tunesmith.core.figures import save_loss_curve

                save_loss_curve(model_dir)
            except Exception as exc:  # a plot must never lose a trained model
                print(f"note: loss curve not drawn ({exc})")

    stopped_early = False
    with _ctrl_c_between_steps(world == 1) as interrupted:
        try:
            while step < total and not interrupted():
                epoch, index = divmod(step, per_epoch)
                task.model.train()
                batch = task.batch(epoch, index, rank, world)
                loss, metrics = task.loss(batch) if world == 1 else _ddp_loss(task, model, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.clip_norm:
                    torch.nn.utils.clip_grad_norm_(task.model.parameters(), settings.clip_norm)
                if hasattr(task, "learning_rate"):  # a schedule that is a function of the step survives a resume
                    for group in optimizer.param_groups:
                        group["lr"] = task.learning_rate(step)
                optimizer.step()
                step += 1
                bar.update(1)
                for k, v in metrics.items():
                    window.setdefault(k, []).append(v)
                if not math.isfinite(metrics.get("loss", 0.0)):
                    raise TrainingError(f"loss became {metrics['loss']} at step {step}; lower the learning rate")
                if step % settings.log_every == 0 or step == total:
                    row = {"step": step, "epoch": step / per_epoch, "split": "train", "time": time.perf_counter() - started}
                    row.update({k: sum(v) / len(v) for k, v in window.items()})
                    window.clear()
                    log_rows.append(row)
                    if settings.on_log:
                        settings.on_log(dict(row, total_steps=total))
                    bar.set_postfix(
                        {k: f"{row[k]:.3f}" for k in ("loss", "perplexity", "accuracy") if k in row}
                        | ({"eval": f"{last_eval['loss']:.3f}"} if last_eval else {})
                    )
                if step % settings.eval_every == 0 or step == total:
                    last_eval = _evaluate(task)
                    row = {"step": step, "epoch": step / per_epoch, "split": "eval", **last_eval}
                    if settings.keep_best and math.isfinite(last_eval.get("loss", math.nan)):
                        if best is None or last_eval["loss"] < best["loss"]:
                            weights = {k: v.detach().cpu().clone() for k, v in task.model.state_dict().items()}
                            best = {"step": step, "loss": float(last_eval["loss"]), "weights": weights}
                        row["best_step"] = best["step"]
                        stale = (step - best["step"]) // settings.eval_every
                        stopped_early = bool(settings.patience) and stale >= settings.patience and step < total
                    log_rows.append(row)
                    if settings.on_log:
                        settings.on_log(dict(log_rows[-1], total_steps=total))
                    if stopped_early:
                        break
                if step % settings.checkpoint_every == 0 and step != total:
                    save()
                if settings.max_seconds and time.perf_counter() - started > settings.max_seconds:
                    break
                if settings.stop_event is not None and settings.stop_event.is_set():
                    break
        except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread: mid-step, so nothing is saved
            bar.close()
            raise Interrupted(
                f"training interrupted during step {step + 1}; the checkpoint of step {saved_step} is kept, "
                "continue with --resume"
            ) from None
        if interrupted() and step < total:  # Ctrl-C waited for the step to end: a whole step's checkpoint
            save()
            bar.close()
            raise Interrupted(f"training interrupted at step {step}; checkpoint saved, continue with --resume")
        save(final=True)
    bar.close()
    result = {
        "step": step,
        "steps_run": step - first_step,  # this run's steps (a resume continues from first_step)
        "eval": last_eval,
        "seconds": time.perf_counter() - started,
        "world_size": world,
    }
    if best is not None:  # the model saved: the best evaluation, and whether patience ended the run
        result.update(best_step=best["step"], best_eval_loss=best["loss"], stopped_early=stopped_early)
    if world > 1:
        result["ranks_in_sync"] = _ranks_in_sync(task.model)
    return result


@contextlib.contextmanager
def _ctrl_c_between_steps(enabled: bool):
    """Hold a Ctrl-C until the running step ends, so the checkpoint saved for it is a whole step's (weights,
    optimizer and RNG all after the same step): a resume is then bit-identical to an uninterrupted run.

    A second Ctrl-C stops at once (nothing is saved then). Only in the main thread of a single process:
    elsewhere Python allows no signal handler, and under DDP every rank would have to stop at the same step.
    """
    pending: list[int] = []
    main_thread = threading.current_thread() is threading.main_thread()
    ignored = signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None)  # a background job keeps ignoring Ctrl-C
    if not enabled or not main_thread or ignored:
        yield lambda: False
        return

    def handler(signum, frame):
        if pending:
            raise KeyboardInterrupt
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pending)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ranks_in_sync(model: torch.nn.Module) -> bool:
    """True when every rank holds bit-identical weights (DDP keeps them so; this checks it)."""
    flat = torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])
    checksum = torch.stack([flat.sum(), (flat * torch.arange(1, flat.numel() + 1, dtype=torch.float64)).sum()])
    gathered = [torch.zeros_like(checksum) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(gathered, checksum)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def _ddp_loss(task, ddp_model, batch):
    original = task.model
    task.model = ddp_model  # the forward must go through DDP for gradient sync
    try:
        return task.loss(batch)
    finally:
        task.model = original


def _evaluate(task: TrainingTask) -> dict[str, float]:
    task.model.eval()
    with torch.no_grad():
        return task.evaluate()


def _append_log(model_dir: Path, rows: list[dict]) -> None:
    if not rows:
        return
    old = (model_dir / LOG).read_text() if (model_dir / LOG).is_file() else ""
    write_text(model_dir / LOG, old + "".join(json.dumps(r) + "\n" for r in rows))


def _truncate_log(model_dir: Path, step: int) -> None:
    rows = [r for r in read_log(model_dir) if r["step"] <= step]
    write_text(model_dir / LOG, "".join(json.dumps(r) + "\n" for r in rows))
