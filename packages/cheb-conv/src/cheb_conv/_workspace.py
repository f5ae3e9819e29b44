"""Reusable CPU buffers (a caching allocator).

Large fresh CPU tensors are page-faulted in by the kernel on first touch, which
costs as much as a pass over the data (more on a loaded machine): PyTorch
returns large CPU blocks to the kernel, and every fresh 100 MB tensor costs
about 10 ms of page faults here. The kernels' outputs and temporaries therefore
come from :func:`pooled_empty`: the caller receives a tensor that shares a
pooled storage, so the storage's reference count shows whether anything outside
the pool (the caller, autograd, a view, a numpy array, a ``.grad`` slot) still
holds it; a buffer is reused only when nothing does. Buffers are flat byte
storages matched by size (best fit, at most 25 % larger than the request), not
by shape or dtype, so the pool holds about the peak of live bytes rather than
one buffer per shape. This is what a caching allocator does on CUDA.

``set_buffer_cache(False)`` disables the pool, ``empty_cache()`` frees it.
"""

from __future__ import annotations

import bisect
import os
import threading
import weakref
from typing import Any, cast

import torch

__all__ = ["empty_cache", "pooled_empty", "set_buffer_cache"]

_MIN_BYTES = 1 << 20  # smaller buffers are cheap to allocate
_MAX_BUFFERS = 64  # per thread
# A free buffer serves any request (any shape or dtype) of at least 1 / _FIT of its
# bytes: activations of different shapes share buffers (V x 64 and 4V x 16 take the
# same storage), so the pool keeps about the peak of live bytes, not one buffer per
# shape ever seen.
_FIT = 1.25


def _default_max_bytes() -> int:
    """A quarter of the physical memory (4 GiB when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30


_enabled = True
_max_bytes = _default_max_bytes()  # per thread
# One pool per thread: the free check and the hand-out are not atomic, so two
# threads sharing a pool could be handed the same buffer.
# A thread's pool dies with the thread (weak set).


class _Pool(list[torch.Tensor]):
    """One thread's buffers: flat ``uint8`` tensors, smallest first."""

    # a list subclass can be weakly referenced; hashed by identity (typeshed
    # declares list.__hash__ None, it cannot express a hashable subclass)
    __hash__ = cast(Any, object.__hash__)

    nbytes = 0  # bytes of all pooled buffers
    tick = 0  # hand-outs so far

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[int, int] = {}  # id(buffer) -> tick of its last hand-out


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
        memory). Past it, free buffers are released first (largest first); a new
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
            pool.last.clear()
            pool.nbytes = 0


def _make_room(pool: _Pool, nbytes: int) -> bool:
    """Release free buffers (largest first) until ``nbytes`` more fit under the caps."""
    for t in sorted(pool, key=lambda b: -b.numel()):
        if pool.nbytes + nbytes <= _max_bytes and len(pool) < _MAX_BUFFERS:
            break
        if _is_free(t):
            pool.remove(t)
            pool.last.pop(id(t), None)
            pool.nbytes -= t.numel()
    return pool.nbytes + nbytes <= _max_bytes and len(pool) < _MAX_BUFFERS


def _is_free(t: torch.Tensor) -> bool:
    try:
        # free = no tensor but the pool's own refers to the storage (pooled_empty's
        # tensors share the storage, not the tensor; the count includes the temporary
        # ``untyped_storage()`` object); the counter is untyped private API
        storage_uses = cast(Any, torch._C)._storage_Use_Count(t.untyped_storage()._cdata)
        return bool(storage_uses <= 2)
    except Exception:
        return False


def _buffer(nbytes: int) -> torch.Tensor | None:
    """A free pooled buffer of ``nbytes`` to ``_FIT * nbytes`` bytes, or a new pooled one.

    None when the pool is full (caps reached with nothing free to release).
    """
    pool = _thread_pool()
    pool.tick += 1
    best = None
    for t in pool:  # smallest first: the best-fitting size
        size = t.numel()
        if size > nbytes * _FIT or (best is not None and size > best.numel()):
            break
        # of the free buffers of that size, the one handed out last: it was most likely
        # released last too, so its pages are still in the CPU caches
        if (
            size >= nbytes
            and _is_free(t)
            and (best is None or pool.last[id(t)] > pool.last[id(best)])
        ):
            best = t
    if best is not None:
        pool.last[id(best)] = pool.tick
        return best
    if not _make_room(pool, nbytes):
        return None
    t = torch.empty(nbytes, dtype=torch.uint8)
    sizes = [b.numel() for b in pool]
    pool.insert(bisect.bisect_right(sizes, nbytes), t)
    pool.nbytes += nbytes
    pool.last[id(t)] = pool.tick
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
    numel = 1
    for n in shape:
        numel *= n
    nbytes = numel * like.element_size()
    buf = None
    if (
        _enabled
        and like.device.type == "cpu"
        and nbytes >= _MIN_BYTES
        and not torch.compiler.is_compiling()
    ):
        buf = _buffer(nbytes)
    if buf is None:  # small, disabled, pool full or not CPU: a fresh tensor
        return like.new_empty(shape)
    stride = []
    acc = 1
    for n in reversed(shape):
        stride.append(acc)
        acc *= max(n, 1)
    alias = like.new_empty((0,))
    with torch.no_grad():
        alias.set_(buf.untyped_storage(), 0, tuple(shape), tuple(reversed(stride)))
    return alias
