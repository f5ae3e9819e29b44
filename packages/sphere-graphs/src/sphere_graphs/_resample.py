"""Resampling between two samplings of the sphere.

:func:`resampling_matrix` builds a sparse ``(V_target, V_source)`` operator that maps a
signal defined on one sampling onto another; :func:`resample` applies it to arrays of
any leading shape with a single sparse product.

Two methods:

``"nearest"``
    Each target vertex copies the closest source vertex (chord distance, ties broken
    by the lowest source index). One ``1`` per row: suitable for labels.
``"linear"``
    Barycentric interpolation on the spherical Delaunay triangulation of the source
    vertices (the convex hull of their unit vectors). A target ``t`` inside the
    spherical triangle ``(a, b, c)`` gets weights proportional to the triple products
    ``t . (b x c)``, ``t . (c x a)``, ``t . (a x b)``, i.e. the planar barycentric
    coordinates of the point where the ray through ``t`` meets the flat triangle.
    Weights are non-negative, sum to one, and reproduce source values exactly at
    source vertices; constants are reproduced exactly and linear functions of
    ``(x, y, z)`` up to ``O(h**2)`` for a spacing ``h``.

Fallback rule (linear): a target that lies in no spherical triangle of the source
triangulation -- which only happens where the source does not cover the sphere
(partial HEALPix maps, caps) and the target lies outside the covered region, or
where the source points are degenerate -- copies its nearest source vertex, exactly
as with ``"nearest"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import ConvexHull, QhullError, cKDTree

if TYPE_CHECKING:
    from ._sampling import Sampling

__all__ = ["resample", "resampling_matrix"]

_METHODS = ("nearest", "linear")
# Relative tolerance on barycentric weights when deciding containment.
_TOL = 1e-10
# Number of closest triangles (by centroid) examined before the exhaustive search.
_N_CANDIDATES = 8


def _as_coords(obj: Any, name: str) -> NDArray[np.float64]:
    """Unit vectors ``(V, 3)`` of a sampling, or of a raw ``(V, 3)`` array."""
    coords = getattr(obj, "coords", obj)
    try:
        coords = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a sampling (an object with .coords of shape (V, 3)) or an "
            f"array of unit vectors (V, 3); got {type(obj).__name__}."
        ) from exc
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(
            f"{name} coordinates must have shape (V, 3); got {coords.shape}. Pass a sampling "
            "such as healpix(...), icosahedral(...), equiangular(...) or latlon_grid(H, W)."
        )
    if coords.shape[0] == 0:
        raise ValueError(f"{name} has no vertices; pass a non-empty sampling.")
    if not np.all(np.isfinite(coords)):
        raise ValueError(f"{name} coordinates contain NaN or infinite values.")
    norms = np.linalg.norm(coords, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"{name} contains zero vectors; coordinates must be unit vectors.")
    return coords / norms[:, None]


def _nearest(src: NDArray[np.float64], tgt: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index of the closest source vertex for every target vertex."""
    _, idx = cKDTree(src).query(tgt, k=1)
    return np.asarray(idx, dtype=np.int64)


def _oriented_hull(src: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Triangles of the spherical Delaunay triangulation, oriented counter-clockwise.

    Returns the triangles ``(F, 3)`` and their plane offsets ``(F,)`` (negative when the
    origin lies on the inner side of the facet). Raises ``ValueError`` when the points
    do not span 3-D space.
    """
    if src.shape[0] < 4:
        raise ValueError(
            f"linear resampling needs at least 4 source vertices; got {src.shape[0]}. "
            "Use method='nearest'."
        )
    try:
        hull = ConvexHull(src)
    except QhullError as exc:
        raise ValueError(
            "linear resampling could not triangulate the source vertices (are they all on "
            "one great circle, or duplicated?); use method='nearest'."
        ) from exc
    tri = np.asarray(hull.simplices, dtype=np.int64)
    normals = hull.equations[:, :3]
    a, b, c = src[tri[:, 0]], src[tri[:, 1]], src[tri[:, 2]]
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), normals) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri, hull.equations[:, 3]


def _weights(
    tgt: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], c: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Unnormalised barycentric weights ``(..., 3)`` (triple products) of targets."""
    return np.stack(
        [
            np.einsum("...j,...j->...", tgt, np.cross(b, c)),
            np.einsum("...j,...j->...", tgt, np.cross(c, a)),
            np.einsum("...j,...j->...", tgt, np.cross(a, b)),
        ],
        axis=-1,
    )


def _locate(
    src: NDArray[np.float64],
    tri: NDArray[np.int64],
    valid: NDArray[np.bool_],
    tgt: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Containing triangle (or -1) and normalised weights ``(V_t, 3)`` of each target."""
    n_t = tgt.shape[0]
    found = np.full(n_t, -1, dtype=np.int64)
    weights = np.zeros((n_t, 3))
    tri_ids = np.flatnonzero(valid)
    if tri_ids.size == 0:
        return found, weights
    verts = src[tri[tri_ids]]  # (F, 3, 3)
    centroids = verts.sum(axis=1)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    k = min(_N_CANDIDATES, tri_ids.size)
    _, cand = cKDTree(centroids).query(tgt, k=k)
    cand = np.asarray(cand).reshape(n_t, k)

    def accept(rows: NDArray[np.int64], local: NDArray[np.int64]) -> None:
        v = verts[local]
        w = _weights(tgt[rows], v[:, 0], v[:, 1], v[:, 2])
        total = w.sum(axis=1)
        ok = (total > 0) & np.all(w >= -_TOL * np.abs(total)[:, None], axis=1) & (found[rows] < 0)
        w = np.clip(w[ok], 0.0, None)
        found[rows[ok]] = tri_ids[local[ok]]
        weights[rows[ok]] = w / w.sum(axis=1, keepdims=True)

    all_rows = np.arange(n_t)
    for j in range(k):
        todo = all_rows[found < 0]
        if todo.size == 0:
            break
        accept(todo, cand[todo, j])
    # Exhaustive search for the (rare) leftovers: test every valid triangle.
    todo = all_rows[found < 0]
    for start in range(0, todo.size, 64):
        rows = todo[start : start + 64]
        w = _weights(tgt[rows, None, :], verts[None, :, 0], verts[None, :, 1], verts[None, :, 2])
        total = w.sum(axis=2)
        ok = (total > 0) & np.all(w >= -_TOL * np.abs(total)[..., None], axis=2)
        has = ok.any(axis=1)
        first = np.argmax(ok, axis=1)
        if np.any(has):
            accept(rows[has], first[has])
    return found, weights


def resampling_matrix(
    source: Sampling | ArrayLike, target: Sampling | ArrayLike, method: str = "nearest"
) -> sp.csr_matrix:
    """Sparse operator mapping signals on ``source`` to signals on ``target``.

    Parameters
    ----------
    source, target : Sampling or array_like, shape (V, 3)
        Any sampling (an object with ``.coords``, unit vectors of shape ``(V, 3)``), e.g.
        ``healpix(16)``, ``icosahedral(5)``, or a plain lat-lon grid from
        ``equiangular(nlat, nlon)`` / ``latlon_grid(H, W)``; raw unit-vector arrays are
        accepted too.
    method : {"nearest", "linear"}
        ``"nearest"``: copy the closest source vertex (one ``1`` per row; use for
        labels). ``"linear"``: barycentric interpolation on the spherical Delaunay
        triangulation of the source (see the module docstring, including the
        nearest-vertex fallback for targets outside a partial source).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V_target, V_source), float64
        Non-negative; every row sums to one (1, 3 or fewer non-zeros per row).

    Raises
    ------
    ValueError
        Unknown ``method``, malformed coordinates, or (linear) a source that cannot be
        triangulated (fewer than 4 points, or all on one great circle).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    src = _as_coords(source, "source")
    tgt = _as_coords(target, "target")
    n_s, n_t = src.shape[0], tgt.shape[0]
    nearest = _nearest(src, tgt)
    if method == "nearest":
        return sp.csr_matrix(
            (np.ones(n_t), nearest, np.arange(n_t + 1, dtype=np.int64)), shape=(n_t, n_s)
        )

    tri, offsets = _oriented_hull(src)
    # Facets whose plane passes through (or beyond) the origin are not spherical
    # triangles but "lids" closing a partial coverage; they are never used.
    valid = offsets < -1e-9
    found, weights = _locate(src, tri, valid, tgt)
    # Exact hits on a source vertex copy it (keeps the operator exact on the source).
    hit = np.linalg.norm(src[nearest] - tgt, axis=1) < 1e-12
    cols = np.where(found[:, None] >= 0, tri[np.maximum(found, 0)], nearest[:, None])
    vals = np.where(found[:, None] >= 0, weights, np.array([1.0, 0.0, 0.0]))
    cols[hit] = nearest[hit, None]
    vals[hit] = [1.0, 0.0, 0.0]
    rows = np.repeat(np.arange(n_t), 3)
    mat = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n_t, n_s))
    mat.eliminate_zeros()
    mat.sort_indices()
    return mat


def resample(matrix: sp.spmatrix | sp.sparray, data: ArrayLike) -> NDArray[Any]:
    """Apply a resampling matrix to data over the last axis.

    Parameters
    ----------
    matrix : scipy sparse matrix, shape (V_out, V_in)
        E.g. from :func:`resampling_matrix`.
    data : array_like, shape (..., V_in)
        Signals on the source vertices; leading axes (batch, time, channels, ...) are
        kept. Applied as one sparse product on a ``(V_in, prod(...))`` view.

    Returns
    -------
    ndarray, shape (..., V_out)
        Float result; if ``data`` is integer (labels) and ``matrix`` only copies values
        (one ``1`` per row, as from ``method="nearest"``), the dtype of ``data`` is kept.

    Raises
    ------
    ValueError
        If ``data.shape[-1] != V_in`` or ``matrix`` is not 2-D.
    """
    if not sp.issparse(matrix):
        raise TypeError(
            f"matrix must be a scipy sparse matrix (from resampling_matrix); got {type(matrix).__name__}."
        )
    if len(matrix.shape) != 2:
        raise ValueError(f"matrix must be 2-D (V_out, V_in); got shape {matrix.shape}.")
    arr = np.asarray(data)
    n_out, n_in = matrix.shape
    if arr.ndim == 0 or arr.shape[-1] != n_in:
        raise ValueError(
            f"data must have shape (..., {n_in}) to match the matrix's {n_in} source vertices; "
            f"got {arr.shape}. Build the matrix from the sampling the data lives on, or move "
            "the vertex axis last."
        )
    lead = arr.shape[:-1]
    flat = arr.reshape(-1, n_in).T  # (V_in, prod(lead))
    out = sp.csr_matrix(matrix) @ flat  # (V_out, prod(lead))
    out = np.asarray(out).T.reshape(*lead, n_out)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        csr = sp.csr_matrix(matrix)
        if np.all(np.diff(csr.indptr) == 1) and np.all(csr.data == 1):
            return out.astype(arr.dtype)
    return out
