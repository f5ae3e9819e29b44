"""Index maps between a fine and a coarse sampling, as plain numpy arrays.

A :class:`PoolingMaps` is the torch-free description of one coarsening step that
every layer of this package consumes. Every map comes from a
:class:`sphere_graphs.Coarsening` (:func:`maps_from_coarsening`; one home for
coarsenings): this module validates and re-packs them, it builds none of its own.
:func:`coarsening_steps` is the one place the layers ask sphere-graphs for the
``levels`` steps below a sampling.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._checks import describe

if TYPE_CHECKING:
    from sphere_graphs import Coarsening, Sampling

__all__ = ["PoolingMaps", "coarsening_steps", "maps_from_coarsening"]


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
        group = None
        if k * n_coarse == n_fine and np.array_equal(children.ravel(), np.arange(n_fine)):
            group = k
        # no fine vertex in two groups; a bincount is linear (np.unique sorted or hashed
        # millions of indices and dominated building a model at nside 512)
        valid = children[children >= 0]
        disjoint = group is not None or bool(np.bincount(valid, minlength=n_fine).max() <= 1)
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


def maps_from_coarsening(coarsening: Coarsening) -> PoolingMaps:
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


def coarsening_steps(sampling: Sampling, levels: int) -> list[Coarsening]:
    """The ``levels`` coarsenings below ``sampling``, finest first, from sphere-graphs.

    ``sphere_graphs.hierarchy(sampling, levels)``, with the error naming ``levels`` and,
    when there are too many, the cause reported by ``sphere_graphs.coarsen`` at the
    step that fails (RING order, odd grid, coarsest level reached, point cloud).

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        The fine sampling.
    levels : int
        Number of coarsenings, ``1 <= levels <= sphere_graphs.max_depth(sampling)``.

    Returns
    -------
    list of sphere_graphs.Coarsening, length ``levels``
    """
    import sphere_graphs

    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1:
        raise ValueError(f"levels must be an integer >= 1; got {levels!r}.")
    levels = int(levels)
    limit = sphere_graphs.max_depth(sampling)
    if levels <= limit:
        return sphere_graphs.hierarchy(sampling, levels)
    current = sampling
    for step in range(1, levels + 1):
        try:
            current = sphere_graphs.coarsen(current).coarse
        except ValueError as err:
            raise ValueError(
                f"levels={levels} is too many for {describe(sampling)}: at most {limit} "
                f"coarsening(s) are possible; coarsening {step} fails: {err}"
            ) from None
    return sphere_graphs.hierarchy(sampling, levels)  # raises its own "too large" message
