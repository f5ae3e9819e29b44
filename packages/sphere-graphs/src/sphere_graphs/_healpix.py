"""HEALPix sampling and pixel functions in pure vectorised numpy (healpy not needed).

Implemented from Gorski et al. (2005), ApJ 622:759; the index arithmetic (notation:
rings ``i``, positions ``j``, faces and face coordinates ``x``, ``y``) lives in
:mod:`sphere_graphs._healpix_index`. All index arrays are int64; long arrays are
processed in chunks so that temporary memory stays at a few tens of MB.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._healpix_index import (
    _CHUNK,
    MAX_NSIDE,
    _check_nside,
    _check_pix,
    _chunked,
    _ij_to_ring,
    _ij_to_xyf,
    _nest_to_xyf,
    _pix_to_xyf,
    _ring_to_ij,
    _xyf_to_ij,
    _xyf_to_nest,
    _xyf_to_pix,
    nside2npix,
)
from ._sampling import HealpixSampling

__all__ = [
    "MAX_NSIDE",
    "healpix",
    "neighbours",
    "nest2ring",
    "nside2npix",
    "pix2vec",
    "pix2xyf",
    "ring2nest",
    "xyf2pix",
]


# ------------------------------------------------------------------ public API
def pix2xyf(
    nside: int, ipix: ArrayLike, nest: bool = True
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Face coordinates ``(x, y, face)`` of HEALPix pixels.

    Parameters
    ----------
    nside : int
        HEALPix resolution (a power of two when ``nest``).
    ipix : array_like of int, shape (...)
        Pixel indices in NESTED (``nest=True``) or RING order.
    nest : bool
        Ordering scheme of ``ipix``.

    Returns
    -------
    x, y, face : ndarray of int64, shape (...)
        ``0 <= x, y < nside`` (``x`` towards north-east, ``y`` towards north-west)
        and ``0 <= face < 12``.
    """
    n = _check_nside(nside, nest)
    p = _check_pix(n, ipix)
    x, y, face = _chunked(lambda q: _pix_to_xyf(n, q, nest), 3, p)
    return x, y, face


def xyf2pix(
    nside: int, x: ArrayLike, y: ArrayLike, face: ArrayLike, nest: bool = True
) -> NDArray[np.int64]:
    """Pixel indices from face coordinates; inverse of :func:`pix2xyf`.

    Parameters
    ----------
    nside : int
    x, y, face : array_like of int, broadcastable shapes (...)
        ``0 <= x, y < nside``, ``0 <= face < 12``.
    nest : bool
        Return NESTED (True) or RING (False) indices.

    Returns
    -------
    ndarray of int64, shape (...)
    """
    n = _check_nside(nside, nest)
    x, y, face = (np.asarray(a).astype(np.int64) for a in (x, y, face))
    for name, a, hi in (("x", x, n), ("y", y, n), ("face", face, 12)):
        if a.size and (a.min() < 0 or a.max() >= hi):
            raise ValueError(f"{name} must lie in [0, {hi}) for nside={n}.")
    return _chunked(lambda a, b, c: (_xyf_to_pix(n, a, b, c, nest),), 1, x, y, face)[0]


def ring2nest(nside: int, ipix: ArrayLike) -> NDArray[np.int64]:
    """Convert RING pixel indices to NESTED (``nside`` a power of two), same shape."""
    n = _check_nside(nside, nest=True)
    p = _check_pix(n, ipix)
    return _chunked(lambda q: (_xyf_to_nest(n, *_ij_to_xyf(n, *_ring_to_ij(n, q))),), 1, p)[0]


def nest2ring(nside: int, ipix: ArrayLike) -> NDArray[np.int64]:
    """Convert NESTED pixel indices to RING (``nside`` a power of two), same shape."""
    n = _check_nside(nside, nest=True)
    p = _check_pix(n, ipix)
    return _chunked(lambda q: (_ij_to_ring(n, *_xyf_to_ij(n, *_nest_to_xyf(n, q))),), 1, p)[0]


def _ij_to_vec(n: int, i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float64]:
    north, south = i < n, i > 3 * n
    cap = north | south
    nr = np.where(north, i, np.where(south, 4 * n - i, n)).astype(np.float64)
    # Polar caps: 1 - |z| = nr^2 / (3 n^2), kept exact for accuracy near the poles.
    t = nr * nr / (3.0 * n * n)
    z_eq = (2.0 * n - i) * 2.0 / (3.0 * n)
    z = np.where(north, 1.0 - t, np.where(south, t - 1.0, z_eq))
    sin_theta = np.where(
        cap, np.sqrt(t * (2.0 - t)), np.sqrt(np.clip((1.0 - z_eq) * (1.0 + z_eq), 0.0, None))
    )
    kshift = np.where(cap, 0, (i - n) & 1)
    phi = (2 * j - 1 - kshift) * (np.pi / 4.0) / nr
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), z], axis=-1)


def pix2vec(nside: int, ipix: ArrayLike, nest: bool = True) -> NDArray[np.float64]:
    """Unit vectors of HEALPix pixel centres.

    Parameters
    ----------
    nside : int
        HEALPix resolution (a power of two when ``nest``).
    ipix : array_like of int, shape (...)
        Pixel indices.
    nest : bool
        True for NESTED indices, False for RING.

    Returns
    -------
    ndarray of float64, shape (..., 3)
    """
    n = _check_nside(nside, nest)
    p = _check_pix(n, ipix)

    def one(q: NDArray[np.int64]) -> tuple[NDArray[np.float64]]:
        if nest:
            q = _ij_to_ring(n, *_xyf_to_ij(n, *_nest_to_xyf(n, q)))
        return (_ij_to_vec(n, *_ring_to_ij(n, q)),)

    return _chunked(one, 1, p)[0]


# Neighbour offsets in healpy's get_all_neighbours order: SW, W, NW, N, NE, E, SE, S.
_DX = np.array([-1, -1, 0, 1, 1, 1, 0, -1], dtype=np.int64)
_DY = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)


def _build_crossing_table() -> NDArray[np.int64]:
    """Per (face, region) the target face and affine map of ``(x, y)``.

    Regions: 0 inside, 1 x >= n, 2 x < 0, 3 y >= n, 4 y < 0, 5 both high (north
    corner), 6 both low (south corner), 7 x high & y low (east corner), 8 x low & y
    high (west corner). Row = [face, cxn, cx1, xx, xy, cyn, cy1, yx, yy] meaning
    ``x' = cxn*n + cx1 + xx*x + xy*y`` (same for y'); face -1 = no neighbour (only
    three faces meet at that corner).
    """
    t = np.zeros((12, 9, 9), dtype=np.int64)
    ident = [0, 0, 1, 0, 0, 0, 0, 1]
    none = [-1, 0, 0, 0, 0, 0, 0, 0, 0]

    def fixed(face: int, xn: int, x1: int, yn: int, y1: int) -> list[int]:
        return [face, xn, x1, 0, 0, yn, y1, 0, 0]

    for f in range(12):
        m = f % 4
        t[f, 0] = [f, *ident]
        if f < 4:  # north faces: the pole is the corner (n, n)
            t[f, 1] = [(m + 1) % 4, 0, 0, 0, 1, 2, -1, -1, 0]  # x'=y, y'=2n-1-x
            t[f, 3] = [(m + 3) % 4, 2, -1, 0, -1, 0, 0, 1, 0]  # x'=2n-1-y, y'=x
            t[f, 2] = [4 + m, 1, 0, 1, 0, 0, 0, 0, 1]
            t[f, 4] = [4 + (m + 1) % 4, 0, 0, 1, 0, 1, 0, 0, 1]
            t[f, 5] = fixed((m + 2) % 4, 1, -1, 1, -1)
            t[f, 6] = fixed(8 + m, 1, -1, 1, -1)
            t[f, 7] = t[f, 8] = none
        elif f < 8:  # equatorial faces
            t[f, 1] = [m, -1, 0, 1, 0, 0, 0, 0, 1]
            t[f, 3] = [(m + 3) % 4, 0, 0, 1, 0, -1, 0, 0, 1]
            t[f, 2] = [8 + (m + 3) % 4, 1, 0, 1, 0, 0, 0, 0, 1]
            t[f, 4] = [8 + m, 0, 0, 1, 0, 1, 0, 0, 1]
            t[f, 7] = fixed(4 + (m + 1) % 4, 0, 0, 1, -1)
            t[f, 8] = fixed(4 + (m + 3) % 4, 1, -1, 0, 0)
            t[f, 5] = t[f, 6] = none
        else:  # south faces: the pole is the corner (0, 0)
            t[f, 2] = [8 + (m + 3) % 4, 0, 0, 0, 1, 0, -1, -1, 0]  # x'=y, y'=-1-x
            t[f, 4] = [8 + (m + 1) % 4, 0, -1, 0, -1, 0, 0, 1, 0]  # x'=-1-y, y'=x
            t[f, 1] = [4 + (m + 1) % 4, -1, 0, 1, 0, 0, 0, 0, 1]
            t[f, 3] = [4 + m, 0, 0, 1, 0, -1, 0, 0, 1]
            t[f, 6] = fixed(8 + (m + 2) % 4, 0, 0, 0, 0)
            t[f, 5] = fixed(m, 0, 0, 0, 0)
            t[f, 7] = t[f, 8] = none
    return t


_CROSS = _build_crossing_table()


def _neighbours_xyf(
    n: int, x: NDArray[np.int64], y: NDArray[np.int64], f: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    nx = x[:, None] + _DX
    ny = y[:, None] + _DY
    face = np.broadcast_to(f[:, None], nx.shape).copy()
    out = (nx < 0) | (nx >= n) | (ny < 0) | (ny >= n)
    if out.any():  # only pixels on a face border (a fraction ~ 4 / nside) cross faces
        xs, ys, fs = nx[out], ny[out], face[out]
        xh, xl, yh, yl = xs >= n, xs < 0, ys >= n, ys < 0
        region = np.select(
            [xh & yh, xl & yl, xh & yl, xl & yh, xh, xl, yh, yl], [5, 6, 7, 8, 1, 2, 3, 4], 0
        )
        row = _CROSS[fs, region]
        face[out] = row[:, 0]
        nx[out] = row[:, 1] * n + row[:, 2] + row[:, 3] * xs + row[:, 4] * ys
        ny[out] = row[:, 5] * n + row[:, 6] + row[:, 7] * xs + row[:, 8] * ys
    return nx, ny, face


def neighbours(nside: int, ipix: ArrayLike, nest: bool = True) -> NDArray[np.int64]:
    """The 8 neighbours of HEALPix pixels.

    Parameters
    ----------
    nside : int
        HEALPix resolution (a power of two when ``nest``).
    ipix : array_like of int, shape (N,)
        Pixel indices (a scalar gives shape (8,)).
    nest : bool
        Ordering scheme of ``ipix`` and of the result.

    Returns
    -------
    ndarray of int64, shape (N, 8)
        Neighbours in the order SW, W, NW, N, NE, E, SE, S (that of
        ``healpy.get_all_neighbours``, transposed); -1 where a pixel has only 7
        neighbours (the missing direction points at a corner where 3 faces meet).
    """
    n = _check_nside(nside, nest)
    p = _check_pix(n, ipix)
    scalar = p.ndim == 0
    p = np.atleast_1d(p).reshape(-1)

    def one(q: NDArray[np.int64]) -> tuple[NDArray[np.int64]]:
        x, y, f = _pix_to_xyf(n, q, nest)
        nx, ny, face = _neighbours_xyf(n, x, y, f)
        valid = face >= 0
        fs = np.where(valid, face, 0)
        out = _xyf_to_pix(n, np.where(valid, nx, 0), np.where(valid, ny, 0), fs, nest)
        return (np.where(valid, out, -1),)

    out = _chunked(one, 1, p, chunk=_CHUNK // 8)[0]
    return out[0] if scalar else out


def healpix(nside: int, nest: bool = True, indices: ArrayLike | None = None) -> HealpixSampling:
    """HEALPix sampling: pixel centres of the full sphere or a subset of pixels.

    Parameters
    ----------
    nside : int
        Resolution, ``V = 12 * nside**2`` for the full sphere. Any ``nside >= 1``
        for RING; a power of two for NESTED.
    nest : bool
        Vertex ``i`` is NESTED pixel ``i`` (True, needed for pooling) or RING pixel ``i``.
    indices : array_like of int, shape (V,), optional
        Pixel indices (in the chosen scheme) of a partial-sky subset. They must be
        unique and in range; they are sorted ascending.

    Returns
    -------
    HealpixSampling
        ``coords`` of shape (V, 3).
    """
    n = _check_nside(nside, nest)
    if indices is None:
        pix = np.arange(12 * n * n, dtype=np.int64)
    else:
        raw = np.asarray(indices)
        if raw.ndim != 1:
            raise ValueError(f"indices must be a 1-D array of pixel ids; got shape {raw.shape}.")
        if raw.size == 0:
            raise ValueError(
                "indices is empty; pass at least one pixel id or None for the full sphere."
            )
        pix = _check_pix(n, raw, "indices")
        pix = np.sort(pix)
        if np.any(pix[1:] == pix[:-1]):
            dup = pix[1:][pix[1:] == pix[:-1]][:5]
            raise ValueError(
                f"indices must be unique; duplicated pixel ids include {dup.tolist()}. "
                "Pass np.unique(indices)."
            )
    coords = pix2vec(n, pix, nest)
    if indices is not None:
        pix.setflags(write=False)  # like coords: the vertex order must not change
    return HealpixSampling(
        coords=coords, nside=n, nest=bool(nest), indices=None if indices is None else pix
    )
