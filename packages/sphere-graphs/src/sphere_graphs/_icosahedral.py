"""Icosahedral sampling: recursively subdivided icosahedron, hierarchical vertex order.

The vertex order reproduces the icosphere on which the CAM5 AR/TC climate data set
is stored (levels 0-5 verified against ``shared/reference/cam5_icosphere_l5.npy``):

1. Base icosahedron: the 12 golden-ratio vertices ``(+-1, +-t, 0)``, ``(0, +-1, +-t)``,
   ``(+-t, 0, +-1)`` in the order listed in :data:`_GOLDEN`, scaled to unit norm, then
   rotated so that vertex 11 sits at +z and vertex 2 lies in the half-plane
   ``x = 0, y > 0``.
2. Each subdivision keeps the old vertices (so the level-``l`` mesh is a prefix of
   every finer one) and appends one new vertex per edge: the edge midpoint
   ``(a + b) / 2``. The new vertices are ordered by a key derived from the
   unnormalised midpoint: its coordinates are quantised to integers
   ``round(1e8 * c - 1e-6)`` (int32), and the three 4-byte little-endian integers
   are compared as a 12-byte string (byte by byte, unsigned). This is the order in
   which a byte-wise sort of the quantised rows emits them, which is how the data
   set's mesh was generated.
3. All vertices are then projected back on the unit sphere.

Faces are hierarchical too: face ``k`` of level ``l`` splits into faces
``4k .. 4k+3`` of level ``l + 1`` (corners ``a``, ``b``, ``c`` first, then the central
triangle), all counter-clockwise seen from outside.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import NDArray

from ._sampling import IcosahedralSampling

__all__ = ["icosahedral", "icosahedral_n_vertices"]

MAX_LEVEL = 11
_T = (1.0 + 5.0**0.5) / 2.0
# Base icosahedron vertices before rotation (golden-ratio rectangles).
_GOLDEN = np.array(
    [
        (-1, _T, 0), (1, _T, 0), (-1, -_T, 0), (1, -_T, 0),
        (0, -1, _T), (0, 1, _T), (0, -1, -_T), (0, 1, -_T),
        (_T, 0, -1), (_T, 0, 1), (-_T, 0, -1), (-_T, 0, 1),
    ],
    dtype=np.float64,
)  # fmt: skip


def icosahedral_n_vertices(level: int) -> int:
    """Number of vertices ``10 * 4**level + 2`` of the level-``level`` icosphere."""
    return 10 * 4 ** int(level) + 2


def _base() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Rotated unit icosahedron: vertices (12, 3) and CCW faces (20, 3)."""
    v = _GOLDEN / np.sqrt(1.0 + _T * _T)
    e3 = v[11]
    e2 = v[2] - (v[2] @ e3) * e3
    e2 /= np.linalg.norm(e2)
    e1 = np.cross(e2, e3)
    v = v @ np.stack([e1, e2, e3]).T
    # Faces from geometry: triples of mutually adjacent vertices (edge cosine 1/sqrt 5).
    adj = (v @ v.T) > 0.3
    np.fill_diagonal(adj, False)
    faces = []
    for a in range(12):
        for b in range(a + 1, 12):
            for c in range(b + 1, 12):
                if adj[a, b] and adj[b, c] and adj[a, c]:
                    tri = [a, b, c]
                    if np.linalg.det(v[tri]) < 0:
                        tri = [a, c, b]
                    faces.append(tri)
    return v, np.asarray(faces, dtype=np.int64)


def _normalise(v: NDArray[np.float64]) -> NDArray[np.float64]:
    # Same arithmetic as a radial correction v + u (1 - |v|), u = v / |v|.
    norm = np.sqrt((v**2).sum(axis=1))
    return v + (v / norm[:, None]) * (1.0 - norm)[:, None]


def _midpoint_order(mid: NDArray[np.float64]) -> NDArray[np.int64]:
    """Permutation sorting midpoints by the byte string of their quantised coordinates."""
    q = np.round(mid * 1e8 - 1e-6).astype("<i4")
    # Reading the little-endian bytes as a big-endian unsigned integer makes integer
    # order equal to byte-wise lexicographic order.
    k = q.view("<u4").byteswap().astype(np.uint64)
    return np.lexsort((k[:, 2], (k[:, 0] << np.uint64(32)) | k[:, 1]))


def _subdivide(
    vertices: NDArray[np.float64], faces: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """One midpoint subdivision step.

    Returns
    -------
    vertices : (V + E, 3) float64, unit vectors
    faces : (4 F, 3) int64
    edges : (E, 2) int64
        Endpoints (smaller index first) of the coarse edge of each new vertex, in the
        order the new vertices are appended.
    """
    nv = vertices.shape[0]
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    lo, hi = np.minimum(half[:, 0], half[:, 1]), np.maximum(half[:, 0], half[:, 1])
    codes, inverse = np.unique(lo * nv + hi, return_inverse=True)
    edges = np.stack([codes // nv, codes % nv], axis=1)
    mid = (vertices[edges[:, 0]] + vertices[edges[:, 1]]) / 2.0
    order = _midpoint_order(mid)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    new_id = (nv + rank[inverse.reshape(-1)]).reshape(3, -1).T  # (F, 3): m01, m12, m20
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    m01, m12, m20 = new_id[:, 0], new_id[:, 1], new_id[:, 2]
    children = np.stack(
        [
            np.stack([a, m01, m20], 1),
            np.stack([m01, b, m12], 1),
            np.stack([m20, m12, c], 1),
            np.stack([m01, m12, m20], 1),
        ],
        axis=1,
    ).reshape(-1, 3)
    new_vertices = _normalise(np.concatenate([vertices, mid[order]]))
    return new_vertices, children, edges[order]


def _check_level(level: object) -> int:
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise TypeError(f"level must be an integer; got {level!r} ({type(level).__name__}).")
    level = int(level)
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(
            f"level must be in [0, {MAX_LEVEL}] (10 * 4**level + 2 vertices); got {level}."
        )
    return level


def icosahedral(level: int) -> IcosahedralSampling:
    """Icosahedral sampling (subdivided icosahedron projected on the sphere).

    Parameters
    ----------
    level : int
        Number of midpoint subdivisions, ``0 <= level <= 11``. Level 5 (10242
        vertices) is the CAM5 climate mesh; level 9 has 2 621 442 vertices.

    Returns
    -------
    IcosahedralSampling
        ``coords`` of shape ``(10 * 4**level + 2, 3)`` in hierarchical order (the
        first ``10 * 4**l + 2`` rows are level ``l``) and ``faces`` of shape
        ``(20 * 4**level, 3)`` int64, counter-clockwise seen from outside.

    Notes
    -----
    See the module docstring for the exact vertex order, which matches the vertex
    order of the CAM5 AR/TC data files.
    """
    level = _check_level(level)
    vertices, faces = _base()
    for _ in range(level):
        vertices, faces, _edges = _subdivide(vertices, faces)
    return IcosahedralSampling(coords=vertices, level=level, faces=faces)
