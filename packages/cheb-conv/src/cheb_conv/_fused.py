"""The fused autograd function around :func:`cheb_conv._kernels.polynomial`.

Forward: the kernel with pooled outputs, nothing but the inputs saved. Backward,
whatever order the forward used: with ``G_j = P_j(L^T) gy`` (``(L^T)^j gy`` in the
power basis, ``T_j(L^T) gy`` by the three-term recurrence beyond; ``K - 1``
sparse products on the output channels) and ``U`` the optional lift,

* ``grad x_i = sum_j (U^T G_j) M_ij^T`` and ``grad M_ij = x_i^T (U^T G_j)``,
* ``grad b = sum_rows gy``.

These formulas are differentiable operations (the sparse product is linear and
differentiable to any order), so when the backward itself is differentiated
(``create_graph=True``: double backward, ``torch.autograd.functional.jvp/hvp/vhp``)
or vmapped (``torch.func.jacrev``) they run without the pooled ``out=`` buffers
and every order is exact. Forward-mode AD (``jvp``) is implemented (the map is
bilinear in ``x`` and ``M``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._kernels import POWER_MAX_K, plain, polynomial, stacked
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
    z = torch.zeros(
        (coarse.shape[0], g.shape[1]), dtype=g.dtype, device=g.device, requires_grad=True
    )
    create = torch.is_grad_enabled()  # double backward: U^T g must stay differentiable in g
    with torch.enable_grad():
        up = lift(z)
        (out,) = torch.autograd.grad(up, z, g, create_graph=create)
    return out


class _ChebFunction(torch.autograd.Function):
    @staticmethod
    def forward(spec: Spec, bias: Tensor | None, *tensors: Tensor) -> Tensor:
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
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor | None, ...]:
        spec: Spec = ctx.spec
        n = spec.nparts
        saved = ctx.saved_tensors
        parts, Ms = list(saved[:n]), list(saved[n : 2 * n])
        needs = ctx.needs_input_grad[2:]
        # pooled out= buffers only for a plain first-order backward; with create_graph
        # (double backward) or under a torch.func transform (vmap of the backward) the
        # same formulas run as ordinary differentiable operations
        fast = not torch.is_grad_enabled() and all(plain(t) for t in (gy, *saved))
        gy = gy.contiguous()
        K = Ms[0].shape[0]
        # G_j = P_j(L^T) gy, each (R, C_out)
        G = [gy]
        for j in range(1, K):
            if K <= POWER_MAX_K or j == 1:
                G.append(spec.apply_t(G[-1], 1.0))
            else:
                t = spec.apply_t(G[-1], 2.0)
                G.append(t.sub_(G[-2]) if fast else t - G[-2])
        if spec.lift is not None:
            G = [_lift_adjoint(spec.lift, parts[0], g) for g in G]
        c_out = gy.shape[1]
        if stacked(K, parts[0].shape[1], c_out, n, spec.lift):  # narrow output: one GEMM each
            x, M = parts[0], Ms[0]
            Gcat = torch.cat(G, dim=1)  # (R, K C_out)
            gx_s: Tensor | None = None
            if needs[0]:
                Mt = M.transpose(1, 2).reshape(K * c_out, M.shape[1])
                gx_s = (
                    torch.mm(Gcat, Mt, out=pooled_empty((Gcat.shape[0], Mt.shape[1]), Gcat))
                    if fast
                    else Gcat @ Mt
                )
            gM_s = None
            if needs[1]:
                gM_s = (x.t() @ Gcat).view(M.shape[1], K, c_out).transpose(0, 1).contiguous()
            gb = gy.sum(0) if ctx.has_bias and ctx.needs_input_grad[1] else None
            return (None, gb, gx_s, gM_s)
        grads: list[Tensor | None] = []
        for i in range(n):  # grad of x_i = sum_j G_j M_ij^T
            if not needs[i]:
                grads.append(None)
                continue
            M = Ms[i]
            if fast:
                gx = torch.mm(G[0], M[0].t(), out=pooled_empty((G[0].shape[0], M.shape[1]), G[0]))
                for j in range(1, K):
                    gx.addmm_(G[j], M[j].t())
            else:
                gx = sum(G[j] @ M[j].t() for j in range(K))
            grads.append(gx)
        for i, x in enumerate(parts):  # grad of M_i: x_i^T G_j
            if not needs[n + i]:
                grads.append(None)
            elif fast:
                gM = x.new_empty(Ms[i].shape)
                for j in range(K):
                    torch.mm(x.t(), G[j], out=gM[j])
                grads.append(gM)
            else:
                grads.append(torch.stack([x.t() @ g for g in G]))
        gb = gy.sum(0) if ctx.has_bias and ctx.needs_input_grad[1] else None
        return (None, gb, *grads)

    @staticmethod
    def jvp(ctx: Any, spec_t: None, bias_t: Tensor | None, *tangents: Tensor | None) -> Tensor:
        spec: Spec = ctx.spec
        n = spec.nparts
        saved = ctx.saved_tensors
        parts, Ms = list(saved[:n]), list(saved[n : 2 * n])
        x_t = [
            t if t is not None else torch.zeros_like(p)
            for t, p in zip(tangents[:n], parts, strict=True)
        ]
        M_t = [
            t if t is not None else torch.zeros_like(m)
            for t, m in zip(tangents[n:], Ms, strict=True)
        ]
        y = polynomial(spec.apply, x_t, Ms, bias_t, spec.lift)
        return y.add_(polynomial(spec.apply, parts, M_t, None, spec.lift))


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
