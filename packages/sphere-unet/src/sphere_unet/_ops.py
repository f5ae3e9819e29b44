"""Tensor kernels in the internal vertex-major layout ``(V, B, C)``.

The U-Net keeps activations as contiguous ``(V, B, C)`` tensors so that a sparse
Laplacian multiplies a ``(V, B * C)`` view without any permute or copy, and so that
batch norm and the channel mixing see a ``(V * B, C)`` matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from cheb_conv import pooled_empty
from torch import Tensor, nn

__all__ = ["GraphOperator", "cheb_polynomial", "gather_rows", "sparse_apply", "spmm"]


def _spmm_rows(a: Tensor, x: Tensor, batch: int, alpha: float = 1.0) -> Tensor:
    """``alpha * (a (x) I_batch) x`` for ``x`` of shape ``(N * batch, C)``, contiguous.

    Rows are vertex-major, so ``x`` is the ``(N, batch * C)`` matrix the sparse
    BLAS wants. On CPU ``torch.sparse.mm`` and an out-of-place ``addmm`` compute
    into a temporary and copy it; ``addmm(beta=0, out=...)`` writes the result
    directly.

    Returns
    -------
    torch.Tensor, shape (M * batch, C), a new (non-view) tensor
    """
    c = x.shape[1]
    out = pooled_empty((a.shape[0] * batch, c), x)  # no page faults for fresh outputs
    wide = out.view(a.shape[0], batch * c)
    torch.addmm(wide, a, x.view(-1, batch * c), beta=0.0, alpha=alpha, out=wide)
    return out


class _SpMM(torch.autograd.Function):
    """``alpha * A @ X`` on vertex-major rows; the backward uses ``At`` (``A`` if symmetric)."""

    @staticmethod
    def forward(ctx, a: Tensor, at: Tensor, x: Tensor, batch: int, alpha: float) -> Tensor:  # type: ignore[override]
        ctx.at, ctx.batch, ctx.alpha = at, batch, alpha
        return _spmm_rows(a, x, batch, alpha)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return None, None, _spmm_rows(ctx.at, grad.contiguous(), ctx.batch, ctx.alpha), None, None


def _apply_rows(a: Tensor, at: Tensor, x: Tensor, batch: int, alpha: float = 1.0) -> Tensor:
    """Autograd-aware :func:`_spmm_rows`; ``x`` ``(N * batch, C)`` -> ``(M * batch, C)``."""
    x = x.contiguous()
    if torch.is_grad_enabled() and x.requires_grad:
        return _SpMM.apply(a, at, x, batch, alpha)
    return _spmm_rows(a, x, batch, alpha)


def sparse_apply(a: Tensor, at: Tensor, x: Tensor, alpha: float = 1.0) -> Tensor:
    """``alpha * a @ x`` for a sparse CSR ``a`` ``(M, N)`` with transpose ``at``.

    Parameters
    ----------
    a, at : torch.Tensor, sparse CSR, shapes (M, N) and (N, M)
        ``at`` is ``a`` itself for a symmetric operator.
    x : torch.Tensor, shape (N, B, C)
    alpha : float

    Returns
    -------
    torch.Tensor, shape (M, B, C)
    """
    n, batch, c = x.shape
    out = _apply_rows(a, at, x.reshape(n * batch, c), batch, alpha)
    return out.view(a.shape[0], batch, c)


class _GatherRows(torch.autograd.Function):
    """``x[index]`` forward; the backward sums rows with the sparse ``(N, M)`` transpose."""

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor, scatter: Tensor) -> Tensor:  # type: ignore[override]
        ctx.scatter, ctx.batch = scatter, x.shape[1]
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        m, b, c = grad.shape
        g = _spmm_rows(ctx.scatter, grad.contiguous().view(m * b, c), b)
        return g.view(-1, b, c), None, None


def gather_rows(x: Tensor, index: Tensor, scatter: Tensor) -> Tensor:
    """Rows ``x[index]`` (nearest unpooling) with a multithreaded sparse backward.

    Parameters
    ----------
    x : torch.Tensor, shape (N, B, C)
    index : torch.LongTensor, shape (M,)
        Source row of every output row.
    scatter : torch.Tensor, sparse CSR, shape (N, M)
        The transpose of the 0/1 gather matrix, used by the backward.

    Returns
    -------
    torch.Tensor, shape (M, B, C)
    """
    if torch.is_grad_enabled() and x.requires_grad:
        return _GatherRows.apply(x, index, scatter)
    return torch.index_select(x, 0, index, out=pooled_empty((index.shape[0], *x.shape[1:]), x))


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b``; outside autograd into a pooled CPU buffer (``out=`` is not differentiable)."""
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return a @ b
    return torch.mm(a, b, out=pooled_empty((a.shape[0], b.shape[1]), a))


def spmm(lap: Tensor, x: Tensor, alpha: float = 1.0) -> Tensor:
    """``alpha * L @ x`` for a symmetric sparse ``L`` ``(V, V)`` and ``x`` ``(V, B, C)``.

    Returns
    -------
    torch.Tensor, shape (V, B, C)
    """
    return sparse_apply(lap, lap, x, alpha)


class GraphOperator(nn.Module):
    """A symmetric sparse operator stored as three non-persistent dense buffers.

    Dense ``crow/col/val`` buffers (instead of one sparse tensor) move with
    ``.to(device)``, stay out of ``state_dict`` and can be broadcast by
    ``DistributedDataParallel``.

    Parameters
    ----------
    matrix : scipy.sparse matrix, shape (V, V)
        Symmetric operator, typically a rescaled Laplacian.
    """

    def __init__(self, matrix: sp.spmatrix) -> None:
        super().__init__()
        m = sp.csr_matrix(matrix, dtype=np.float32)
        m.sort_indices()
        self.n_vertices = int(m.shape[0])
        self.shape = (int(m.shape[0]), int(m.shape[1]))
        # int32 indices take the faster sparse kernels on CPU (int64 beyond 2**31 entries).
        itype = np.int32 if m.nnz < 2**31 - 1 and max(m.shape) < 2**31 - 1 else np.int64
        self.register_buffer("crow", torch.from_numpy(m.indptr.astype(itype)), persistent=False)
        self.register_buffer("col", torch.from_numpy(m.indices.astype(itype)), persistent=False)
        self.register_buffer("val", torch.from_numpy(m.data.astype(np.float32)), persistent=False)
        self._cache: tuple[tuple, Tensor] | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # the cached sparse view is rebuilt from the buffers
        return state

    def matrix(self, dtype: torch.dtype | None = None) -> Tensor:
        """The operator as a torch sparse CSR tensor of shape ``(V, V)``."""
        val = self.val if dtype is None or dtype == self.val.dtype else self.val.to(dtype)
        key = (self.crow.data_ptr(), self.col.data_ptr(), self.val.data_ptr(), self.val.device, val.dtype,
               self.val._version)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        mat = torch.sparse_csr_tensor(
            self.crow, self.col, val, self.shape, check_invariants=False
        )
        self._cache = (key, mat)
        return mat

    def extra_repr(self) -> str:
        return f"n_vertices={self.n_vertices}, nnz={int(self.val.numel())}"


_POWER_MAX_K = 4  # up to this K the polynomial is evaluated in the power basis


def power_basis(weights: list[Tensor]) -> list[list[Tensor]]:
    """Per part, the weights used by :func:`cheb_polynomial`'s kernel.

    ``M_j`` of the power basis for ``K <= 4``, the Chebyshev ``W_k`` otherwise.

    Parameters
    ----------
    weights : list of torch.Tensor, each (K, C_i, C_out)

    Returns
    -------
    list of list of torch.Tensor, each (C_i, C_out)
    """
    if weights[0].shape[0] > _POWER_MAX_K:
        return [list(w.unbind(0)) for w in weights]
    return [_power_weights(w) for w in weights]


def _power_weights(w: Tensor) -> list[Tensor]:
    """``M_j = sum_k C[k, j] W_k`` with ``T_k(a) = sum_j C[k, j] a^j`` (``K <= 4``).

    Rounding is amplified by at most ``sum_j |C[k, j]| <= 7``.
    """
    K = w.shape[0]
    wk = w.unbind(0)
    if K == 1:
        return [wk[0]]
    if K == 2:
        return [wk[0], wk[1]]
    if K == 3:  # T2 = 2a^2 - 1
        return [wk[0] - wk[2], wk[1], 2 * wk[2]]
    # K == 4, T3 = 4a^3 - 3a
    return [wk[0] - wk[2], wk[1] - 3 * wk[3], 2 * wk[2], 4 * wk[3]]


def cheb_polynomial(
    lap: Tensor,
    inputs: list[Tensor],
    weights: list[Tensor],
    bias: Tensor | None = None,
    lift: Callable[[Tensor], Tensor] | None = None,
    power_weights: list[list[Tensor]] | None = None,
) -> Tensor:
    """Chebyshev graph convolution of one or several inputs (their implicit concatenation).

    Computes ``y = sum_k T_k(L) [x_1, ..., x_n] W_k + b`` without materialising the
    concatenation or a stacked polynomial basis. For ``K <= 4`` the polynomial is
    evaluated in the power basis, ``y = sum_j L^j x M_j``: every sparse product is
    a plain ``L @ h`` written straight into a new tensor and every channel mixing
    a GEMM accumulated in place into it. When the output is not wider than the
    input (or ``lift`` is given), channels are mixed first and Horner's scheme runs
    on the output channels (``L (x M) == (L x) M``); otherwise the powers
    ``L^j x`` are formed on the input channels first. ``K > 4`` uses Clenshaw's
    recurrence for the Chebyshev basis.

    Parameters
    ----------
    lap : torch.Tensor, sparse CSR, shape (V, V)
        Rescaled Laplacian (symmetric).
    inputs : list of torch.Tensor, each (V, B, C_i), or one (V_c, B, C) with ``lift``
        Parts of the input along channels.
    weights : list of torch.Tensor, each (K, C_i, C_out)
        Matching weight slices.
    bias : torch.Tensor, shape (C_out,), optional
    lift : callable, optional
        A linear, row-wise map ``(V_c, B, C) -> (V, B, C)`` applied to the single
        input before the convolution, e.g. nearest unpooling. Because it commutes
        with channel mixing (``(U x) W == U (x W)``), the mixing runs on the
        ``V_c`` coarse rows: a 4x smaller GEMM after an icosahedral unpooling.
    power_weights : list of list of torch.Tensor, optional
        ``weights`` already converted by :func:`power_basis` (cached by callers that
        evaluate the same weights many times); ``weights`` then only give shapes.

    Returns
    -------
    torch.Tensor, shape (V, B, C_out)
    """
    K, _, c_out = weights[0].shape
    c_in = sum(x.shape[-1] for x in inputs)
    if lift is not None and len(inputs) != 1:
        raise ValueError("lift needs exactly one input part.")
    V, B = lap.shape[0], inputs[0].shape[1]
    rows = [x.reshape(-1, x.shape[-1]) for x in inputs]  # (V*B, C_i) or (V_c*B, C)
    M = power_weights if power_weights is not None else power_basis(weights)  # M[part][j]

    def mixed(j: int) -> Tensor:
        """``x M_j`` as (V*B, C_out) (lifted to the fine rows when ``lift``)."""
        z = _matmul(rows[0], M[0][j])
        for xr, m in zip(rows[1:], M[1:], strict=False):
            z = z.addmm_(xr, m[j])
        if lift is not None:
            z = lift(z.view(-1, B, c_out)).reshape(V * B, c_out)
        return z

    def accumulate(h: Tensor, j: int) -> Tensor:
        if lift is not None:
            return h.add_(mixed(j))
        for xr, m in zip(rows, M, strict=False):
            h = h.addmm_(xr, m[j])
        return h

    if K > _POWER_MAX_K:
        h = _clenshaw(lap, B, K, mixed, accumulate)
    elif lift is not None or len(inputs) > 1 or c_out <= c_in:
        h = mixed(K - 1)
        for j in range(K - 2, -1, -1):
            h = accumulate(_apply_rows(lap, lap, h, B), j)
    else:  # basis first: powers of L on the (narrower) input channels
        h = _matmul(rows[0], M[0][0])
        p = rows[0]
        for j in range(1, K):
            p = _apply_rows(lap, lap, p, B)
            h = h.addmm_(p, M[0][j])
    if bias is not None:
        h = h.add_(bias) if h._base is None else h + bias
    return h.view(V, B, c_out)


def _clenshaw(lap: Tensor, B: int, K: int, mixed: Callable, accumulate: Callable) -> Tensor:
    """``sum_k T_k(L) z_k`` by ``b_k = z_k + 2 L b_{k+1} - b_{k+2}``, ``y = z_0 + L b_1 - b_2``."""
    b1 = mixed(K - 1)
    b2: Tensor | None = None
    for k in range(K - 2, 0, -1):
        nb = accumulate(_apply_rows(lap, lap, b1, B, alpha=2.0), k)
        if b2 is not None:
            nb = nb.sub_(b2)
        b1, b2 = nb, b1
    y = accumulate(_apply_rows(lap, lap, b1, B), 0)
    return y if b2 is None else y.sub_(b2)
