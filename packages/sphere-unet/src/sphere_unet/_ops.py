"""Tensor kernels in the internal vertex-major layout ``(V, B, C)``.

The U-Net keeps activations as contiguous ``(V, B, C)`` tensors so that a sparse
Laplacian multiplies a ``(V, B * C)`` view without any permute or copy, and so that
batch norm and the channel mixing see a ``(V * B, C)`` matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

__all__ = ["GraphOperator", "cheb_polynomial", "sp_addmm", "sparse_apply", "spmm"]


class _SymSpMM(torch.autograd.Function):
    """``L @ X`` for a symmetric sparse ``L``; the backward reuses ``L`` (``L^T == L``)."""

    @staticmethod
    def forward(ctx, lap: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.lap = lap
        return torch.sparse.mm(lap, x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return None, torch.sparse.mm(ctx.lap, grad.contiguous())


class _SpMM(torch.autograd.Function):
    """``A @ X`` for a sparse ``A`` whose transpose ``At`` is given for the backward."""

    @staticmethod
    def forward(ctx, a: Tensor, at: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.at = at
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return None, None, torch.sparse.mm(ctx.at, grad.contiguous())


def sparse_apply(a: Tensor, at: Tensor, x: Tensor) -> Tensor:
    """``a @ x`` for a sparse CSR ``a`` ``(M, N)`` with transpose ``at``, ``x`` of shape ``(N, B, C)``.

    Returns
    -------
    torch.Tensor, shape (M, B, C)
    """
    x2 = x.reshape(x.shape[0], -1)
    if torch.is_grad_enabled() and x.requires_grad:
        out = _SpMM.apply(a, at, x2)
    else:
        out = torch.sparse.mm(a, x2)
    return out.view(a.shape[0], *x.shape[1:])


class _SymAddmm(torch.autograd.Function):
    """``beta * C + alpha * L @ X`` for a symmetric sparse ``L``, in one sparse ``addmm``.

    On CPU the fused sparse ``addmm`` is about twice as fast as ``sparse.mm`` (which
    zero-fills and copies its output) followed by an addition.
    """

    @staticmethod
    def forward(ctx, c: Tensor, lap: Tensor, x: Tensor, beta: float, alpha: float) -> Tensor:  # type: ignore[override]
        ctx.lap, ctx.beta, ctx.alpha = lap, beta, alpha
        return torch.addmm(c, lap, x, beta=beta, alpha=alpha)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        grad = grad.contiguous()
        gc = gx = None
        if ctx.needs_input_grad[0] and ctx.beta != 0:
            gc = grad if ctx.beta == 1 else grad * ctx.beta
        if ctx.needs_input_grad[2]:
            gx = torch.addmm(grad, ctx.lap, grad, beta=0.0, alpha=ctx.alpha)
        return gc, None, gx, None, None


def sp_addmm(c: Tensor | None, lap: Tensor, x: Tensor, beta: float = 1.0, alpha: float = 1.0) -> Tensor:
    """``beta * c + alpha * L @ x`` for a symmetric sparse CSR ``L`` ``(V, V)``.

    Parameters
    ----------
    c : torch.Tensor or None, shape (V, B, C)
        None means ``beta = 0``.
    lap : torch.Tensor, sparse CSR, shape (V, V)
    x : torch.Tensor, shape (V, B, C)
    beta, alpha : float

    Returns
    -------
    torch.Tensor, shape (V, B, C)
    """
    shape = x.shape
    x2 = x.reshape(shape[0], -1)
    if c is None:
        c2, beta = x2, 0.0
    else:
        c2 = c.reshape(shape[0], -1)
    if torch.is_grad_enabled() and (x.requires_grad or (c is not None and c.requires_grad)):
        out = _SymAddmm.apply(c2, lap, x2, beta, alpha)
    else:
        out = torch.addmm(c2, lap, x2, beta=beta, alpha=alpha)
    return out.view(shape)


def spmm(lap: Tensor, x: Tensor) -> Tensor:
    """Multiply a symmetric sparse ``(V, V)`` matrix with ``x`` of shape ``(V, ...)``.

    Parameters
    ----------
    lap : torch.Tensor, sparse CSR, shape (V, V)
    x : torch.Tensor, shape (V, B, C)

    Returns
    -------
    torch.Tensor, shape (V, B, C)
    """
    shape = x.shape
    x2 = x.reshape(shape[0], -1)
    if torch.is_grad_enabled() and x.requires_grad:
        out = _SymSpMM.apply(lap, x2)
    else:
        out = torch.sparse.mm(lap, x2)
    return out.view(shape)


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


def cheb_polynomial(
    lap: Tensor, inputs: list[Tensor], weights: list[Tensor], bias: Tensor | None = None
) -> Tensor:
    """Chebyshev graph convolution of one or several inputs (their implicit concatenation).

    Computes ``y = sum_k T_k(L) [x_1, ..., x_n] W_k + b`` without materialising the
    concatenation or the stacked polynomial basis. When the output is narrower than
    the input, channels are mixed first and the polynomial is evaluated on the
    output channels by Clenshaw's recurrence (``L (x W) == (L x) W``).

    Parameters
    ----------
    lap : torch.Tensor, sparse CSR, shape (V, V)
        Rescaled Laplacian.
    inputs : list of torch.Tensor, each (V, B, C_i)
        Parts of the input along channels.
    weights : list of torch.Tensor, each (K, C_i, C_out)
        Matching weight slices.
    bias : torch.Tensor, shape (C_out,), optional

    Returns
    -------
    torch.Tensor, shape (V, B, C_out)
    """
    V, B = inputs[0].shape[:2]
    K, _, c_out = weights[0].shape
    c_in = sum(x.shape[-1] for x in inputs)
    flat = [x.reshape(V * B, x.shape[-1]) for x in inputs]
    # One unbind per part: its backward stacks the K gradients once, instead of
    # K zero-filled full-size gradients from K separate ``w[k]`` selections.
    wk = [w.unbind(0) for w in weights]

    def mix(k: int, b: Tensor | None) -> Tensor:
        z = torch.addmm(b, flat[0], wk[0][k]) if b is not None else flat[0] @ wk[0][k]
        for xf, w in zip(flat[1:], wk[1:]):
            z = torch.addmm(z, xf, w[k])
        return z.view(V, B, c_out)

    if K == 1:
        return mix(0, bias)
    if len(inputs) == 1 and c_in < c_out:
        # Basis first: T_k x on C_in channels, then accumulate T_k x W_k.
        x0 = inputs[0]
        x1 = sp_addmm(None, lap, x0)
        y = mix(0, bias).view(V * B, c_out)
        y = torch.addmm(y, x1.view(V * B, c_in), wk[0][1])
        for k in range(2, K):
            x2 = sp_addmm(x0, lap, x1, beta=-1.0, alpha=2.0)
            y = torch.addmm(y, x2.view(V * B, c_in), wk[0][k])
            x0, x1 = x1, x2
        return y.view(V, B, c_out)
    # Mix first, Clenshaw on C_out channels: b_k = z_k + 2 L b_{k+1} - b_{k+2}.
    b1 = mix(K - 1, None)
    b2: Tensor | None = None
    for k in range(K - 2, 0, -1):
        nb = sp_addmm(mix(k, None), lap, b1, alpha=2.0)
        if b2 is not None:
            nb = nb.sub_(b2)
        b1, b2 = nb, b1
    y = sp_addmm(mix(0, bias), lap, b1)
    if b2 is not None:
        y = y.sub_(b2)
    return y
