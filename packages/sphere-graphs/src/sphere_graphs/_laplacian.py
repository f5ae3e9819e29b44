"""Graph Laplacians of sparse adjacency matrices and their spectral rescaling."""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "LAPLACIAN_KINDS",
    "estimate_lmax",
    "laplacian",
    "laplacian_bound",
    "rescale_laplacian",
    "rescaled_laplacian",
]

#: The Laplacian kinds understood by :func:`laplacian`.
LAPLACIAN_KINDS = ("combinatorial", "normalized")


def _check_kind(kind: str) -> str:
    if kind not in LAPLACIAN_KINDS:
        raise ValueError(
            f"unknown Laplacian kind {kind!r}; use one of {', '.join(map(repr, LAPLACIAN_KINDS))}."
        )
    return kind


def _as_square_csr(matrix: sp.spmatrix | ArrayLike, name: str) -> sp.csr_matrix:
    if sp.issparse(matrix):
        given = cast(sp.spmatrix, matrix)
    else:
        given = np.asarray(matrix)
        if given.dtype == object:
            raise TypeError(f"{name} must be a scipy.sparse matrix or a numeric array.")
    if given.ndim != 2 or given.shape[0] != given.shape[1]:
        raise ValueError(f"{name} must be a square (V, V) matrix; got shape {given.shape}.")
    out = sp.csr_matrix(given)
    if out.dtype != np.float64:
        out = out.astype(np.float64)
    if not np.all(np.isfinite(out.data)):
        raise ValueError(f"{name} contains NaN or infinite values; pass finite weights.")
    return out


def _check_symmetric(adjacency: sp.csr_matrix, rtol: float = 1e-10) -> None:
    diff = adjacency - adjacency.T
    if diff.nnz and np.max(np.abs(diff.data)) > rtol * max(
        1.0, float(np.max(np.abs(adjacency.data)))
    ):
        raise ValueError("adjacency is not symmetric; symmetrise it first, e.g. (W + W.T) / 2.")


def _degree(adjacency: sp.csr_matrix) -> np.ndarray:
    return np.asarray(adjacency.sum(axis=1)).ravel()


def _minus_with_diagonal(
    adjacency: sp.csr_matrix, diagonal: np.ndarray, scale: np.ndarray | None
) -> sp.csr_matrix:
    """``diag(diagonal) - S W S`` (``S = diag(scale)`` or I) for a CSR ``W`` without stored diagonal."""
    if scale is not None:
        data = adjacency.data * scale[adjacency.indices]
        data *= np.repeat(scale, np.diff(adjacency.indptr))
        adjacency = sp.csr_matrix(
            (data, adjacency.indices, adjacency.indptr), shape=adjacency.shape
        )
    # scipy's CSR binary operation is a single C++ merge pass (canonical output when W is).
    out = sp.diags(diagonal, format="csr", dtype=np.float64) - adjacency
    return sp.csr_matrix(out)


def laplacian(
    adjacency: sp.spmatrix | ArrayLike, kind: str = "combinatorial", *, check_symmetric: bool = True
) -> sp.csr_matrix:
    """Laplacian of a weighted undirected graph.

    Parameters
    ----------
    adjacency : scipy.sparse matrix or array_like, shape (V, V)
        Symmetric non-negative weights ``W``; the diagonal (self loops) is ignored.
    kind : {"combinatorial", "normalized"}
        ``"combinatorial"``: ``L = D - W`` with ``D = diag(W 1)``.
        ``"normalized"``: ``L = I - D^-1/2 W D^-1/2``; isolated vertices (degree 0)
        get a zero row and column (their ``D^-1/2`` is taken as 0, so ``L_ii = 0``).
    check_symmetric : bool
        Verify that ``W`` is symmetric (cost: one sparse transpose).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), float64
        A new matrix; the input is never modified.

    Raises
    ------
    ValueError
        Unknown ``kind``, non-square, non-symmetric or non-finite ``adjacency``;
        negative weights with ``kind="normalized"``.
    """
    _check_kind(kind)
    w = _as_square_csr(adjacency, "adjacency")
    if kind == "normalized" and w.nnz and w.data.min() < 0:
        raise ValueError(
            "the normalized Laplacian needs non-negative weights (D^-1/2 of a negative degree is "
            f"undefined); adjacency has {int(np.count_nonzero(w.data < 0))} negative weight(s). "
            "Use kind='combinatorial' or fix the weights."
        )
    if w.diagonal().any():  # self loops: drop them (stored zeros on the diagonal are harmless)
        w = w.tocoo()
        keep = w.row != w.col
        w = sp.csr_matrix((w.data[keep], (w.row[keep], w.col[keep])), shape=w.shape)
    if check_symmetric:
        _check_symmetric(w)
    degree = _degree(w)
    if kind == "combinatorial":
        return _minus_with_diagonal(w, degree, None)
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
    return _minus_with_diagonal(w, (degree > 0).astype(np.float64), inv_sqrt)


def estimate_lmax(
    L: sp.spmatrix | ArrayLike, *, tol: float = 1e-3, normalized_bound: bool = False
) -> float:
    """Upper estimate of the largest eigenvalue of a symmetric Laplacian.

    Uses ``scipy.sparse.linalg.eigsh`` (largest algebraic, relative tolerance
    ``tol``) and returns the estimate inflated by ``(1 + 2 tol)`` so that it is
    never below the true value by more than the solver's tolerance, in practice
    slightly above it. If ARPACK does not converge, falls back to the
    Gershgorin bound ``max_i (|L_ii| + sum_j |L_ij|)``, which is always ``>= lmax``.

    Parameters
    ----------
    L : scipy.sparse matrix or array_like, shape (V, V)
        Symmetric matrix (typically from :func:`laplacian`).
    tol : float
        Relative tolerance of the eigensolver (default 1e-3).
    normalized_bound : bool
        Skip the eigensolver and return 2.0, the upper bound of the spectrum of a
        normalized Laplacian (valid only for ``kind="normalized"``).

    Returns
    -------
    float
        ``lmax_est`` with ``lmax_est >= lmax * (1 - tol)``.
    """
    if normalized_bound:
        return 2.0
    L = _as_square_csr(L, "L")
    n = L.shape[0]
    if n == 0:
        raise ValueError("L is empty; pass a (V, V) matrix with V >= 1.")
    abs_rows = np.asarray(abs(L).sum(axis=1)).ravel()
    gershgorin = float(np.max(abs_rows)) if n else 0.0
    if L.nnz == 0 or gershgorin == 0.0:
        return 0.0
    if n < 64:
        return float(np.linalg.eigvalsh(L.toarray())[-1]) * (1 + 2 * tol) + 1e-12
    try:
        rng = np.random.default_rng(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lam = spla.eigsh(
                L,
                k=1,
                which="LA",
                tol=tol,
                return_eigenvectors=False,
                v0=rng.standard_normal(n),
                ncv=min(n, 32),
                maxiter=max(1000, n),
            )[0]
        est = float(lam) * (1 + 2 * tol)
        return min(est, gershgorin)
    except (spla.ArpackNoConvergence, spla.ArpackError):
        return gershgorin


def rescale_laplacian(L: sp.spmatrix | ArrayLike, lmax: float | None = None) -> sp.csr_matrix:
    """Rescale a Laplacian so that its spectrum lies in ``[-1, 1]``: ``2 L / lmax - I``.

    Parameters
    ----------
    L : scipy.sparse matrix or array_like, shape (V, V)
        Symmetric positive semi-definite matrix; never modified.
    lmax : float, optional
        Largest eigenvalue (or an upper bound); estimated with :func:`estimate_lmax`
        when None.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V), float64
        A new matrix.
    """
    L = _as_square_csr(L, "L")
    if lmax is None:
        lmax = estimate_lmax(L)
    lmax = float(lmax)
    if not np.isfinite(lmax) or lmax <= 0:
        raise ValueError(f"lmax must be a positive finite number; got {lmax}.")
    out = (L * (2.0 / lmax)).tocsr() - sp.identity(L.shape[0], format="csr", dtype=np.float64)
    return sp.csr_matrix(out)


def laplacian_bound(adjacency: sp.spmatrix | ArrayLike, kind: str = "combinatorial") -> float:
    """Cheap upper bound of the largest eigenvalue of a graph Laplacian (no eigensolver).

    Parameters
    ----------
    adjacency : scipy.sparse matrix, shape (V, V)
        Symmetric non-negative weights ``W`` (no self loops).
    kind : {"combinatorial", "normalized"}

    Returns
    -------
    float
        ``"normalized"``: 2 (the spectrum of ``I - D^-1/2 W D^-1/2`` lies in
        [0, 2]). ``"combinatorial"``: the Gershgorin bound ``2 max_i d_i``
        (row ``i`` of ``D - W`` has diagonal ``d_i`` and off-diagonal absolute sum
        ``d_i``); about 30 % above the true ``lmax`` on HEALPix k-NN graphs.
        At least a tiny positive number, so that it can divide.
    """
    _check_kind(kind)
    if kind == "normalized":
        return 2.0
    w = _as_square_csr(adjacency, "adjacency")
    return _gershgorin(_degree(w), w.nnz)


def _gershgorin(degree: np.ndarray, nnz: int) -> float:
    """``2 max_i d_i``; 1.0 for an empty graph (L = 0: any positive bound rescales it to -I)."""
    top = float(degree.max()) if nnz and degree.size else 0.0
    return 2.0 * top if top > 0 else 1.0


def rescaled_laplacian(
    adjacency: sp.spmatrix | ArrayLike,
    kind: str = "combinatorial",
    lmax: float | None = None,
    *,
    dtype: DTypeLike = np.float64,
) -> sp.csr_matrix:
    """``2 L / lmax - I`` straight from the adjacency, in one pass.

    Parameters
    ----------
    adjacency : scipy.sparse matrix, shape (V, V)
        Symmetric non-negative weights ``W``, no stored diagonal (a
        :class:`SphereGraph` adjacency); symmetry is not re-checked.
    kind : {"combinatorial", "normalized"}
    lmax : float, optional
        Upper bound of the spectrum of ``L``; default :func:`laplacian_bound`.
    dtype : numpy dtype
        Of the result (float64 or float32).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (V, V)
        Canonical (sorted, no duplicates), exactly symmetric when ``W`` is
        (off-diagonal entries ``-2 w_ij s_i s_j / lmax`` use the commutative
        product ``s_i s_j``); equals ``rescale_laplacian(laplacian(W, kind), lmax)``.
    """
    _check_kind(kind)
    w = _as_square_csr(adjacency, "adjacency")
    if w.nnz and w.data.min() < 0:
        raise ValueError(
            f"adjacency has {int(np.count_nonzero(w.data < 0))} negative weight(s); graph "
            "Laplacians here need non-negative weights."
        )
    return _rescaled(w, kind, lmax, dtype)[0]


def _rescaled(
    w: sp.csr_matrix, kind: str, lmax: float | None, dtype: DTypeLike
) -> tuple[sp.csr_matrix, float]:
    """:func:`rescaled_laplacian` of an already validated ``W`` (CSR float64, finite,
    non-negative, no stored diagonal, e.g. a graph this package built), and its ``lmax``."""
    degree = _degree(w)
    if lmax is None:
        lmax = 2.0 if kind == "normalized" else _gershgorin(degree, w.nnz)
    lmax = float(lmax)
    if not np.isfinite(lmax) or lmax <= 0:
        raise ValueError(f"lmax must be a positive finite number; got {lmax}.")
    dtype = np.dtype(dtype)
    c = 2.0 / lmax
    diagonal: NDArray[np.floating[Any]]
    if kind == "combinatorial":
        data = np.multiply(w.data, c, dtype=dtype, casting="same_kind")
        diagonal = degree * c - 1.0
    else:
        with np.errstate(divide="ignore"):
            s = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
        s_rows = np.repeat(s, np.diff(w.indptr))
        s_rows *= s[w.indices]  # s_i s_j: one commutative product, symmetric bit for bit
        s_rows *= w.data
        data = np.multiply(s_rows, c, dtype=dtype, casting="same_kind")
        del s_rows
        diagonal = (degree > 0) * c - 1.0
    off = sp.csr_matrix((data, w.indices, w.indptr), shape=w.shape)
    out = sp.csr_matrix(sp.diags(diagonal.astype(dtype), format="csr", dtype=dtype) - off)
    out.sort_indices()
    return out.astype(dtype, copy=False), lmax
