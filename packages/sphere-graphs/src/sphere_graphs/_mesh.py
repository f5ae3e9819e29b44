"""Graphs from the native neighbourhood (mesh) structure of a sampling.

- HEALPix: the 8 (or 7) neighbouring pixels (:func:`sphere_graphs.neighbours`);
  partial skies keep the neighbours inside the subset.
- Icosahedral: the edges of the triangle mesh (``faces``): 5 or 6 neighbours.
- Equiangular and Gauss-Legendre grids: 4-neighbourhood (north, south, east, west)
  or 8-neighbourhood (plus diagonals), longitude wrapping around. The first and
  last rows have no row beyond them. Pole rows (``poles`` 1 or 2 of an equiangular
  grid) hold ``nlon`` copies of the pole point; they are linked like any other row,
  so the copies are joined to each other (chord distance 0, weight 1) and to the
  next latitude row.
- Cubed sphere: 4-neighbourhood inside every face, plus, for cells on a face edge,
  the nearest edge cell of each neighbouring face.

Weights: ``"distance"`` (default) gives ``exp(-ln(2) d**2 / sigma**2)`` with ``d``
the chord distance and ``sigma`` the mean edge length unless given; ``"ones"``
gives 1 on every edge.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ._graph import SphereGraph
from ._sampling import (
    CubedSphereSampling,
    EquiangularSampling,
    GaussLegendreSampling,
    HealpixSampling,
    IcosahedralSampling,
    Sampling,
)

_Pairs = tuple[NDArray[np.int64], NDArray[np.int64]]  # (rows, cols) of directed edges

__all__ = ["MESH_WEIGHTS", "mesh_graph"]

MESH_WEIGHTS = ("distance", "ones")


def _healpix_pairs(s: HealpixSampling) -> _Pairs:
    from ._healpix import neighbours

    pixels = s.pixels
    nb = np.asarray(neighbours(s.nside, pixels, s.nest))
    rows = np.repeat(np.arange(s.n_vertices, dtype=np.int64), nb.shape[1])
    cols = nb.reshape(-1)
    if s.indices is not None:
        pos = np.searchsorted(pixels, cols)
        pos = np.clip(pos, 0, pixels.size - 1)
        inside = (cols >= 0) & (pixels[pos] == cols)
        cols = np.where(inside, pos, -1)
    keep = cols >= 0
    return rows[keep], cols[keep]


def _icosahedral_pairs(s: IcosahedralSampling) -> _Pairs:
    f = np.asarray(s.faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or f.size == 0:
        raise ValueError(
            "the icosahedral sampling has no faces (shape (F, 3)); build it with icosahedral(level)."
        )
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    return rows, cols


def _grid_pairs(nlat: int, nlon: int, neighbourhood: int) -> _Pairs:
    idx = np.arange(nlat * nlon, dtype=np.int64).reshape(nlat, nlon)
    east = np.roll(idx, -1, axis=1)
    rows = [idx.reshape(-1)]
    cols = [east.reshape(-1)]
    if nlat > 1:
        rows.append(idx[:-1].reshape(-1))
        cols.append(idx[1:].reshape(-1))
        if neighbourhood == 8:
            rows += [idx[:-1].reshape(-1), idx[:-1].reshape(-1)]
            cols += [east[1:].reshape(-1), np.roll(idx, 1, axis=1)[1:].reshape(-1)]
    r, c = np.concatenate(rows), np.concatenate(cols)
    keep = r != c  # nlon == 1
    return r[keep], c[keep]


def _cubed_pairs(s: CubedSphereSampling) -> _Pairs:
    n = int(s.n)
    idx = np.arange(6 * n * n, dtype=np.int64).reshape(6, n, n)
    rows = [idx[:, :-1, :].reshape(-1), idx[:, :, :-1].reshape(-1)]
    cols = [idx[:, 1:, :].reshape(-1), idx[:, :, 1:].reshape(-1)]
    # Cross-face links: every edge cell to the nearest edge cell of each other face.
    edge = np.zeros((n, n), dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    cells = idx[:, edge].reshape(-1)
    face_of = cells // (n * n)
    coords = s.coords
    spacing = 2 * math.sin(math.pi / 4 / n) if n > 0 else 1.0
    tree = cKDTree(coords[cells])
    kq = min(cells.size, 12)
    dist, nn = tree.query(coords[cells], k=kq)
    other = cells[nn]
    ok = (face_of[nn] != face_of[:, None]) & (dist <= 1.6 * spacing)
    # keep only the nearest cell per other face
    src = np.repeat(cells, kq)[ok.reshape(-1)]
    dst = other[ok]
    key_face = dst // (n * n)
    order = np.lexsort((dist[ok], key_face, src))
    src, dst, key_face = src[order], dst[order], key_face[order]
    first = np.ones(src.size, dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (key_face[1:] != key_face[:-1])
    rows.append(src[first])
    cols.append(dst[first])
    return np.concatenate(rows), np.concatenate(cols)


def mesh_graph(
    sampling: Sampling,
    weights: str = "distance",
    sigma: float | None = None,
    *,
    neighbourhood: int = 8,
) -> SphereGraph:
    """Graph of the native neighbourhood structure of a sampling.

    Parameters
    ----------
    sampling : HealpixSampling, IcosahedralSampling, EquiangularSampling, GaussLegendreSampling or CubedSphereSampling
    weights : {"distance", "ones"}
        Gaussian of the chord distance, or 1 on every edge.
    sigma : float, optional
        Kernel width for ``"distance"``; default: mean edge length (chord).
    neighbourhood : {4, 8}
        For equiangular and Gauss-Legendre grids: 4 (N, S, E, W) or 8 (plus
        diagonals); ignored by the other samplings.

    Returns
    -------
    SphereGraph
        ``kind="mesh"``; adjacency (V, V) CSR float64, symmetric (an edge present
        in one direction is added in the other), no self loops, sorted indices.

    Raises
    ------
    ValueError
        Unknown ``weights``, bad ``neighbourhood`` or a sampling without mesh
        structure (``PointSampling``: use :func:`sphere_graphs.knn_graph`).
    """
    if not isinstance(sampling, Sampling):
        raise TypeError(
            f"sampling must be a sphere_graphs Sampling; got {type(sampling).__name__}."
        )
    if weights not in MESH_WEIGHTS:
        raise ValueError(
            f"unknown weights {weights!r}; use one of {', '.join(map(repr, MESH_WEIGHTS))}."
        )
    if neighbourhood not in (4, 8):
        raise ValueError(f"neighbourhood must be 4 or 8; got {neighbourhood!r}.")
    params: dict = {"weights": weights}
    if isinstance(sampling, HealpixSampling):
        rows, cols = _healpix_pairs(sampling)
    elif isinstance(sampling, IcosahedralSampling):
        rows, cols = _icosahedral_pairs(sampling)
    elif isinstance(sampling, (EquiangularSampling, GaussLegendreSampling)):
        rows, cols = _grid_pairs(int(sampling.nlat), int(sampling.nlon), neighbourhood)
        params["neighbourhood"] = neighbourhood
    elif isinstance(sampling, CubedSphereSampling):
        rows, cols = _cubed_pairs(sampling)
    else:
        raise ValueError(
            f"{type(sampling).__name__} has no mesh structure; use knn_graph(sampling, k) "
            "or radius_graph(sampling, radius) for scattered points."
        )
    n = sampling.n_vertices
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    itype = np.int32 if n < 2**31 - 1 else np.int64
    # Symmetric pattern: each undirected edge once per direction.
    pattern = sp.csr_matrix(
        (
            np.ones(2 * rows.size, dtype=np.float64),
            (
                np.concatenate([rows, cols]).astype(itype),
                np.concatenate([cols, rows]).astype(itype),
            ),
        ),
        shape=(n, n),
    )
    pattern.sum_duplicates()
    pattern.sort_indices()
    if weights == "ones":
        pattern.data[:] = 1.0
    else:
        coords = sampling.coords
        r = np.repeat(np.arange(n, dtype=itype), np.diff(pattern.indptr))
        diff = coords[r] - coords[pattern.indices]
        del r
        d2 = np.einsum("ij,ij->i", diff, diff)
        del diff
        if sigma is None:
            sigma = float(np.mean(np.sqrt(d2))) if d2.size else 1.0
            if sigma <= 0:
                sigma = 1.0
        sigma = float(sigma)
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive finite distance; got {sigma}.")
        np.multiply(d2, -math.log(2.0) / sigma**2, out=d2)
        pattern.data = np.exp(d2, out=d2)
        params["sigma"] = sigma
    return SphereGraph(sampling, pattern, "mesh", params)
