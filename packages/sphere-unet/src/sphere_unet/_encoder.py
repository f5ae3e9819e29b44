"""Per-level graph operators and pooling maps of a model, as modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import sphere_graphs as sg
from cheb_conv import SparseOperator
from sphere_pool import VertexPool
from torch import nn

from ._levels import build_levels

__all__ = ["GraphPool", "LevelStack"]


class GraphPool(VertexPool):
    """:class:`sphere_pool.VertexPool` that survives ``copy.deepcopy`` and ``pickle``.

    All pooling and unpooling is ``VertexPool``'s (``(V, B, C)`` layout; max indices
    are fine-vertex ids). The only addition: its lazily built sparse CSR operators
    (``_ops``, which torch can neither deep-copy nor pickle) are dropped from the
    copied state and rebuilt on first use.
    """

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_ops"] = {}
        return state


class LevelStack(nn.Module):
    """The rescaled Laplacians and pooling maps of all levels, as non-persistent buffers.

    Every model keeps one as its ``stack`` attribute.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
    depth : int
    graph, k, sigma, laplacian, coarsenings
        Passed to the level builder (``sphere_graphs.graph_hierarchy``) unless
        ``levels`` is given.
    pool : {"max", "avg"}
    levels : sphere_graphs.GraphHierarchy or sequence of sphere_graphs.GraphLevel, optional
        Ready levels (finest first, ``depth + 1`` of them).

    Attributes
    ----------
    operators : nn.ModuleList of cheb_conv.SparseOperator, length depth + 1
        Rescaled Laplacian of every level, shape ``(V_l, V_l)``.
    pools : nn.ModuleList of GraphPool (sphere_pool.VertexPool), length depth
        Pooling from level ``l`` to ``l + 1`` in the ``(V, B, C)`` layout.
    lifts : nn.ModuleList of cheb_conv.SparseOperator, length depth
        Nearest unpooling from level ``l + 1`` to ``l`` as a ``(V_l, V_{l+1})``
        matrix (the row gather by each pool's ``parent_index``), the ``lift`` of
        the decoder's first convolution (``cheb_conv.cheb_conv_vertex_major``).
    vertices : list of int
        ``V_l`` of every level, finest first.
    n_vertices : int
        Vertices of the finest level.
    """

    def __init__(
        self,
        sampling: sg.Sampling,
        depth: int,
        *,
        graph: str = "knn",
        k: int = 8,
        sigma: float | None = None,
        laplacian: str = "combinatorial",
        pool: str = "avg",
        levels: sg.GraphHierarchy | Sequence[sg.GraphLevel] | None = None,
        coarsenings: Sequence[sg.Coarsening] | None = None,
    ) -> None:
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg'; got {pool!r}.")
        if levels is None:
            levels = build_levels(
                sampling,
                depth,
                graph=graph,
                k=k,
                sigma=sigma,
                laplacian=laplacian,
                coarsenings=coarsenings,
            )
        levels = list(levels)
        if len(levels) != depth + 1 or not all(isinstance(lv, sg.GraphLevel) for lv in levels):
            raise ValueError(
                f"levels must be depth + 1 = {depth + 1} sphere_graphs.GraphLevel (a graph_hierarchy of "
                f"that depth); got {len(levels)} entries."
            )
        if levels[0].n_vertices != sampling.n_vertices:
            raise ValueError(
                f"levels start from {levels[0].n_vertices} vertices but the sampling has "
                f"{sampling.n_vertices}; build them from this sampling."
            )
        coarsenings = [lv.coarsening for lv in levels[:-1] if lv.coarsening is not None]
        if len(coarsenings) != len(levels) - 1:
            raise ValueError(
                "every level but the coarsest needs its coarsening; use sphere_graphs.graph_hierarchy."
            )
        self.vertices = [lv.n_vertices for lv in levels]
        self.n_vertices = self.vertices[0]
        self.kind = levels[0].sampling.kind
        self.operators = nn.ModuleList(
            SparseOperator(lv.laplacian, symmetric=True) for lv in levels
        )
        self.pools = nn.ModuleList(GraphPool(c, pool) for c in coarsenings)
        self.lifts = nn.ModuleList(
            SparseOperator.from_index(p.parent_index, p.n_coarse)
            for p in cast(list[GraphPool], list(self.pools))
        )

    def laplacian(self, level: int) -> SparseOperator:
        """Rescaled Laplacian of ``level`` (0 = finest), shape ``(V_l, V_l)``."""
        return cast(SparseOperator, self.operators[level])

    def pooling(self, level: int) -> GraphPool:
        """Pooling from ``level`` to ``level + 1`` (0 = finest), ``(V, B, C)`` layout."""
        return cast(GraphPool, self.pools[level])

    def lift(self, level: int) -> SparseOperator:
        """Nearest unpooling from ``level + 1`` to ``level`` as a matrix ``(V_l, V_{l+1})``."""
        return cast(SparseOperator, self.lifts[level])

    def extra_repr(self) -> str:
        return f"kind={self.kind}, vertices={self.vertices}"
