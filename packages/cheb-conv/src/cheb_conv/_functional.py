"""Functional Chebyshev graph convolution with a hand-written backward.

Layout strategy (see README, "Performance notes")
------------------------------------------------
``x`` stays in its ``(B, V, C)`` layout, seen as a ``(B*V, C)`` matrix. The graph
operator is expanded once per batch size into the block-diagonal
``I_B (x) L~`` (CSR, int32 indices, cached), so each order is ONE multithreaded
sparse-dense ``addmm``: no permutes, no ``cat``. The terms are gathered in one
pooled row-major buffer ``Z = [x | L~x | ...]`` of shape ``(B*V, K*C_in)``, so
the channel mixing is ONE GEMM ``Z @ W.reshape(K*C_in, C_out)`` and the weight
gradient ONE GEMM ``Z^T @ gy``. For ``K <= 4`` the terms are the powers
``L~^j x`` (weights changed to the power basis, exact up to rounding); for
larger ``K`` the three-term recursion ``T_k = 2 L~ T_{k-1} - T_{k-2}``. The
input gradient runs the recursion on the gradient (Horner or Clenshaw with
``L~^T``, which is ``L~`` itself for symmetric operators).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

import torch

from ._laplacian import _is_scipy_sparse, as_operator
from ._workspace import pooled_empty, work_buffer

__all__ = ["cheb_conv"]

_MAX_BLOCK_SIZES = 4  # batch sizes whose block-diagonal operator is kept per operator


class _Operator:
    """A converted operator plus lazily built, cached derived forms."""

    def __init__(self, csr: torch.Tensor) -> None:
        self.csr = csr
        self.n = csr.shape[0]
        self._transpose: torch.Tensor | None = None
        self._symmetric: bool | None = None
        self._blocks: OrderedDict[tuple[int, bool], torch.Tensor] = OrderedDict()

    @property
    def symmetric(self) -> bool:
        if self._symmetric is None:
            t = self.transpose_csr()
            a = self.csr
            same = torch.equal(a.crow_indices(), t.crow_indices()) and torch.equal(
                a.col_indices(), t.col_indices()
            )
            if same:
                eps = torch.finfo(a.dtype).eps
                va, vt = a.values(), t.values()
                scale = va.abs().max() if va.numel() else va.new_tensor(0.0)
                same = bool(((va - vt).abs() <= 8 * eps * scale).all())
            self._symmetric = same
            if same:
                self._transpose = a
        return self._symmetric

    def transpose_csr(self) -> torch.Tensor:
        if self._transpose is None:
            self._transpose = self.csr.t().to_sparse_coo().coalesce().to_sparse_csr()
        return self._transpose

    def block(self, batch: int, transpose: bool = False) -> torch.Tensor:
        """Block-diagonal ``I_batch (x) op`` (or of ``op^T``) as CSR, cached.

        Indices are int32 when they fit (the sparse BLAS works in 32 bits, so
        int64 indices would be narrowed on every call).
        """
        if transpose and self.symmetric:
            transpose = False
        key = (batch, transpose)
        hit = self._blocks.get(key)
        if hit is not None:
            self._blocks.move_to_end(key)
            return hit
        base = self.transpose_csr() if transpose else self.csr
        crow, col, val = base.crow_indices(), base.col_indices(), base.values()
        nnz, n = col.numel(), self.n
        itype = torch.int32 if batch * max(nnz, n) < 2**31 - 1 else torch.int64
        crow, col = crow.to(itype), col.to(itype)
        if batch == 1:
            big_crow, big_col, big_val = crow, col, val
        else:
            offs = torch.arange(batch, device=col.device, dtype=itype)
            big_crow = torch.cat(
                [
                    (crow[:-1].unsqueeze(0) + offs.unsqueeze(1) * nnz).reshape(-1),
                    crow.new_tensor([batch * nnz]),
                ]
            )
            big_col = (col.unsqueeze(0) + offs.unsqueeze(1) * n).reshape(-1)
            big_val = val.repeat(batch)
        out = torch.sparse_csr_tensor(
            big_crow, big_col, big_val, (batch * n, batch * n), check_invariants=False
        )
        self._blocks[key] = out
        if len(self._blocks) > _MAX_BLOCK_SIZES:
            self._blocks.popitem(last=False)
        return out


# Conversion cache: one _Operator per (torch operator object, version, dtype, device).
_CACHE: dict[tuple, _Operator] = {}


def _resolve_operator(operator: Any, dtype: torch.dtype, device: torch.device) -> _Operator:
    if isinstance(operator, torch.Tensor):
        if operator.layout == torch.strided and operator.dim() == 2:
            # dense operators are accepted but converted every call
            return _Operator(as_operator(operator, dtype=dtype, device=device))
        key = (id(operator), operator._version, dtype, device)
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        entry = _Operator(as_operator(operator, dtype=dtype, device=device))
        _CACHE[key] = entry
        weakref.finalize(operator, _CACHE.pop, key, None)
        return entry
    if _is_scipy_sparse(operator):
        # scipy matrices can change in place without notice: convert per call.
        # For speed convert once yourself with cheb_conv.as_operator(...).
        return _Operator(as_operator(operator, dtype=dtype, device=device))
    raise TypeError(
        "operator must be a torch sparse tensor (COO or CSR) or a scipy.sparse matrix, "
        f"got {type(operator).__name__}"
    )


_MONOMIAL_MAX_K = 4  # up to this K the backward/forward use the power basis (see below)


def _cheb_to_monomial(K: int) -> list[list[float]]:
    """``C[k][j]``: coefficient of ``a^j`` in the Chebyshev polynomial ``T_k(a)``."""
    rows = [[1.0] + [0.0] * (K - 1)]
    if K > 1:
        rows.append([0.0, 1.0] + [0.0] * (K - 2))
    for k in range(2, K):
        prev, prev2 = rows[k - 1], rows[k - 2]
        rows.append([(2 * prev[j - 1] if j else 0.0) - prev2[j] for j in range(K)])
    return rows


def _combine(coef: list[list[float]], W: torch.Tensor, transpose: bool) -> torch.Tensor:
    """``out[j] = sum_k coef[k][j] W[k]`` (or ``coef[j][k]`` when ``transpose``).

    Plain elementwise ops on the tiny weight: a batched GEMM here would wake the
    thread pool for nothing, which costs milliseconds on a loaded machine.
    """
    K = W.shape[0]
    out = []
    for j in range(K):
        acc = None
        for k in range(K):
            c = coef[j][k] if transpose else coef[k][j]
            if c == 0.0:
                continue
            term = W[k] if c == 1.0 else W[k] * c
            acc = term if acc is None else acc + term
        out.append(torch.zeros_like(W[0]) if acc is None else acc)
    return torch.stack(out)


class _ChebFunction(torch.autograd.Function):
    """``y = sum_k T_k(L) x W_k + b`` on ``x2 = x.reshape(B*V, C_in)``.

    For ``K <= 4`` the polynomial is evaluated in the power basis,
    ``y = sum_j L^j x M_j`` with ``M_j = sum_k C[k, j] W_k`` (``C`` the
    Chebyshev-to-monomial matrix): every sparse product is then a plain
    ``L @ S`` (no ``- T_{k-2}`` term, hence no copy), and the input gradient is a
    Horner scheme with one sparse product and one GEMM per order. The basis change
    is exact up to rounding amplified by at most ``sum_j |C[k, j]| <= 7`` for
    ``K <= 4``. For larger ``K`` the three-term recursion and Clenshaw are used.
    """

    @staticmethod
    def forward(ctx, x2, weight, bias, op: _Operator, batch: int):  # type: ignore[override]
        # x2: (B*V, C_in) contiguous, weight: (K, C_in, C_out) with K >= 2
        K, c_in, c_out = weight.shape
        monomial = K <= _MONOMIAL_MAX_K
        Z = _chebyshev_terms(x2, op.block(batch), K, monomial)
        if monomial:
            coef = _cheb_to_monomial(K)
            M = _combine(coef, weight, transpose=False)
        else:
            coef, M = None, weight
        y = pooled_empty((x2.shape[0], c_out), x2)
        M_flat = M.reshape(K * c_in, c_out)
        if bias is not None:
            torch.addmm(bias, Z, M_flat, out=y)
        else:
            torch.mm(Z, M_flat, out=y)
        ctx.op = op
        ctx.batch = batch
        ctx.coef = coef
        ctx.save_for_backward(Z, weight)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):  # type: ignore[override]
        Z, weight = ctx.saved_tensors
        coef = ctx.coef
        K, c_in, c_out = weight.shape
        gy = gy.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[1]:
            gw = torch.mm(Z.t(), gy).view(K, c_in, c_out)
            if coef is not None:  # gradient of M -> gradient of W
                gw = _combine(coef, gw, transpose=True)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gy.sum(0)
        if ctx.needs_input_grad[0]:
            A = ctx.op.block(ctx.batch, transpose=True)
            if coef is not None:
                gx = _horner_adjoint(gy, _combine(coef, weight, transpose=False), A)
            else:
                gx = _clenshaw_adjoint(gy, weight, A)
        return gx, gw, gb, None, None


def _chebyshev_terms(x2: torch.Tensor, L: torch.Tensor, K: int, monomial: bool) -> torch.Tensor:
    """``Z = [x | P_1(L) x | ... | P_{K-1}(L) x]`` as one ``(B*V, K*C_in)`` buffer.

    ``P_k`` is ``L^k`` (``monomial``) or ``T_k``. One row-major buffer turns the
    channel mixing into a single GEMM ``Z @ W.reshape(K*C_in, C_out)`` and the
    weight gradient into ``Z^T @ gy``, each reading its operands once. The sparse
    BLAS writes a column slice of ``Z`` at full speed but reads a column slice at
    half speed, so every term that feeds the next product is computed into a
    contiguous work buffer and then copied into ``Z``; the last one is written
    straight into ``Z``.
    """
    rows, c_in = x2.shape
    Z = work_buffer((rows, K * c_in), x2)
    Z[:, :c_in].copy_(x2)
    prev2, prev = None, x2  # contiguous T_{k-2}, T_{k-1}
    for k in range(1, K):
        block = Z[:, k * c_in : (k + 1) * c_in]
        last = k == K - 1
        dst = block if last else work_buffer((rows, c_in), x2, exclude=(prev, prev2))
        # addmm(beta=0) is the fast sparse path (torch.mm(sparse, dense, out=) is not)
        if monomial or k == 1:
            torch.addmm(dst, L, prev, beta=0, out=dst)
        else:
            torch.addmm(prev2, L, prev, beta=-1, alpha=2, out=dst)
        if not last:
            block.copy_(dst)
        prev2, prev = prev, dst
    return Z


def _horner_adjoint(gy: torch.Tensor, M: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``sum_j A^j (gy @ M_j^T)`` by Horner: ``h <- gy M_j^T + A h`` (in place).

    Intermediate ``h`` live in two reusable work buffers; the result is fresh.
    """
    K = M.shape[0]
    shape = (gy.shape[0], M.shape[1])
    bufs = [work_buffer(shape, gy), None]
    h = torch.mm(gy, M[K - 1].t(), out=bufs[0])
    for j in range(K - 2, -1, -1):
        if j == 0:
            p = pooled_empty(shape, gy)
        else:
            slot = (K - 1 - j) % 2
            if bufs[slot] is None:
                bufs[slot] = work_buffer(shape, gy, exclude=(bufs[1 - slot],))
            p = bufs[slot]
        # sparse product first with beta=0 (the fast path: an in-place sparse
        # addmm_ with beta=1 copies its input), then the dense GEMM accumulates
        torch.addmm(p, A, h, beta=0, out=p)
        p.addmm_(gy, M[j].t())
        h = p
    return h


def _clenshaw_adjoint(gy: torch.Tensor, weight: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``sum_k T_k(A) (gy @ W_k^T)`` with K-1 sparse products (Clenshaw).

    ``b_{K-1} = G_{K-1}``, ``b_k = G_k + 2 A b_{k+1} - b_{k+2}``,
    result ``G_0 + A b_1 - b_2`` where ``G_k = gy @ W_k^T``. The ``- b_{k+2}`` is
    folded into the GEMM (``beta=-1``) that writes ``G_k`` over ``b_{k+2}``, so
    no extra elementwise pass and only three ``(B*V, C_in)`` buffers.
    """
    K = weight.shape[0]
    bk1 = torch.mm(gy, weight[K - 1].t())  # b_{K-1}
    bk2 = None  # b_{k+2}
    for k in range(K - 2, 0, -1):
        if bk2 is None:
            cur = torch.mm(gy, weight[k].t())
        else:
            cur = bk2.addmm_(gy, weight[k].t(), beta=-1)
        cur.addmm_(A, bk1, alpha=2)
        bk2, bk1 = bk1, cur
    if bk2 is None:  # K == 2
        out = torch.mm(gy, weight[0].t())
    else:
        out = bk2.addmm_(gy, weight[0].t(), beta=-1)
    out.addmm_(A, bk1)
    return out


def _check_inputs(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(f"x must have shape (B, V, C_in) or (V, C_in), got {tuple(x.shape)}")
    if weight.dim() != 3:
        raise ValueError(f"weight must have shape (K, C_in, C_out), got {tuple(weight.shape)}")
    if weight.shape[0] < 1:
        raise ValueError(f"K (weight.shape[0]) must be >= 1, got {weight.shape[0]}")
    if weight.shape[1] != x.shape[-1]:
        raise ValueError(
            f"channel mismatch: x has C_in={x.shape[-1]} channels but weight expects "
            f"C_in={weight.shape[1]} (weight shape {tuple(weight.shape)})"
        )
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be floating point, got {x.dtype}")
    if weight.dtype != x.dtype or weight.device != x.device:
        raise ValueError(
            f"weight ({weight.dtype}, {weight.device}) must match x ({x.dtype}, {x.device}); "
            "move the module/weight with .to(...)"
        )
    if bias is not None:
        if bias.shape != (weight.shape[2],):
            raise ValueError(
                f"bias must have shape (C_out,) = ({weight.shape[2]},), got {tuple(bias.shape)}"
            )
        if bias.dtype != x.dtype or bias.device != x.device:
            raise ValueError(
                f"bias ({bias.dtype}, {bias.device}) must match x ({x.dtype}, {x.device})"
            )


def cheb_conv(
    x: torch.Tensor,
    operator: Any,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Chebyshev graph convolution ``y = sum_k T_k(L~) x W_k + b``.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, V, C_in)`` or unbatched ``(V, C_in)``.
    operator : torch sparse tensor (COO/CSR) or scipy.sparse matrix
        Rescaled Laplacian ``L~ = 2 L / lmax - I``, ``(V, V)``
        (see :func:`cheb_conv.rescale`). Torch operators are converted to CSR in
        ``x``'s dtype/device once and cached (by identity and version); scipy
        matrices are converted on every call, so convert them once with
        :func:`cheb_conv.as_operator`. Not differentiable w.r.t. the operator.
        Non-symmetric operators are supported (the backward uses ``L~^T``).
    weight : torch.Tensor
        ``(K, C_in, C_out)``, ``K >= 1``; ``weight[k]`` multiplies ``T_k(L~) x``.
    bias : torch.Tensor, optional
        ``(C_out,)``.

    Returns
    -------
    torch.Tensor
        ``(B, V, C_out)`` (or ``(V, C_out)`` for unbatched ``x``), contiguous.
    """
    _check_inputs(x, weight, bias)
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(0)
    batch, n_vert, c_in = x.shape
    K, _, c_out = weight.shape
    op = _resolve_operator(operator, x.dtype, x.device)
    if op.n != n_vert:
        raise ValueError(
            f"vertex mismatch: operator is {op.n} x {op.n} but x has V={n_vert} vertices "
            f"(x shape {tuple(x.shape)}); x must be (B, V, C_in) with the operator's V"
        )
    x2 = x.reshape(batch * n_vert, c_in).contiguous()
    if K == 1:
        y = torch.mm(x2, weight[0]) if bias is None else torch.addmm(bias, x2, weight[0])
    else:
        y = _ChebFunction.apply(x2, weight, bias, op, batch)
    y = y.view(batch, n_vert, c_out)
    return y[0] if unbatched else y
