"""Everything a graph U-Net needs, every level at once: graphs, rescaled Laplacians, coarsenings.

:func:`graph_hierarchy` builds, for a sampling and a depth, the ``depth + 1``
resolutions of :func:`sphere_graphs.hierarchy` and on each one the graph
(:func:`knn_graph` or :func:`mesh_graph`) and its Laplacian rescaled to the
spectrum ``[-1, 1]`` that Chebyshev filters need, ``2 L / lmax - I``. ``lmax`` is a
cheap upper bound by default (no eigensolver): 2 for the normalised Laplacian,
the Gershgorin bound ``2 max_i d_i`` for the combinatorial one (see
:func:`laplacian_bound`), so the whole hierarchy costs about 4/3 of the finest
level's graph.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike

from ._graph import SphereGraph
from ._hierarchy import healpix_closure, hierarchy
from ._hierarchy_types import Coarsening
from ._knn import knn_graph
from ._laplacian import _rescaled, estimate_lmax
from ._mesh import mesh_graph
from ._sampling import HealpixSampling, Sampling

__all__ = ["GRAPH_KINDS", "LMAX_RULES", "GraphHierarchy", "GraphLevel", "graph_hierarchy"]

#: Graphs :func:`graph_hierarchy` can build on every level.
GRAPH_KINDS = ("knn", "mesh")
#: How :func:`graph_hierarchy` chooses ``lmax``.
LMAX_RULES = ("bound", "arpack")


@dataclass(frozen=True, eq=False)
class GraphLevel:
    """One resolution of a :class:`GraphHierarchy`.

    Attributes
    ----------
    sampling : Sampling
        The ``V`` vertices of this level.
    graph : SphereGraph
        The graph on them (adjacency (V, V) CSR float64).
    laplacian : scipy.sparse.csr_matrix, shape (V, V)
        Rescaled Laplacian ``2 L / lmax - I`` (spectrum in [-1, 1]), exactly
        symmetric, sorted indices, in the hierarchy's ``dtype``.
    lmax : float
        The upper bound of the spectrum of ``L`` used for the rescaling.
    coarsening : Coarsening or None
        Index maps from this level to the next coarser one (``children``,
        ``parent``, ``interpolation``, ``kept``); None on the coarsest level.
    """

    sampling: Sampling
    graph: SphereGraph = field(repr=False)
    laplacian: sp.csr_matrix = field(repr=False)
    lmax: float
    coarsening: Coarsening | None = field(default=None, repr=False)

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``V`` of the level."""
        return int(self.sampling.n_vertices)


@dataclass(frozen=True, eq=False)
class GraphHierarchy:
    """The levels of :func:`graph_hierarchy`, finest first.

    Attributes
    ----------
    levels : tuple of GraphLevel, length ``depth + 1``
        ``levels[i].coarsening.coarse is levels[i + 1].sampling``.
    laplacian_kind : {"combinatorial", "normalized"}
    graph_kind : {"knn", "mesh"}
    """

    levels: tuple[GraphLevel, ...]
    laplacian_kind: str
    graph_kind: str

    @property
    def depth(self) -> int:
        """Number of coarsenings (``len(levels) - 1``)."""
        return len(self.levels) - 1

    @property
    def coarsenings(self) -> list[Coarsening]:
        """The ``depth`` coarsenings, finest first (as :func:`sphere_graphs.hierarchy`)."""
        return [lv.coarsening for lv in self.levels if lv.coarsening is not None]

    @property
    def samplings(self) -> list[Sampling]:
        """The ``depth + 1`` samplings, finest first."""
        return [lv.sampling for lv in self.levels]

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, i: int) -> GraphLevel:
        return self.levels[i]

    def __iter__(self) -> Iterator[GraphLevel]:
        return iter(self.levels)


def _per_level(value: float | Sequence[float] | None, n: int, name: str) -> list[float | None]:
    if value is None or isinstance(value, (int, float, numbers.Real)):
        return [None if value is None else float(value)] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(
            f"{name} must be one number or {n} numbers (one per level); got {len(values)}."
        )
    return [None if v is None else float(v) for v in values]


def graph_hierarchy(
    sampling: Sampling,
    depth: int,
    *,
    graph: str = "knn",
    k: int = 8,
    sigma: float | Sequence[float] | None = None,
    ties: str = "distance",
    laplacian: str = "combinatorial",
    lmax: str = "bound",
    dtype: DTypeLike = np.float64,
    close: bool = False,
) -> GraphHierarchy:
    """Graphs, rescaled Laplacians and coarsenings of every level, in one call.

    Parameters
    ----------
    sampling : Sampling
        Finest level: HEALPix NESTED (full sphere, or a partial subset closed under
        ``depth`` coarsenings), icosahedral, equiangular (poles 0 or 1),
        Gauss-Legendre or cubed sphere; any sampling when ``depth == 0``.
    depth : int
        Number of coarsenings, ``0 <= depth <= max_depth(sampling)``.
    graph : {"knn", "mesh"}
        ``knn_graph(level, k, sigma, ties=ties)`` or ``mesh_graph(level)``.
    k : int
        Neighbours of the k-NN graph; every level needs ``1 <= k < V_level``.
    sigma : float or sequence of float, optional
        Kernel width: None (default width of each level), one width for every
        level, or one per level (finest first).
    ties : {"distance", "index"}
        Tie rule of :func:`knn_graph` (the default keeps the graphs exactly
        symmetric under the sampling's symmetries).
    laplacian : {"combinatorial", "normalized"}
    lmax : {"bound", "arpack"}
        ``"bound"`` (default, no eigensolver): :func:`laplacian_bound`, i.e. 2 for
        the normalised Laplacian, ``2 max_i d_i`` for the combinatorial one.
        ``"arpack"``: :func:`estimate_lmax` (tighter, about ten times slower).
    dtype : numpy dtype
        Of the rescaled Laplacians (float64 default; float32 halves their memory).
    close : bool
        Partial-sky HEALPix only: replace the subset by
        ``healpix_closure(nside, indices, depth)`` (pixels added, reported by
        ``levels[0].sampling``) instead of refusing an incomplete subset.

    Returns
    -------
    GraphHierarchy
        ``depth + 1`` :class:`GraphLevel` (finest first).

    Raises
    ------
    ValueError
        Unknown option, ``depth`` too large for the sampling (the message names
        the cause: RING ordering, point clouds, odd grids), ``k`` outside
        ``[1, V_level - 1]`` on some level, or a partial HEALPix subset not closed
        under ``depth`` coarsenings (use ``close=True`` or
        :func:`healpix_closure`).

    Examples
    --------
    >>> h = graph_hierarchy(healpix(64), depth=3, laplacian="normalized")
    >>> [lv.n_vertices for lv in h]
    [49152, 12288, 3072, 768]
    """
    if graph not in GRAPH_KINDS:
        raise ValueError(f"graph must be one of {GRAPH_KINDS}; got {graph!r}.")
    if lmax not in LMAX_RULES:
        raise ValueError(f"lmax must be one of {LMAX_RULES}; got {lmax!r}.")
    if laplacian not in ("combinatorial", "normalized"):
        raise ValueError(f"laplacian must be 'combinatorial' or 'normalized'; got {laplacian!r}.")
    if not isinstance(sampling, Sampling):
        raise TypeError(
            f"graph_hierarchy() expects a sphere_graphs Sampling; got {type(sampling).__name__}."
        )
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer; got {depth!r}.")
    if close and isinstance(sampling, HealpixSampling) and sampling.indices is not None and depth:
        from ._healpix import healpix

        closed = healpix_closure(sampling.nside, sampling.indices, int(depth))
        if closed.size != sampling.n_vertices:
            sampling = healpix(sampling.nside, nest=True, indices=closed)
    coarsenings = hierarchy(sampling, int(depth))
    samplings = [sampling] + [c.coarse for c in coarsenings]
    sigmas = _per_level(sigma, len(samplings), "sigma")
    if graph == "knn":
        for i, s in enumerate(samplings):
            if not (1 <= int(k) < s.n_vertices):
                raise ValueError(
                    f"k={k} needs 1 <= k < V on every level, but level {i} has {s.n_vertices} "
                    f"vertices; use k <= {s.n_vertices - 1} or a smaller depth."
                )
    levels = []
    for i, s in enumerate(samplings):
        g = knn_graph(s, k, sigmas[i], ties=ties) if graph == "knn" else mesh_graph(s)
        # The graphs are built here (symmetric, finite, non-negative, no diagonal by
        # construction): rescale without re-validating them, degree computed once.
        given = estimate_lmax(g.laplacian(laplacian)) if lmax == "arpack" else None
        lap, bound = _rescaled(g.adjacency, laplacian, given, np.dtype(dtype))
        levels.append(
            GraphLevel(s, g, lap, bound, coarsenings[i] if i < len(coarsenings) else None)
        )
    return GraphHierarchy(tuple(levels), laplacian, graph)
