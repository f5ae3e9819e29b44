"""HEALPix NESTED pooling and unpooling by groups of ``4**levels`` pixels."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._generic import Pool, Unpool
from ._maps import PoolingMaps, healpix_maps

__all__ = ["HealpixPool", "HealpixUnpool", "healpix_setup"]


def _coarse_healpix(nside: int, indices: NDArray[np.int64] | None) -> Any:
    import sphere_graphs

    return sphere_graphs.healpix(nside, nest=True, indices=indices)


def healpix_setup(
    sampling: Any = None,
    *,
    nside: int | None = None,
    indices: Any = None,
    nest: bool = True,
    levels: int = 1,
) -> tuple[PoolingMaps, Any, Any, NDArray[np.int64] | None]:
    """Maps, fine sampling, lazy coarse sampling and coarse pixel ids of a HEALPix pooling.

    Parameters
    ----------
    sampling : sphere_graphs.HealpixSampling, optional
        The fine sampling; or give ``nside`` (and ``indices``, ``nest``) instead.
    nside : int, optional
    indices : array_like of int, shape (V,), optional
        Sorted NESTED pixel ids of a partial-sky subset.
    nest : bool
        Must be True: RING order has no pixel hierarchy.
    levels : int
        Number of coarsenings at once (groups of ``4**levels`` pixels).

    Returns
    -------
    maps : PoolingMaps
    fine : HealpixSampling or None
    coarse : callable
        Builds ``sphere_graphs.healpix(nside // 2**levels, nest=True, indices=coarse_indices)``.
    coarse_indices : ndarray of int64, shape (V_coarse,), or None
    """
    if sampling is not None:
        if getattr(sampling, "kind", None) != "healpix" or not hasattr(sampling, "nside"):
            raise TypeError(
                f"expected a sphere_graphs.HealpixSampling; got {type(sampling).__name__}."
            )
        nside, nest, indices = sampling.nside, bool(sampling.nest), sampling.indices
    if nside is None:
        raise ValueError("give a HealpixSampling or nside=...")
    if not nest:
        raise ValueError(
            f"HEALPix pooling needs NESTED pixel order; got RING (nest=False, nside={nside}). RING has no "
            "pixel hierarchy: reorder the data with healpy.reorder(m, r2n=True) and use "
            "sphere_graphs.healpix(nside, nest=True)."
        )
    maps, coarse_indices = healpix_maps(nside, indices, levels)

    coarse = partial(_coarse_healpix, int(nside) // 2**levels, coarse_indices)
    return maps, sampling, coarse, coarse_indices


class HealpixPool(Pool):
    """Max or average pooling of HEALPix NESTED maps by groups of ``4**levels`` pixels.

    Works on the full sphere and on partial-sky subsets that hold every child of the
    coarse pixels they touch (see ``sphere_graphs.healpix_closure``). Pooling is a
    reshape ``x.view(B, V // 4**levels, 4**levels, C)``.

    Parameters
    ----------
    sampling : sphere_graphs.HealpixSampling, optional
        Fine sampling (NESTED). Alternatively pass ``nside`` (and ``indices``).
    mode : {"max", "avg"}
    levels : int
        ``nside -> nside // 2**levels``.
    nside : int, optional
    indices : array_like of int, shape (V,), optional
        Sorted NESTED pixel ids of a partial-sky subset.

    Attributes
    ----------
    coarse : HealpixSampling
        Coarse sampling (built by sphere-graphs on first access).
    coarse_indices : ndarray of int64, shape (V_coarse,), or None
        Coarse pixel ids of a subset (None for the full sphere).

    Shapes
    ------
    ``x (B, V, C)`` -> ``y (B, V // 4**levels, C)``; max mode also returns
    ``indices (B, V // 4**levels, C)`` (fine vertex positions of the maxima).

    Examples
    --------
    >>> pool = HealpixPool(nside=4, mode="avg")
    >>> pool(torch.ones(2, 192, 3)).shape
    torch.Size([2, 48, 3])
    """

    def __init__(
        self,
        sampling: Any = None,
        mode: str = "max",
        levels: int = 1,
        *,
        nside: int | None = None,
        indices: Any = None,
    ) -> None:
        if mode not in ("max", "avg"):
            raise ValueError(f"HEALPix pooling mode must be 'max' or 'avg'; got {mode!r}.")
        maps, fine, coarse, coarse_indices = healpix_setup(
            sampling, nside=nside, indices=indices, levels=levels
        )
        super().__init__(maps, mode, fine=fine, coarse=coarse)
        self.coarse_indices = coarse_indices


class HealpixUnpool(Unpool):
    """Unpooling of HEALPix NESTED maps by groups of ``4**levels`` pixels.

    Parameters
    ----------
    sampling : sphere_graphs.HealpixSampling, optional
        The fine sampling (NESTED); or give ``nside`` (and ``indices``).
    mode : {"nearest", "interpolate", "max"}
        Copy every child from its parent (``"interpolate"`` is the same for HEALPix),
        or put values back at the max positions (``unpool(y, indices)``), zeros elsewhere.
    levels : int
    nside : int, optional
    indices : array_like of int, shape (V,), optional

    Shapes
    ------
    ``y (B, V // 4**levels, C)`` -> ``x (B, V, C)``.
    """

    def __init__(
        self,
        sampling: Any = None,
        mode: str = "nearest",
        levels: int = 1,
        *,
        nside: int | None = None,
        indices: Any = None,
    ) -> None:
        if mode not in ("nearest", "interpolate", "max"):
            raise ValueError(
                f"HEALPix unpooling mode must be 'nearest', 'interpolate' or 'max'; got {mode!r}."
            )
        maps, fine, coarse, coarse_indices = healpix_setup(
            sampling, nside=nside, indices=indices, levels=levels
        )
        super().__init__(maps, mode, fine=fine, coarse=coarse)
        self.coarse_indices = coarse_indices
