"""Regular grids and arbitrary points: equiangular, Gauss-Legendre, cubed sphere.

All grids list their vertices in row-major order. Latitude rows run from north to
south (row 0 is the northernmost), longitude columns eastwards from longitude 0, so a
numpy image of shape ``(H, W)`` whose row 0 is north flattens (``x.reshape(-1)``)
directly into the vertex order of ``latlon_grid(H, W)``.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from ._sampling import (
    CubedSphereSampling,
    EquiangularSampling,
    GaussLegendreSampling,
    PointSampling,
    lonlat_to_xyz,
)

__all__ = ["cubed_sphere", "equiangular", "gauss_legendre", "latlon_grid", "points"]

_DUPLICATE_TOL = 1e-10  # chord distance under which two points count as the same


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__}).")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return value


def _grid(lat: NDArray[np.float64], nlon: int) -> NDArray[np.float64]:
    lon = np.arange(nlon) * (2.0 * np.pi / nlon)
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    coords = lonlat_to_xyz(lon2.reshape(-1), lat2.reshape(-1))
    # exact pole points for pole rows (cos(pi/2) is not exactly 0 in floating point)
    pole = np.abs(np.abs(lat2.reshape(-1)) - np.pi / 2) < 1e-15
    coords[pole] = [0.0, 0.0, 1.0]
    coords[pole & (lat2.reshape(-1) < 0)] = [0.0, 0.0, -1.0]
    return coords


def equiangular(nlat: int, nlon: int | None = None, poles: int | bool = 0) -> EquiangularSampling:
    """Equiangular latitude-longitude grid.

    Vertex ``i * nlon + j`` is at latitude row ``i`` (north to south) and longitude
    ``j * 2 pi / nlon``.

    Parameters
    ----------
    nlat : int
        Number of latitude rows.
    nlon : int, optional
        Number of longitudes; defaults to ``2 * nlat``.
    poles : {0, 1, 2} or bool
        0 (or False): rows at cell centres, latitude ``pi/2 - (i + 1/2) pi / nlat``;
        1: a row on the north pole, latitude ``pi/2 - i pi / nlat`` (Driscoll-Healy
        style); 2 (or True): rows on both poles, latitude ``pi/2 - i pi / (nlat - 1)``.
        Pole rows repeat the pole point ``nlon`` times.

    Returns
    -------
    EquiangularSampling
        ``coords`` of shape ``(nlat * nlon, 3)``.
    """
    nlat = _positive_int(nlat, "nlat")
    nlon = 2 * nlat if nlon is None else _positive_int(nlon, "nlon")
    if isinstance(poles, bool):
        poles = 2 if poles else 0
    if not isinstance(poles, numbers.Integral) or int(poles) not in (0, 1, 2):
        raise ValueError(
            f"poles must be 0 (no pole rows), 1 (north pole row) or 2 (both poles); got {poles!r}."
        )
    poles = int(poles)
    i = np.arange(nlat, dtype=np.float64)
    if poles == 0:
        lat = np.pi / 2 - (i + 0.5) * np.pi / nlat
    elif poles == 1:
        lat = np.pi / 2 - i * np.pi / nlat
    else:
        if nlat < 2:
            raise ValueError(
                "poles=2 needs nlat >= 2 (one row per pole); pass a larger nlat or poles=0."
            )
        lat = np.pi / 2 - i * np.pi / (nlat - 1)
        lat[-1] = -np.pi / 2
    return EquiangularSampling(coords=_grid(lat, nlon), nlat=nlat, nlon=nlon, poles=poles)


def latlon_grid(nlat: int, nlon: int) -> EquiangularSampling:
    """Plain regular grid matching a numpy array of shape ``(nlat, nlon)``.

    Row 0 of the array is the northernmost row; rows sit at cell-centre latitudes
    ``pi/2 - (i + 1/2) pi / nlat`` and columns at longitudes ``j * 2 pi / nlon``.
    Same as ``equiangular(nlat, nlon, poles=0)``; ``array.reshape(-1)`` gives the
    vertex values.

    Parameters
    ----------
    nlat, nlon : int
        Array height ``H`` and width ``W``.

    Returns
    -------
    EquiangularSampling
        ``coords`` of shape ``(nlat * nlon, 3)``.
    """
    return equiangular(nlat, nlon, poles=0)


def gauss_legendre(nlat: int, nlon: int | None = None) -> GaussLegendreSampling:
    """Gauss-Legendre grid.

    Rows at the ``nlat`` Gauss-Legendre nodes ``z = sin(lat)`` (from
    :func:`numpy.polynomial.legendre.leggauss`), north to south; ``nlon`` equispaced
    longitudes ``j * 2 pi / nlon``; row-major vertex order.

    Parameters
    ----------
    nlat : int
        Number of latitude rows (Gauss-Legendre nodes).
    nlon : int, optional
        Number of longitudes; defaults to ``2 * nlat``.

    Returns
    -------
    GaussLegendreSampling
        ``coords`` of shape ``(nlat * nlon, 3)``.
    """
    nlat = _positive_int(nlat, "nlat")
    nlon = 2 * nlat if nlon is None else _positive_int(nlon, "nlon")
    nodes, _ = np.polynomial.legendre.leggauss(nlat)
    lat = np.arcsin(nodes[::-1])
    return GaussLegendreSampling(coords=_grid(lat, nlon), nlat=nlat, nlon=nlon)


# Cube faces: (outward normal, "right" axis, "up" axis). Faces 0-3 go eastwards round
# the equator (+x, +y, -x, -y) with up = +z; face 4 is +z (top), face 5 is -z (bottom).
_CUBE_FACES = np.array(
    [
        [(1, 0, 0), (0, 1, 0), (0, 0, 1)],
        [(0, 1, 0), (-1, 0, 0), (0, 0, 1)],
        [(-1, 0, 0), (0, -1, 0), (0, 0, 1)],
        [(0, -1, 0), (1, 0, 0), (0, 0, 1)],
        [(0, 0, 1), (0, 1, 0), (-1, 0, 0)],
        [(0, 0, -1), (0, 1, 0), (1, 0, 0)],
    ],
    dtype=np.float64,
)


def cubed_sphere(n: int) -> CubedSphereSampling:
    """Equiangular gnomonic cubed sphere: cell centres of 6 faces of ``n x n`` cells.

    On each face, cell ``(i, j)`` has gnomonic angles ``a_j = -pi/4 + (j + 1/2) pi / (2n)``
    (rightwards) and ``b_i = pi/4 - (i + 1/2) pi / (2n)`` (row 0 at the top) and sits at
    ``normal + tan(a_j) right + tan(b_i) up``, normalised. Faces: 0 +x, 1 +y, 2 -x,
    3 -y (up = +z, right = east), 4 +z (right = +y, up = -x), 5 -z (right = +y, up = +x).

    Parameters
    ----------
    n : int
        Cells per face side.

    Returns
    -------
    CubedSphereSampling
        ``coords`` of shape ``(6 n**2, 3)``; vertex ``f n**2 + i n + j`` is cell
        ``(i, j)`` of face ``f``.
    """
    n = _positive_int(n, "n")
    t = np.tan(-np.pi / 4 + (np.arange(n) + 0.5) * np.pi / (2 * n))
    right = np.broadcast_to(t[None, :], (n, n)).reshape(-1)
    up = np.broadcast_to(t[::-1, None], (n, n)).reshape(-1)
    local = np.stack([np.ones(n * n), right, up], axis=1)  # (n*n, 3) in (normal, right, up)
    coords = np.einsum("pk,fkd->fpd", local, _CUBE_FACES).reshape(-1, 3)
    coords /= np.linalg.norm(coords, axis=1, keepdims=True)
    return CubedSphereSampling(coords=coords, n=n)


def points(lon: ArrayLike, lat: ArrayLike, degrees: bool = False) -> PointSampling:
    """Arbitrary points given by longitude and latitude.

    Parameters
    ----------
    lon, lat : array_like, shape (V,)
        Longitudes (any real value) and latitudes in ``[-pi/2, pi/2]`` (or
        ``[-90, 90]`` with ``degrees=True``).
    degrees : bool
        Whether ``lon`` and ``lat`` are in degrees instead of radians.

    Returns
    -------
    PointSampling
        ``coords`` of shape ``(V, 3)`` in the given order.

    Raises
    ------
    ValueError
        Shapes differ or are not 1-D, values not finite, latitude out of range, no
        points, or two points coincide (e.g. the same pole given twice).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.ndim == 0:
        lon, lat = lon.reshape(1), lat.reshape(-1)
    if lon.shape != lat.shape or lon.ndim != 1:
        raise ValueError(
            f"lon and lat must be 1-D arrays of the same shape; got {lon.shape} and {lat.shape}."
        )
    if lon.size == 0:
        raise ValueError("points() needs at least one point; lon and lat are empty.")
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        raise ValueError("lon and lat must be finite; remove NaN or infinite values.")
    if degrees:
        lon, lat = np.deg2rad(lon), np.deg2rad(lat)
    bound = np.pi / 2 * (1 + 1e-12)
    if np.any(np.abs(lat) > bound):
        unit = "degrees" if degrees else "radians"
        raise ValueError(
            f"latitudes must lie in [-90, 90] degrees; got values up to {np.abs(lat).max()} rad. "
            f"Check that lat is in {unit} (pass degrees=True for degrees) and not swapped with lon."
        )
    lat = np.clip(lat, -np.pi / 2, np.pi / 2)
    coords = lonlat_to_xyz(np.asarray(lon), lat)  # already float64: no copy
    pairs = cKDTree(coords).query_pairs(_DUPLICATE_TOL, output_type="ndarray")
    if len(pairs):
        a, b = pairs[0]
        raise ValueError(
            f"points contain {len(pairs)} duplicate pair(s), e.g. indices {a} and {b} are the same "
            "point on the sphere; remove duplicates (note that all longitudes at a pole are one point)."
        )
    return PointSampling(coords=coords)
