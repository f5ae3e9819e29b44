"""Index maps between a fine and a coarse sampling, as plain numpy arrays.

A :class:`PoolingMaps` is the torch-free description of one coarsening step that
every layer of this package consumes. Builders exist for any
:class:`sphere_graphs.Coarsening`, for HEALPix NESTED (full sphere and partial
subsets, ``4**levels`` children at once), for equiangular grids (``2**levels``
blocks) and for icosahedral meshes (from the faces of the fine mesh).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PoolingMaps",
    "equiangular_maps",
    "healpix_maps",
    "icosahedral_maps",
    "maps_from_coarsening",
]


@dataclass(frozen=True, eq=False)
class PoolingMaps:
    """Index maps of one coarsening step (fine ``V_fine`` -> coarse ``V_coarse``).

    Attributes
    ----------
    n_fine, n_coarse : int
        ``V_fine`` and ``V_coarse``.
    children : ndarray of int64, shape (V_coarse, K)
        Fine vertices pooled into each coarse vertex, padded with -1. Groups may overlap.
    parent : ndarray of int64, shape (V_fine,)
        Coarse vertex each fine vertex copies from in nearest unpooling.
    interp_index, interp_weight : ndarray, shape (V_fine, J)
        Padded rows of the interpolation matrix ``(V_fine, V_coarse)``: coarse
        indices (int64, padding 0) and weights (float64, padding 0).
    kept : ndarray of int64, shape (V_coarse,), or None
        Fine index of each coarse vertex for decimation coarsenings.
    group : int or None
        ``K`` when ``children == arange(V_fine).reshape(V_coarse, K)`` (equal, contiguous,
        complete groups: pooling is a reshape), else None.
    disjoint : bool
        True when no fine vertex belongs to two groups.
    """

    n_fine: int
    n_coarse: int
    children: NDArray[np.int64]
    parent: NDArray[np.int64]
    interp_index: NDArray[np.int64]
    interp_weight: NDArray[np.float64]
    kept: NDArray[np.int64] | None = None
    group: int | None = None
    disjoint: bool = True

    @classmethod
    def from_arrays(
        cls,
        children: Any,
        parent: Any,
        interpolation: Any = None,
        kept: Any = None,
    ) -> PoolingMaps:
        """Validate index arrays and build the maps.

        Parameters
        ----------
        children : array_like of int, shape (V_coarse, K)
            Fine vertices of each coarse vertex, padded with -1.
        parent : array_like of int, shape (V_fine,)
            Coarse vertex of each fine vertex.
        interpolation : scipy.sparse matrix or array_like, shape (V_fine, V_coarse), optional
            Interpolation weights; default: one-hot rows from ``parent``.
        kept : array_like of int, shape (V_coarse,), optional
            Fine index of each coarse vertex (decimation).

        Returns
        -------
        PoolingMaps
        """
        children = np.asarray(children, dtype=np.int64)
        parent = np.asarray(parent, dtype=np.int64)
        if children.ndim == 1:
            children = children[:, None]
        if children.ndim != 2 or children.shape[0] == 0 or children.shape[1] == 0:
            raise ValueError(
                f"children must have shape (V_coarse, K) with V_coarse, K >= 1; got {children.shape}."
            )
        if parent.ndim != 1 or parent.shape[0] == 0:
            raise ValueError(
                f"parent must have shape (V_fine,) with V_fine >= 1; got {parent.shape}."
            )
        n_coarse, k = children.shape
        n_fine = int(parent.shape[0])
        if children.min() < -1 or children.max() >= n_fine:
            raise ValueError(
                f"children entries must be fine vertex indices in [0, {n_fine}) or -1 padding; "
                f"got values in [{children.min()}, {children.max()}]."
            )
        empty = np.flatnonzero(np.all(children < 0, axis=1))
        if empty.size:
            raise ValueError(
                f"{empty.size} coarse vertices (e.g. {empty[:5].tolist()}) have no children; "
                "every row of children needs at least one fine vertex."
            )
        if parent.min() < 0 or parent.max() >= n_coarse:
            raise ValueError(
                f"parent entries must lie in [0, {n_coarse}); got [{parent.min()}, {parent.max()}]."
            )
        if kept is not None:
            kept = np.asarray(kept, dtype=np.int64)
            if kept.shape != (n_coarse,) or kept.min() < 0 or kept.max() >= n_fine:
                raise ValueError(
                    f"kept must have shape ({n_coarse},) with entries in [0, {n_fine}); got shape {kept.shape}."
                )
        if interpolation is None:
            interp_index = parent[:, None].copy()
            interp_weight = np.ones((n_fine, 1))
        else:
            interp_index, interp_weight = _padded_rows(interpolation, n_fine, n_coarse)
        valid = children[children >= 0]
        disjoint = bool(np.unique(valid).size == valid.size)
        group = None
        if k * n_coarse == n_fine and np.array_equal(children.ravel(), np.arange(n_fine)):
            group = k
        for a in (children, parent, interp_index, interp_weight, kept):
            if a is not None:
                a.setflags(write=False)
        return cls(
            n_fine, n_coarse, children, parent, interp_index, interp_weight, kept, group, disjoint
        )

    @property
    def counts(self) -> NDArray[np.int64]:
        """Number of valid children of each coarse vertex, shape (V_coarse,)."""
        return (self.children >= 0).sum(axis=1)


def _padded_rows(
    matrix: Any, n_rows: int, n_cols: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Rows of a sparse or dense ``(n_rows, n_cols)`` matrix as padded (index, weight) arrays."""
    import scipy.sparse as sp

    csr = sp.csr_matrix(matrix, dtype=np.float64)
    if csr.shape != (n_rows, n_cols):
        raise ValueError(
            f"interpolation must have shape (V_fine, V_coarse) = ({n_rows}, {n_cols}); got {csr.shape}."
        )
    csr.eliminate_zeros()
    nnz = np.diff(csr.indptr)
    if np.any(nnz == 0):
        raise ValueError(
            f"interpolation has {int(np.sum(nnz == 0))} empty rows; every fine vertex needs a weight."
        )
    width = int(nnz.max())
    index = np.zeros((n_rows, width), dtype=np.int64)
    weight = np.zeros((n_rows, width), dtype=np.float64)
    rows = np.repeat(np.arange(n_rows), nnz)
    cols = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], nnz)
    index[rows, cols] = csr.indices
    weight[rows, cols] = csr.data
    return index, weight


def maps_from_coarsening(coarsening: Any) -> PoolingMaps:
    """Maps of a :class:`sphere_graphs.Coarsening` (or any object with its fields).

    Parameters
    ----------
    coarsening : sphere_graphs.Coarsening
        Needs ``children (V_coarse, C)``, ``parent (V_fine,)``, ``interpolation``
        ``(V_fine, V_coarse)`` and ``kept`` (or None).

    Returns
    -------
    PoolingMaps
    """
    for name in ("children", "parent"):
        if not hasattr(coarsening, name):
            raise TypeError(
                f"expected a sphere_graphs.Coarsening; {type(coarsening).__name__} has no '{name}'."
            )
    maps = PoolingMaps.from_arrays(
        coarsening.children,
        coarsening.parent,
        getattr(coarsening, "interpolation", None),
        getattr(coarsening, "kept", None),
    )
    fine = getattr(coarsening, "fine", None)
    if fine is not None and getattr(fine, "n_vertices", maps.n_fine) != maps.n_fine:
        raise ValueError(
            f"coarsening.parent has {maps.n_fine} entries but coarsening.fine has {fine.n_vertices} vertices."
        )
    return maps


def healpix_maps(
    nside: int, indices: Any = None, levels: int = 1
) -> tuple[PoolingMaps, NDArray[np.int64] | None]:
    """Maps of HEALPix NESTED pooling by groups of ``4**levels`` pixels.

    Parameters
    ----------
    nside : int
        Fine resolution (a power of two divisible by ``2**levels``).
    indices : array_like of int, shape (V,), optional
        Sorted NESTED pixel ids of a partial-sky subset; None for the full sphere.
        The subset must hold all ``4**levels`` children of every coarse pixel it touches.
    levels : int
        Number of coarsenings done at once (``nside -> nside // 2**levels``).

    Returns
    -------
    maps : PoolingMaps
    coarse_indices : ndarray of int64, shape (V_coarse,), or None
        Coarse NESTED pixel ids of the subset (None for the full sphere).
    """
    nside, levels = int(nside), int(levels)
    if levels < 1:
        raise ValueError(f"levels must be >= 1; got {levels}.")
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"HEALPix NESTED nside must be a power of two; got nside={nside}.")
    if nside < 2**levels:
        raise ValueError(
            f"cannot coarsen nside={nside} by {levels} level(s) (needs nside >= {2**levels}); use fewer levels."
        )
    g = 4**levels
    n_pix = 12 * nside**2
    if indices is None:
        n_fine, coarse_indices = n_pix, None
        parent = np.arange(n_fine, dtype=np.int64) // g
    else:
        pix = np.asarray(indices, dtype=np.int64)
        if pix.ndim != 1 or pix.size == 0:
            raise ValueError(
                f"indices must be a non-empty 1-D array of pixel ids; got shape {pix.shape}."
            )
        if pix.min() < 0 or pix.max() >= n_pix:
            raise ValueError(
                f"indices must lie in [0, {n_pix}) for nside={nside}; got [{pix.min()}, {pix.max()}]."
            )
        if np.any(np.diff(pix) <= 0):
            raise ValueError(
                "indices must be sorted ascending without duplicates (np.unique(indices))."
            )
        coarse_indices, parent, counts = np.unique(
            pix // g, return_inverse=True, return_counts=True
        )
        if np.any(counts != g):
            import sphere_graphs

            # sphere-graphs' one partial-sky rule and message (names healpix_closure)
            sphere_graphs.require_closed(sphere_graphs.healpix(nside, indices=pix), levels)
        n_fine = int(pix.size)
        parent = parent.astype(np.int64).ravel()
    children = np.arange(n_fine, dtype=np.int64).reshape(-1, g)
    return PoolingMaps.from_arrays(children, parent), coarse_indices


def equiangular_maps(nlat: int, nlon: int, levels: int = 1) -> PoolingMaps:
    """Maps of ``2**levels x 2**levels`` block pooling on a row-major ``(nlat, nlon)`` grid.

    Parameters
    ----------
    nlat, nlon : int
        Fine grid size; both must be divisible by ``2**levels``.
    levels : int
        Number of 2x2 coarsenings done at once.

    Returns
    -------
    PoolingMaps
        ``children`` of coarse ``(I, J)`` (vertex ``I * nlon_c + J``) is its block.
    """
    f = _check_grid(nlat, nlon, levels)
    nlat_c, nlon_c = nlat // f, nlon // f
    i = np.arange(nlat)[:, None]
    j = np.arange(nlon)[None, :]
    parent = ((i // f) * nlon_c + j // f).ravel().astype(np.int64)
    fine = (i * nlon + j).reshape(nlat_c, f, nlon_c, f).transpose(0, 2, 1, 3)
    children = fine.reshape(nlat_c * nlon_c, f * f).astype(np.int64)
    return PoolingMaps.from_arrays(children, parent)


def _check_grid(nlat: int, nlon: int, levels: int) -> int:
    nlat, nlon, levels = int(nlat), int(nlon), int(levels)
    if levels < 1:
        raise ValueError(f"levels must be >= 1; got {levels}.")
    f = 2**levels
    if nlat % f or nlon % f or nlat < f or nlon < f:
        raise ValueError(
            f"equiangular pooling by {f}x{f} blocks needs nlat and nlon divisible by {f}; got "
            f"nlat={nlat}, nlon={nlon}. Use an even grid (e.g. equiangular({max(f, nlat - nlat % f)}, "
            f"{max(f, nlon - nlon % f)})) or fewer levels."
        )
    return f


def icosahedral_maps(faces: Any, n_coarse: int) -> PoolingMaps:
    """Maps of icosahedral decimation ``l -> l-1`` built from the fine mesh's faces.

    Coarse vertices are the first ``n_coarse`` fine vertices (``kept = arange``).
    Children of a coarse vertex: itself and its fine-mesh neighbours (the midpoints
    of its incident edges). A new (midpoint) vertex has the smaller of its two coarse
    neighbours as parent and interpolates 0.5 / 0.5 from both.

    Parameters
    ----------
    faces : array_like of int, shape (F, 3)
        Triangles of the fine mesh.
    n_coarse : int
        ``V_coarse = 10 * 4**(level - 1) + 2``.

    Returns
    -------
    PoolingMaps
    """
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.size == 0:
        raise ValueError(f"faces must have shape (F, 3); got {faces.shape}.")
    n_fine = int(faces.max()) + 1
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    codes = np.unique(edges.min(axis=1) * n_fine + edges.max(axis=1))
    a, b = codes // n_fine, codes % n_fine  # a < b
    if np.any(b < n_coarse):
        raise ValueError(
            "faces do not come from a subdivision: two coarse vertices share a fine edge."
        )
    # children: coarse vertex + incident midpoints
    spoke = a < n_coarse
    ca, mb = a[spoke], b[spoke]
    order = np.argsort(ca, kind="stable")
    ca, mb = ca[order], mb[order]
    deg = np.bincount(ca, minlength=n_coarse)
    children = np.full((n_coarse, int(deg.max()) + 1), -1, dtype=np.int64)
    children[:, 0] = np.arange(n_coarse)
    pos = np.arange(ca.size) - np.repeat(np.cumsum(deg) - deg, deg)
    children[ca, pos + 1] = mb
    # parents of midpoints: their two coarse neighbours
    ends = np.full((n_fine, 2), -1, dtype=np.int64)
    by_mid = np.argsort(mb, kind="stable")
    mids, cs = mb[by_mid], ca[by_mid]
    if np.any(np.bincount(mids, minlength=n_fine)[n_coarse:] != 2):
        raise ValueError(
            "faces do not come from a subdivision: a new vertex lacks exactly two coarse neighbours."
        )
    ends[mids[0::2], 0] = cs[0::2]
    ends[mids[1::2], 1] = cs[1::2]
    ends[:n_coarse] = np.arange(n_coarse)[:, None]
    parent = ends[:, 0].copy()
    weight = np.full((n_fine, 2), 0.5)
    weight[:n_coarse] = [1.0, 0.0]
    import scipy.sparse as sp

    interp = sp.csr_matrix(
        (weight.ravel(), (np.repeat(np.arange(n_fine), 2), ends.ravel())), shape=(n_fine, n_coarse)
    )
    return PoolingMaps.from_arrays(children, parent, interp, np.arange(n_coarse))
