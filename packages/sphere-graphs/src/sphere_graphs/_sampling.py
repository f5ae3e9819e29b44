"""Sampling types: points on the unit sphere plus how they were made.

Every sampling holds ``coords``, float64 unit vectors of shape ``(V, 3)``, in the
vertex order that the rest of the toolkit (graphs, pooling, data) relies on.
Kind-specific metadata lives in typed fields of the subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CubedSphereSampling",
    "EquiangularSampling",
    "GaussLegendreSampling",
    "HealpixSampling",
    "IcosahedralSampling",
    "PointSampling",
    "Sampling",
    "lonlat_to_xyz",
    "xyz_to_lonlat",
]


def lonlat_to_xyz(lon: NDArray[np.floating], lat: NDArray[np.floating]) -> NDArray[np.float64]:
    """Unit vectors from longitude and latitude in radians.

    Parameters
    ----------
    lon, lat : array_like, shape (V,)
        Longitude and latitude in radians.

    Returns
    -------
    ndarray, shape (V, 3), float64
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.shape != lat.shape:
        raise ValueError(
            f"lon and lat must have the same shape; got {lon.shape} and {lat.shape}. "
            "Pass one longitude and one latitude per point (np.meshgrid for a grid)."
        )
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def xyz_to_lonlat(coords: NDArray[np.floating]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Longitude in [0, 2 pi) and latitude in [-pi/2, pi/2] (radians) of vectors ``(V, 3)``."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim < 1 or coords.shape[-1] != 3:
        raise ValueError(
            f"coords must have shape (..., 3) (x, y, z in the last axis); got {coords.shape}. "
            "Transpose a (3, V) array with coords.T."
        )
    x, y, z = coords[..., 0], coords[..., 1], coords[..., 2]
    lon = np.mod(np.arctan2(y, x), 2 * np.pi)
    lat = np.arctan2(z, np.hypot(x, y))
    return lon, lat


@dataclass(frozen=True, eq=False)
class Sampling:
    """A set of points on the unit sphere.

    Attributes
    ----------
    coords : ndarray, shape (V, 3), float64
        Unit vectors of the vertices, in the sampling's vertex order. Read-only.
    """

    coords: NDArray[np.float64] = field(repr=False)
    kind: ClassVar[str] = "points"

    def __post_init__(self) -> None:
        coords = np.ascontiguousarray(self.coords, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 3:
            raise ValueError(f"coords must have shape (V, 3); got {coords.shape}.")
        if not np.all(np.isfinite(coords)):
            raise ValueError("coords contain NaN or infinite values; pass finite unit vectors.")
        norms = np.sqrt(np.einsum("ij,ij->i", coords, coords))
        if coords.shape[0] and np.any(np.abs(norms - 1.0) > 1e-9):
            zero = int(np.count_nonzero(norms == 0))
            if zero:
                raise ValueError(
                    f"coords hold {zero} zero vector(s), which are not points of the sphere; remove them."
                )
            worst = float(np.max(np.abs(norms - 1.0)))
            raise ValueError(
                f"coords must be unit vectors (norms differ from 1 by up to {worst:.2e}); normalise "
                "them first: coords / np.linalg.norm(coords, axis=1, keepdims=True)."
            )
        coords.setflags(write=False)
        object.__setattr__(self, "coords", coords)

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``V``."""
        return int(self.coords.shape[0])

    @property
    def lon(self) -> NDArray[np.float64]:
        """Longitude of each vertex in radians, in [0, 2 pi), shape (V,)."""
        return xyz_to_lonlat(self.coords)[0]

    @property
    def lat(self) -> NDArray[np.float64]:
        """Latitude of each vertex in radians, in [-pi/2, pi/2], shape (V,)."""
        return xyz_to_lonlat(self.coords)[1]

    def __len__(self) -> int:
        return self.n_vertices


@dataclass(frozen=True, eq=False)
class PointSampling(Sampling):
    """Arbitrary points, e.g. given as lon/lat arrays (:func:`sphere_graphs.points`)."""

    kind: ClassVar[str] = "points"


@dataclass(frozen=True, eq=False)
class HealpixSampling(Sampling):
    """HEALPix pixel centres.

    Attributes
    ----------
    nside : int
        Resolution parameter; the full sphere has ``12 * nside**2`` pixels.
    nest : bool
        True for NESTED pixel order, False for RING.
    indices : ndarray of int64, shape (V,), or None
        Pixel indices (in the given order scheme, sorted ascending) of a partial-sky
        subset; None for the full sphere. Vertex ``i`` is pixel ``indices[i]``.
    """

    nside: int = 1
    nest: bool = True
    indices: NDArray[np.int64] | None = field(default=None, repr=False)
    kind: ClassVar[str] = "healpix"

    @property
    def pixels(self) -> NDArray[np.int64]:
        """Pixel index of every vertex, shape (V,)."""
        if self.indices is None:
            return np.arange(12 * self.nside**2, dtype=np.int64)
        return self.indices


@dataclass(frozen=True, eq=False)
class IcosahedralSampling(Sampling):
    """Vertices of a subdivided icosahedron projected on the sphere.

    The vertex order is hierarchical: the first ``10 * 4**l + 2`` vertices are the
    level-``l`` mesh for every ``l <= level``.

    Attributes
    ----------
    level : int
        Number of subdivisions (``10 * 4**level + 2`` vertices).
    faces : ndarray of int64, shape (20 * 4**level, 3)
        Triangles, counter-clockwise seen from outside.
    """

    level: int = 0
    faces: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 3), np.int64), repr=False)
    kind: ClassVar[str] = "icosahedral"


@dataclass(frozen=True, eq=False)
class EquiangularSampling(Sampling):
    """Equiangular latitude-longitude grid, vertices in row-major ``(lat, lon)`` order.

    Vertex ``i * nlon + j`` sits at latitude row ``i`` (north to south) and longitude
    column ``j`` (eastwards from 0).

    Attributes
    ----------
    nlat, nlon : int
        Grid size.
    poles : int
        0: no pole rows (rows at cell centres); 1: a row on the north pole;
        2: rows on both poles. Pole rows repeat the pole point ``nlon`` times.
    """

    nlat: int = 1
    nlon: int = 1
    poles: int = 0
    kind: ClassVar[str] = "equiangular"


@dataclass(frozen=True, eq=False)
class GaussLegendreSampling(Sampling):
    """Gauss-Legendre grid: ``nlat`` Gauss-Legendre latitudes by ``nlon`` equispaced longitudes.

    Vertices in row-major ``(lat, lon)`` order, north to south.
    """

    nlat: int = 1
    nlon: int = 1
    kind: ClassVar[str] = "gauss_legendre"


@dataclass(frozen=True, eq=False)
class CubedSphereSampling(Sampling):
    """Equiangular cubed sphere: 6 faces of ``n x n`` cells (``V = 6 n**2``).

    Vertex ``f * n * n + i * n + j`` is cell ``(i, j)`` of face ``f``.
    """

    n: int = 1
    kind: ClassVar[str] = "cubed"
