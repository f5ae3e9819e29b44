"""``SparseOperator``: the one holder of a sparse operator for every layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._laplacian import as_operator, is_symmetric
from ._sparse import compute_dtype, spmm_rows

__all__ = ["SparseOperator", "ddp_ignore_operators", "sparse_apply"]

_MAX_BLOCK_SIZES = 4  # batch sizes whose block-diagonal expansion is kept


def _itype(nnz: int, n: int) -> torch.dtype:
    # the sparse BLAS works with 32-bit indices: int64 ones would be narrowed on every call
    return torch.int32 if max(nnz, n) < 2**31 - 1 else torch.int64


class SparseOperator(nn.Module):
    """A sparse matrix ``A`` ``(M, N)`` held as non-persistent dense buffers.

    The CSR arrays ``crow``, ``col``, ``val`` (and ``t_crow``, ``t_col``,
    ``t_val`` for the transpose of a non-symmetric operator) are non-persistent
    buffers: they move with ``.to(device)``, stay out of ``state_dict`` (so
    checkpoints load with ``strict=True``), and, being dense tensors, survive
    ``copy.deepcopy``, ``pickle`` and ``torch.save`` / ``torch.load`` of a whole
    model. Give the same instance to any number of layers: ``nn.Module`` stores a
    reference, so 20 layers on one operator hold one copy of it (and
    ``deepcopy`` of the model keeps the sharing). ``.to(dtype)`` is ignored for the
    values (they keep their precision; products run in float32 or float64 as the
    input requires, see :func:`sparse_apply`).

    Under ``DistributedDataParallel`` buffers are broadcast from rank 0 on every
    forward unless ``broadcast_buffers=False``; the operator is the same on every
    rank, so call :func:`ddp_ignore_operators` on the model before wrapping it.

    Parameters
    ----------
    matrix : torch tensor (sparse COO/CSR/CSC or dense), scipy.sparse matrix or numpy array
        ``(M, N)``. Converted once; the input is never modified nor shared.
    symmetric : bool, optional
        Whether ``A == A^T`` (the backward then reuses ``A``). Checked when omitted.

    Attributes
    ----------
    shape : tuple of int
        ``(M, N)``.
    symmetric : bool
    """

    crow: torch.Tensor
    col: torch.Tensor
    val: torch.Tensor
    t_crow: torch.Tensor
    t_col: torch.Tensor
    t_val: torch.Tensor

    def __init__(self, matrix: Any, symmetric: bool | None = None) -> None:
        super().__init__()
        if isinstance(matrix, SparseOperator):
            raise TypeError("matrix is already a SparseOperator: share that instance instead")
        csr = as_operator(matrix, square=False)
        if csr.dtype not in (torch.float32, torch.float64):
            csr = csr.to(torch.float32)
        self.shape = (int(csr.shape[0]), int(csr.shape[1]))
        if symmetric is None:
            symmetric = self.shape[0] == self.shape[1] and is_symmetric(csr)
        self.symmetric = bool(symmetric)
        self._set("", csr)
        if not self.symmetric:  # the CSC arrays of A are the CSR arrays of A^T (O(nnz))
            csc = csr.to_sparse_csc()
            t = torch.sparse_csr_tensor(
                csc.ccol_indices(),
                csc.row_indices(),
                csc.values(),
                (self.shape[1], self.shape[0]),
                check_invariants=False,
            )
            self._set("t_", t)
        self._cache: dict[tuple, Any] = {}

    def _set(self, prefix: str, csr: torch.Tensor) -> None:
        itype = _itype(csr._nnz(), max(csr.shape))
        self.register_buffer(
            prefix + "crow", csr.crow_indices().to(itype).clone(), persistent=False
        )
        self.register_buffer(prefix + "col", csr.col_indices().to(itype).clone(), persistent=False)
        self.register_buffer(prefix + "val", csr.values().clone(), persistent=False)

    # -- pickling / copying: drop the derived caches (rebuilt on demand)
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def _apply(self, fn: Any, recurse: bool = True) -> SparseOperator:
        # follow devices, never a dtype change (the values keep their precision)
        keep = {n: b.dtype for n, b in self._buffers.items() if b is not None}
        super()._apply(fn, recurse)
        for n, dt in keep.items():
            b = self._buffers[n]
            if b is not None and b.dtype != dt:
                self._buffers[n] = b.to(dt)
        self._cache = {}
        return self

    @classmethod
    def from_index(cls, index: torch.Tensor, n_cols: int) -> SparseOperator:
        """The row-selection matrix ``S`` ``(len(index), n_cols)``: ``(S z)[i] = z[index[i]]``.

        E.g. nearest unpooling, with ``index`` the parent of every fine vertex; pass
        it as the ``lift`` of :func:`cheb_conv.cheb_conv_vertex_major`.

        Parameters
        ----------
        index : torch.Tensor, shape (M,), integer
            Source row of every row, in ``[0, n_cols)``.
        n_cols : int

        Returns
        -------
        SparseOperator
            0/1 values (float32), one entry per row, on ``index``'s device.
        """
        if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.is_floating_point():
            raise TypeError(
                f"index must be a 1-D integer tensor, got {getattr(index, 'dtype', type(index))} "
                f"of shape {tuple(getattr(index, 'shape', ()))}"
            )
        m = int(index.numel())
        if m and (int(index.min()) < 0 or int(index.max()) >= n_cols):
            raise ValueError(f"index values must lie in [0, n_cols={n_cols})")
        crow = torch.arange(m + 1, device=index.device)
        csr = torch.sparse_csr_tensor(
            crow, index.long(), torch.ones(m, device=index.device), (m, int(n_cols))
        )
        return cls(csr, symmetric=False)

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.val.numel())

    def arrays(self, dtype: torch.dtype, transpose: bool = False) -> tuple[torch.Tensor, ...]:
        """``(crow, col, val, t_crow, t_col, t_val)`` with values in the compute dtype.

        ``transpose=True`` swaps the two triples (the operator ``A^T``).
        """
        ct = compute_dtype(dtype)
        a = (self.crow, self.col, self._values(self.val, ct))
        t = a if self.symmetric else (self.t_crow, self.t_col, self._values(self.t_val, ct))
        return (*t, *a) if transpose else (*a, *t)

    def _values(self, val: torch.Tensor, ct: torch.dtype) -> torch.Tensor:
        if val.dtype == ct:
            return val
        if torch.compiler.is_compiling():
            return val.to(ct)
        key = ("val", id(val), val._version, val.device, ct)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = val.to(ct)
        return hit

    def block_arrays(self, batch: int, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """CSR arrays of the block-diagonal ``I_batch (x) A`` and its transpose.

        Used by the batch-major layout (``(B * V, C)`` rows); cached for up to four
        batch sizes.
        """
        base = self.arrays(dtype)
        if batch == 1:
            return base
        key = ("block", batch, base[2].data_ptr(), base[5].data_ptr(), base[2].dtype)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out: list[torch.Tensor] = []
        m_rows, n_cols = self.shape
        halves = ((base[:3], (m_rows, n_cols)), (base[3:], (n_cols, m_rows)))
        for (crow, col, val), (m, n) in halves:
            nnz = col.numel()
            itype = _itype(batch * nnz, batch * max(m, n))
            offs = torch.arange(batch, device=col.device, dtype=itype)
            bcrow = torch.cat(
                [
                    (crow[:-1].to(itype).unsqueeze(0) + offs.unsqueeze(1) * nnz).reshape(-1),
                    crow.new_tensor([batch * nnz], dtype=itype),
                ]
            )
            bcol = (col.to(itype).unsqueeze(0) + offs.unsqueeze(1) * n).reshape(-1)
            out += [bcrow, bcol, val.repeat(batch)]
        if self.symmetric:
            out[3:] = out[:3]
        blocks = [k for k in self._cache if k[0] == "block"]
        if len(blocks) >= _MAX_BLOCK_SIZES:
            del self._cache[blocks[0]]
        self._cache[key] = tuple(out)
        return self._cache[key]

    def to_sparse_csr(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The operator as a torch sparse CSR tensor ``(M, N)`` (a new tensor)."""
        val = self.val if dtype is None else self.val.to(dtype)
        return torch.sparse_csr_tensor(
            self.crow.long(), self.col.long(), val.clone(), self.shape, check_invariants=False
        )

    def forward(self, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """Same as :func:`sparse_apply` ``(self, x, alpha)``."""
        return sparse_apply(self, x, alpha)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, nnz={self.nnz}, symmetric={self.symmetric}"


def sparse_apply(operator: SparseOperator, x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """``alpha * A @ x`` in the vertex-major layout, differentiable to any order.

    Parameters
    ----------
    operator : SparseOperator
        ``A`` of shape ``(M, N)``.
    x : torch.Tensor, shape (N, B, C) or (N, C)
    alpha : float

    Returns
    -------
    torch.Tensor, shape (M, B, C) or (M, C), in ``x``'s dtype
        Products run in float64 for float64 input and in float32 otherwise
        (half-precision input is widened and the result rounded back).
    """
    if not isinstance(operator, SparseOperator):
        raise TypeError(
            f"operator must be a cheb_conv.SparseOperator, got {type(operator).__name__}; "
            "wrap a matrix once with cheb_conv.SparseOperator(matrix)"
        )
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3):
        raise ValueError(
            f"x must be a tensor of shape (N, B, C) or (N, C), got {getattr(x, 'shape', x)}"
        )
    m, n = operator.shape
    if x.shape[0] != n:
        raise ValueError(
            f"x has {x.shape[0]} rows but the operator is {m} x {n}; x must be (N, B, C)"
        )
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be floating point (float32 or float64), got {x.dtype}")
    squeeze = x.dim() == 2
    x3 = x.unsqueeze(1) if squeeze else x
    _, b, c = x3.shape
    y = spmm_rows(operator.arrays(x.dtype), x3.reshape(n * b, c), n, b, alpha)
    return y.view(m, c) if squeeze else y.view(m, b, c)


def ddp_ignore_operators(model: nn.Module) -> list[str]:
    """Keep every :class:`SparseOperator` buffer of ``model`` out of DDP's buffer broadcast.

    ``DistributedDataParallel`` broadcasts all buffers from rank 0 on every forward
    (``broadcast_buffers=True``); operators are identical on every rank, so the
    broadcast is wasted work. Call this on the model before wrapping it.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str
        The fully qualified buffer names now ignored by DDP.
    """
    names = []
    for prefix, mod in model.named_modules():  # the names DDP sees (shared modules once)
        if isinstance(mod, SparseOperator):
            names += [f"{prefix}.{n}" if prefix else n for n, _ in mod.named_buffers(recurse=False)]
    names = sorted(set(names))
    ignored = set(getattr(model, "_ddp_params_and_buffers_to_ignore", ()))
    model._ddp_params_and_buffers_to_ignore = sorted(ignored | set(names))  # type: ignore[assignment]
    return names
