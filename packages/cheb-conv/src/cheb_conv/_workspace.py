"""Reusable internal work buffers (CPU).

Large fresh CPU tensors are page-faulted in by the kernel on first touch, which
costs as much as a pass over the data (more on a loaded machine). The layer's
*internal* buffers (the saved Chebyshev terms and the backward temporaries,
never handed to the caller) are therefore taken from a small pool and reused
once nothing refers to them any more (no autograd graph, no view). Buffers
returned to the caller (outputs, gradients) are always fresh tensors.

``set_buffer_cache(False)`` disables the pool, ``empty_cache()`` frees it.
"""

from __future__ import annotations

import torch

__all__ = ["empty_cache", "set_buffer_cache"]

_MIN_BYTES = 1 << 20  # smaller buffers are cheap to allocate
_MAX_PER_KEY = 8

_enabled = True
_pool: dict[tuple, list[torch.Tensor]] = {}


def set_buffer_cache(enabled: bool) -> None:
    """Enable (default) or disable reuse of internal CPU work buffers."""
    global _enabled
    _enabled = bool(enabled)
    if not _enabled:
        _pool.clear()


def empty_cache() -> None:
    """Release the internal CPU work buffers kept for reuse."""
    _pool.clear()


def _is_free(t: torch.Tensor) -> bool:
    try:
        return t._use_count() == 1 and torch._C._storage_Use_Count(t.untyped_storage()._cdata) <= 2
    except Exception:
        return False


def work_buffer(
    shape: tuple[int, ...], like: torch.Tensor, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """An uninitialised internal buffer, reused when a free one exists.

    ``exclude``: a buffer the caller still uses through a plain Python reference
    (invisible to the use counts), never handed out again.
    """
    numel = 1
    for s in shape:
        numel *= s
    if not _enabled or like.device.type != "cpu" or numel * like.element_size() < _MIN_BYTES:
        return like.new_empty(shape)
    key = (tuple(shape), like.dtype)
    bucket = _pool.setdefault(key, [])
    for t in bucket:
        if t is not exclude and _is_free(t):
            return t
    t = like.new_empty(shape)
    if len(bucket) < _MAX_PER_KEY:
        bucket.append(t)
    return t
