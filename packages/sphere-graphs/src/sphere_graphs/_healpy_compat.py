"""healpy-compatible pixel lookup: ``ang2pix``, ``vec2pix``, ``npix2nside``.

Points are located on the 12 base faces as in Gorski et al. (2005): equatorial
points (``|z| <= 2/3``) by the two families of face-parallel lines
``nside (1/2 + phi/(pi/2)) -+ 3/4 nside z``, polar ones by the square-root map of
the polar caps, then ``xyf2pix`` gives the NESTED or RING index. Near the poles the
polar distance uses ``sin(theta)`` directly, not ``1 - |z|``, to keep precision.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._healpix_index import _check_nside, _xyf_to_pix

__all__ = ["ang2pix", "npix2nside", "vec2pix"]


def npix2nside(npix: int) -> int:
    """``nside`` of a full-sky map of ``npix = 12 nside**2`` pixels.

    Raises
    ------
    ValueError
        ``npix`` is not ``12 nside**2`` for an integer ``nside >= 1``.
    """
    if isinstance(npix, bool) or not isinstance(npix, (int, np.integer)):
        raise TypeError(f"npix must be an integer; got {type(npix).__name__}.")
    npix = int(npix)
    nside = int(np.sqrt(npix / 12.0) + 0.5) if npix > 0 else 0
    if nside < 1 or 12 * nside * nside != npix:
        raise ValueError(f"npix={npix} is not 12 * nside**2 for an integer nside >= 1.")
    return nside


def _locate(n: int, z: NDArray, sth: NDArray, phi: NDArray, nest: bool) -> NDArray[np.int64]:
    za = np.abs(z)
    tt = np.mod(phi, 2 * np.pi) * (2 / np.pi)  # in [0, 4)
    tt = np.where(tt >= 4.0, 0.0, tt)
    face = np.empty(z.shape, np.int64)
    ix = np.empty(z.shape, np.int64)
    iy = np.empty(z.shape, np.int64)
    eq = za <= 2.0 / 3.0
    # equatorial belt
    t1 = n * (0.5 + tt[eq])
    t2 = n * (z[eq] * 0.75)
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp, ifm = jp // n, jm // n
    face[eq] = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix[eq] = jm & (n - 1) if n & (n - 1) == 0 else jm % n
    iy[eq] = n - (jp & (n - 1) if n & (n - 1) == 0 else jp % n) - 1
    # polar caps
    po = ~eq
    ntt = np.minimum(tt[po].astype(np.int64), 3)
    tp = tt[po] - ntt
    zp, sp_ = za[po], sth[po]
    tmp = np.where(zp > 0.99, n * sp_ * np.sqrt(3.0 / (1.0 + zp)), n * np.sqrt(3.0 * (1.0 - zp)))
    jp = np.minimum((tp * tmp).astype(np.int64), n - 1)
    jm = np.minimum(((1.0 - tp) * tmp).astype(np.int64), n - 1)
    north = z[po] >= 0
    face[po] = np.where(north, ntt, ntt + 8)
    ix[po] = np.where(north, n - jm - 1, jp)
    iy[po] = np.where(north, n - jp - 1, jm)
    return _xyf_to_pix(n, ix, iy, face, nest)


def ang2pix(
    nside: int, theta: ArrayLike, phi: ArrayLike, nest: bool = True, lonlat: bool = False
) -> NDArray[np.int64]:
    """Pixel containing each direction, as ``healpy.ang2pix`` (NESTED by default here).

    Parameters
    ----------
    nside : int
    theta, phi : array_like, broadcastable shapes (...)
        Colatitude in [0, pi] and longitude (radians); with ``lonlat=True`` longitude
        and latitude in degrees, as healpy.
    nest : bool
        NESTED (True, this package's default) or RING (False, healpy's default).
    lonlat : bool

    Returns
    -------
    ndarray of int64, shape (...)
    """
    n = _check_nside(nside, nest)
    colat, lon = np.broadcast_arrays(np.asarray(theta, np.float64), np.asarray(phi, np.float64))
    if lonlat:
        colat, lon = np.pi / 2.0 - np.radians(lon), np.radians(colat)  # as healpy
    if colat.size and (not np.all(np.isfinite(colat)) or colat.min() < 0 or colat.max() > np.pi):
        raise ValueError("theta (colatitude) must lie in [0, pi]; pass lonlat=True for degrees.")
    if not np.all(np.isfinite(lon)):
        raise ValueError("phi must be finite.")
    return _locate(n, np.cos(colat), np.sin(colat), lon, nest)


def vec2pix(
    nside: int, x: ArrayLike, y: ArrayLike, z: ArrayLike, nest: bool = True
) -> NDArray[np.int64]:
    """Pixel containing each vector ``(x, y, z)`` (any length > 0), as ``healpy.vec2pix``.

    Parameters
    ----------
    nside : int
    x, y, z : array_like, broadcastable shapes (...)
    nest : bool
        NESTED (True, this package's default) or RING (False, healpy's default).

    Returns
    -------
    ndarray of int64, shape (...)
    """
    n = _check_nside(nside, nest)
    x, y, z = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (x, y, z)))
    norm = np.sqrt(x * x + y * y + z * z)
    if np.any(~np.isfinite(norm)) or np.any(norm == 0):
        raise ValueError("vectors must be finite and non-zero.")
    return _locate(n, z / norm, np.hypot(x, y) / norm, np.arctan2(y, x), nest)
