"""Coarsening hierarchies: the index maps between consecutive resolutions.

* HEALPix NESTED (full sphere or subset): ``nside -> nside / 2``; the children of
  coarse pixel ``p`` are fine pixels ``4p .. 4p+3`` and the parent of ``i`` is ``i // 4``.
  Interpolation is nearest (each fine pixel copies its parent).
* Icosahedral level ``l -> l - 1`` by decimation: the coarse vertices are the first
  ``10 * 4**(l-1) + 2`` fine vertices (``kept = arange(V_coarse)``). Children of a
  coarse vertex: itself, then the midpoint vertices of its incident fine edges in
  ascending index order (``C = 7``, padded with -1 for the 12 five-neighbour
  vertices). The parent of a midpoint vertex is the smaller index of its two edge
  endpoints; interpolation gives 1.0 to kept vertices and 0.5 / 0.5 to the two
  endpoints of a midpoint.
* Equiangular (``poles`` 0 or 1) and Gauss-Legendre ``(nlat, nlon) -> (nlat/2, nlon/2)``
  and cubed sphere ``n -> n/2`` (per face): 2x2 blocks. Children of coarse ``(i, j)`` are
  fine ``(2i, 2j), (2i, 2j+1), (2i+1, 2j), (2i+1, 2j+1)`` (flat indices); the parent
  is the block's coarse vertex. Interpolation is bilinear in latitude and longitude
  (periodic in longitude, clamped beyond the outermost rows) for latitude-longitude
  grids, and bilinear in the gnomonic angles within each face (clamped at the face
  border) for the cubed sphere.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from ._grids import cubed_sphere, equiangular, gauss_legendre
from ._healpix import healpix
from ._hierarchy_types import Coarsening
from ._sampling import (
    CubedSphereSampling,
    EquiangularSampling,
    GaussLegendreSampling,
    HealpixSampling,
    IcosahedralSampling,
    Sampling,
)

__all__ = ["coarsen", "healpix_closure", "hierarchy", "max_depth", "require_closed"]


def _csr(
    rows: ArrayLike, cols: ArrayLike, vals: ArrayLike, shape: tuple[int, int]
) -> sp.csr_matrix:
    m = sp.csr_matrix(
        (np.asarray(vals, np.float64), (np.asarray(rows), np.asarray(cols))), shape=shape
    )
    m.sum_duplicates()
    return m


def _nearest(parent: NDArray[np.int64], n_coarse: int) -> sp.csr_matrix:
    """One-hot rows ``(V_fine, V_coarse)``: one entry per row, canonical as built."""
    n = parent.size
    return sp.csr_matrix(
        (np.ones(n), parent.astype(np.int64), np.arange(n + 1, dtype=np.int64)),
        shape=(n, n_coarse),
    )


# ------------------------------------------------------------------------ HEALPix
def _coarsen_healpix(s: HealpixSampling) -> Coarsening:
    if not s.nest:
        raise ValueError(
            "HEALPix pooling needs NESTED ordering: build the sampling with healpix(nside, nest=True) "
            "(convert RING maps with ring2nest)."
        )
    if s.nside < 2:
        raise ValueError(
            "a HEALPix sampling with nside=1 cannot be coarsened further; use a smaller depth."
        )
    nside_c = s.nside // 2
    if s.indices is None:
        coarse = healpix(nside_c, nest=True)
        n_c = coarse.n_vertices
        children = np.arange(4 * n_c, dtype=np.int64).reshape(n_c, 4)
        parent = np.arange(4 * n_c, dtype=np.int64) // 4
    else:
        require_closed(s, 1)
        fine_pix = s.indices
        coarse_pix = np.unique(fine_pix // 4)
        coarse = healpix(nside_c, nest=True, indices=coarse_pix)
        want = coarse_pix[:, None] * 4 + np.arange(4)
        pos = np.searchsorted(fine_pix, want)
        pos_c = np.minimum(pos, fine_pix.size - 1)
        children = np.where(fine_pix[pos_c] == want, pos_c, -1).astype(np.int64)
        parent = np.searchsorted(coarse_pix, fine_pix // 4).astype(np.int64)
    return Coarsening(s, coarse, children, parent, _nearest(parent, coarse.n_vertices))


def require_closed(sampling: Sampling, levels: int) -> None:
    """Refuse a partial HEALPix subset that is not closed under ``levels`` coarsenings.

    The one rule for partial skies, shared by :func:`coarsen`, :func:`hierarchy`,
    :func:`graph_hierarchy` (which can close the subset with ``close=True``) and
    every package that pools through them: a subset is accepted when, for every
    coarse pixel at ``nside / 2**levels`` it touches, it holds all
    ``4**levels`` NESTED descendants.

    Parameters
    ----------
    sampling : Sampling
        Anything; only partial HEALPix subsets are checked.
    levels : int
        Number of coarsenings.

    Raises
    ------
    ValueError
        Naming the missing pixels and the fix,
        ``healpix_closure(nside, indices, levels)``.
    """
    if not isinstance(sampling, HealpixSampling) or sampling.indices is None or levels < 1:
        return
    g = 4 ** int(levels)
    pix = sampling.indices if sampling.nest else None
    if pix is None:
        return  # RING: refused by coarsen with its own message
    ancestors, counts = np.unique(pix // g, return_counts=True)
    short = counts != g
    if short.any():
        missing = int(short.sum() * g - counts[short].sum())
        raise ValueError(
            f"this partial-sky HEALPix subset ({pix.size} pixels at nside={sampling.nside}) is not closed "
            f"under {levels} coarsening(s): {int(short.sum())} coarse pixel(s) at "
            f"nside={sampling.nside >> int(levels)} (e.g. {ancestors[short][:3].tolist()}) miss "
            f"{missing} of their NESTED children. Extend it with "
            f"indices = sphere_graphs.healpix_closure({sampling.nside}, indices, levels={levels}) and pad "
            "the data at the added pixels (graph_hierarchy(..., close=True) does this for you)."
        )


def healpix_closure(nside: int, indices: ArrayLike, levels: int) -> NDArray[np.int64]:
    """Smallest superset of NESTED pixels that survives ``levels`` complete coarsenings.

    A subset is complete for one coarsening when, for every pixel, its three siblings
    (same ``i // 4``) are present too. This returns every pixel whose ancestor
    ``i // 4**levels`` is the ancestor of some pixel of ``indices``.

    Parameters
    ----------
    nside : int
        HEALPix resolution (power of two) of ``indices``.
    indices : array_like of int, shape (N,)
        NESTED pixel indices (any order, duplicates allowed).
    levels : int
        Number of coarsenings, ``0 <= levels <= log2(nside)``.

    Returns
    -------
    ndarray of int64, shape (M,)
        Sorted unique NESTED pixel indices, ``M >= len(unique(indices))``; pass them
        as ``healpix(nside, indices=...)`` to get a sampling with complete children.
    """
    base = healpix(nside, nest=True, indices=np.unique(np.asarray(indices)))  # validates
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 0:
        raise ValueError(f"levels must be a non-negative integer; got {levels!r}.")
    if 1 << int(levels) > base.nside:
        raise ValueError(
            f"levels={levels} is too many for nside={nside}: at most log2(nside)={base.nside.bit_length() - 1}."
        )
    block = 4 ** int(levels)
    ancestors = np.unique(base.indices // block)
    return (ancestors[:, None] * block + np.arange(block, dtype=np.int64)).reshape(-1)


# -------------------------------------------------------------------- icosahedral
def _coarsen_icosahedral(s: IcosahedralSampling) -> Coarsening:
    if s.level < 1:
        raise ValueError(
            "an icosahedral sampling of level 0 cannot be coarsened further; use a smaller depth."
        )
    n_c = 10 * 4 ** (s.level - 1) + 2
    f = s.faces
    # Faces are hierarchical: coarse face k split into fine faces 4k..4k+3, whose
    # first three keep the coarse corners a, b, c in positions 0, 1, 2.
    coarse_faces = np.stack([f[0::4, 0], f[1::4, 1], f[2::4, 2]], axis=1)
    coarse = IcosahedralSampling(coords=s.coords[:n_c], level=s.level - 1, faces=coarse_faces)
    half = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    lo, hi = half.min(axis=1), half.max(axis=1)
    mask = (lo < n_c) & (hi >= n_c)  # edges between a kept vertex and a midpoint
    codes = np.unique(lo[mask] * s.n_vertices + hi[mask])
    kept_end, mid = codes // s.n_vertices, codes % s.n_vertices  # sorted by (kept, mid)
    if kept_end.size != 2 * (s.n_vertices - n_c) or np.any(np.bincount(mid - n_c) != 2):
        raise ValueError(
            "faces are not a midpoint subdivision of the previous level; build the sampling with icosahedral(level)."
        )
    count = np.bincount(kept_end, minlength=n_c)
    slot = np.arange(kept_end.size) - np.repeat(np.cumsum(count) - count, count)
    children = np.full((n_c, 7), -1, dtype=np.int64)
    children[:, 0] = np.arange(n_c)
    children[kept_end, 1 + slot] = mid
    # each midpoint appears twice in ``mid``, with its two endpoints
    order = np.lexsort((kept_end, mid))
    ends = kept_end[order].reshape(-1, 2)  # (V_fine - V_coarse, 2), ascending
    parent = np.concatenate([np.arange(n_c), ends[:, 0]]).astype(np.int64)
    mids = np.arange(n_c, s.n_vertices)
    rows = np.concatenate([np.arange(n_c), mids, mids])
    cols = np.concatenate([np.arange(n_c), ends[:, 0], ends[:, 1]])
    vals = np.concatenate([np.ones(n_c), np.full(2 * mids.size, 0.5)])
    interp = _csr(rows, cols, vals, (s.n_vertices, n_c))
    return Coarsening(s, coarse, children, parent, interp, kept=np.arange(n_c, dtype=np.int64))


# ------------------------------------------------------------------- 2x2 blocks
def _blocks(h: int, w: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Children ``(h/2 * w/2, 4)`` and parent ``(h * w,)`` of 2x2 blocks, row-major."""
    i, j = np.meshgrid(np.arange(h // 2), np.arange(w // 2), indexing="ij")
    r0, c0 = (2 * i).reshape(-1), (2 * j).reshape(-1)
    children = np.stack(
        [r0 * w + c0, r0 * w + c0 + 1, (r0 + 1) * w + c0, (r0 + 1) * w + c0 + 1], axis=1
    )
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    parent = ((r // 2) * (w // 2) + c // 2).reshape(-1)
    return children.astype(np.int64), parent.astype(np.int64)


def _linear_1d(
    pos: NDArray[np.float64], n: int, periodic: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Two-point linear weights for fractional positions ``pos`` on ``n`` nodes."""
    if not periodic:
        pos = np.clip(pos, 0.0, n - 1.0)
    lo = np.floor(pos)
    w = pos - lo
    lo = lo.astype(np.int64)
    hi = lo + 1
    if periodic:
        lo, hi = lo % n, hi % n
    else:
        hi = np.minimum(hi, n - 1)
    return lo, hi, w


def _bilinear(
    pr: NDArray[np.float64], pc: NDArray[np.float64], h: int, w: int, periodic_cols: bool
) -> sp.csr_matrix:
    """Tensor-product weights: fine rows at positions ``pr`` (coarse row units), fine
    columns at ``pc``; result ``(len(pr) * len(pc), h * w)``."""
    r0, r1, wr = _linear_1d(pr, h, False)
    c0, c1, wc = _linear_1d(pc, w, periodic_cols)
    rows_f = np.arange(pr.size * pc.size).reshape(pr.size, pc.size)
    cols, vals = [], []
    for rr, wrr in ((r0, 1 - wr), (r1, wr)):
        for cc, wcc in ((c0, 1 - wc), (c1, wc)):
            cols.append((rr[:, None] * w + cc[None, :]).reshape(-1))
            vals.append((wrr[:, None] * wcc[None, :]).reshape(-1))
    rows = np.tile(rows_f.reshape(-1), 4)
    return _csr(rows, np.concatenate(cols), np.concatenate(vals), (pr.size * pc.size, h * w))


def _even_grid(nlat: int, nlon: int, what: str) -> None:
    if nlat % 2 or nlon % 2 or nlat < 2 or nlon < 2:
        raise ValueError(
            f"2x2 pooling of a {what} grid needs even nlat and nlon >= 2; got ({nlat}, {nlon}). "
            "Choose a grid size divisible by 2**depth."
        )


def _coarsen_latlon(s: EquiangularSampling | GaussLegendreSampling) -> Coarsening:
    coarse: EquiangularSampling | GaussLegendreSampling
    if isinstance(s, EquiangularSampling):
        _even_grid(s.nlat, s.nlon, "equiangular")
        if s.poles == 2:
            raise ValueError(
                "2x2 pooling is not defined for equiangular grids with both pole rows (poles=2); "
                "use poles=0 (cell centres) or poles=1."
            )
        coarse = equiangular(s.nlat // 2, s.nlon // 2, poles=s.poles)
    else:
        _even_grid(s.nlat, s.nlon, "Gauss-Legendre")
        coarse = gauss_legendre(s.nlat // 2, s.nlon // 2)
    h, w = coarse.nlat, coarse.nlon
    children, parent = _blocks(s.nlat, s.nlon)
    lat_f = s.lat[:: s.nlon]
    lat_c = coarse.lat[::w]
    # fractional coarse-row position of each fine row (coarse latitudes decrease)
    pr = np.interp(-lat_f, -lat_c, np.arange(h, dtype=np.float64))
    pc = np.arange(s.nlon) / 2.0
    interp = _bilinear(pr, pc, h, w, periodic_cols=True)
    return Coarsening(s, coarse, children, parent, interp)


def _coarsen_cubed(s: CubedSphereSampling) -> Coarsening:
    if s.n % 2:
        raise ValueError(
            f"2x2 pooling of a cubed sphere needs an even n; got n={s.n}. Use n divisible by 2**depth."
        )
    n, m = s.n, s.n // 2
    coarse = cubed_sphere(m)
    ch, par = _blocks(n, n)
    children = (np.arange(6)[:, None, None] * n * n + ch[None]).reshape(-1, 4)
    parent = (np.arange(6)[:, None] * m * m + par[None]).reshape(-1)
    # equiangular cells: fine cell k centre is at coarse fractional index k/2 - 1/4
    pos = np.arange(n) / 2.0 - 0.25
    face = _bilinear(pos, pos, m, m, periodic_cols=False)
    interp = sp.block_diag([face] * 6, format="csr")
    return Coarsening(s, coarse, children.astype(np.int64), parent.astype(np.int64), interp)


# ------------------------------------------------------------------------ public
def coarsen(sampling: Sampling) -> Coarsening:
    """One coarsening step of a sampling (see the module docstring for each kind).

    Parameters
    ----------
    sampling : Sampling
        HEALPix NESTED (full or subset), icosahedral, equiangular (poles 0 or 1),
        Gauss-Legendre or cubed-sphere sampling with ``V_fine`` vertices.

    Returns
    -------
    Coarsening
        ``children (V_coarse, C)`` padded with -1, ``parent (V_fine,)``,
        ``interpolation`` CSR ``(V_fine, V_coarse)`` with rows summing to one, and
        ``kept (V_coarse,)`` for icosahedral decimation (None otherwise).

    Raises
    ------
    ValueError
        RING HEALPix, odd grid sizes, the coarsest level already reached, or a
        sampling kind without a hierarchy (arbitrary points).
    """
    if isinstance(sampling, HealpixSampling):
        return _coarsen_healpix(sampling)
    if isinstance(sampling, IcosahedralSampling):
        return _coarsen_icosahedral(sampling)
    if isinstance(sampling, (EquiangularSampling, GaussLegendreSampling)):
        return _coarsen_latlon(sampling)
    if isinstance(sampling, CubedSphereSampling):
        return _coarsen_cubed(sampling)
    if isinstance(sampling, Sampling):
        raise ValueError(
            f"no pooling hierarchy for {type(sampling).__name__} (kind {sampling.kind!r}); resample the data "
            "onto a HEALPix, icosahedral or equiangular sampling first."
        )
    raise TypeError(f"coarsen() expects a Sampling; got {type(sampling).__name__}.")


def max_depth(sampling: Sampling) -> int:
    """Largest ``depth`` accepted by :func:`hierarchy` for this sampling (0 if none)."""
    if isinstance(sampling, HealpixSampling):
        return sampling.nside.bit_length() - 1 if sampling.nest else 0
    if isinstance(sampling, IcosahedralSampling):
        return sampling.level
    if isinstance(sampling, (EquiangularSampling, GaussLegendreSampling, CubedSphereSampling)):
        if isinstance(sampling, EquiangularSampling) and sampling.poles == 2:
            return 0
        sizes = (
            [sampling.n]
            if isinstance(sampling, CubedSphereSampling)
            else [sampling.nlat, sampling.nlon]
        )
        depth = 0
        while all(v % 2 == 0 and v >= 2 for v in sizes):
            sizes = [v // 2 for v in sizes]
            depth += 1
        return depth
    return 0


def hierarchy(sampling: Sampling, depth: int) -> list[Coarsening]:
    """``depth`` successive coarsenings, finest first.

    Parameters
    ----------
    sampling : Sampling
        The finest sampling (``hierarchy[0].fine``).
    depth : int
        Number of coarsening steps, ``0 <= depth <= max_depth(sampling)``.

    Returns
    -------
    list of Coarsening, length ``depth``
        ``result[k].coarse is result[k + 1].fine``.
    """
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
        raise ValueError(f"depth must be a non-negative integer; got {depth!r}.")
    if depth > 0 and not isinstance(sampling, Sampling):
        raise TypeError(f"hierarchy() expects a Sampling; got {type(sampling).__name__}.")
    if depth > 0:
        if not isinstance(
            sampling,
            (
                HealpixSampling,
                IcosahedralSampling,
                EquiangularSampling,
                GaussLegendreSampling,
                CubedSphereSampling,
            ),
        ) or (isinstance(sampling, HealpixSampling) and not sampling.nest):
            coarsen(sampling)  # raises the kind-specific message
        require_closed(sampling, int(min(depth, max_depth(sampling))))
        limit = max_depth(sampling)
        if depth > limit:
            raise ValueError(
                f"depth={depth} is too large for this {sampling.kind} sampling "
                f"({sampling.n_vertices} vertices): at most {limit} coarsening(s) are possible. "
                "Use a smaller depth or a finer sampling."
            )
    levels: list[Coarsening] = []
    current = sampling
    for _ in range(int(depth)):
        step = coarsen(current)
        levels.append(step)
        current = step.coarse
    return levels
