"""The graph levels of a model, from ``sphere_graphs.graph_hierarchy`` (private).

Graphs, Laplacians, their rescaling, coarsenings and every depth limit live in
sphere-graphs; this module only chooses its options (``graph="knn_strict"`` is the
index tie rule) and accepts a ready hierarchy or a custom list of coarsenings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sphere_graphs as sg

__all__ = ["GRAPHS", "build_levels"]

#: Graph kinds the models accept: the k-NN graph with distance ties kept (default,
#: exactly symmetric), the k-NN graph with ties broken by index, the mesh graph.
GRAPHS = ("knn", "knn_strict", "mesh")

#: Precision of the stored Laplacians (the products run in the activations' dtype).
_DTYPE = np.float32


def build_levels(
    sampling: sg.Sampling,
    depth: int,
    *,
    graph: str = "knn",
    k: int = 8,
    sigma: float | None = None,
    laplacian: str = "combinatorial",
    coarsenings: Sequence[sg.Coarsening] | None = None,
) -> list[sg.GraphLevel]:
    """The ``depth + 1`` levels (finest first) of :func:`sphere_graphs.graph_hierarchy`.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        Finest sampling (``V`` vertices).
    depth : int
        Number of poolings.
    graph : {"knn", "knn_strict", "mesh"}
        ``"knn"``: ``knn_graph(ties="distance")``; ``"knn_strict"``:
        ``knn_graph(ties="index")``; ``"mesh"``: ``mesh_graph``.
    k, sigma, laplacian
        As :func:`sphere_graphs.graph_hierarchy` (Laplacians rescaled with the cheap
        bound of :func:`sphere_graphs.laplacian_bound`, stored as float32).
    coarsenings : sequence of sphere_graphs.Coarsening, optional
        A custom hierarchy (finest first, at least ``depth`` entries) instead of
        ``sphere_graphs.hierarchy(sampling, depth)``; each level's graph is then built
        by ``graph_hierarchy(level_sampling, 0, ...)``.

    Returns
    -------
    list of sphere_graphs.GraphLevel, length depth + 1

    Raises
    ------
    ValueError
        Unknown option, ``k`` outside ``[1, V_level - 1]``, or a depth the sampling
        cannot be coarsened to (the message of sphere-graphs names the cause).
    """
    if graph not in GRAPHS:
        raise ValueError(f"graph must be one of {GRAPHS}; got {graph!r}.")

    def hierarchy(s: sg.Sampling, d: int) -> sg.GraphHierarchy:
        return sg.graph_hierarchy(
            s,
            d,
            graph="mesh" if graph == "mesh" else "knn",
            k=k,
            sigma=sigma,
            ties="index" if graph == "knn_strict" else "distance",
            laplacian=laplacian,
            dtype=_DTYPE,
        )

    if coarsenings is None:
        return list(hierarchy(sampling, depth))
    coarsenings = list(coarsenings)[:depth]
    if len(coarsenings) < depth:
        raise ValueError(
            f"the given hierarchy has {len(coarsenings)} coarsenings but depth={depth}; "
            "pass a deeper hierarchy or a smaller depth."
        )
    samplings = [sampling] + [c.coarse for c in coarsenings]
    levels = []
    for i, s in enumerate(samplings):
        c = coarsenings[i] if i < depth else None
        if c is not None and c.fine.n_vertices != s.n_vertices:
            raise ValueError(
                f"coarsening {i} starts from {c.fine.n_vertices} vertices but level {i} has "
                f"{s.n_vertices}; pass a hierarchy built from this sampling."
            )
        try:
            (single,) = hierarchy(s, 0)
        except ValueError as err:
            raise ValueError(
                f"level {i} of the given hierarchy ({s.n_vertices} vertices): {err}"
            ) from err
        levels.append(sg.GraphLevel(s, single.graph, single.laplacian, single.lmax, c))
    return levels
