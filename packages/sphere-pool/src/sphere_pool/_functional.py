"""Pooling and unpooling as functions of ``(B, V, C)`` tensors and index tensors.

These are the kernels shared by every layer. Index tensors live on the same device
as the data; ``children`` is padded with -1 and may hold overlapping groups.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "decimate",
    "pool_avg",
    "pool_max",
    "unpool_fill",
    "unpool_interpolate",
    "unpool_max",
    "unpool_nearest",
]


def _filled(children: Tensor) -> Tensor:
    """Replace -1 padding by a valid child of the same row (the largest index).

    A repeated child changes neither the maximum nor, with zero weight, the mean, and
    lets every group be read with one ``index_select``.
    """
    fill = children.max(dim=1, keepdim=True).values
    return torch.where(children < 0, fill, children)


def _grouped(x: Tensor, children: Tensor) -> Tensor:
    """``x[:, children]`` of shape ``(B, V_coarse, K, C)`` with padding filled."""
    b, _, c = x.shape
    n_coarse, k = children.shape
    return x.index_select(1, _filled(children).reshape(-1)).view(b, n_coarse, k, c)


def pool_avg(x: Tensor, children: Tensor, group: int | None = None) -> Tensor:
    """Average of the valid children of every coarse vertex.

    Parameters
    ----------
    x : Tensor, shape (B, V_fine, C)
    children : LongTensor, shape (V_coarse, K)
        Fine vertices of each coarse vertex, padded with -1.
    group : int, optional
        When set, ``children == arange(V_fine).reshape(V_coarse, group)`` and the
        pooling is a reshape ``x.view(B, V_coarse, group, C).mean(2)``.

    Returns
    -------
    Tensor, shape (B, V_coarse, C)
    """
    b, _, c = x.shape
    n_coarse = children.shape[0]
    if group is not None:
        return x.reshape(b, n_coarse, group, c).mean(dim=2)
    valid = children >= 0
    rows = torch.arange(n_coarse, device=x.device)[:, None].expand_as(children)[valid]
    total = x.new_zeros(b, n_coarse, c).index_add(1, rows, x.index_select(1, children[valid]))
    return total / valid.sum(dim=1).to(x.dtype)[None, :, None]


def pool_max(x: Tensor, children: Tensor, group: int | None = None) -> tuple[Tensor, Tensor]:
    """Maximum over the valid children of every coarse vertex, with its position.

    Parameters
    ----------
    x : Tensor, shape (B, V_fine, C)
    children : LongTensor, shape (V_coarse, K)
        Fine vertices of each coarse vertex, padded with -1.
    group : int, optional
        Contiguous equal groups of this size (reshape fast path).

    Returns
    -------
    values : Tensor, shape (B, V_coarse, C)
    indices : LongTensor, shape (B, V_coarse, C)
        Fine vertex index of each maximum (per channel), usable by :func:`unpool_max`.
    """
    b, _, c = x.shape
    n_coarse, k = children.shape
    offset = torch.arange(n_coarse, device=x.device)[None, :, None]
    if group is not None:
        values, arg = x.reshape(b, n_coarse, group, c).max(dim=2)
        return values, arg + group * offset
    values, arg = _grouped(x, children).max(dim=2)
    indices = _filled(children).reshape(-1)[arg + k * offset]
    return values, indices


def unpool_max(y: Tensor, indices: Tensor, n_fine: int, disjoint: bool = True) -> Tensor:
    """Scatter coarse values back to the fine vertices their maxima came from.

    Parameters
    ----------
    y : Tensor, shape (B, V_coarse, C)
    indices : LongTensor, shape (B, V_coarse, C)
        Fine vertex indices returned by :func:`pool_max`.
    n_fine : int
        ``V_fine``.
    disjoint : bool
        False when pooling groups overlap, so that one fine vertex may receive
        several values: they are then averaged.

    Returns
    -------
    Tensor, shape (B, V_fine, C)
        ``y`` at the positions of the maxima, zeros elsewhere.
    """
    if indices.shape != y.shape:
        raise ValueError(
            f"indices must have the shape of y (B, V_coarse, C) = {tuple(y.shape)}; got {tuple(indices.shape)}. "
            "Pass the indices returned by the matching max pooling."
        )
    out = y.new_zeros(y.shape[0], n_fine, y.shape[2])
    if disjoint:
        return out.scatter(1, indices, y)
    return out.scatter_reduce(1, indices, y, reduce="mean", include_self=False)


def unpool_nearest(y: Tensor, parent: Tensor) -> Tensor:
    """Copy every fine vertex from its parent.

    Parameters
    ----------
    y : Tensor, shape (B, V_coarse, C)
    parent : LongTensor, shape (V_fine,)

    Returns
    -------
    Tensor, shape (B, V_fine, C)
    """
    return y.index_select(1, parent)


def unpool_interpolate(y: Tensor, index: Tensor, weight: Tensor) -> Tensor:
    """Weighted sum of coarse values (padded rows of the interpolation matrix).

    Parameters
    ----------
    y : Tensor, shape (B, V_coarse, C)
    index : LongTensor, shape (V_fine, J)
        Coarse indices of each row (padding entries have weight 0).
    weight : Tensor, shape (V_fine, J)
        Interpolation weights, same dtype as ``y``.

    Returns
    -------
    Tensor, shape (B, V_fine, C)
    """
    if index.shape[1] == 1:
        return y.index_select(1, index[:, 0]) * weight[None, :, :]
    b, _, c = y.shape
    n_fine, j = index.shape
    gathered = y.index_select(1, index.reshape(-1)).view(b, n_fine, j, c)
    return (gathered * weight[None, :, :, None]).sum(dim=2)


def unpool_fill(y: Tensor, kept: Tensor, n_fine: int, fill: float = 0.0) -> Tensor:
    """Coarse values at the kept (decimated) vertices, ``fill`` at the new ones.

    Parameters
    ----------
    y : Tensor, shape (B, V_coarse, C)
    kept : LongTensor, shape (V_coarse,)
        Fine index of each coarse vertex.
    n_fine : int
    fill : float
        Value of the new vertices (0; original DeepSphere icosahedral unpooling used 1).

    Returns
    -------
    Tensor, shape (B, V_fine, C)
    """
    out = y.new_full((y.shape[0], n_fine, y.shape[2]), fill)
    return out.index_copy(1, kept, y)


def decimate(x: Tensor, kept: Tensor) -> Tensor:
    """Keep the values of the coarse vertices.

    Parameters
    ----------
    x : Tensor, shape (B, V_fine, C)
    kept : LongTensor, shape (V_coarse,)

    Returns
    -------
    Tensor, shape (B, V_coarse, C)
    """
    return x.index_select(1, kept)
