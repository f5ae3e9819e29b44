"""Sampling builders for the tests: sphere-graphs' constructors when available,
hand-made sampling objects otherwise (pooling needs only their metadata)."""

from __future__ import annotations

import numpy as np
import pytest
import sphere_graphs
from sphere_graphs._sampling import EquiangularSampling, HealpixSampling, IcosahedralSampling


def _dummy(n: int) -> np.ndarray:
    return np.tile([[0.0, 0.0, 1.0]], (n, 1))


def icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of a subdivided icosahedron (hierarchical vertex order)."""
    t = (1 + 5**0.5) / 2
    # fmt: off
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
             (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    # fmt: on
    v = [np.array(p, float) / np.linalg.norm(p) for p in verts]
    for _ in range(level):
        mid: dict[tuple[int, int], int] = {}

        def m(a: int, b: int, mid: dict[tuple[int, int], int] = mid) -> int:
            key = (min(a, b), max(a, b))
            if key not in mid:
                p = v[a] + v[b]
                v.append(p / np.linalg.norm(p))
                mid[key] = len(v) - 1
            return mid[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = m(a, b), m(b, c), m(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(v), np.array(faces, dtype=np.int64)


def make_healpix(nside: int, indices=None, nest: bool = True):
    if hasattr(sphere_graphs, "healpix"):
        return sphere_graphs.healpix(nside, nest=nest, indices=indices)
    n = 12 * nside**2 if indices is None else len(indices)
    idx = None if indices is None else np.asarray(indices, np.int64)
    return HealpixSampling(coords=_dummy(n), nside=nside, nest=nest, indices=idx)


def make_icosahedral(level: int):
    if hasattr(sphere_graphs, "icosahedral"):
        return sphere_graphs.icosahedral(level)
    coords, faces = icosphere(level)
    return IcosahedralSampling(coords=coords, level=level, faces=faces)


def make_equiangular(nlat: int, nlon: int, poles: int = 0):
    if hasattr(sphere_graphs, "equiangular"):
        return sphere_graphs.equiangular(nlat, nlon, poles=poles)
    return EquiangularSampling(coords=_dummy(nlat * nlon), nlat=nlat, nlon=nlon, poles=poles)


@pytest.fixture
def samplings():
    class S:
        healpix = staticmethod(make_healpix)
        icosahedral = staticmethod(make_icosahedral)
        equiangular = staticmethod(make_equiangular)
        icosphere = staticmethod(icosphere)

    return S
