"""Operators: conversion to torch sparse CSR, graph Laplacians and rescaling.

Every function here returns a *new* tensor and never modifies its inputs.
scipy is never imported: scipy sparse matrices are recognised by duck typing
(``tocoo``) and converted through numpy.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch

__all__ = [
    "as_operator",
    "estimate_lmax",
    "from_edge_index",
    "is_symmetric",
    "laplacian",
    "rescale",
]

_SPARSE_LAYOUTS = (
    torch.sparse_coo,
    torch.sparse_csr,
    torch.sparse_csc,
    torch.sparse_bsr,
    torch.sparse_bsc,
)


def _is_scipy_sparse(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("scipy.sparse") and hasattr(obj, "tocoo")


def _is_numpy_array(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("numpy") and hasattr(obj, "__array__")


def _to_torch_coo(obj: Any, name: str = "operator") -> torch.Tensor:
    """Any accepted operator type -> coalesced torch sparse COO (a new tensor)."""
    if _is_numpy_array(obj):
        import numpy as np  # only reached with numpy input

        arr = np.array(obj, copy=True)  # writable copy: torch.from_numpy warns otherwise
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        obj = torch.from_numpy(arr)
    if isinstance(obj, torch.Tensor):
        if obj.layout == torch.sparse_coo:
            return obj.coalesce() if not obj.is_coalesced() else obj
        if obj.layout in _SPARSE_LAYOUTS:
            return obj.to_sparse_coo().coalesce()
        if obj.layout == torch.strided:
            if obj.dim() != 2:
                raise ValueError(f"{name} must be a 2-D matrix, got shape {tuple(obj.shape)}")
            return obj.to_sparse_coo().coalesce()
        raise TypeError(f"{name}: unsupported tensor layout {obj.layout}")
    if _is_scipy_sparse(obj):
        import numpy as np  # only reached when scipy (hence numpy) is installed

        coo = obj.tocoo()
        indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        values = torch.from_numpy(np.array(coo.data, copy=True))
        return torch.sparse_coo_tensor(
            indices, values, coo.shape, check_invariants=False
        ).coalesce()
    raise TypeError(
        f"{name} must be a torch sparse tensor (COO or CSR), a dense torch/numpy matrix "
        f"or a scipy.sparse matrix, got {type(obj).__name__}"
    )


def is_symmetric(operator: Any, rtol: float | None = None) -> bool:
    """Whether a square operator equals its transpose (same pattern, values within ``rtol``).

    Parameters
    ----------
    operator : torch sparse/dense tensor, numpy array or scipy.sparse matrix, ``(V, V)``
    rtol : float, optional
        Tolerance relative to the largest absolute value (default ``8 * eps`` of the dtype).

    Returns
    -------
    bool
    """
    coo = _to_torch_coo(operator)
    if coo.dim() != 2 or coo.shape[0] != coo.shape[1]:
        return False
    t = coo.t().coalesce()
    if not torch.equal(coo.indices(), t.indices()):
        # explicit zeros may differ in pattern: compare the nonzero parts
        nz, tz = coo.values() != 0, t.values() != 0
        if not torch.equal(coo.indices()[:, nz], t.indices()[:, tz]):
            return False
        va, vt = coo.values()[nz], t.values()[tz]
    else:
        va, vt = coo.values(), t.values()
    if not va.numel():
        return True
    dtype = va.dtype if va.dtype.is_floating_point else torch.float64
    tol = 8 * torch.finfo(dtype).eps if rtol is None else rtol
    scale = va.abs().max()
    return bool(((va - vt).abs() <= tol * scale).all())


def _check_finite(values: torch.Tensor, name: str) -> None:
    # min and max propagate NaN and show +-inf: one pass without a boolean temporary
    if (
        values.dtype.is_floating_point
        and values.numel()
        and not bool(torch.isfinite(torch.stack(torch.aminmax(values))).all())
    ):
        raise ValueError(f"{name} contains NaN or infinite values; clean the weights first")


def _check_square(op: torch.Tensor, name: str = "operator") -> None:
    if op.dim() != 2:
        raise ValueError(f"{name} must be a 2-D (V, V) matrix, got shape {tuple(op.shape)}")
    if op.shape[0] != op.shape[1]:
        raise ValueError(
            f"{name} must be square (V, V), got shape {tuple(op.shape)}; "
            "pass the (rescaled) Laplacian of the graph, not an incidence or resampling matrix"
        )


def as_operator(
    operator: Any,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    *,
    square: bool = True,
) -> torch.Tensor:
    """Convert an operator once to the format :func:`cheb_conv` works with.

    Parameters
    ----------
    operator : torch sparse tensor (COO, CSR, CSC), dense 2-D tensor, numpy array or scipy.sparse matrix
        Square matrix of shape ``(V, V)`` (any ``(M, N)`` with ``square=False``).
        Duplicate entries are summed; NaN/inf values are refused.
    dtype : torch.dtype, optional
        Floating dtype of the result (default: the operator's own, float64 and
        float32 kept, anything else becomes the default dtype).
    device : torch.device or str, optional
        Device of the result (default: the operator's own, CPU for scipy).
    square : bool
        Require a square matrix (default).

    Returns
    -------
    torch.Tensor
        Sparse CSR tensor ``(V, V)`` with sorted column indices, int64 indices.
        The input is never modified.
    """
    if (
        isinstance(operator, torch.Tensor)
        and operator.layout == torch.sparse_csr
        and (dtype is None or operator.dtype == dtype)
        and (device is None or operator.device == torch.device(device))
        and operator.crow_indices().dtype == torch.int64
    ):
        if square:
            _check_square(operator)
        _check_finite(operator.values(), "operator")
        return operator
    if _is_scipy_sparse(operator):
        # scipy's canonical CSR is torch's CSR: no COO round trip (whose coalesce
        # dominated building a large model)
        mat = _scipy_to_torch_csr(operator)
    else:
        mat = _to_torch_coo(operator)
    if square:
        _check_square(mat)
    _check_finite(mat.values(), "operator")
    if dtype is None:
        dtype = mat.dtype if mat.dtype.is_floating_point else torch.get_default_dtype()
    elif not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    mat = mat.to(dtype=dtype, device=device)
    return mat if mat.layout == torch.sparse_csr else mat.to_sparse_csr()


def _scipy_to_torch_csr(obj: Any) -> torch.Tensor:
    """scipy.sparse matrix -> torch sparse CSR (duplicates summed, sorted columns, a copy)."""
    import numpy as np  # only reached when scipy (hence numpy) is installed

    if obj.format == "csr" and obj.has_canonical_format:
        csr = obj  # already sorted without duplicates: only the arrays below are copied
    else:
        csr = obj.tocsr(copy=True)
        csr.sum_duplicates()  # canonical format: sorted column indices, no duplicates
    crow = torch.from_numpy(csr.indptr.astype(np.int64, copy=True))
    col = torch.from_numpy(csr.indices.astype(np.int64, copy=True))
    values = torch.from_numpy(np.array(csr.data, copy=True))
    return torch.sparse_csr_tensor(crow, col, values, csr.shape, check_invariants=False)


def from_edge_index(
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None = None,
    num_nodes: int | None = None,
) -> torch.Tensor:
    """Weighted adjacency matrix from an edge list (PyTorch Geometric convention).

    Parameters
    ----------
    edge_index : torch.Tensor
        Integer tensor ``(2, E)``; edge ``e`` goes from ``edge_index[0, e]`` to
        ``edge_index[1, e]`` and becomes entry ``A[src, dst]``. For an undirected
        graph list both directions (as PyG does).
    edge_weight : torch.Tensor, optional
        ``(E,)`` weights (default: ones, float32). Duplicate edges are summed.
    num_nodes : int, optional
        ``V`` (default: ``edge_index.max() + 1``).

    Returns
    -------
    torch.Tensor
        Sparse CSR adjacency ``(V, V)``.
    """
    if not isinstance(edge_index, torch.Tensor):
        edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise TypeError(f"edge_index must be an integer tensor, got {edge_index.dtype}")
    edge_index = edge_index.long()
    n_edges = edge_index.shape[1]
    if edge_weight is None:
        edge_weight = torch.ones(n_edges, dtype=torch.get_default_dtype(), device=edge_index.device)
    else:
        edge_weight = torch.as_tensor(edge_weight, device=edge_index.device)
        if edge_weight.shape != (n_edges,):
            raise ValueError(
                f"edge_weight must have shape (E,) = ({n_edges},), got {tuple(edge_weight.shape)}"
            )
        if not edge_weight.dtype.is_floating_point:
            edge_weight = edge_weight.to(torch.get_default_dtype())
    if n_edges and int(edge_index.min()) < 0:
        raise ValueError("edge_index contains negative node indices")
    max_node = int(edge_index.max()) + 1 if n_edges else 0
    if num_nodes is None:
        num_nodes = max_node
    elif num_nodes < max_node:
        raise ValueError(
            f"num_nodes={num_nodes} but edge_index refers to node {max_node - 1}; "
            "increase num_nodes or drop the edges"
        )
    adj = torch.sparse_coo_tensor(
        edge_index, edge_weight, (num_nodes, num_nodes), check_invariants=False
    )
    return adj.coalesce().to_sparse_csr()


def laplacian(
    adjacency: Any, kind: str = "combinatorial", *, directed: bool = False
) -> torch.Tensor:
    """Graph Laplacian of a weighted adjacency matrix.

    Parameters
    ----------
    adjacency : torch sparse/dense tensor, numpy array or scipy.sparse matrix
        Symmetric non-negative finite ``(V, V)`` weights.
    kind : {"combinatorial", "normalized"}
        ``L = D - W`` or ``L = I - D^{-1/2} W D^{-1/2}`` (isolated vertices get
        ``D^{-1/2} = 0``).
    directed : bool
        Accept a non-symmetric adjacency (out-degrees ``D_ii = sum_j W_ij``; the
        result is not symmetric and its spectrum need not be real). By default a
        non-symmetric adjacency is refused: it is almost always an edge list given
        in one direction only.

    Returns
    -------
    torch.Tensor
        Sparse CSR ``(V, V)`` in the adjacency's floating dtype and device.

    Raises
    ------
    ValueError
        Unknown ``kind``, non-square, NaN/inf or negative weights, or a
        non-symmetric adjacency without ``directed=True``.
    """
    if kind not in ("combinatorial", "normalized"):
        raise ValueError(f"kind must be 'combinatorial' or 'normalized', got {kind!r}")
    w = _to_torch_coo(adjacency, "adjacency")
    _check_square(w, "adjacency")
    if not w.dtype.is_floating_point:
        w = w.to(torch.get_default_dtype())
    n = w.shape[0]
    idx, val = w.indices(), w.values()
    _check_finite(val, "adjacency")
    if val.numel() and bool((val < 0).any()):
        raise ValueError(
            "adjacency has negative weights; Laplacians of this package need non-negative "
            "weights (use e.g. |w| or exp(-d^2/sigma^2) edge weights)"
        )
    if not directed and not is_symmetric(w):
        raise ValueError(
            "adjacency is not symmetric (an edge list given in one direction only?); "
            "symmetrise it, e.g. A = (A + A.T) / 2 or A.maximum(A.T) with scipy, or list both "
            "directions in from_edge_index(torch.cat([ei, ei.flip(0)], 1), ...); "
            "pass directed=True to build the Laplacian of a directed graph on purpose"
        )
    degree = torch.zeros(n, dtype=val.dtype, device=val.device).index_add_(0, idx[0], val)
    diag = torch.arange(n, device=val.device)
    if kind == "combinatorial":
        ind = torch.cat([idx, torch.stack([diag, diag])], dim=1)
        values = torch.cat([-val, degree])
    else:
        dinv = torch.where(
            degree > 0,
            degree.clamp_min(1e-300 if val.dtype == torch.float64 else 1e-30).rsqrt(),
            torch.zeros_like(degree),
        )
        ind = torch.cat([idx, torch.stack([diag, diag])], dim=1)
        values = torch.cat([-(dinv[idx[0]] * val * dinv[idx[1]]), (degree > 0).to(val.dtype)])
    lap = torch.sparse_coo_tensor(ind, values, (n, n), check_invariants=False).coalesce()
    return lap.to_sparse_csr()


# lmax estimates, cached per operator object (never recomputed for the same tensor)
_LMAX_CACHE: dict[tuple[int, int], float] = {}


def estimate_lmax(L: Any, *, max_iter: int = 500, tol: float = 1e-5, margin: float = 1.01) -> float:
    """Estimate the largest eigenvalue of a symmetric positive semi-definite Laplacian.

    Power iteration in float64 with a fixed seed, then a ``margin`` (default +1 %)
    so that the rescaled spectrum lies in ``[-1, 1]``; capped by the Gershgorin
    bound ``max_i sum_j |L_ij|``. The result is cached for a given torch tensor
    (by identity and version), so calling it again is free.

    Parameters
    ----------
    L : torch sparse tensor or scipy.sparse matrix, ``(V, V)``

    Returns
    -------
    float
    """
    key = None
    if isinstance(L, torch.Tensor):
        key = (id(L), L._version)
        if key in _LMAX_CACHE:
            return _LMAX_CACHE[key]
    op = as_operator(L, dtype=torch.float64)
    n = op.shape[0]
    if n == 0:
        raise ValueError("cannot estimate lmax of an empty (0 x 0) operator")
    coo = op.to_sparse_coo().coalesce()
    bound = float(
        torch.zeros(n, dtype=torch.float64, device=op.device)
        .index_add_(0, coo.indices()[0], coo.values().abs())
        .max()
    )
    gen = torch.Generator(device="cpu").manual_seed(0)
    v = torch.rand(n, 1, dtype=torch.float64, generator=gen).to(op.device) + 0.5
    v /= v.norm()
    lam = 0.0
    for _ in range(max_iter):
        w = op @ v
        new = float((v * w).sum())
        norm = w.norm()
        if norm == 0:
            break
        v = w / norm
        if abs(new - lam) <= tol * max(abs(new), 1e-30):
            lam = new
            break
        lam = new
    lmax = min(lam * margin, bound) if lam > 0 else bound
    if lmax <= 0:
        lmax = 1.0
    if key is not None:
        _LMAX_CACHE[key] = lmax
        weakref.finalize(L, _LMAX_CACHE.pop, key, None)
    return lmax


def _lmax_lower_bound(coo: torch.Tensor, n_iter: int = 30) -> float:
    """A certain lower bound of the largest eigenvalue of a symmetric ``L``.

    The largest diagonal entry and Rayleigh quotients (a few power iterations from
    a fixed start) never exceed ``lambda_max``.
    """
    n = coo.shape[0]
    if n == 0:
        return 0.0
    idx, val = coo.indices(), coo.values().to(torch.float64)
    diag = val[idx[0] == idx[1]]
    best = float(diag.max()) if diag.numel() else 0.0
    op = torch.sparse_coo_tensor(idx, val, coo.shape, is_coalesced=True)
    gen = torch.Generator(device="cpu").manual_seed(1)
    v = (torch.rand(n, 1, dtype=torch.float64, generator=gen) - 0.5).to(val.device)
    for _ in range(n_iter):
        norm = v.norm()
        if norm == 0:
            break
        v = v / norm
        w = op @ v
        best = max(best, float((v * w).sum()))
        v = w
    return best


def rescale(L: Any, lmax: float | None = None) -> torch.Tensor:
    """Rescale a Laplacian for the Chebyshev recursion: ``L~ = 2 L / lmax - I``.

    Parameters
    ----------
    L : torch sparse tensor or scipy.sparse matrix, ``(V, V)``
    lmax : float, optional
        Largest eigenvalue (or an upper bound). Estimated once with
        :func:`estimate_lmax` when omitted (2 is exact-enough for a normalized
        Laplacian and avoids the estimate). A value below a certain lower bound
        of the largest eigenvalue (largest diagonal entry, Rayleigh quotients) is
        refused with a ``ValueError``.

    Returns
    -------
    torch.Tensor
        Sparse CSR ``(V, V)``, same dtype/device as ``L`` (float for scipy input).
    """
    if lmax is None:
        lmax = estimate_lmax(L)
    lmax = float(lmax)
    if not math.isfinite(lmax) or lmax <= 0:
        raise ValueError(f"lmax must be a positive finite number, got {lmax}")
    coo = _to_torch_coo(L, "L")
    _check_square(coo, "L")
    _check_finite(coo.values(), "L")
    if not coo.dtype.is_floating_point:
        coo = coo.to(torch.get_default_dtype())
    n = coo.shape[0]
    low = _lmax_lower_bound(coo)
    if lmax < low * (1 - 1e-6):
        raise ValueError(
            f"lmax={lmax:g} is below the largest eigenvalue of L (at least {low:.6g}): the "
            "rescaled spectrum would leave [-1, 1] and the Chebyshev terms would blow up; "
            "pass lmax=None to estimate it, or an upper bound (2 for a normalized Laplacian)"
        )
    diag = torch.arange(n, device=coo.device)
    ind = torch.cat([coo.indices(), torch.stack([diag, diag])], dim=1)
    values = torch.cat(
        [coo.values() * (2.0 / lmax), -torch.ones(n, dtype=coo.dtype, device=coo.device)]
    )
    out = torch.sparse_coo_tensor(ind, values, (n, n), check_invariants=False).coalesce()
    # a normalized Laplacian with lmax = 2 has an exactly zero diagonal in L~:
    # drop stored zeros so that every sparse product skips them
    keep = out.values() != 0
    if not bool(keep.all()):
        out = torch.sparse_coo_tensor(
            out.indices()[:, keep],
            out.values()[keep],
            (n, n),
            is_coalesced=True,
            check_invariants=False,
        )
    return out.to_sparse_csr()
