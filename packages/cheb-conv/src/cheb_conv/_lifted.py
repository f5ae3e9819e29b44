"""Convolution after a linear lift given as a matrix: the polynomial in few sparse products.

With the lift a sparse matrix ``U`` ``(V, V_c)`` (e.g. nearest unpooling from a
coarser level), ``K <= 4`` and ``z_j = x_c M_j`` (``M`` the power basis of the
weights, mixing on the coarse rows)::

    y = sum_j L^j U z_j + b

*Lifted operator* (at most ``2^15`` fine rows)::

    y = [U | L U | ... | L^(K-1) U] @ [z_0; z_1; ...; z_(K-1)] + b

one sparse product whose dense operand has ``K V_c`` rows (``3/4`` of the
output's for a 4:1 coarsening, and cache-resident), about 16 entries per row for
an icosahedral k-NN Laplacian and nearest unpooling. The operator is formed once
(CSR sparse-sparse products, cached on ``U``; its transpose only when a gradient
is needed). Beyond ``2^15`` rows, where forming it costs more than it saves
(transient index arrays of several times its size: +200 MiB of peak memory for a
HEALPix nside-128 U-Net, seconds and a gigabyte at nside 512), Horner's scheme
with ``U`` itself::

    h = U z_(K-1),   h <- L h + U z_j  (j = K-2, ..., 0)

accumulating each ``U z_j`` straight into the sparse product's output (no lifted
fine tensors, nothing to form). Either replaces ``K`` row lifts of fine tensors
plus their additions.

All products are the differentiable sparse primitive and the mixing a small
``autograd.Function``, so gradients of any order, forward-mode AD and autocast
follow.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._kernels import POWER_MAX_K, _fast, plain
from ._operator import SparseOperator, _itype
from ._sparse import compute_dtype, spmm_accumulate_, spmm_rows
from ._workspace import pooled_empty

__all__ = ["lifted_conv", "lifted_operator"]

_MAX_LIFTED = 4  # lifted operators kept per lift matrix (different L, K or dtype)
FULL_MAX_ROWS = 1 << 15  # fine rows up to which the lifted operator is formed


class LiftedOperator:
    """CSR arrays of a lifted operator; the transpose's are formed on first use.

    Attributes
    ----------
    shape : tuple of int
    """

    def __init__(self, csr: Tensor) -> None:
        self.shape = (int(csr.shape[0]), int(csr.shape[1]))
        itype = _itype(csr._nnz(), max(self.shape))
        self._fwd = (
            csr.crow_indices().to(itype),
            csr.col_indices().to(itype),
            csr.values(),
        )
        self._t: tuple[Tensor, ...] | None = None

    @property
    def nnz(self) -> int:
        return int(self._fwd[2].numel())

    def arrays(self, transpose: bool) -> tuple[Tensor, ...]:
        """``(crow, col, val, t_crow, t_col, t_val)``; without ``transpose`` the
        second triple repeats the first (only for calls that never differentiate)."""
        if not transpose:
            return (*self._fwd, *self._fwd)
        if self._t is None:
            crow, col, val = self._fwd
            csc = torch.sparse_csr_tensor(
                crow.long(), col.long(), val, self.shape, check_invariants=False
            ).to_sparse_csc()
            itype = crow.dtype
            self._t = (csc.ccol_indices().to(itype), csc.row_indices().to(itype), csc.values())
        return (*self._fwd, *self._t)


def _csr(op: SparseOperator, dtype: torch.dtype) -> Tensor:
    """``op`` as a CSR tensor with int64 indices and ``dtype`` values (for sparse-sparse products)."""
    return torch.sparse_csr_tensor(
        op.crow.long(), op.col.long(), op.val.to(dtype), op.shape, check_invariants=False
    )


def _hstack(mats: list[Tensor]) -> Tensor:
    """``[A_0 | A_1 | ...]`` of CSR tensors with equal rows (int64 indices), in O(nnz)."""
    rows = mats[0].shape[0]
    device = mats[0].device
    crows = [m.crow_indices() for m in mats]
    counts = torch.stack([c.diff() for c in crows])  # (k, rows): entries per row and block
    before = counts.cumsum(0) - counts  # entries of earlier blocks in the same row
    crow = torch.zeros(rows + 1, dtype=torch.int64, device=device)
    crow[1:] = counts.sum(0).cumsum(0)
    nnz = int(crow[-1])
    col = torch.empty(nnz, dtype=torch.int64, device=device)
    val = torch.empty(nnz, dtype=mats[0].dtype, device=device)
    offset = 0
    for k, m in enumerate(mats):
        r = torch.repeat_interleave(torch.arange(rows, device=device), counts[k])
        dest = torch.arange(m._nnz(), device=device) - crows[k][r] + crow[r] + before[k][r]
        col[dest] = m.col_indices() + offset
        val[dest] = m.values()
        offset += m.shape[1]
    return torch.sparse_csr_tensor(crow, col, val, (rows, offset), check_invariants=False)


def lifted_operator(
    operator: SparseOperator, lift: SparseOperator, K: int, dtype: torch.dtype = torch.float32
) -> LiftedOperator:
    """The lifted operator of ``L = operator`` and ``U = lift`` for ``K`` terms, cached on ``lift``.

    Parameters
    ----------
    operator : SparseOperator, shape (V, V)
    lift : SparseOperator, shape (V, V_c)
    K : int
        ``1 <= K <= 4`` (the power basis).
    dtype : torch.dtype
        Dtype of the inputs it will multiply: the products are formed in
        :func:`cheb_conv.compute_dtype` of it (float64 inputs get float64 products).

    Returns
    -------
    LiftedOperator
        ``[U | L U | ... | L^(K-1) U]``, shape ``(V, K V_c)``.
    """
    if not 1 <= K <= POWER_MAX_K:
        raise ValueError(f"the lifted operator is formed for 1 <= K <= {POWER_MAX_K}, got {K}")
    ct = compute_dtype(dtype)
    key = (
        "lifted",
        id(operator),
        operator.crow.data_ptr(),
        operator.col.data_ptr(),
        operator.val.data_ptr(),
        operator.val._version,
        lift.val._version,
        K,
        ct,
    )
    hit = lift._cache.get(key)
    if hit is not None:
        return hit
    with torch.autocast(operator.val.device.type, enabled=False):  # products in ct
        L, U = _csr(operator, ct), _csr(lift, ct)
        blocks = [U]
        for _ in range(1, K):
            blocks.append(torch.sparse.mm(L, blocks[-1]))
        out = LiftedOperator(_hstack(blocks))
    entries = [k for k in lift._cache if k[0] == "lifted"]
    if len(entries) >= _MAX_LIFTED:
        del lift._cache[entries[0]]
    lift._cache[key] = out
    return out


class _StackedMix(torch.autograd.Function):
    """``Z = [x M_0; x M_1; ...; x M_(K-1)]`` ``(K R, C_out)`` from ``x`` ``(R, C_in)``.

    Forward and first-order backward write into pooled buffers (``K`` GEMMs each
    way, no broadcast copies); with ``create_graph`` or under a ``torch.func``
    transform the backward runs the same formulas as ordinary differentiable ops.
    """

    @staticmethod
    def forward(x: Tensor, M: Tensor) -> Tensor:
        K, _, c_out = M.shape
        r = x.shape[0]
        if not (plain(x) and plain(M)):
            return torch.matmul(x, M).reshape(K * r, c_out)
        Z = pooled_empty((K * r, c_out), x)
        for j in range(K):
            torch.mm(x, M[j], out=Z[j * r : (j + 1) * r])
        return Z

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx: Any, gZ: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, M = ctx.saved_tensors
        K, c_in, c_out = M.shape
        r = x.shape[0]
        G = gZ.contiguous().view(K, r, c_out)
        fast = not torch.is_grad_enabled() and all(plain(t) for t in (G, x, M))
        gx = gM = None
        if ctx.needs_input_grad[0]:
            if fast:
                gx = torch.mm(G[0], M[0].t(), out=pooled_empty((r, c_in), G))
                for j in range(1, K):
                    gx.addmm_(G[j], M[j].t())
            else:
                gx = sum(G[j] @ M[j].t() for j in range(K))
        if ctx.needs_input_grad[1]:
            if fast:
                gM = M.new_empty(M.shape)
                for j in range(K):
                    torch.mm(x.t(), G[j], out=gM[j])
            else:
                gM = torch.stack([x.t() @ G[j] for j in range(K)])
        return gx, gM

    @staticmethod
    def jvp(ctx: Any, x_t: Tensor | None, M_t: Tensor | None) -> Tensor:
        x, M = ctx.saved_tensors
        K, _, c_out = M.shape
        out = torch.zeros(K * x.shape[0], c_out, dtype=x.dtype, device=x.device)
        if x_t is not None:
            out = out + torch.matmul(x_t, M).reshape(K * x.shape[0], c_out)
        if M_t is not None:
            out = out + torch.matmul(x, M_t).reshape(K * x.shape[0], c_out)
        return out


def lifted_conv(
    rows: Tensor,
    operator: SparseOperator,
    lift: SparseOperator,
    M: Tensor,
    bias: Tensor | None,
    groups: int,
) -> Tensor:
    """``sum_j L^j U (x_c M_j) + b`` on vertex-major rows (see the module docstring).

    Parameters
    ----------
    rows : torch.Tensor, shape (V_c * groups, C_in)
        The coarse input ``x_c`` as vertex-major rows.
    operator : SparseOperator, shape (V, V)
    lift : SparseOperator, shape (V, V_c)
    M : torch.Tensor, shape (K, C_in, C_out)
        Power basis of the weights (:func:`cheb_conv.power_basis`), ``K <= 4``.
    bias : torch.Tensor, shape (C_out,), or None
    groups : int
        ``B``.

    Returns
    -------
    torch.Tensor, shape (V * groups, C_out)
    """
    K, _, c_out = M.shape
    rc = rows.shape[0]
    fast = _fast(rows) and plain(M)
    if torch.is_autocast_enabled(rows.device.type):  # autocast casts the matmul's inputs
        Z = torch.matmul(rows, M).reshape(K * rc, c_out)
    elif fast:  # nothing to differentiate: no autograd.Function.apply overhead
        Z = _StackedMix.forward(rows, M)
    else:  # the K coarse mixings written side by side into one pooled buffer
        Z = _StackedMix.apply(rows, M)
    V, n_c = lift.shape
    if V <= FULL_MAX_ROWS:  # one product with the lifted operator
        A = lifted_operator(operator, lift, K, rows.dtype)
        y = spmm_rows(A.arrays(not fast), Z, A.shape[1], groups)
    else:  # Horner with U: h = U z_(K-1), h <- L h + U z_j
        la, ua = operator.arrays(Z.dtype), lift.arrays(Z.dtype)
        y = spmm_rows(ua, Z[(K - 1) * rc :], n_c, groups)
        for j in range(K - 2, -1, -1):
            y = spmm_rows(la, y, V, groups)
            z = Z[j * rc : (j + 1) * rc]
            if fast and y.dtype == compute_dtype(y.dtype):
                spmm_accumulate_(y, ua, z, n_c, groups)
            else:
                y = y + spmm_rows(ua, z, n_c, groups)
    if bias is None:
        return y
    if fast and y._base is None:
        return y.add_(bias)
    return y + bias.to(y.dtype)
