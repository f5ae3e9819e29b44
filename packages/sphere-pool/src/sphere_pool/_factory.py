"""``for_sampling``: the pooling / unpooling pair matching a sphere-graphs sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from ._checks import check_choice
from ._equiangular import EquiangularPool, EquiangularUnpool
from ._generic import UNPOOL_MODES, Pool, Unpool
from ._healpix import HealpixPool, HealpixUnpool
from ._icosahedral import IcosahedralPool

if TYPE_CHECKING:
    from sphere_graphs import (
        Coarsening,
        EquiangularSampling,
        HealpixSampling,
        IcosahedralSampling,
        Sampling,
    )

__all__ = ["for_sampling"]

_DEFAULT_UNPOOL = {"healpix": "nearest", "equiangular": "nearest", "icosahedral": "interpolate"}


def for_sampling(
    sampling: Sampling | Coarsening | Sequence[Coarsening],
    mode: str = "max",
    *,
    levels: int = 1,
    unpool_mode: str | None = None,
) -> tuple[Pool, Unpool]:
    """Pooling and unpooling modules for one coarsening of a sphere-graphs sampling.

    Parameters
    ----------
    sampling : sphere_graphs sampling
        The finer resolution: ``HealpixSampling`` (NESTED, full sphere or partial
        subset), ``IcosahedralSampling`` or ``EquiangularSampling``. Other kinds are
        supported through ``sphere_graphs.hierarchy`` when it handles them. A
        ``sphere_graphs.Coarsening`` (or a list of them, finest first) is accepted too.
    mode : {"max", "avg"}
        ``"avg"``: ``pool(x) -> y`` and ``unpool(y) -> x_hat``.
        ``"max"``: ``pool(x) -> (y, indices)`` and ``unpool(y, indices) -> x_hat``.
    levels : int
        Number of coarsenings at once (HEALPix: groups of ``4**levels`` pixels;
        equiangular: ``2**levels`` blocks; icosahedral: ``level -> level - levels``).
    unpool_mode : str, optional
        Override the unpooling: one of ``"nearest"``, ``"interpolate"``, ``"max"``,
        ``"zeros"``, ``"deepsphere_ones"`` (the last two for icosahedral only).
        Default: ``"max"`` for ``mode="max"``; for ``mode="avg"`` ``"nearest"``
        (HEALPix, equiangular) or ``"interpolate"`` (icosahedral).

    Returns
    -------
    pool : Pool
        Maps ``(B, V_fine, C)`` to ``(B, V_coarse, C)``; ``pool.coarse`` is the coarse
        sampling, ``pool.fine`` the given one.
    unpool : Unpool
        Maps ``(B, V_coarse, C)`` to ``(B, V_fine, C)``.

    Examples
    --------
    >>> pool, unpool = for_sampling(sphere_graphs.healpix(16), mode="max")
    >>> y, idx = pool(torch.randn(2, 3072, 8))      # y: (2, 768, 8)
    >>> x_hat = unpool(y, idx)                       # (2, 3072, 8)
    """
    check_choice(mode, ("max", "avg"), "mode")
    kind = getattr(sampling, "kind", None)
    default = "max" if mode == "max" else _DEFAULT_UNPOOL.get(kind or "", "nearest")
    umode = check_choice(unpool_mode or default, UNPOOL_MODES, "unpool_mode")
    if kind == "healpix":
        healpix = cast("HealpixSampling", sampling)  # kind 'healpix' is a HealpixSampling
        return HealpixPool(healpix, mode, levels), HealpixUnpool(healpix, umode, levels)
    if kind == "equiangular":
        grid = cast("EquiangularSampling", sampling)  # kind 'equiangular'
        return EquiangularPool(grid, mode, levels), EquiangularUnpool(grid, umode, levels)
    if kind == "icosahedral":
        pool = IcosahedralPool(cast("IcosahedralSampling", sampling), mode, levels)
        return pool, Unpool(pool.maps, umode, fine=pool.fine, coarse=pool._coarse)
    if hasattr(sampling, "children") or isinstance(sampling, (list, tuple)):
        given = cast("Coarsening | Sequence[Coarsening]", sampling)  # has children, or a list
        return Pool(given, mode), Unpool(given, umode)
    if kind is not None:
        import sphere_graphs

        steps = sphere_graphs.hierarchy(cast("Sampling", sampling), levels)  # has a kind
        return Pool(steps, mode), Unpool(steps, umode)
    raise TypeError(
        f"for_sampling expects a sphere-graphs sampling; got {type(sampling).__name__}."
    )
