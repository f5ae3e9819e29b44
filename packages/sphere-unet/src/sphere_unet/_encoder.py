"""Per-level graph operators and pooling as modules, plus input checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from cheb_conv import SparseOperator
from torch import Tensor, nn

from ._layers import GraphPool
from ._levels import build_levels

__all__ = ["LevelStack", "check_input"]


def check_input(x: Tensor, n_vertices: int, channels: int, name: str, temporal: bool = False) -> None:
    """Raise ``TypeError`` / ``ValueError`` when ``x`` is not ``(B, V, C)`` (or ``(B, T, V, C)``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor; got {type(x).__name__}.")
    dims = 4 if temporal else 3
    layout = "(B, T, V, C)" if temporal else "(B, V, C)"
    if x.dim() != dims:
        raise ValueError(f"{name} expects input of shape {layout}; got {tuple(x.shape)}.")
    if x.shape[-2] != n_vertices:
        raise ValueError(
            f"{name}: input has V={x.shape[-2]} vertices but the sampling has {n_vertices}; "
            f"pass data on the sampling the model was built for (layout {layout})."
        )
    if x.shape[-1] != channels:
        raise ValueError(
            f"{name}: input has {x.shape[-1]} channels but the model expects {channels}; "
            f"check in_channels (layout {layout})."
        )


class LevelStack(nn.Module):
    """The graph operators and pooling maps of all levels, as non-persistent buffers.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
    depth : int
    graph, k, sigma, laplacian, coarsenings
        Passed to :func:`sphere_unet.build_levels` unless ``levels`` is given.
    pool : {"max", "avg"}
    levels : list of Level, optional

    Attributes
    ----------
    operators : nn.ModuleList of cheb_conv.SparseOperator, length depth + 1
    pools : nn.ModuleList of GraphPool, length depth
    n_vertices : int
        Vertices of the finest level.
    """

    def __init__(
        self,
        sampling: Any,
        depth: int,
        *,
        graph: str = "knn",
        k: int = 8,
        sigma: float | None = None,
        laplacian: str = "combinatorial",
        pool: str = "avg",
        levels: list | None = None,
        coarsenings: Sequence[Any] | None = None,
    ) -> None:
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg'; got {pool!r}.")
        if levels is None:
            levels = build_levels(
                sampling, depth, graph=graph, k=k, sigma=sigma, laplacian=laplacian, coarsenings=coarsenings
            )
        elif len(levels) != depth + 1:
            raise ValueError(f"levels has {len(levels)} entries; depth={depth} needs {depth + 1}.")
        self.vertices = [lv.n_vertices for lv in levels]
        self.n_vertices = self.vertices[0]
        self.kind = getattr(levels[0].sampling, "kind", "points")
        self.operators = nn.ModuleList(SparseOperator(lv.laplacian, symmetric=True) for lv in levels)
        self.pools = nn.ModuleList(GraphPool(lv.coarsening, pool) for lv in levels[:-1])

    def laplacian(self, level: int, dtype: torch.dtype | None = None) -> SparseOperator:
        """Rescaled Laplacian of ``level`` (0 = finest), shape ``(V_l, V_l)``.

        The shared :class:`cheb_conv.SparseOperator` (``dtype`` is accepted for
        compatibility and ignored: the kernels pick the product precision).
        """
        return self.operators[level]

    def extra_repr(self) -> str:
        return f"kind={self.kind}, vertices={self.vertices}"
