"""Icosahedral pooling (decimation or neighbourhood max/avg) and unpooling ``l -> l-1``."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._generic import Pool, Unpool
from ._maps import PoolingMaps, icosahedral_maps, maps_from_coarsening

__all__ = ["IcosahedralPool", "IcosahedralUnpool", "icosahedral_setup"]


def _n_vertices(level: int) -> int:
    return 10 * 4**level + 2


def _roll_rows(a: NDArray[np.int64], start: NDArray[np.int64]) -> NDArray[np.int64]:
    """Rotate every row of ``a (N, 3)`` to begin at column ``start[i]``."""
    cols = (np.arange(3)[None, :] + start[:, None]) % 3
    return np.take_along_axis(a, cols, axis=1)


def _coarse_faces(faces: NDArray[np.int64], maps: PoolingMaps) -> NDArray[np.int64]:
    """Faces of the coarse mesh, recovered from the corner triangles of the fine one.

    A fine corner triangle ``(a, m1, m2)`` (one coarse vertex ``a``, CCW) lies in the
    coarse triangle ``(a, b, c)`` where ``b``, ``c`` are the other endpoints of the
    edges split by ``m1``, ``m2``; every coarse triangle is found three times.
    """
    is_coarse = faces < maps.n_coarse
    corner = faces[is_coarse.sum(1) == 1]
    shift = np.argmax(corner < maps.n_coarse, axis=1)
    rolled = _roll_rows(corner, shift)
    a, m1, m2 = rolled.T
    ends = maps.interp_index
    tri = np.stack([a, ends[m1].sum(1) - a, ends[m2].sum(1) - a], axis=1)
    first = np.argmin(tri, axis=1)
    tri = _roll_rows(tri, first)
    return np.unique(tri, axis=0)


def _coarse_icosahedral(
    sampling: Any, level: int, faces: NDArray[np.int64], maps: PoolingMaps
) -> Any:
    import sphere_graphs

    if hasattr(sphere_graphs, "icosahedral"):
        return sphere_graphs.icosahedral(level)
    n = _n_vertices(level)
    return type(sampling)(coords=sampling.coords[:n], level=level, faces=_coarse_faces(faces, maps))


def icosahedral_setup(
    sampling: Any = None, *, level: int | None = None, levels: int = 1
) -> tuple[list[PoolingMaps], Any, Any]:
    """Maps (finest first), fine sampling and lazy coarse sampling of an icosahedral pooling.

    Uses ``sphere_graphs.hierarchy`` when sphere-graphs provides it, else derives the
    maps from the faces of the fine mesh (coarser faces recovered level by level).

    Parameters
    ----------
    sampling : sphere_graphs.IcosahedralSampling, optional
        Fine mesh; or give ``level`` (the mesh is then built by sphere-graphs).
    level : int, optional
    levels : int
        Number of coarsenings (``level -> level - levels``).

    Returns
    -------
    maps : list of PoolingMaps
    fine : IcosahedralSampling
    coarse : IcosahedralSampling or callable building it
    """
    import sphere_graphs

    if sampling is None:
        if level is None:
            raise ValueError("give an IcosahedralSampling or level=...")
        sampling = sphere_graphs.icosahedral(int(level))
    if getattr(sampling, "kind", None) != "icosahedral" or not hasattr(sampling, "level"):
        raise TypeError(
            f"expected a sphere_graphs.IcosahedralSampling; got {type(sampling).__name__}."
        )
    level, levels = int(sampling.level), int(levels)
    if levels < 1 or level - levels < 0:
        raise ValueError(
            f"cannot coarsen an icosahedral mesh of level {level} by {levels} level(s); "
            f"levels must lie in [1, {level}]."
        )
    if hasattr(sphere_graphs, "hierarchy"):
        steps = sphere_graphs.hierarchy(sampling, levels)
        return [maps_from_coarsening(s) for s in steps], sampling, steps[-1].coarse
    maps, faces = [], np.asarray(sampling.faces, dtype=np.int64)
    for lvl in range(level, level - levels, -1):
        if maps:
            faces = _coarse_faces(faces, maps[-1])
        maps.append(icosahedral_maps(faces, _n_vertices(lvl - 1)))

    coarse = partial(_coarse_icosahedral, sampling, level - levels, faces, maps[-1])
    return maps, sampling, coarse


class IcosahedralPool(Pool):
    """Icosahedral pooling from level ``l`` to ``l - levels``.

    Parameters
    ----------
    sampling : sphere_graphs.IcosahedralSampling, optional
        The fine mesh; or give ``level``.
    mode : {"max", "avg", "decimate"}
        Max or average over each coarse vertex and the midpoints of its incident fine
        edges (overlapping neighbourhoods), or decimation ``x[:, :V_coarse]``.
    levels : int
    level : int, optional

    Shapes
    ------
    ``x (B, 10 * 4**l + 2, C)`` -> ``y (B, 10 * 4**(l - levels) + 2, C)``; max mode also
    returns ``indices`` of the shape of ``y`` (fine vertex of each maximum).
    """

    def __init__(
        self, sampling: Any = None, mode: str = "max", levels: int = 1, *, level: int | None = None
    ) -> None:
        maps, fine, coarse = icosahedral_setup(sampling, level=level, levels=levels)
        super().__init__(maps, mode, fine=fine, coarse=coarse)


class IcosahedralUnpool(Unpool):
    """Icosahedral unpooling from level ``l - levels`` to ``l``.

    Parameters
    ----------
    sampling : sphere_graphs.IcosahedralSampling, optional
        The fine mesh; or give ``level``.
    mode : {"nearest", "interpolate", "max", "zeros", "deepsphere_ones"}
        Copy from the parent (one endpoint of the split edge), average of both
        endpoints, max unpooling (needs indices), coarse values with 0 at new vertices,
        or with 1 at new vertices (original DeepSphere behaviour, for compatibility).
    levels : int
    level : int, optional

    Shapes
    ------
    ``y (B, 10 * 4**(l - levels) + 2, C)`` -> ``x (B, 10 * 4**l + 2, C)``.
    """

    def __init__(
        self,
        sampling: Any = None,
        mode: str = "interpolate",
        levels: int = 1,
        *,
        level: int | None = None,
    ) -> None:
        maps, fine, coarse = icosahedral_setup(sampling, level=level, levels=levels)
        super().__init__(maps, mode, fine=fine, coarse=coarse)
