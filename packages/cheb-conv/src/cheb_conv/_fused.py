"""The fused autograd function around :func:`cheb_conv._kernels.polynomial`.

Forward: the kernel with pooled outputs, nothing but the inputs saved. Backward,
whatever order the forward used: with ``G_j = P_j(L^T) gy`` (``(L^T)^j gy`` in the
power basis, ``T_j(L^T) gy`` by the three-term recurrence beyond; ``K - 1``
sparse products on the output channels) and ``U`` the optional lift,

* ``grad x_i = sum_j (U^T G_j) M_ij^T`` and ``grad M_ij = x_i^T (U^T G_j)``,
* ``grad b = sum_rows gy``.

When the backward itself is differentiated (``create_graph=True``: double
backward, ``torch.autograd.functional.jvp/hvp/vhp``), it recomputes the forward
with differentiable operations and lets autograd differentiate that, so every
order is exact. Forward-mode AD (``jvp``) is implemented (the map is bilinear in
``x`` and ``M``). vmap (``torch.func.vmap/jacrev/jacfwd``) is not supported and
raises PyTorch's error naming the missing vmap rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._kernels import POWER_MAX_K, polynomial
from ._sparse import spmm_rows
from ._workspace import pooled_empty

__all__ = ["Spec", "fused_polynomial"]


@dataclass(frozen=True, eq=False)
class Spec:
    """What the fused function needs besides tensors.

    ``arrays``: CSR arrays of ``L`` and ``L^T`` (see ``SparseOperator.arrays``);
    ``n``: columns of ``L``; ``groups``: row groups (``B`` for vertex-major rows);
    ``lift``: optional row map (coarse -> fine) applied to the single part.
    """

    arrays: tuple[Tensor, ...]
    n: int
    groups: int
    lift: Callable[[Tensor], Tensor] | None
    nparts: int

    def apply(self, h: Tensor, alpha: float) -> Tensor:
        return spmm_rows(self.arrays, h, self.n, self.groups, alpha)

    def apply_t(self, h: Tensor, alpha: float) -> Tensor:
        a = self.arrays
        return spmm_rows((*a[3:], *a[:3]), h, self.n, self.groups, alpha)


def _lift_adjoint(lift: Callable[[Tensor], Tensor], coarse: Tensor, g: Tensor) -> Tensor:
    """``U^T g`` for the linear row map ``U = lift`` (by autograd of ``lift``)."""
    z = torch.zeros((coarse.shape[0], g.shape[1]), dtype=g.dtype, device=g.device, requires_grad=True)
    with torch.enable_grad():
        up = lift(z)
    (out,) = torch.autograd.grad(up, z, g)
    return out


class _ChebFunction(torch.autograd.Function):
    @staticmethod
    def forward(spec: Spec, bias: Tensor | None, *tensors: Tensor) -> Tensor:  # type: ignore[override]
        n = spec.nparts
        return polynomial(spec.apply, list(tensors[:n]), list(tensors[n:]), bias, spec.lift)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        spec, bias, *tensors = inputs
        ctx.spec = spec
        ctx.has_bias = bias is not None
        ctx.save_for_backward(*tensors, *([bias] if bias is not None else []))
        ctx.save_for_forward(*tensors, *([bias] if bias is not None else []))

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple:  # type: ignore[override]
        spec: Spec = ctx.spec
        n = spec.nparts
        saved = ctx.saved_tensors
        parts, Ms = list(saved[:n]), list(saved[n : 2 * n])
        bias = saved[2 * n] if ctx.has_bias else None
        needs = ctx.needs_input_grad[2:]
        if torch.is_grad_enabled():
            return (None, *_differentiable_backward(spec, parts, Ms, bias, gy, ctx.needs_input_grad))
        gy = gy.contiguous()
        K, _, c_out = Ms[0].shape
        # G_j = P_j(L^T) gy, each (R, C_out)
        G = [gy]
        for j in range(1, K):
            if K <= POWER_MAX_K or j == 1:
                G.append(spec.apply_t(G[-1], 1.0))
            else:
                G.append(spec.apply_t(G[-1], 2.0).sub_(G[-2]))
        if spec.lift is not None:
            G = [_lift_adjoint(spec.lift, parts[0], g) for g in G]
        grads: list[Tensor | None] = []
        for i, x in enumerate(parts):  # grad of x_i
            if not needs[i]:
                grads.append(None)
                continue
            M = Ms[i]
            gx = torch.mm(G[0], M[0].t(), out=pooled_empty((G[0].shape[0], M.shape[1]), G[0]))
            for j in range(1, K):
                gx.addmm_(G[j], M[j].t())
            grads.append(gx)
        for i, x in enumerate(parts):  # grad of M_i
            if not needs[n + i]:
                grads.append(None)
                continue
            gM = x.new_empty(Ms[i].shape)
            for j in range(K):
                torch.mm(x.t(), G[j], out=gM[j])
            grads.append(gM)
        gb = gy.sum(0) if ctx.has_bias and ctx.needs_input_grad[1] else None
        return (None, gb, *grads)

    @staticmethod
    def jvp(ctx: Any, spec_t: None, bias_t: Tensor | None, *tangents: Tensor | None) -> Tensor:  # type: ignore[override]
        spec: Spec = ctx.spec
        n = spec.nparts
        saved = ctx.saved_tensors
        parts, Ms = list(saved[:n]), list(saved[n : 2 * n])
        x_t = [t if t is not None else torch.zeros_like(p) for t, p in zip(tangents[:n], parts, strict=True)]
        M_t = [t if t is not None else torch.zeros_like(m) for t, m in zip(tangents[n:], Ms, strict=True)]
        y = polynomial(spec.apply, x_t, Ms, bias_t, spec.lift)
        return y.add_(polynomial(spec.apply, parts, M_t, None, spec.lift))


def _differentiable_backward(
    spec: Spec, parts: list[Tensor], Ms: list[Tensor], bias: Tensor | None, gy: Tensor, needs: tuple
) -> tuple:
    """Gradients as differentiable functions of the inputs and ``gy`` (for double backward)."""
    with torch.enable_grad():
        y = polynomial(spec.apply, parts, Ms, bias, spec.lift)
        inputs = [bias, *parts, *Ms]
        wanted = [i for i, t in enumerate(inputs) if t is not None and needs[1 + i]]
        got = torch.autograd.grad(
            y, [inputs[i] for i in wanted], gy, create_graph=True, allow_unused=True
        )
    out: list[Tensor | None] = [None] * len(inputs)
    for i, g in zip(wanted, got, strict=True):
        out[i] = g if g is not None else torch.zeros_like(inputs[i])
    return tuple(out)


def fused_polynomial(
    spec: Spec, rows: list[Tensor], Ms: list[Tensor], bias: Tensor | None
) -> Tensor:
    """:func:`polynomial` with the fused backward (see the module docstring).

    Parameters
    ----------
    spec : Spec
    rows : list of torch.Tensor, each (R, C_i) (one (R_c, C) with a lift)
    Ms : list of torch.Tensor, each (K, C_i, C_out), the kernel basis
    bias : torch.Tensor (C_out,) or None

    Returns
    -------
    torch.Tensor, shape (R, C_out)
    """
    if torch.is_autocast_enabled(rows[0].device.type) or torch.compiler.is_compiling():
        # autocast: autograd sees the dtype casts of every GEMM; torch.compile: Dynamo
        # cannot trace a Function with a custom jvp, and Inductor fuses the plain ops
        return polynomial(spec.apply, rows, Ms, bias, spec.lift)
    if not torch.is_grad_enabled() or not any(
        t.requires_grad for t in (*rows, *Ms, *([bias] if bias is not None else []))
    ):
        return polynomial(spec.apply, rows, Ms, bias, spec.lift)
    rows = [r.contiguous() for r in rows]
    return _ChebFunction.apply(spec, bias, *rows, *Ms)
