"""Reusable internal work buffers (CPU).

Large fresh CPU tensors are page-faulted in by the kernel on first touch, which
costs as much as a pass over the data (more on a loaded machine). The layer's
*internal* buffers (the saved Chebyshev terms and the backward temporaries,
never handed to the caller) are therefore taken from a small pool and reused
once nothing refers to them any more (no autograd graph, no view).

Outputs handed to the caller (the layer output, the input gradient) come from
the same pool through :func:`pooled_empty`: the caller receives a separate
tensor that shares the pooled storage, so the storage's reference count shows
whether anything outside the pool (the caller, autograd, a view, a ``.grad``
slot) still holds it; a buffer is reused only when nothing does. This is what a
caching allocator does on CUDA; on CPU, PyTorch returns large blocks to the
kernel, and every fresh 100 MB output costs about 10 ms of page faults here.

``set_buffer_cache(False)`` disables the pool, ``empty_cache()`` frees it.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, cast

import torch

__all__ = ["empty_cache", "pooled_empty", "set_buffer_cache"]  # work_buffer: internal

_MIN_BYTES = 1 << 20  # smaller buffers are cheap to allocate
_MAX_PER_KEY = 8


def _default_max_bytes() -> int:
    """A quarter of the physical memory (4 GiB when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30


_enabled = True
_max_bytes = _default_max_bytes()  # per thread
# One pool per thread: a buffer handed out as the pool's own tensor object is
# invisible to the use counts until autograd or a view holds it, so two threads
# sharing a pool could be handed the same buffer.
# A thread's pool dies with the thread (weak set).


class _Pool(dict[tuple[tuple[int, ...], torch.dtype], list[torch.Tensor]]):
    # a dict subclass can be weakly referenced; hashed by identity (typeshed
    # declares dict.__hash__ None, it cannot express a hashable subclass)
    __hash__ = cast(Any, object.__hash__)

    nbytes = 0  # bytes of all pooled buffers


_local = threading.local()
_all_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()
_all_lock = threading.Lock()


def _thread_pool() -> _Pool:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = _Pool()
        with _all_lock:
            _all_pools.add(pool)
    return pool


def set_buffer_cache(enabled: bool, max_bytes: int | None = None) -> None:
    """Enable (default) or disable the CPU buffer pool (all threads).

    Parameters
    ----------
    enabled : bool
    max_bytes : int, optional
        Most bytes one thread's pool keeps (default: a quarter of the physical
        memory). Past it, free buffers of other shapes are released first; a new
        buffer that still does not fit is allocated without pooling.
    """
    global _enabled, _max_bytes
    _enabled = bool(enabled)
    if max_bytes is not None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        _max_bytes = int(max_bytes)
    if not _enabled:
        empty_cache()


def empty_cache() -> None:
    """Release the CPU buffers kept for reuse (by every thread's pool).

    Buffers still held by callers stay valid; they are simply not reused.
    """
    with _all_lock:
        for pool in list(_all_pools):
            pool.clear()
            pool.nbytes = 0


def _make_room(pool: _Pool, nbytes: int) -> bool:
    """Release free buffers until ``nbytes`` more fit under the cap."""
    if pool.nbytes + nbytes <= _max_bytes:
        return True
    for key in list(pool):
        bucket = pool[key]
        for t in list(bucket):
            if _is_free(t):
                bucket.remove(t)
                pool.nbytes -= t.numel() * t.element_size()
                if pool.nbytes + nbytes <= _max_bytes:
                    return True
        if not bucket:
            del pool[key]
    return pool.nbytes + nbytes <= _max_bytes


def _is_free(t: torch.Tensor) -> bool:
    try:
        # free = only the pool holds this tensor AND its storage (pooled_empty's aliases
        # share the storage, not the tensor); both counters are untyped private API
        storage_uses = cast(Any, torch._C)._storage_Use_Count(t.untyped_storage()._cdata)
        return bool(cast(Any, t)._use_count() == 1 and storage_uses <= 2)
    except Exception:
        return False


def work_buffer(
    shape: tuple[int, ...], like: torch.Tensor, exclude: tuple[torch.Tensor | None, ...] = ()
) -> torch.Tensor:
    """An uninitialised internal buffer, reused when a free one exists.

    ``exclude``: buffers the caller still uses through plain Python references
    (invisible to the use counts), never handed out again.
    """
    numel = 1
    for s in shape:
        numel *= s
    if (
        not _enabled
        or like.device.type != "cpu"
        or numel * like.element_size() < _MIN_BYTES
        or torch.compiler.is_compiling()
    ):
        return like.new_empty(shape)
    key = (tuple(shape), like.dtype)
    pool = _thread_pool()
    bucket = pool.setdefault(key, [])
    for t in bucket:
        if all(t is not e for e in exclude) and _is_free(t):
            return t
    t = like.new_empty(shape)
    nbytes = numel * like.element_size()
    if len(bucket) < _MAX_PER_KEY and _make_room(pool, nbytes):
        pool.setdefault(key, bucket).append(t)  # _make_room may have dropped the key
        pool.nbytes += nbytes
    return t


def pooled_empty(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """An uninitialised tensor backed by the CPU buffer pool (a caching allocator).

    For large CPU tensors (1 MiB and more) the storage comes from this thread's
    pool and returns to it once nothing refers to it any more, so repeated
    forward/backward passes stop paying the kernel's page faults for fresh
    memory. The returned tensor is a distinct tensor object (not an autograd view:
    in-place ops on it are fine) that shares the pooled storage; the storage's
    reference count keeps the buffer out of reuse while the tensor, a view of it,
    a numpy array over it or a ``.grad`` slot holding it is alive. Small tensors,
    CUDA tensors, or a disabled pool (:func:`set_buffer_cache`) give a plain
    ``torch.empty``.

    Parameters
    ----------
    shape : tuple of int
    like : torch.Tensor
        Gives the dtype and device.

    Returns
    -------
    torch.Tensor
        Uninitialised, contiguous, of ``shape``.
    """
    buf = work_buffer(shape, like)
    if torch.compiler.is_compiling() or not any(
        b is buf for b in _thread_pool().get((tuple(shape), like.dtype), ())
    ):
        return buf  # not pooled (small, disabled, full bucket or not CPU): already fresh
    alias = like.new_empty((0,))
    with torch.no_grad():
        alias.set_(buf.untyped_storage(), 0, buf.shape, buf.stride())
    return alias
