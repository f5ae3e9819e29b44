"""The sparse product primitive: one differentiable custom op, ``out = alpha * A @ X``.

``X`` is a ``(N * G, C)`` row matrix whose rows are grouped ``G`` at a time
(vertex-major ``(N, G, C)`` data seen as the ``(N, G * C)`` matrix the sparse BLAS
wants); the result is ``(M * G, C)``. ``A`` is given by its CSR arrays
``(crow, col, val)`` and its transpose by a second triple (the same tensors for a
symmetric operator).

Why a ``torch.library`` custom op: it is opaque to ``torch.compile`` (no graph
break, ``fullgraph=True`` works: the fake implementation gives the shapes), its
backward is the same op with the transposed operator, so gradients of any order
are exact (``A`` is a constant), and vmap (``torch.func.jacrev``) is registered.
Custom ops cannot carry a forward-mode (jvp) formula, so in eager mode the
product runs in a small ``autograd.Function`` that adds the jvp (the op is
linear: the tangent is ``A @ t``) and a vmap rule, and calls the implementation
directly (a custom-op call imports ``torch._dynamo`` on first use, about 65 MiB
of resident memory that an eager-only process does not need); under
``torch.compile`` the op is called (Dynamo does not trace a Function with a
custom jvp).

On the CPU the product is a weighted gather-sum of rows (``embedding_bag``, see
:func:`_gather_product`); on other devices the sparse BLAS ``addmm`` with the CSR
operator.

Precision: the product runs in float64 for float64 inputs and in float32
otherwise (half-precision inputs are widened and the result rounded back), with
autocast disabled inside: sparse kernels do not exist for every half type on
every backend, and float32 accumulation is the accurate choice anyway.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.autograd import forward_ad

from ._workspace import pooled_empty

__all__ = ["compute_dtype", "spmm_accumulate_", "spmm_rows"]

# TORCH_WARN_ONCE: "Sparse CSR tensor support is in beta state" is emitted by the first
# CSR construction of the process; consume it here so that ordinary use is quiet.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.sparse_csr_tensor(torch.tensor([0, 1]), torch.tensor([0]), torch.tensor([1.0]), (1, 1))


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype the sparse products use for inputs of ``dtype`` (float64 or float32)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _spmm_impl(
    crow: torch.Tensor,
    col: torch.Tensor,
    val: torch.Tensor,
    x: torch.Tensor,
    n_cols: int,
    groups: int,
    alpha: float,
) -> torch.Tensor:
    """The product itself (eager mode calls this directly, see :func:`spmm_rows`)."""
    if torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return _spmm_impl(crow, col, val, x, n_cols, groups, alpha)
    n_rows = crow.shape[0] - 1
    c = x.shape[1]
    ct = compute_dtype(x.dtype)
    xin = x if x.dtype == ct else x.to(ct)
    xin = xin.contiguous()
    if _gathers(xin, col):
        wide = _gather_product(crow, col, val.to(ct), xin.view(n_cols, groups * c), alpha)
        # the same storage as (M * G, C) rows, not as a view: a custom Function's
        # output must not be a view (callers modify it in place)
        out = wide.new_empty(0).set_(
            wide.untyped_storage(), wide.storage_offset(), (n_rows * groups, c), (c, 1)
        )
    else:
        a = torch.sparse_csr_tensor(crow, col, val.to(ct), (n_rows, n_cols), check_invariants=False)
        out = pooled_empty((n_rows * groups, c), xin)
        wide = out.view(n_rows, groups * c)
        # addmm(beta=0, out=) writes straight into ``out`` (sparse.mm copies a temporary)
        torch.addmm(wide, a, xin.view(n_cols, groups * c), beta=0.0, alpha=alpha, out=wide)
    return out if out.dtype == x.dtype else out.to(x.dtype)


# Outputs below this size are returned as fresh tensors: glibc serves them from
# reusable heap memory once one of that size was freed (its mmap threshold adapts
# up to 32 MiB). Larger ones would be mmapped and page-faulted in on every call (as
# long as the product itself), so they are computed in chunks of rows of at most
# _CHUNK_BYTES, each copied into a pooled buffer.
_FRESH_BYTES = 32 << 20
_CHUNK_BYTES = 8 << 20


def _gathers(x: torch.Tensor, col: torch.Tensor) -> bool:
    """Whether the product with ``x`` runs as :func:`_gather_product` (CPU, something to sum)."""
    return x.device.type == "cpu" and x.shape[1] > 0 and col.numel() > 0


def _gather_product(
    crow: torch.Tensor, col: torch.Tensor, val: torch.Tensor, x: torch.Tensor, alpha: float
) -> torch.Tensor:
    """``alpha * A @ x`` on the CPU as a weighted gather-sum of rows of ``x``, ``(M, N)``.

    ``embedding_bag(mode="sum", per_sample_weights=val)`` with the CSR column
    indices as the bags' indices and ``crow`` as their offsets is exactly the CSR
    product, and its kernel is about three times faster than the sparse BLAS
    ``addmm`` on the Laplacians of sphere graphs (``tools/bench/cheb_conv.py``).
    """
    w = val if alpha == 1.0 else val * alpha
    n_rows, width = crow.shape[0] - 1, x.shape[1]
    if n_rows * width * x.element_size() < _FRESH_BYTES:
        return torch.embedding_bag(x, col, crow, False, 0, False, w, True, None)[0]
    out = pooled_empty((n_rows, width), x)
    step = max(1, _CHUNK_BYTES // (width * x.element_size()))
    for s in range(0, n_rows, step):
        e = min(n_rows, s + step)
        a, b = int(crow[s]), int(crow[e])
        part = torch.embedding_bag(
            x, col[a:b], crow[s : e + 1] - a, False, 0, False, w[a:b], True, None
        )
        out[s:e].copy_(part[0])
    return out


@torch.library.custom_op("cheb_conv::spmm", mutates_args=())
def _spmm(
    crow: torch.Tensor,
    col: torch.Tensor,
    val: torch.Tensor,
    tcrow: torch.Tensor,
    tcol: torch.Tensor,
    tval: torch.Tensor,
    x: torch.Tensor,
    n_cols: int,
    groups: int,
    alpha: float,
) -> torch.Tensor:
    return _spmm_impl(crow, col, val, x, n_cols, groups, alpha)


@_spmm.register_fake
def _spmm_fake(
    crow: torch.Tensor,
    col: torch.Tensor,
    val: torch.Tensor,
    tcrow: torch.Tensor,
    tcol: torch.Tensor,
    tval: torch.Tensor,
    x: torch.Tensor,
    n_cols: int,
    groups: int,
    alpha: float,
) -> torch.Tensor:
    return x.new_empty(((crow.shape[0] - 1) * groups, x.shape[1]))


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    crow, col, val, tcrow, tcol, tval, _x, _n_cols, groups, alpha = inputs
    ctx.ops = (crow, col, val, tcrow, tcol, tval)
    ctx.n_rows = crow.shape[0] - 1
    ctx.groups, ctx.alpha = groups, alpha


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    crow, col, val, tcrow, tcol, tval = ctx.ops
    gx = _spmm(
        tcrow, tcol, tval, crow, col, val, grad.contiguous(), ctx.n_rows, ctx.groups, ctx.alpha
    )
    return None, None, None, None, None, None, gx, None, None, None


_spmm.register_autograd(_backward, setup_context=_setup_context)


def _vmap(
    info: Any,
    in_dims: tuple[int | None, ...],
    crow: torch.Tensor,
    col: torch.Tensor,
    val: torch.Tensor,
    tcrow: torch.Tensor,
    tcol: torch.Tensor,
    tval: torch.Tensor,
    x: torch.Tensor,
    n_cols: int,
    groups: int,
    alpha: float,
) -> tuple[torch.Tensor, int | None]:
    if any(d is not None for d in in_dims[:6]):
        raise NotImplementedError("cheb_conv: vmap over the operator is not supported")
    bd = in_dims[6]
    if bd is None:
        return _spmm(crow, col, val, tcrow, tcol, tval, x, n_cols, groups, alpha), None
    xb = x.movedim(bd, -1)  # (N*G, C, nb): the vmapped dim joins the channels
    rows, c, nb = xb.shape
    y = _spmm(crow, col, val, tcrow, tcol, tval, xb.reshape(rows, c * nb), n_cols, groups, alpha)
    return y.view(-1, c, nb), 2


torch.library.register_vmap("cheb_conv::spmm", _vmap)


class _SpmmFunction(torch.autograd.Function):
    """The custom op with forward-mode AD (custom ops cannot register a jvp) and vmap."""

    @staticmethod
    def forward(
        arrays: tuple[torch.Tensor, ...], x: torch.Tensor, n_cols: int, groups: int, alpha: float
    ) -> torch.Tensor:
        # the implementation, not the custom op: calling a custom op runs it under
        # torch._dynamo.disable, whose first use imports torch._dynamo, sympy and
        # torch.distributed (about 65 MiB of resident memory for an eager-only user)
        return _spmm_impl(arrays[0], arrays[1], arrays[2], x, n_cols, groups, alpha)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        arrays, _x, n_cols, groups, alpha = inputs
        ctx.arrays, ctx.n_cols, ctx.groups, ctx.alpha = arrays, n_cols, groups, alpha
        ctx.n_rows = arrays[0].shape[0] - 1

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a = ctx.arrays
        return (
            None,
            spmm_rows((*a[3:], *a[:3]), grad.contiguous(), ctx.n_rows, ctx.groups, ctx.alpha),
            None,
            None,
            None,
        )

    @staticmethod
    def jvp(ctx: Any, arrays_t: Any, x_t: torch.Tensor, *_: Any) -> torch.Tensor:
        return spmm_rows(ctx.arrays, x_t.contiguous(), ctx.n_cols, ctx.groups, ctx.alpha)

    @staticmethod
    def vmap(
        info: Any,
        in_dims: tuple[int | None, ...],
        arrays: tuple[torch.Tensor, ...],
        x: torch.Tensor,
        n_cols: int,
        groups: int,
        alpha: float,
    ) -> tuple[torch.Tensor, int | None]:
        bd = in_dims[1]
        if bd is None:
            return spmm_rows(arrays, x, n_cols, groups, alpha), None
        xb = x.movedim(bd, -1)  # (N*G, C, nb): the vmapped dim joins the channels
        rows, c, nb = xb.shape
        y = spmm_rows(arrays, xb.reshape(rows, c * nb), n_cols, groups, alpha)
        return y.view(-1, c, nb), 2


def spmm_accumulate_(
    out: torch.Tensor,
    arrays: tuple[torch.Tensor, ...],
    x: torch.Tensor,
    n_cols: int,
    groups: int,
    alpha: float = 1.0,
) -> torch.Tensor:
    """``out += alpha * A @ X`` in place, outside autograd (see :func:`spmm_rows`).

    ``out`` ``(M * groups, C)`` contiguous and ``x`` ``(N * groups, C)``, both in the
    compute dtype (:func:`compute_dtype`). Returns ``out``.
    """
    n_rows = arrays[0].shape[0] - 1
    c = x.shape[1]
    wide = out.view(n_rows, groups * c)
    xw = x.contiguous().view(n_cols, groups * c)
    if _gathers(x, arrays[1]):  # the same CPU product as spmm_rows
        wide.add_(_gather_product(arrays[0], arrays[1], arrays[2].to(out.dtype), xw, alpha))
        return out
    a = torch.sparse_csr_tensor(
        arrays[0], arrays[1], arrays[2].to(out.dtype), (n_rows, n_cols), check_invariants=False
    )
    torch.addmm(wide, a, xw, alpha=alpha, out=wide)
    return out


def spmm_rows(
    arrays: tuple[torch.Tensor, ...], x: torch.Tensor, n_cols: int, groups: int, alpha: float = 1.0
) -> torch.Tensor:
    """``alpha * A @ X`` on grouped rows (see the module docstring), differentiable.

    Parameters
    ----------
    arrays : (crow, col, val, tcrow, tcol, tval)
        CSR arrays of ``A`` ``(M, N)`` and of its transpose ``(N, M)``.
    x : torch.Tensor, shape (N * groups, C)
    n_cols : int
        ``N``.
    groups : int
    alpha : float

    Returns
    -------
    torch.Tensor, shape (M * groups, C), in ``x``'s dtype
    """
    if torch.compiler.is_compiling():  # Dynamo cannot trace a Function with a jvp: the op itself
        return _spmm(*arrays, x, n_cols, groups, alpha)
    if (
        not (x.requires_grad and torch.is_grad_enabled())
        and forward_ad._current_level < 0
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
    ):  # nothing to differentiate: skip autograd.Function.apply's per-call cost
        return _spmm_impl(arrays[0], arrays[1], arrays[2], x, n_cols, groups, alpha)
    return _SpmmFunction.apply(tuple(arrays), x, n_cols, groups, alpha)
