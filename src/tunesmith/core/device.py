"""Where the models run: the device, and how many CPU threads (one home for both choices).

Threads. A user limits them from outside the usual ways, and both are honoured: ``OMP_NUM_THREADS``
and the CPU affinity (``taskset``, a container's cpuset). Within that limit the default depends on
the model. Why (2-core EPYC VM, issue 24): every time step of an LSTM is a few small oneDNN matmuls,
and each is an OpenMP fork/join. tunesmith makes idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``,
set in ``tunesmith/__init__``): with spinning threads a busy machine made 2-thread training collapse
(measured at load ~16: LSTM 128x2 fwd+bwd, batch 128 x 200 steps, 19.6 s and 6.3 CPU-s per step
spinning vs 1.9 s and 0.9 CPU-s sleeping; the Transformer 0.3 vs 3.0 steps/s). But a sleeping
thread must be woken for every fork (a futex wake; on a VM likely an interrupt to another vCPU), dearer than the small
matmul it would split: on a quiet machine basic_rnn (batch 128 x 128 units) trains at 61k real
steps/s on 1 thread and 19k on 2, the audio LSTM at 1.32 s/epoch on 1 and 1.93 s on 2. The
Transformer's large batched matmuls do pay for the wake-ups (8.3 steps/s on 2 threads, 6.6 on 1).
So: small RNNs train on one thread, everything else on every CPU allowed.

torch is imported only where needed: ``render`` asks for the CPU count without paying torch's import.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from tunesmith.core.errors import BadInputError

if TYPE_CHECKING:
    import torch

SMALL_RNN_UNITS = 256  # recurrent layers up to this size train fastest on one thread (measured at 128)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` when given, else CUDA when there is a GPU, else the CPU."""
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, cpusets), else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def thread_limit() -> int:
    """The most threads to use: ``OMP_NUM_THREADS`` when set (its first number), else the available CPUs."""
    text = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return available_cpus()


def default_threads(recurrent: bool = False, units: int = 0, processes: int = 1) -> int:
    """Threads for training a model: one for a small RNN, else every CPU the limit allows (shared by ``processes``)."""
    share = max(1, thread_limit() // max(1, processes))
    if recurrent and units <= SMALL_RNN_UNITS:
        return 1
    return share


def use_threads(threads: int | None = None, **model) -> int:
    """Set torch's intra-op threads to ``threads`` (when given) or :func:`default_threads` ``(**model)``; returns it."""
    if threads is not None and threads < 1:
        raise BadInputError(f"--threads {threads}: give 1 or more")
    import torch

    chosen = threads or default_threads(**model)
    if torch.get_num_threads() != chosen:
        torch.set_num_threads(chosen)
    return chosen


@contextlib.contextmanager
def threads_for_small_steps(device=None):
    """Run a loop of many tiny ops (one generated frame at a time) on one CPU thread, then restore the count.

    Each op of such a loop is too small to split: a second thread only adds a wake-up per op (see above).
    """
    import torch

    if device is not None and torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
