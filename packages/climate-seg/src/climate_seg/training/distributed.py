"""Device selection, the ignite.distributed launch (CPU gloo or one process per GPU) and DDP.

Why the operator buffers are kept out of DDP
--------------------------------------------
``sphere_unet`` models hold their sparse graph operators (Laplacians, pooling and
unpooling matrices) as dense *non-persistent* buffers ``crow``/``col``/``val`` plus index
tables, and build a cached sparse CSR view that shares their storage. DDP, by default,
broadcasts every buffer from rank 0 at construction and again before every forward pass:

* a buffer that is itself a sparse tensor cannot be broadcast at all (DDP raises
  ``No support for sparse tensors`` / ``Sparse CSR tensors do not have is_contiguous`` at
  construction) -- this is what made DDP "fail on sparse buffers" with the former fallback
  network, which registered its Laplacian as a sparse COO buffer;
* the dense operator buffers can be broadcast, but doing so copies every operator (index
  arrays included) over the network on every step and overwrites the tensors in place, which
  bumps their version counter and forces the model to rebuild its cached sparse views each
  forward pass.

The operators are derived deterministically from the sampling, so they are identical on
every rank by construction. :func:`wrap_ddp` therefore registers all non-persistent buffers
with ``DistributedDataParallel._set_params_and_buffers_to_ignore_for_model``; persistent
buffers (batch-norm running statistics) are still broadcast from rank 0 as usual.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import ignite.distributed as idist
import torch
from ignite.utils import setup_logger
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "check_gpus",
    "constant_buffer_names",
    "launch",
    "launched_by_torchrun",
    "parameter_digest",
    "sync_buffers",
    "unwrap",
    "wrap_ddp",
]


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
        raise ValueError(
            f"--gpu {' '.join(map(str, ids))} asks for CUDA but no CUDA device is available; drop --gpu to run on the CPU."
        )
    count = torch.cuda.device_count()
    bad = [i for i in ids if i < 0 or i >= count]
    if bad:
        raise ValueError(
            f"GPU id(s) {bad} do not exist; this machine has {count} GPU(s) with ids 0..{count - 1}."
        )
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
    from .engine import forward_signals

    if launched_by_torchrun():
        # torchrun (or SLURM via torchrun) started this process: one rank of the group, set up from
        # the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)
        _quiet_ignite()
        # any --gpu: NCCL with one GPU per rank (cuda:LOCAL_RANK); otherwise CPU processes (gloo)
        backend = "nccl" if gpu else "gloo"
        with idist.Parallel(backend=backend) as parallel:
            parallel.run(fn, config)
        return
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if gpu:
        if len(gpu) == 1:
            fn(0, config)
            return
        _quiet_ignite()
        # spawned workers start fresh: they see only the chosen GPUs, as cuda:0..n-1
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu))
        with forward_signals(), idist.Parallel(backend="nccl", nproc_per_node=len(gpu)) as parallel:
            parallel.run(fn, config)
        return
    if nproc <= 1:
        fn(0, config)
        return
    _quiet_ignite()
    with forward_signals(), idist.Parallel(backend="gloo", nproc_per_node=nproc) as parallel:
        parallel.run(fn, config)


def launched_by_torchrun() -> bool:
    """True in a process started by ``torchrun`` (or another launcher that sets ``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK`` and ``MASTER_ADDR``) with a world size above 1."""
    env = os.environ
    return (
        all(k in env for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))
        and int(env["WORLD_SIZE"]) > 1
    )


def _quiet_ignite() -> None:
    """Keep ignite's launcher/DDP loggers to warnings, written to the *current* ``sys.stderr``.

    ignite binds their handler to the ``sys.stderr`` of first use; when that was a temporary
    stream (a test runner's capture) later messages fail with "I/O operation on closed file".
    """
    for name in ("ignite.distributed.launcher.Parallel", "ignite.distributed.auto.auto_model"):
        setup_logger(name, level=logging.WARNING, reset=True)


def constant_buffer_names(model: torch.nn.Module) -> list[str]:
    """Fully qualified names of the non-persistent buffers of ``model`` (graph operators, pooling tables).

    These are rebuilt from the sampling by the model's constructor, never trained and
    never saved, hence identical on every rank.
    """
    names = []
    for prefix, module in model.named_modules():
        for name in sorted(module._non_persistent_buffers_set):
            if module._buffers.get(name) is not None:
                names.append(f"{prefix}.{name}" if prefix else name)
    return names


def wrap_ddp(model: torch.nn.Module) -> torch.nn.Module:
    """``DistributedDataParallel`` around ``model`` when several processes run, else ``model``.

    The constant operator buffers are excluded from DDP's broadcasts (see the module notes);
    ``idist.auto_model`` moves the model to this rank's device and picks ``device_ids`` for
    NCCL. With one process nothing is wrapped (``auto_model`` would otherwise apply
    ``DataParallel`` on a multi-GPU machine).
    """
    if idist.get_world_size() <= 1:
        return model
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        model, constant_buffer_names(model)
    )
    _quiet_ignite()
    return idist.auto_model(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (``model`` itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's persistent buffers (batch-norm running statistics) to every rank.

    DDP broadcasts them *before* each training forward pass, so after the last step every
    rank has updated them with its own batch; evaluation and checkpoints use rank 0's.
    """
    if idist.get_world_size() <= 1:
        return
    module = unwrap(model)
    constant = set(constant_buffer_names(module))
    for name, buf in module.named_buffers():
        if name not in constant:
            synced = idist.broadcast(buf, src=0)
            assert isinstance(synced, torch.Tensor)
            buf.copy_(synced)


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of all parameters (in ``named_parameters`` order, float32 bytes on the CPU)."""
    h = hashlib.sha256()
    for name, p in unwrap(model).named_parameters():
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
