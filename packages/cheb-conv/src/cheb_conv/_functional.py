"""Functional Chebyshev graph convolution in both layouts.

``cheb_conv`` takes the public ``(B, V, C)`` layout, ``cheb_conv_vertex_major``
the ``(V, B, C)`` layout used inside networks (no transposes between layers, the
decoder's implicit concatenation, mixing on coarse rows before an unpooling).
Both run the one kernel of :mod:`cheb_conv._kernels`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ._fused import Spec, fused_polynomial
from ._kernels import POWER_MAX_K, power_basis
from ._laplacian import _is_numpy_array, _is_scipy_sparse
from ._lifted import lifted_conv
from ._operator import SparseOperator, sparse_apply

__all__ = ["cheb_conv", "cheb_conv_vertex_major", "resolve_operator"]

# One SparseOperator per (torch operator object, version, device).
_CACHE: dict[tuple, SparseOperator] = {}


def resolve_operator(operator: Any, device: torch.device | None = None) -> SparseOperator:
    """A :class:`SparseOperator` for any accepted operator.

    Parameters
    ----------
    operator : SparseOperator, torch sparse/dense tensor, numpy array or scipy.sparse matrix
        ``(V, V)``. Torch tensors are converted once and cached (by identity and
        version); scipy / numpy matrices are converted on every call (they can
        change in place unnoticed): wrap them once with ``SparseOperator(matrix)``.
    device : torch.device, optional
        Device the result must be on.

    Returns
    -------
    SparseOperator
    """
    if isinstance(operator, SparseOperator):
        return operator
    if isinstance(operator, Tensor):
        key = (id(operator), operator._version, operator.device)
        hit = _CACHE.get(key)
        if hit is None:
            hit = SparseOperator(operator.detach() if operator.requires_grad else operator)
            _CACHE[key] = hit
            weakref.finalize(operator, _CACHE.pop, key, None)
        op = hit
    elif _is_scipy_sparse(operator) or _is_numpy_array(operator):
        op = SparseOperator(operator)
    else:
        raise TypeError(
            "operator must be a cheb_conv.SparseOperator, a torch sparse/dense tensor, a numpy "
            f"array or a scipy.sparse matrix, got {type(operator).__name__}"
        )
    if op.shape[0] != op.shape[1]:
        raise ValueError(
            f"operator must be square (V, V), got shape {op.shape}; pass the (rescaled) Laplacian "
            "of the graph, not an incidence or resampling matrix"
        )
    if device is not None and op.crow.device != device:
        op = op.to(device) if not isinstance(operator, Tensor) else _moved(operator, op, device)
    return op


def _moved(tensor: Tensor, op: SparseOperator, device: torch.device) -> SparseOperator:
    key = (id(tensor), tensor._version, device)
    hit = _CACHE.get(key)
    if hit is None:
        import copy

        hit = copy.deepcopy(op).to(device)
        _CACHE[key] = hit
        weakref.finalize(tensor, _CACHE.pop, key, None)
    return hit


_HALF = (torch.float16, torch.bfloat16)


def _check(x: Tensor, weight: Tensor, bias: Tensor | None, c_in: int, name: str) -> None:
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() != 3:
        raise ValueError(f"weight must have shape (K, C_in, C_out), got {tuple(weight.shape)}")
    if weight.shape[0] < 1:
        raise ValueError(f"K (weight.shape[0]) must be >= 1, got {weight.shape[0]}")
    if weight.shape[1] != c_in:
        raise ValueError(
            f"channel mismatch: {name} has C_in={c_in} channels but weight expects "
            f"C_in={weight.shape[1]} (weight shape {tuple(weight.shape)})"
        )
    if not x.dtype.is_floating_point or x.dtype not in (torch.float32, torch.float64, *_HALF):
        raise TypeError(
            f"{name} must be float32 or float64 (float16/bfloat16 also work, widened to float32 "
            f"for the sparse products), got {x.dtype}"
        )
    autocast = torch.is_autocast_enabled(x.device.type)
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is None:
            continue
        if t.device != x.device:
            raise ValueError(
                f"{what} is on {t.device} but {name} on {x.device}; move the module with .to(...)"
            )
        if t.dtype != x.dtype and not autocast:
            raise TypeError(
                f"{what} is {t.dtype} but {name} is {x.dtype}: convert one of them (.to(torch.float32) "
                "or .to(torch.float64)), or run under torch.autocast for mixed precision"
            )
    if bias is not None and bias.shape != (weight.shape[2],):
        raise ValueError(
            f"bias must have shape (C_out,) = ({weight.shape[2]},), got {tuple(bias.shape)}"
        )


def cheb_conv(
    x: Tensor,
    operator: Any,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    basis: Tensor | None = None,
) -> Tensor:
    """Chebyshev graph convolution ``y = sum_k T_k(L~) x W_k + b``, layout ``(B, V, C)``.

    Parameters
    ----------
    x : torch.Tensor
        ``(B, V, C_in)`` or unbatched ``(V, C_in)``; float32/float64 (float16 and
        bfloat16 work too, and under ``torch.autocast`` the GEMMs run in the
        autocast dtype; sparse products always accumulate in float32).
    operator : SparseOperator, torch sparse/dense tensor, numpy array or scipy.sparse matrix
        Rescaled Laplacian ``L~ = 2 L / lmax - I``, ``(V, V)`` (see
        :func:`cheb_conv.rescale`); see :func:`resolve_operator` for caching.
        Not differentiable w.r.t. the operator; non-symmetric operators work (the
        backward uses ``L~^T``).
    weight : torch.Tensor
        ``(K, C_in, C_out)``, ``K >= 1``; ``weight[k]`` multiplies ``T_k(L~) x``.
    bias : torch.Tensor, optional
        ``(C_out,)``.
    basis : torch.Tensor, optional
        ``power_basis(weight)``, when the caller caches it.

    Returns
    -------
    torch.Tensor
        ``(B, V, C_out)`` (or ``(V, C_out)`` for unbatched ``x``).

    Notes
    -----
    The ``(B, V, C)`` input is used as ``(B * V, C)`` rows, without a transpose:
    the sparse products use the block-diagonal operator ``I_B (x) L~`` (built once
    per batch size and cached on the operator). On the CPU that is faster than
    transposing to the vertex-major ``(V, B * C)`` matrix and back
    (``tools/bench/cheb_conv.py``). Gradients of every order and forward-mode
    derivatives (``torch.func.jvp``) are exact.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(f"x must have shape (B, V, C_in) or (V, C_in), got {tuple(x.shape)}")
    unbatched = x.dim() == 2
    x3 = x.unsqueeze(0) if unbatched else x
    _check(x3, weight, bias, x3.shape[-1], "x")
    op = resolve_operator(operator, x.device)
    B, V, c_in = x3.shape
    if op.shape != (V, V):
        raise ValueError(
            f"vertex mismatch: operator is {op.shape[0]} x {op.shape[1]} but x has V={V} vertices "
            f"(x shape {tuple(x.shape)}); x must be (B, V, C_in) with the operator's V"
        )
    M = power_basis(weight) if basis is None else basis
    spec = Spec(op.block_arrays(B, x3.dtype), B * V, 1, None, 1)
    y = fused_polynomial(spec, [x3.reshape(B * V, c_in)], [M], bias).view(B, V, -1)
    return y[0] if unbatched else y


def _matrix_lift(matrix: SparseOperator) -> Callable[[Tensor], Tensor]:
    """The lift ``z -> U z`` of a matrix, as a callable (``K > 4``, ``torch.compile``)."""

    def lift(z: Tensor) -> Tensor:
        return sparse_apply(matrix, z)

    return lift


def cheb_conv_vertex_major(
    x: Tensor | Sequence[Tensor],
    operator: Any,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    lift: Callable[[Tensor], Tensor] | SparseOperator | None = None,
    basis: Tensor | None = None,
) -> Tensor:
    """Chebyshev graph convolution in the vertex-major layout ``(V, B, C)``.

    Parameters
    ----------
    x : torch.Tensor ``(V, B, C_in)``, or a sequence of parts ``(V, B, C_i)``
        Several parts are convolved as their concatenation along channels
        (``sum C_i = C_in``) without building it: conv of a concatenation is the
        sum of the convolutions of the parts with the matching weight rows.
        With ``lift``: one tensor ``(V_c, B, C_in)`` of coarse rows.
    operator : SparseOperator or any operator accepted by :func:`resolve_operator`
        ``(V, V)`` rescaled Laplacian.
    weight : torch.Tensor, shape (K, C_in, C_out)
    bias : torch.Tensor, shape (C_out,), optional
    lift : callable or SparseOperator, optional
        A linear map ``(V_c, B, C) -> (V, B, C)`` acting on rows only (same
        combination of coarse rows for every batch entry and channel), e.g. a
        nearest unpooling. It commutes with channel mixing
        (``U (x W) == (U x) W``), so the mixing runs on the ``V_c`` coarse rows;
        the result equals ``cheb_conv_vertex_major(lift(x), ...)``. A callable
        must be differentiable (autograd) when gradients are needed. Given as
        its matrix ``U`` (a :class:`SparseOperator` of shape ``(V, V_c)``, e.g.
        ``SparseOperator.from_index(parent, V_c)`` for a nearest unpooling) and
        ``K <= 4``, the whole polynomial is one sparse product with the
        operator ``[U | L U | ... | L^(K-1) U]`` (formed once, cached on ``U``;
        faster, see ``cheb_conv._lifted``).
    basis : torch.Tensor, optional
        ``power_basis(weight)``, when the caller caches it (e.g. eval mode with
        folded batch norm); ``weight`` then only gives shapes.

    Returns
    -------
    torch.Tensor, shape (V, B, C_out)
    """
    parts = [x] if isinstance(x, Tensor) else list(x)
    if not parts or not all(isinstance(p, Tensor) for p in parts):
        raise TypeError("x must be a tensor (V, B, C_in) or a non-empty sequence of tensors")
    if any(p.dim() != 3 for p in parts):
        raise ValueError(
            f"x must be (V, B, C) tensors, got shapes {[tuple(p.shape) for p in parts]}"
        )
    if lift is not None and len(parts) != 1:
        raise ValueError("lift needs exactly one input tensor (not several parts)")
    sizes = [p.shape[-1] for p in parts]
    _check(parts[0], weight, bias, sum(sizes), "x")
    op = resolve_operator(operator, parts[0].device)
    V = op.shape[0]
    B = parts[0].shape[1]
    for p in parts:
        if p.shape[1] != B or (lift is None and p.shape[0] != V):
            raise ValueError(
                f"x parts must be (V={V}, B, C_i) with a common B, got {[tuple(q.shape) for q in parts]}"
            )
    M = power_basis(weight) if basis is None else basis
    Ms = list(M.split(sizes, dim=1)) if len(parts) > 1 else [M]
    rows = [p.reshape(-1, p.shape[-1]) for p in parts]
    if isinstance(lift, SparseOperator):
        if lift.shape != (V, parts[0].shape[0]):
            raise ValueError(
                f"lift matrix is {lift.shape[0]} x {lift.shape[1]} but must be (V, V_c) = "
                f"({V}, {parts[0].shape[0]}) for this operator and input"
            )
        if M.shape[0] <= POWER_MAX_K and not torch.compiler.is_compiling():
            return lifted_conv(rows[0], op, lift, M, bias, B).view(V, B, -1)
        lift = _matrix_lift(lift)
    elif lift is not None and not callable(lift):
        raise TypeError(
            f"lift must be a callable or a cheb_conv.SparseOperator (V, V_c), got {type(lift).__name__}"
        )
    row_lift = None
    if lift is not None:

        def row_lift(z: Tensor) -> Tensor:
            up = lift(z.view(-1, B, z.shape[-1]))
            if up.shape[:2] != (V, B):
                raise ValueError(f"lift returned shape {tuple(up.shape)}, expected ({V}, {B}, C)")
            return up.reshape(V * B, -1)

    spec = Spec(op.arrays(parts[0].dtype), V, B, row_lift, len(rows))
    y = fused_polynomial(spec, rows, Ms, bias)
    return y.view(V, B, -1)
