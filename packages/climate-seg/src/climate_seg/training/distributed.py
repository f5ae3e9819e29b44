"""Device selection and the ignite.distributed launch (CPU gloo or one process per GPU)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import ignite.distributed as idist
import torch

__all__ = ["check_gpus", "launch"]


def check_gpus(gpu: Sequence[int] | None) -> list[int] | None:
    """Validate ``--gpu`` ids against the CUDA devices present.

    Parameters
    ----------
    gpu : sequence of int or None
        Requested ids; None or empty means CPU.

    Returns
    -------
    list of int or None

    Raises
    ------
    ValueError
        When CUDA is requested but unavailable, or an id does not exist.
    """
    if gpu is None or len(gpu) == 0:
        return None
    ids = [int(i) for i in gpu]
    if not torch.cuda.is_available():
        raise ValueError(f"--gpu {' '.join(map(str, ids))} asks for CUDA but no CUDA device is available; drop --gpu to train on the CPU.")
    count = torch.cuda.device_count()
    bad = [i for i in ids if i < 0 or i >= count]
    if bad:
        raise ValueError(f"GPU id(s) {bad} do not exist; this machine has {count} GPU(s) with ids 0..{count - 1}.")
    if len(set(ids)) != len(ids):
        raise ValueError(f"--gpu lists an id twice: {ids}.")
    return ids


def launch(fn: Callable[..., Any], config: Any, gpu: list[int] | None, nproc: int) -> None:
    """Run ``fn(local_rank, config)`` on the requested devices.

    One GPU or one CPU process runs in-process (no process group). Several GPUs use the
    NCCL backend with one process per GPU; several CPU processes use gloo, both through
    ``ignite.distributed.Parallel``.

    Parameters
    ----------
    fn : callable
        Picklable top-level function ``fn(local_rank, config)``.
    config : object
        Passed through to ``fn``.
    gpu : list of int or None
        Validated GPU ids (see :func:`check_gpus`).
    nproc : int
        CPU processes when ``gpu`` is None.
    """
    if gpu:
        if len(gpu) == 1:
            fn(0, config)
            return
        # spawned workers start fresh: they see only the chosen GPUs, as cuda:0..n-1
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu))
        with idist.Parallel(backend="nccl", nproc_per_node=len(gpu)) as parallel:
            parallel.run(fn, config)
        return
    if nproc <= 1:
        fn(0, config)
        return
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    with idist.Parallel(backend="gloo", nproc_per_node=nproc) as parallel:
        parallel.run(fn, config)
