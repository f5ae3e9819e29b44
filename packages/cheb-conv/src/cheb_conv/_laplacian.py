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

__all__ = ["as_operator", "estimate_lmax", "from_edge_index", "laplacian", "rescale"]

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


def _to_torch_coo(obj: Any, name: str = "operator") -> torch.Tensor:
    """Any accepted operator type -> coalesced torch sparse COO (a new tensor)."""
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
        values = torch.from_numpy(np.ascontiguousarray(coo.data))
        return torch.sparse_coo_tensor(
            indices, values, coo.shape, check_invariants=False
        ).coalesce()
    raise TypeError(
        f"{name} must be a torch sparse tensor (COO or CSR) or a scipy.sparse matrix, "
        f"got {type(obj).__name__}"
    )


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
) -> torch.Tensor:
    """Convert an operator once to the format :func:`cheb_conv` works with.

    Parameters
    ----------
    operator : torch sparse tensor (COO, CSR, CSC), dense 2-D tensor or scipy.sparse matrix
        Square matrix of shape ``(V, V)``. Duplicate entries are summed.
    dtype : torch.dtype, optional
        Floating dtype of the result (default: the operator's own, float64 and
        float32 kept, anything else becomes the default dtype).
    device : torch.device or str, optional
        Device of the result (default: the operator's own, CPU for scipy).

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
        _check_square(operator)
        return operator
    coo = _to_torch_coo(operator)
    _check_square(coo)
    if dtype is None:
        dtype = coo.dtype if coo.dtype.is_floating_point else torch.get_default_dtype()
    elif not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    coo = coo.to(dtype=dtype, device=device)
    return coo.to_sparse_csr()


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


def laplacian(adjacency: Any, kind: str = "combinatorial") -> torch.Tensor:
    """Graph Laplacian of a weighted adjacency matrix.

    Parameters
    ----------
    adjacency : torch sparse tensor or scipy.sparse matrix
        Symmetric non-negative ``(V, V)`` weights.
    kind : {"combinatorial", "normalized"}
        ``L = D - W`` or ``L = I - D^{-1/2} W D^{-1/2}`` (isolated vertices get
        ``D^{-1/2} = 0``).

    Returns
    -------
    torch.Tensor
        Sparse CSR ``(V, V)`` in the adjacency's floating dtype and device.
    """
    if kind not in ("combinatorial", "normalized"):
        raise ValueError(f"kind must be 'combinatorial' or 'normalized', got {kind!r}")
    w = _to_torch_coo(adjacency, "adjacency")
    _check_square(w, "adjacency")
    if not w.dtype.is_floating_point:
        w = w.to(torch.get_default_dtype())
    n = w.shape[0]
    idx, val = w.indices(), w.values()
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


def rescale(L: Any, lmax: float | None = None) -> torch.Tensor:
    """Rescale a Laplacian for the Chebyshev recursion: ``L~ = 2 L / lmax - I``.

    Parameters
    ----------
    L : torch sparse tensor or scipy.sparse matrix, ``(V, V)``
    lmax : float, optional
        Largest eigenvalue (or an upper bound). Estimated once with
        :func:`estimate_lmax` when omitted (2 is exact-enough for a normalized
        Laplacian and avoids the estimate).

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
    if not coo.dtype.is_floating_point:
        coo = coo.to(torch.get_default_dtype())
    n = coo.shape[0]
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
            out.indices()[:, keep], out.values()[keep], (n, n), is_coalesced=True, check_invariants=False
        )
    return out.to_sparse_csr()
