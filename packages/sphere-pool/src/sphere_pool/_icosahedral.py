"""Icosahedral pooling (decimation or neighbourhood max/avg) and unpooling ``l -> l-1``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._generic import Pool, Unpool
from ._maps import PoolingMaps, coarsening_steps, maps_from_coarsening

if TYPE_CHECKING:
    from sphere_graphs import IcosahedralSampling

__all__ = ["IcosahedralPool", "IcosahedralUnpool", "icosahedral_setup"]


def icosahedral_setup(
    sampling: IcosahedralSampling | None = None, *, level: int | None = None, levels: int = 1
) -> tuple[list[PoolingMaps], IcosahedralSampling, IcosahedralSampling]:
    """Maps (finest first), fine sampling and coarse sampling of an icosahedral pooling.

    The maps are those of ``sphere_graphs.hierarchy`` (one home for coarsenings).

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
    coarse : IcosahedralSampling
    """
    import sphere_graphs

    if sampling is None:
        if level is None:
            raise ValueError("give an IcosahedralSampling or level=...")
        sampling = sphere_graphs.icosahedral(int(level))
    if not isinstance(sampling, sphere_graphs.IcosahedralSampling):
        raise TypeError(
            f"expected a sphere_graphs.IcosahedralSampling; got {type(sampling).__name__}."
        )
    steps = coarsening_steps(sampling, levels)
    coarse = cast("IcosahedralSampling", steps[-1].coarse)  # coarsen() keeps the kind
    return [maps_from_coarsening(s) for s in steps], sampling, coarse


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
        self,
        sampling: IcosahedralSampling | None = None,
        mode: str = "max",
        levels: int = 1,
        *,
        level: int | None = None,
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
        sampling: IcosahedralSampling | None = None,
        mode: str = "interpolate",
        levels: int = 1,
        *,
        level: int | None = None,
    ) -> None:
        maps, fine, coarse = icosahedral_setup(sampling, level=level, levels=levels)
        super().__init__(maps, mode, fine=fine, coarse=coarse)
