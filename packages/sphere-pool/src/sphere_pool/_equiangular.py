"""Equiangular (lat x lon) block pooling and unpooling on row-major grids."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch.nn.functional as tf
from torch import Tensor

from ._checks import check_vertices
from ._generic import Pool, Unpool
from ._maps import PoolingMaps, equiangular_maps, maps_from_coarsening

__all__ = ["EquiangularPool", "EquiangularUnpool", "equiangular_setup"]


def _coarse_equiangular(sampling: Any, nlat: int, nlon: int, levels: int) -> Any:
    import sphere_graphs

    if sampling is not None:
        return sphere_graphs.hierarchy(sampling, levels)[-1].coarse
    f = 2**levels
    return sphere_graphs.equiangular(nlat // f, nlon // f, poles=getattr(sampling, "poles", 0))


def _interpolation_maps(sampling: Any, levels: int) -> list[PoolingMaps]:
    import sphere_graphs

    if sampling is None:
        raise ValueError(
            "mode='interpolate' needs an EquiangularSampling for "
            "its bilinear weights; pass the sampling or use mode='nearest'."
        )
    return [maps_from_coarsening(c) for c in sphere_graphs.hierarchy(sampling, levels)]


def equiangular_setup(
    sampling: Any = None, *, nlat: int | None = None, nlon: int | None = None, levels: int = 1
) -> tuple[PoolingMaps, Any, Any, int, int]:
    """Maps, fine sampling, lazy coarse sampling and grid size of an equiangular pooling.

    Parameters
    ----------
    sampling : sphere_graphs.EquiangularSampling (or any sampling with nlat, nlon), optional
    nlat, nlon : int, optional
        Grid size when no sampling is given.
    levels : int
        Blocks of ``2**levels x 2**levels`` cells.

    Returns
    -------
    maps, fine, coarse (callable), nlat, nlon
    """
    if sampling is not None:
        if not (hasattr(sampling, "nlat") and hasattr(sampling, "nlon")):
            raise TypeError(
                f"expected a sphere_graphs.EquiangularSampling; got {type(sampling).__name__}."
            )
        nlat, nlon = sampling.nlat, sampling.nlon
    if nlat is None or nlon is None:
        raise ValueError("give an EquiangularSampling or both nlat=... and nlon=...")
    maps = equiangular_maps(nlat, nlon, levels)

    coarse = partial(_coarse_equiangular, sampling, int(nlat), int(nlon), int(levels))
    return maps, sampling, coarse, int(nlat), int(nlon)


class EquiangularPool(Pool):
    """Max or average pooling over ``2**levels x 2**levels`` (lat x lon) blocks.

    Vertices are in sphere-graphs' row-major ``(lat, lon)`` order: vertex
    ``i * nlon + j``. The coarse grid is ``(nlat // 2**levels, nlon // 2**levels)``.

    Parameters
    ----------
    sampling : sphere_graphs.EquiangularSampling, optional
        Fine grid; or give ``nlat`` and ``nlon``.
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
        sampling: Any = None,
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
        The fine grid; or give ``nlat`` and ``nlon``.
    mode : {"nearest", "interpolate", "max"}
        Copy each coarse cell to its block, interpolate with sphere-graphs' bilinear
        weights (needs ``sampling``), or put values back at the max positions.
    levels : int
    nlat, nlon : int, optional

    Shapes
    ------
    ``y (B, nlat * nlon // 4**levels, C)`` -> ``x (B, nlat * nlon, C)``.
    """

    def __init__(
        self,
        sampling: Any = None,
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
        if mode == "interpolate":
            maps = _interpolation_maps(sampling, levels)
        super().__init__(maps, mode, fine=fine, coarse=coarse)
        self.nlat, self.nlon = nlat, nlon
