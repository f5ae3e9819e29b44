"""Equiangular (lat x lon) block pooling and unpooling on row-major grids."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch.nn.functional as tf
from torch import Tensor

from ._checks import check_vertices
from ._generic import Pool, Unpool
from ._maps import PoolingMaps, coarsening_steps, maps_from_coarsening

if TYPE_CHECKING:
    from sphere_graphs import EquiangularSampling

__all__ = ["EquiangularPool", "EquiangularUnpool", "equiangular_setup"]


def equiangular_setup(
    sampling: EquiangularSampling | None = None,
    *,
    nlat: int | None = None,
    nlon: int | None = None,
    levels: int = 1,
) -> tuple[list[PoolingMaps], EquiangularSampling, EquiangularSampling, int, int]:
    """Maps, fine and coarse samplings and grid size of an equiangular pooling.

    The maps are those of ``sphere_graphs.hierarchy(sampling, levels)`` (2x2 blocks
    per level; their interpolation is sphere-graphs' bilinear one).

    Parameters
    ----------
    sampling : sphere_graphs.EquiangularSampling, optional
        The fine grid (poles 0 or 1).
    nlat, nlon : int, optional
        Grid size when no sampling is given: ``sphere_graphs.equiangular(nlat, nlon)``
        (rows at cell centres, ``poles=0``).
    levels : int
        Blocks of ``2**levels x 2**levels`` cells.

    Returns
    -------
    maps : list of PoolingMaps, length ``levels``
    fine, coarse : EquiangularSampling
    nlat, nlon : int
        Fine grid size.
    """
    import sphere_graphs

    if sampling is None:
        if nlat is None or nlon is None:
            raise ValueError("give an EquiangularSampling or both nlat=... and nlon=...")
        sampling = sphere_graphs.equiangular(int(nlat), int(nlon), poles=0)
    elif not isinstance(sampling, sphere_graphs.EquiangularSampling):
        raise TypeError(
            f"expected a sphere_graphs.EquiangularSampling; got {type(sampling).__name__}."
        )
    steps = coarsening_steps(sampling, levels)
    maps = [maps_from_coarsening(c) for c in steps]
    coarse = cast("EquiangularSampling", steps[-1].coarse)  # coarsen() keeps the kind
    return maps, sampling, coarse, int(sampling.nlat), int(sampling.nlon)


class EquiangularPool(Pool):
    """Max or average pooling over ``2**levels x 2**levels`` (lat x lon) blocks.

    Vertices are in sphere-graphs' row-major ``(lat, lon)`` order: vertex
    ``i * nlon + j``. The coarse grid is ``(nlat // 2**levels, nlon // 2**levels)``.

    Parameters
    ----------
    sampling : sphere_graphs.EquiangularSampling, optional
        Fine grid (poles 0 or 1); or give ``nlat`` and ``nlon`` (``poles=0``).
    mode : {"max", "avg"}
    levels : int
    nlat, nlon : int, optional

    Shapes
    ------
    ``x (B, nlat * nlon, C)`` -> ``y (B, nlat * nlon // 4**levels, C)``; max mode also
    returns ``indices`` of the same shape as ``y`` (fine vertex of each maximum).
    """

    def __init__(
        self,
        sampling: EquiangularSampling | None = None,
        mode: str = "max",
        levels: int = 1,
        *,
        nlat: int | None = None,
        nlon: int | None = None,
    ) -> None:
        if mode not in ("max", "avg"):
            raise ValueError(f"equiangular pooling mode must be 'max' or 'avg'; got {mode!r}.")
        maps, fine, coarse, nlat, nlon = equiangular_setup(
            sampling, nlat=nlat, nlon=nlon, levels=levels
        )
        super().__init__(maps, mode, fine=fine, coarse=coarse)
        self.nlat, self.nlon = nlat, nlon
        self.factor = 2**levels

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """Pool ``x (B, nlat * nlon, C)`` (and return indices in max mode)."""
        check_vertices(
            x,
            self.n_fine,
            type(self).__name__,
            self._what(True) + f" grid ({self.nlat}, {self.nlon})",
        )
        b, _, c = x.shape
        grid = x.reshape(b, self.nlat, self.nlon, c).permute(0, 3, 1, 2)
        k = self.factor
        if self.mode == "avg":
            y = tf.avg_pool2d(grid, k)
            return y.permute(0, 2, 3, 1).reshape(b, self.n_coarse, c)
        y, idx = tf.max_pool2d(grid, k, return_indices=True)
        y = y.permute(0, 2, 3, 1).reshape(b, self.n_coarse, c)
        return y, idx.permute(0, 2, 3, 1).reshape(b, self.n_coarse, c)


class EquiangularUnpool(Unpool):
    """Unpooling over ``2**levels x 2**levels`` (lat x lon) blocks.

    Parameters
    ----------
    sampling : sphere_graphs.EquiangularSampling, optional
        The fine grid (poles 0 or 1); or give ``nlat`` and ``nlon`` (``poles=0``).
    mode : {"nearest", "interpolate", "max"}
        Copy each coarse cell to its block, interpolate with sphere-graphs' bilinear
        weights, or put values back at the max positions.
    levels : int
    nlat, nlon : int, optional

    Shapes
    ------
    ``y (B, nlat * nlon // 4**levels, C)`` -> ``x (B, nlat * nlon, C)``.
    """

    def __init__(
        self,
        sampling: EquiangularSampling | None = None,
        mode: str = "nearest",
        levels: int = 1,
        *,
        nlat: int | None = None,
        nlon: int | None = None,
    ) -> None:
        if mode not in ("nearest", "max", "interpolate"):
            raise ValueError(
                "equiangular unpooling mode must be 'nearest', 'interpolate' or 'max'; "
                f"got {mode!r}."
            )
        maps, fine, coarse, nlat, nlon = equiangular_setup(
            sampling, nlat=nlat, nlon=nlon, levels=levels
        )
        super().__init__(maps, mode, fine=fine, coarse=coarse)
        self.nlat, self.nlon = nlat, nlon
