"""Convolution after a linear lift given as a matrix: the whole polynomial in one sparse product.

With the lift a sparse matrix ``U`` ``(V, V_c)`` (e.g. nearest unpooling from a
coarser level) and ``K <= 4`` (power basis ``M`` of the weights)::

    y = sum_j L^j U (x_c M_j) + b
      = [U | L U | ... | L^(K-1) U] @ [x_c M_0; x_c M_1; ...; x_c M_(K-1)] + b

The ``(V, K V_c)`` *lifted operator* ``A`` is formed once (sparse products of
``L`` and ``U``, cached on ``U``); a call then does ``K`` GEMMs on the coarse
rows, written into one ``(K V_c B, C_out)`` buffer, and a single sparse product
whose dense operand has ``K V_c`` rows (``3/4`` of the output's for a 4:1
coarsening, and cache-resident), instead of ``K`` lifts of fine tensors and
``K - 1`` sparse products on fine rows. Its rows hold about 16 entries for an
icosahedral k-NN Laplacian and nearest unpooling (``U``: 1, ``L U``: ~5,
``L^2 U``: ~10) against ``K - 1 = 2`` products of ~9 entries.

Everything here is differentiable PyTorch (a GEMM and the sparse custom op), so
gradients of any order, forward-mode AD, vmap and autocast follow; the backward
is one sparse product with the stored ``A^T`` plus coarse GEMMs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._kernels import POWER_MAX_K, _fast, plain
from ._operator import SparseOperator
from ._sparse import compute_dtype, spmm_rows
from ._workspace import pooled_empty

__all__ = ["lifted_conv", "lifted_operator"]

_MAX_LIFTED = 4  # lifted operators kept per lift matrix (different L or K)


def _coo64(op: SparseOperator) -> Tensor:
    """``op`` as a coalesced float64 COO tensor (int64 indices)."""
    csr = torch.sparse_csr_tensor(
        op.crow.long(), op.col.long(), op.val.double(), op.shape, check_invariants=False
    )
    return csr.to_sparse_coo().coalesce()


def lifted_operator(
    operator: SparseOperator, lift: SparseOperator, K: int, dtype: torch.dtype = torch.float32
) -> SparseOperator:
    """``[U | L U | ... | L^(K-1) U]``, shape ``(V, K * V_c)``, cached on ``lift``.

    Parameters
    ----------
    operator : SparseOperator, shape (V, V)
        ``L``.
    lift : SparseOperator, shape (V, V_c)
        ``U``.
    K : int
        Number of terms, ``1 <= K <= 4`` (the power basis).
    dtype : torch.dtype
        Dtype of the inputs it will multiply: the values are the float64
        products rounded once to :func:`cheb_conv.compute_dtype` of it (float64
        inputs get the exact products, as applying ``L`` and ``U`` in turn would).

    Returns
    -------
    SparseOperator
    """
    if not 1 <= K <= POWER_MAX_K:
        raise ValueError(f"the lifted operator is formed for 1 <= K <= {POWER_MAX_K}, got {K}")
    key = (
        "lifted",
        id(operator),
        operator.crow.data_ptr(),
        operator.col.data_ptr(),
        operator.val.data_ptr(),
        operator.val._version,
        lift.val._version,
        K,
        compute_dtype(dtype),
    )
    hit = lift._cache.get(key)
    if hit is not None:
        return hit
    L, U = _coo64(operator), _coo64(lift)
    blocks = [U]
    for _ in range(1, K):
        blocks.append(torch.sparse.mm(L, blocks[-1]).coalesce())
    n_c = lift.shape[1]
    idx = torch.cat(
        [
            b.indices() + torch.tensor([[0], [j * n_c]], device=U.device)
            for j, b in enumerate(blocks)
        ],
        dim=1,
    )
    val = torch.cat([b.values() for b in blocks]).to(compute_dtype(dtype))
    A = torch.sparse_coo_tensor(idx, val, (lift.shape[0], K * n_c)).coalesce()
    out = SparseOperator(A, symmetric=False)
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
    A = lifted_operator(operator, lift, K, rows.dtype)
    fast = _fast(rows) and plain(M)
    if torch.is_autocast_enabled(rows.device.type):  # autocast casts the matmul's inputs
        Z = torch.matmul(rows, M).reshape(K * rows.shape[0], c_out)
    elif fast:  # nothing to differentiate: no autograd.Function.apply overhead
        Z = _StackedMix.forward(rows, M)
    else:  # the K coarse mixings written side by side into one pooled buffer
        Z = _StackedMix.apply(rows, M)
    y = spmm_rows(A.arrays(Z.dtype), Z, A.shape[1], groups)
    if bias is None:
        return y
    if fast and y._base is None:
        return y.add_(bias)
    return y + bias.to(y.dtype)
