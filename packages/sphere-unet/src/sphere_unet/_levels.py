"""Graph math for a U-Net: one rescaled Laplacian and one coarsening per level.

Nothing here is an ``nn.Module``; :func:`build_levels` returns plain scipy / numpy
objects that the modules in :mod:`sphere_unet._layers` turn into buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Level", "build_levels", "knn_ties_adjacency", "min_vertices"]

_GRAPHS = ("knn", "knn_strict", "mesh")
_LAPLACIANS = ("combinatorial", "normalized")


@dataclass(frozen=True, eq=False)
class Level:
    """One resolution of a U-Net.

    Attributes
    ----------
    sampling : sphere_graphs.Sampling
        The vertices of this level (``V`` of them).
    laplacian : scipy.sparse.csr_matrix, shape (V, V), float32
        Rescaled Laplacian ``2 L / lmax - I`` (spectrum in [-1, 1]).
    coarsening : sphere_graphs.Coarsening or None
        Index maps from this level to the next coarser one; None for the coarsest.
    """

    sampling: Any
    laplacian: sp.csr_matrix = field(repr=False)
    coarsening: Any = field(default=None, repr=False)

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``V`` of the level."""
        return int(self.sampling.n_vertices)


def min_vertices(k: int) -> int:
    """Smallest number of vertices for which a ``k``-NN graph is meaningful (``2``)."""
    return 2


class _Graph:
    """Minimal graph holder with the ``SphereGraph.laplacian`` interface."""

    def __init__(self, adjacency: sp.csr_matrix) -> None:
        self.adjacency = adjacency

    def laplacian(self, kind: str = "combinatorial") -> sp.csr_matrix:
        A = self.adjacency
        d = np.asarray(A.sum(axis=1)).ravel()
        if kind == "combinatorial":
            return sp.csr_matrix(sp.diags(d) - A)
        inv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-300)), 0.0)
        return sp.csr_matrix(sp.eye(A.shape[0]) - sp.diags(inv) @ A @ sp.diags(inv))


def knn_ties_adjacency(sampling: Any, k: int, sigma: float | None = None, rtol: float = 1e-6) -> sp.csr_matrix:
    """Symmetric k-NN adjacency that keeps every vertex tied with the ``k``-th neighbour.

    ``sphere_graphs.knn_graph`` picks among equidistant candidates by index, so on
    symmetric samplings (HEALPix under a quarter turn about z) the graph is not
    mapped onto itself by the symmetry. Here every vertex within ``(1 + rtol)`` of the
    ``k``-th neighbour distance is kept and the result is symmetrised by ``max``, so
    the graph depends on distances only and inherits every symmetry of the sampling.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        ``V`` vertices.
    k : int
        Neighbours per vertex (before ties and symmetrisation), ``1 <= k < V``.
    sigma : float, optional
        Gaussian width (``w = exp(-ln 2 d^2 / sigma^2)``, chord distance ``d``);
        default ``sphere_graphs.default_kernel_width``.
    rtol : float
        Relative tolerance that defines a tie.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V)
    """
    import sphere_graphs as sg
    from scipy.spatial import cKDTree

    coords = np.asarray(sampling.coords, dtype=np.float64)
    V = coords.shape[0]
    m = min(V, 2 * k + 9)
    dist, nbr = cKDTree(coords).query(coords, m)
    dist, nbr = dist[:, 1:], nbr[:, 1:]
    kth = dist[:, k - 1]
    if sigma is None:
        sigma = float(sg.default_kernel_width(sampling, k, kth_distances=kth))
    keep = dist <= kth[:, None] * (1 + rtol) + 1e-12
    rows = np.repeat(np.arange(V), m - 1)[keep.ravel()]
    w = np.exp(-np.log(2.0) * dist[keep] ** 2 / sigma**2)
    A = sp.csr_matrix((w, (rows, nbr[keep])), shape=(V, V))
    return sp.csr_matrix(A.maximum(A.T))


def _graph(sampling: Any, graph: str, k: int, sigma: float | None) -> Any:
    import sphere_graphs as sg

    if graph == "mesh":
        return sg.mesh_graph(sampling)
    k_eff = max(1, min(int(k), sampling.n_vertices - 1))
    if graph == "knn_strict":
        return sg.knn_graph(sampling, k=k_eff, sigma=sigma)
    return _Graph(knn_ties_adjacency(sampling, k_eff, sigma))


def _rescaled(graph_obj: Any, laplacian: str) -> sp.csr_matrix:
    import sphere_graphs as sg

    lap = sp.csr_matrix(graph_obj.laplacian(kind=laplacian), dtype=np.float64)
    lap = sp.csr_matrix(sg.rescale_laplacian(lap))
    lap = sp.csr_matrix((lap + lap.T) * 0.5)  # exact symmetry: backward uses L as L^T
    lap.sum_duplicates()
    lap.sort_indices()
    return lap.astype(np.float32)


def build_levels(
    sampling: Any,
    depth: int,
    *,
    graph: str = "knn",
    k: int = 8,
    sigma: float | None = None,
    laplacian: str = "combinatorial",
    coarsenings: Sequence[Any] | None = None,
) -> list[Level]:
    """Build the per-level Laplacians and coarsenings of a U-Net.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        Finest sampling (``V`` vertices): HEALPix (full or partial), icosahedral,
        equiangular, or anything :func:`sphere_graphs.hierarchy` supports.
    depth : int
        Number of poolings; ``depth + 1`` levels are returned.
    graph : {"knn", "knn_strict", "mesh"}
        Graph built on every level: ``"knn"`` is the tie-inclusive k-NN graph of
        :func:`knn_ties_adjacency` (exactly symmetric under the sampling's
        symmetries), ``"knn_strict"`` is ``sphere_graphs.knn_graph`` as is (ties
        broken by index), ``"mesh"`` is ``sphere_graphs.mesh_graph``.
    k : int
        Neighbours of the k-NN graph (clipped to ``V_level - 1`` on tiny levels).
    sigma : float, optional
        Gaussian kernel width passed to :func:`sphere_graphs.knn_graph`.
    laplacian : {"combinatorial", "normalized"}
        Laplacian kind, rescaled to ``2 L / lmax - I``.
    coarsenings : sequence of sphere_graphs.Coarsening, optional
        A ready hierarchy (finest first, ``len >= depth``) to use instead of
        ``sphere_graphs.hierarchy(sampling, depth)``.

    Returns
    -------
    list of Level
        Finest first; ``levels[i].coarsening`` maps level ``i`` to ``i + 1``.

    Raises
    ------
    ValueError
        Unknown graph or Laplacian kind, negative depth, or a depth the sampling
        cannot be coarsened to.
    """
    if graph not in _GRAPHS:
        raise ValueError(f"graph must be one of {_GRAPHS}; got {graph!r}.")
    if laplacian not in _LAPLACIANS:
        raise ValueError(f"laplacian must be one of {_LAPLACIANS}; got {laplacian!r}.")
    if not isinstance(depth, (int, np.integer)) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer; got {depth!r}.")
    if not hasattr(sampling, "coords"):
        raise TypeError(
            f"sampling must be a sphere_graphs sampling (with .coords); got {type(sampling).__name__}."
        )
    if coarsenings is None:
        if depth == 0:
            coarsenings = []
        else:
            import sphere_graphs as sg

            try:
                coarsenings = list(sg.hierarchy(sampling, int(depth)))
            except ValueError as err:
                raise ValueError(
                    f"depth={depth} is too large for this {sampling.kind} sampling with "
                    f"{sampling.n_vertices} vertices ({err}); use a smaller depth or a finer sampling."
                ) from err
    else:
        coarsenings = list(coarsenings)[: int(depth)]
        if len(coarsenings) < depth:
            raise ValueError(
                f"the given hierarchy has {len(coarsenings)} coarsenings but depth={depth}; "
                "pass a deeper hierarchy or a smaller depth."
            )
    samplings = [sampling] + [c.coarse for c in coarsenings]
    for i, (fine, c) in enumerate(zip(samplings[:-1], coarsenings, strict=False)):
        if c.fine.n_vertices != fine.n_vertices:
            raise ValueError(
                f"coarsening {i} starts from {c.fine.n_vertices} vertices but level {i} has "
                f"{fine.n_vertices}; pass a hierarchy built from this sampling."
            )
    for i, s in enumerate(samplings):
        if s.n_vertices < min_vertices(k):
            raise ValueError(
                f"depth={depth} is too large: level {i} of this {sampling.kind} sampling has "
                f"{s.n_vertices} vertex; use depth <= {max(i - 1, 0)} or a finer sampling."
            )
        if i > 0 and s.n_vertices >= samplings[i - 1].n_vertices:
            raise ValueError(
                f"level {i} ({s.n_vertices} vertices) is not coarser than level {i - 1}; "
                "the hierarchy is invalid or depth is too large."
            )
    levels = []
    for i, s in enumerate(samplings):
        lap = _rescaled(_graph(s, graph, k, sigma), laplacian)
        levels.append(Level(s, lap, coarsenings[i] if i < len(coarsenings) else None))
    return levels
