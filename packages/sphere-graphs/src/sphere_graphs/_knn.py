"""k-nearest-neighbour and radius graphs with Gaussian weights.

Weights are ``w_ij = exp(-ln(2) d_ij**2 / sigma**2)``, ``d_ij`` the chord (Euclidean)
distance between the unit vectors of vertices ``i`` and ``j``.

Ties (k-NN graphs): by default (``ties="distance"``) every vertex whose distance to
``i`` is within a relative ``TIE_RTOL`` of the k-th smallest is a neighbour of ``i``
too, so rows may hold more than ``k`` neighbours and the graph depends on distances
only: every exact symmetry of the sampling (HEALPix quarter turns and reflections,
icosahedral rotations, equiangular longitude shifts) maps it onto itself.
``ties="index"`` keeps exactly ``k`` (the k-d tree's or the window's order decides
among equidistant candidates), as sphere-graphs 0.1 did.

Symmetrisation (k-NN graphs): the directed k-NN relation ``A`` (``A_ij = w_ij`` when
``j`` is among the ``k`` nearest neighbours of ``i``) is made undirected by
``"average"`` (default): ``W = (A + A^T) / 2`` — mutual neighbours keep ``w_ij``,
one-sided ones get ``w_ij / 2`` — or ``"max"``: ``W = max(A, A^T)`` — every edge of
the union keeps ``w_ij``.

HEALPix samplings (full sphere) use a fast exact path that scans a small window of
pixels around every pixel in the (face, x, y) pixel grid, see ``_knn_healpix.py``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ._graph import SphereGraph
from ._sampling import HealpixSampling, Sampling
from ._widths import default_kernel_width

__all__ = ["KERNELS", "SYMMETRIZE_RULES", "TIE_RTOL", "TIE_RULES", "knn_graph", "radius_graph"]

KERNELS = ("gaussian",)
SYMMETRIZE_RULES = ("average", "max")
TIE_RULES = ("distance", "index")
#: Relative tolerance on the chord distance within which a candidate is tied with
#: the k-th neighbour (``d <= d_k * (1 + TIE_RTOL)``): far above float64 rounding of
#: distances between unit vectors (about 1e-12 relative even at HEALPix nside 8192),
#: far below the gaps between distinct neighbour distances of the built-in samplings.
TIE_RTOL = 1e-9
_LN2 = math.log(2.0)


def _check_sampling(sampling: object) -> Sampling:
    if not isinstance(sampling, Sampling):
        raise TypeError(
            f"sampling must be a sphere_graphs Sampling; got {type(sampling).__name__}. "
            "Wrap raw unit vectors with sphere_graphs.PointSampling(coords)."
        )
    return sampling


def _check_options(kernel: str, symmetrize: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; use one of {', '.join(map(repr, KERNELS))}.")
    if symmetrize not in SYMMETRIZE_RULES:
        raise ValueError(
            f"unknown symmetrize rule {symmetrize!r}; use one of {', '.join(map(repr, SYMMETRIZE_RULES))}."
        )


def _check_sigma(sigma: float) -> float:
    sigma = float(sigma)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite distance; got {sigma}.")
    return sigma


def _duplicate_error(n_pairs: int) -> ValueError:
    return ValueError(
        f"the sampling has {n_pairs} pair(s) of distinct vertices at distance zero (duplicate "
        "points, e.g. repeated pole rows of an equiangular grid); k-NN weights are undefined. "
        "Use mesh_graph(sampling) for grids, or de-duplicate the points first."
    )


def gaussian_weights(d2: np.ndarray, sigma: float, out: np.ndarray | None = None) -> np.ndarray:
    """``exp(-ln(2) d2 / sigma**2)`` for squared chord distances ``d2`` (any shape)."""
    out = np.multiply(d2, -_LN2 / (sigma * sigma), out=out)
    return np.exp(out, out=out)


def pair_d2(coords: np.ndarray, rows: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """Squared chord distances ``|c_i - c_j|**2`` of ``rows`` (R,) to ``nbr`` (R, k).

    Evaluated as ``((dx**2 + dy**2) + dz**2)``, bit-for-bit the same for ``(i, j)``
    and ``(j, i)``, so that the weights of an edge agree in both directions.
    """
    ci = coords[rows][:, None, :]
    cj = coords[nbr]
    d = np.square(ci[..., 0] - cj[..., 0])
    d += np.square(ci[..., 1] - cj[..., 1])
    d += np.square(ci[..., 2] - cj[..., 2])
    return d


def tree_knn(
    tree: cKDTree,
    coords: np.ndarray,
    queries: np.ndarray,
    k: int,
    tie: float | None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """k nearest neighbours of ``coords[queries]`` from a k-d tree, with ties.

    Parameters
    ----------
    tree : cKDTree
        Built on ``coords[candidates]`` (all ``coords`` when ``candidates`` is None).
    coords : ndarray, shape (V, 3)
    queries : ndarray of int, shape (R,)
    k : int
    tie : float or None
        Factor on the k-th squared distance within which further candidates are
        tied and returned in ``extras``; None: exactly ``k`` (index tie-break).
    candidates : ndarray of int, optional
        Global ids of the tree's points.

    Returns
    -------
    nbr : ndarray of int32, shape (R, k)
    d2 : ndarray of float64, shape (R, k)
        Squared chord distances (:func:`pair_d2`, symmetric bit for bit).
    extras : tuple of ndarrays (src, dst, d2), shape (E,) each
        The tied neighbours beyond the first ``k``.

    Raises
    ------
    ValueError
        Duplicate points (a distinct vertex at distance zero).
    """
    n_tree = tree.n
    queries = np.asarray(queries, dtype=np.int64)
    extra_cols = 0 if tie is None else 8
    out_nbr = np.empty(
        (queries.size, k), dtype=np.int32 if coords.shape[0] < 2**31 - 1 else np.int64
    )
    out_d2 = np.empty((queries.size, k))
    ex: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    todo = np.arange(queries.size)
    while todo.size:
        m = min(k + 1 + extra_cols, n_tree)
        q = queries[todo]
        _, idx = tree.query(coords[q], k=m, workers=-1)
        found = idx if candidates is None else candidates[idx]
        is_self = found == q[:, None]
        if np.any(is_self.sum(axis=1) != 1):
            raise _duplicate_error(1)
        found = found[~is_self].reshape(q.size, m - 1)
        d2 = pair_d2(coords, q, found)
        if np.any(d2 == 0):
            raise _duplicate_error(int(np.count_nonzero(d2 == 0)) // 2 or 1)
        # Order candidates by our own distances (the tree's may differ in the last bit).
        order = np.argsort(d2, axis=1, kind="stable")
        found = np.take_along_axis(found, order, axis=1)
        d2 = np.take_along_axis(d2, order, axis=1)
        out_nbr[todo] = found[:, :k]
        out_d2[todo] = d2[:, :k]
        if tie is None:
            break
        thr = d2[:, k - 1] * tie
        within = d2[:, k:] <= thr[:, None]
        more = within[:, -1] if within.shape[1] and m < n_tree else np.zeros(q.size, bool)
        rows, cols = np.nonzero(within & ~more[:, None])
        ex.append((q[rows], found[rows, k + cols].astype(np.int64), d2[rows, k + cols]))
        todo = todo[more]
        extra_cols *= 2
    if not ex:
        ex.append((np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)))
    extras = tuple(np.concatenate([e[i] for e in ex]) for i in range(3))
    return out_nbr, out_d2, extras  # type: ignore[return-value]


def _knn_kdtree(
    coords: np.ndarray, k: int, tie: float | None
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Neighbours ``(V, k)``, squared distances ``(V, k)`` and tied extras by cKDTree."""
    n = coords.shape[0]
    return tree_knn(cKDTree(coords), coords, np.arange(n), k, tie)


def _mutual_mask(
    nbr: np.ndarray,
    known: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    chunk: int = 1 << 18,
) -> np.ndarray:
    """``mutual[i, c]``: is ``i`` also among the neighbours of ``nbr[i, c]``?

    Parameters
    ----------
    nbr : ndarray of int, shape (V, k)
    known : ndarray of bool, shape (V, k), optional
        Precomputed flags, valid outside ``rows``; updated in place and returned.
    rows : ndarray of int, optional
        Rows of ``known`` to recompute (all rows when None).
    """
    n, k = nbr.shape
    if known is None or rows is None:
        mutual = np.empty((n, k), dtype=bool)
        for start in range(0, n, chunk):
            block = nbr[start : start + chunk]
            rows = np.arange(start, start + block.shape[0], dtype=nbr.dtype)
            back = nbr[block]  # (b, k, k)
            np.any(back == rows[:, None, None], axis=2, out=mutual[start : start + chunk])
        return mutual
    rows = np.asarray(rows)
    back = nbr[nbr[rows]]  # (r, k, k)
    known[rows] = np.any(back == rows[:, None, None].astype(nbr.dtype), axis=2)
    return known


def symmetric_knn_adjacency(
    nbr: np.ndarray,
    weights: np.ndarray,
    rule: str = "average",
    mutual: np.ndarray | None = None,
    tied: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> sp.csr_matrix:
    """Undirected adjacency from directed k-NN lists with symmetric weights.

    Parameters
    ----------
    nbr : ndarray of int, shape (V, k)
        ``nbr[i]`` are the neighbours of ``i`` (no ``i`` itself, no repeats).
    weights : ndarray of float64, shape (V, k)
        ``w(i, nbr[i, c])``; must be a symmetric function of the pair. Consumed
        (may be modified in place).
    rule : {"average", "max"}
        See the module docstring.
    mutual : ndarray of bool, shape (V, k), optional
        Precomputed mutuality mask (see ``_mutual_mask``).
    tied : tuple (src, dst, w) of ndarrays, shape (E,), optional
        Further directed edges (ties beyond the first ``k``; disjoint from ``nbr``
        rows), ``rule="average"`` only: added as ``(A_t + A_t^T) / 2``, which is
        exact because the average rule is linear in the directed weights.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), float64
        Symmetric, no stored diagonal. Within a row, the row's own neighbours come
        first (in ``nbr`` order), then one-sided reverse edges; column indices are
        sorted only when ``nbr`` rows are sorted and there are no reverse edges.
    """
    n, k = nbr.shape
    if mutual is None:
        mutual = _mutual_mask(nbr)
    one_sided = ~mutual
    del mutual
    src, slot = np.nonzero(one_sided)
    dst = nbr[src, slot]
    if rule == "average" and src.size:
        weights[src, slot] *= 0.5
    extra_w = weights[src, slot]
    if tied is not None and tied[0].size:
        if rule != "average":
            raise ValueError("tied edges are merged here for rule='average' only.")
        t_src, t_dst, t_w = (np.asarray(a) for a in tied)
        half = 0.5 * t_w
        # entries (t_src, t_dst) and (t_dst, t_src), appended to rows dst <- col src
        src = np.concatenate([src, t_dst, t_src])
        dst = np.concatenate([dst, t_src, t_dst])
        extra_w = np.concatenate([extra_w, half, half])
    # Reverse edges (dst -> src) appended after the k own entries of row dst.
    order = np.argsort(dst, kind="stable")
    dst, src, extra_w = dst[order], src[order], extra_w[order]
    extra_count = np.bincount(dst, minlength=n)
    counts = extra_count + k
    nnz = n * k + src.size
    itype = np.int32 if max(nnz, n) < 2**31 - 1 else np.int64
    indptr = np.zeros(n + 1, dtype=itype)
    np.cumsum(counts, out=indptr[1:])
    if src.size == 0:
        indices = nbr.reshape(-1).astype(itype, copy=False)
        data = weights.reshape(-1)
    else:
        # Interleave contiguous runs of own entries with the (few) reverse edges of
        # each row: one memcpy-like concatenate instead of masked scatters.
        rows_x, first = np.unique(dst, return_index=True)
        cuts = [0, *((rows_x + 1) * k).tolist(), n * k]
        ecuts = [*first.tolist(), dst.size]
        flat_idx, flat_w = nbr.reshape(-1), weights.reshape(-1)
        ext_src = src.astype(nbr.dtype)
        pieces_idx, pieces_w = [], []
        for j in range(len(cuts) - 1):
            pieces_idx.append(flat_idx[cuts[j] : cuts[j + 1]])
            pieces_w.append(flat_w[cuts[j] : cuts[j + 1]])
            if j < len(ecuts) - 1:
                pieces_idx.append(ext_src[ecuts[j] : ecuts[j + 1]])
                pieces_w.append(extra_w[ecuts[j] : ecuts[j + 1]])
        indices = np.concatenate(pieces_idx)
        data = np.concatenate(pieces_w)
        del pieces_idx, pieces_w
        indices = indices.astype(itype, copy=False)
    adjacency = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    adjacency.has_sorted_indices = False
    if tied is not None and tied[0].size:
        adjacency.has_canonical_format = False
        adjacency.sum_duplicates()  # a tied edge may meet a one-sided reverse edge
    return adjacency


def _resolve_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer; got {type(k).__name__}.")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}.")
    if k >= n:
        raise ValueError(
            f"k={k} needs more than k vertices but the sampling has {n}; use k <= {n - 1}."
        )
    return k


def _tie_adjacency(
    extras: tuple[np.ndarray, np.ndarray, np.ndarray], n: int, sigma: float, rule: str
) -> sp.csr_matrix:
    """Symmetrised adjacency of the tied directed edges beyond the first ``k``."""
    src, dst, d2 = extras
    x = sp.csr_matrix((gaussian_weights(d2, sigma), (src, dst)), shape=(n, n))
    if rule == "average":
        return sp.csr_matrix((x + x.T) * 0.5)
    return sp.csr_matrix(x.maximum(x.T))


def _check_ties(ties: str) -> None:
    if ties not in TIE_RULES:
        raise ValueError(
            f"unknown ties rule {ties!r}; use 'distance' (keep every vertex tied with the k-th "
            "neighbour, the default) or 'index' (exactly k, equidistant candidates by index)."
        )


def knn_graph(
    sampling: Sampling,
    k: int = 8,
    sigma: float | None = None,
    kernel: str = "gaussian",
    *,
    symmetrize: str = "average",
    ties: str = "distance",
) -> SphereGraph:
    """k-nearest-neighbour graph with Gaussian weights.

    Parameters
    ----------
    sampling : Sampling
        ``V`` vertices; any kind. Full-sphere HEALPix uses a fast exact pixel-window
        search; everything else a ``scipy.spatial.cKDTree`` (all cores).
    k : int
        Neighbours per vertex before ties and symmetrisation, ``1 <= k < V`` (the
        vertex itself is not counted).
    sigma : float, optional
        Kernel width (chord distance at which the weight is 1/2). Default: see
        :func:`sphere_graphs.default_kernel_width` (published HEALPix widths for
        k in {8, 20, 40, 60}; else a tuned table; else the mean distance to the
        k-th neighbour).
    kernel : {"gaussian"}
        ``w = exp(-ln(2) d**2 / sigma**2)``.
    symmetrize : {"average", "max"}
        ``(A + A^T) / 2`` or ``max(A, A^T)`` of the directed k-NN weights.
    ties : {"distance", "index"}
        ``"distance"`` (default): also keep every vertex within a relative
        ``TIE_RTOL`` (1e-9) of the k-th neighbour's distance, so that the graph is
        mapped onto itself by every exact symmetry of the sampling. ``"index"``:
        exactly ``k`` neighbours, equidistant candidates chosen by search order
        (sphere-graphs 0.1 behaviour).

    Returns
    -------
    SphereGraph
        ``kind="knn"``, ``params={"k", "sigma", "kernel", "symmetrize", "ties"}``;
        adjacency (V, V) CSR float64, exactly symmetric, no self loops, at least
        ``k`` (typically about ``k``) entries per row.

    Raises
    ------
    ValueError
        ``k < 1``, ``k >= V``, non-positive ``sigma``, unknown ``kernel``,
        ``symmetrize`` or ``ties``, non-finite coordinates, or duplicate points.
    """
    sampling = _check_sampling(sampling)
    _check_options(kernel, symmetrize)
    _check_ties(ties)
    coords = sampling.coords
    if not np.all(np.isfinite(coords)):
        raise ValueError("coords contain NaN or infinite values; pass finite unit vectors.")
    n = sampling.n_vertices
    k = _resolve_k(k, n)
    if sigma is not None:
        sigma = _check_sigma(sigma)
    tie = (1.0 + TIE_RTOL) ** 2 if ties == "distance" else None

    known: np.ndarray | None = None
    recheck: np.ndarray | None = None
    found = None
    if isinstance(sampling, HealpixSampling) and sampling.indices is None:
        from ._knn_healpix import healpix_knn

        found = healpix_knn(sampling, k, tie)
    if found is not None:
        nbr, d2, known, recheck, extras = found
    else:
        nbr, d2, extras = _knn_kdtree(coords, k, tie)
    if sigma is None:
        try:
            sigma = default_kernel_width(sampling, k)
        except ValueError:  # no tabulated width: mean distance to the k-th neighbour
            sigma = default_kernel_width(sampling, k, kth_distances=np.sqrt(d2.max(axis=1)))
    mutual = _mutual_mask(nbr, known, recheck)
    del known
    weights = gaussian_weights(d2, sigma, out=d2)
    has_ties = extras is not None and extras[0].size > 0
    tied = None
    if has_ties and symmetrize == "average":
        tied = (extras[0], extras[1], gaussian_weights(extras[2], sigma))
    adjacency = symmetric_knn_adjacency(nbr, weights, symmetrize, mutual, tied)
    del nbr, weights, mutual
    if has_ties and symmetrize == "max":
        # max(A, A^T) is the union of both parts, each carrying the same w_ij.
        adjacency.sort_indices()
        adjacency = sp.csr_matrix(adjacency.maximum(_tie_adjacency(extras, n, sigma, "max")))
    adjacency.sort_indices()
    params = {"k": k, "sigma": sigma, "kernel": kernel, "symmetrize": symmetrize, "ties": ties}
    return SphereGraph._trusted(sampling, adjacency, "knn", params)


def radius_graph(
    sampling: Sampling, radius: float, sigma: float | None = None, kernel: str = "gaussian"
) -> SphereGraph:
    """Graph joining every pair of vertices closer than ``radius`` (chord distance).

    Parameters
    ----------
    sampling : Sampling
    radius : float
        Chord distance, ``0 < radius <= 2`` (an angle ``a`` is the chord
        ``2 sin(a / 2)``).
    sigma : float, optional
        Kernel width; default ``radius / 2`` (weight 1/16 at the cut-off).
    kernel : {"gaussian"}

    Returns
    -------
    SphereGraph
        ``kind="radius"``; symmetric by construction, no self loops.
    """
    sampling = _check_sampling(sampling)
    _check_options(kernel, "average")
    radius = float(radius)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive finite chord distance; got {radius}.")
    sigma = radius / 2 if sigma is None else _check_sigma(sigma)
    coords = sampling.coords
    tree = cKDTree(coords)
    pairs = tree.query_pairs(radius, output_type="ndarray")
    n = sampling.n_vertices
    if pairs.size:
        d2 = np.sum((coords[pairs[:, 0]] - coords[pairs[:, 1]]) ** 2, axis=1)
        n_dup = int(np.count_nonzero(d2 == 0))
        if n_dup:
            raise _duplicate_error(n_dup)
        w = gaussian_weights(d2, sigma)
        rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
        adjacency = sp.csr_matrix((np.concatenate([w, w]), (rows, cols)), shape=(n, n))
    else:
        adjacency = sp.csr_matrix((n, n), dtype=np.float64)
    adjacency.sort_indices()
    params = {"radius": radius, "sigma": sigma, "kernel": kernel}
    return SphereGraph(sampling, adjacency, "radius", params)
