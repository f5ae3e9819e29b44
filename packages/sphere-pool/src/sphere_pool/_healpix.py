"""HEALPix NESTED pooling and unpooling by groups of ``4**levels`` pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._generic import Pool, Unpool
from ._maps import PoolingMaps, coarsening_steps, maps_from_coarsening

if TYPE_CHECKING:
    from sphere_graphs import HealpixSampling

__all__ = ["HealpixPool", "HealpixUnpool", "healpix_setup"]


def healpix_setup(
    sampling: HealpixSampling | None = None,
    *,
    nside: int | None = None,
    indices: ArrayLike | None = None,
    nest: bool = True,
    levels: int = 1,
) -> tuple[list[PoolingMaps], HealpixSampling, HealpixSampling, NDArray[np.int64] | None]:
    """Maps, fine and coarse samplings and coarse pixel ids of a HEALPix pooling.

    The maps are those of ``sphere_graphs.hierarchy(sampling, levels)`` (one step
    of 4 children per level; a step of complete contiguous groups pools by a reshape).

    Parameters
    ----------
    sampling : sphere_graphs.HealpixSampling, optional
        The fine sampling; or give ``nside`` (and ``indices``, ``nest``) instead.
    nside : int, optional
    indices : array_like of int, shape (V,), optional
        Sorted NESTED pixel ids of a partial-sky subset.
    nest : bool
        Must be True: RING order has no pixel hierarchy (sphere-graphs says so).
    levels : int
        Number of coarsenings (``nside -> nside // 2**levels``).

    Returns
    -------
    maps : list of PoolingMaps, length ``levels``
    fine : HealpixSampling
    coarse : HealpixSampling
        ``nside // 2**levels``, NESTED, subset ``coarse_indices``.
    coarse_indices : ndarray of int64, shape (V_coarse,), or None
    """
    import sphere_graphs

    if sampling is None:
        if nside is None:
            raise ValueError("give a HealpixSampling or nside=...")
        sampling = sphere_graphs.healpix(nside, nest=nest, indices=indices)
    elif not isinstance(sampling, sphere_graphs.HealpixSampling):
        raise TypeError(f"expected a sphere_graphs.HealpixSampling; got {type(sampling).__name__}.")
    steps = coarsening_steps(sampling, levels)
    coarse = cast("HealpixSampling", steps[-1].coarse)  # coarsen() keeps the kind
    coarse_indices = None if coarse.indices is None else np.array(coarse.indices)  # writable
    return [maps_from_coarsening(c) for c in steps], sampling, coarse, coarse_indices


class HealpixPool(Pool):
    """Max or average pooling of HEALPix NESTED maps by groups of ``4**levels`` pixels.

    Works on the full sphere and on partial-sky subsets that hold every child of the
    coarse pixels they touch (see ``sphere_graphs.healpix_closure``). The maps are
    those of ``sphere_graphs.hierarchy(sampling, levels)``; on complete groups each
    level pools by a reshape ``x.view(B, V // 4, 4, C)``.

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
        Coarse sampling (``sphere_graphs.hierarchy(sampling, levels)[-1].coarse``).
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
        sampling: HealpixSampling | None = None,
        mode: str = "max",
        levels: int = 1,
        *,
        nside: int | None = None,
        indices: ArrayLike | None = None,
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
        sampling: HealpixSampling | None = None,
        mode: str = "nearest",
        levels: int = 1,
        *,
        nside: int | None = None,
        indices: ArrayLike | None = None,
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
