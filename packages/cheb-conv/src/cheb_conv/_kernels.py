"""The Chebyshev polynomial kernels (one implementation, two row layouts).

``y = sum_k T_k(L) x W_k + b`` is evaluated on a row matrix: vertex-major rows
``(V * B, C)`` (the ``(V, B, C)`` layout, where ``L`` multiplies the
``(V, B * C)`` view) or batch-major rows ``(B * V, C)`` (the ``(B, V, C)`` layout,
with the block-diagonal ``I_B (x) L``). The only sparse primitive is the
differentiable custom op of :mod:`cheb_conv._sparse`; everything else is dense
PyTorch, so autograd of any order, autocast and ``torch.compile`` follow.

Evaluation orders
-----------------
* ``K <= 4``: power basis ``y = sum_j L^j x M_j`` with ``M = power_basis(W)``
  (exact up to rounding amplified by at most ``sum_j |C_kj| <= 7``): every sparse
  product is a plain ``L @ h`` written straight into a new tensor, every channel
  mixing a GEMM accumulated into it.

  - *mix first* (Horner, ``h <- L h + x M_j``) when ``C_out <= C_in``, with
    several input parts (the implicit concatenation) or with a ``lift``: the
    sparse products run on the ``C_out`` output channels;
  - *basis first* (``p <- L p``, ``y += p M_j``) when the layer widens.
* ``K > 4``: Clenshaw's recurrence for the Chebyshev basis
  (``b_k = x W_k + 2 L b_{k+1} - b_{k+2}``), mixing first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.autograd import forward_ad

from ._workspace import pooled_empty

__all__ = ["POWER_MAX_K", "fold_affine", "fold_batch_norm", "polynomial", "power_basis", "stacked"]

POWER_MAX_K = 4  # up to this K the polynomial is evaluated in the power basis


def power_basis(weight: Tensor) -> Tensor:
    """Weights of the power basis, ``M_j = sum_k C_kj W_k`` with ``T_k(a) = sum_j C_kj a^j``.

    Parameters
    ----------
    weight : torch.Tensor, shape (K, C_in, C_out)
        Chebyshev weights (``weight[k]`` multiplies ``T_k(L) x``).

    Returns
    -------
    torch.Tensor, shape (K, C_in, C_out)
        ``M`` for ``K <= 4`` (the kernels' basis); ``weight`` itself for larger
        ``K`` (evaluated by Clenshaw in the Chebyshev basis). Differentiable.
    """
    K = weight.shape[0]
    if K <= 2 or K > POWER_MAX_K:
        return weight
    w = weight.unbind(0)
    if K == 3:  # T2 = 2a^2 - 1
        return torch.stack([w[0] - w[2], w[1], 2 * w[2]])
    # K == 4, T3 = 4a^3 - 3a
    return torch.stack([w[0] - w[2], w[1] - 3 * w[3], 2 * w[2], 4 * w[3]])


def fold_affine(
    weight: Tensor, bias: Tensor | None, scale: Tensor, shift: Tensor
) -> tuple[Tensor, Tensor]:
    """Fold a following per-channel affine map ``z -> z * scale + shift`` into a convolution.

    ``conv(x; W, b) * scale + shift == conv(x; W * scale, b * scale + shift)``.

    Parameters
    ----------
    weight : torch.Tensor, shape (K, C_in, C_out)
    bias : torch.Tensor, shape (C_out,), or None
    scale, shift : torch.Tensor, shape (C_out,)

    Returns
    -------
    weight, bias : torch.Tensor, shapes (K, C_in, C_out) and (C_out,)
    """
    b = shift if bias is None else bias * scale + shift
    return weight * scale, b


def fold_batch_norm(
    weight: Tensor, bias: Tensor | None, bn: torch.nn.modules.batchnorm._BatchNorm
) -> tuple[Tensor, Tensor]:
    """Fold an eval-mode batch norm that follows a convolution into its weights.

    Parameters
    ----------
    weight : torch.Tensor, shape (K, C_in, C_out)
    bias : torch.Tensor, shape (C_out,), or None
    bn : torch.nn.BatchNorm1d
        With running statistics (``track_running_stats=True``), ``C_out`` features.

    Returns
    -------
    weight, bias : torch.Tensor, shapes (K, C_in, C_out) and (C_out,)
        ``conv(x; weight, bias) == bn.eval()(conv(x; W, b))``.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fold_batch_norm needs running statistics (track_running_stats=True)")
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    if bias is not None:
        return weight * scale, bias * scale + shift
    return weight * scale, shift


def plain(t: Tensor) -> bool:
    """``t`` is an ordinary tensor (not wrapped by a ``torch.func`` transform such as vmap)."""
    return not torch._C._functorch.is_functorch_wrapped_tensor(t)


def _fast(t: Tensor) -> bool:
    """Pooled ``out=`` buffers: outside autograd (reverse and forward mode),
    ``torch.compile``, autocast and ``torch.func``."""
    return (
        not torch.is_grad_enabled()
        and forward_ad._current_level < 0
        and not torch.compiler.is_compiling()
        and not torch.is_autocast_enabled(t.device.type)
        and plain(t)
    )


def _mm(a: Tensor, b: Tensor) -> Tensor:
    if _fast(a) and plain(b):
        return torch.mm(a, b, out=pooled_empty((a.shape[0], b.shape[1]), a))
    return a @ b


def stacked(K: int, c_in: int, c_out: int, nparts: int, lift: object) -> bool:
    """Whether to mix with all ``M_j`` in one GEMM (``x [M_0 | ... | M_(K-1)]``) and to
    stack the ``G_j`` in the backward: one input, no lift, power basis, and the
    ``K C_out`` stacked columns at most half the input's width (a narrow output such
    as a 32 -> 3 classifier head), where reading ``x`` once instead of ``K`` times
    dominates."""
    return nparts == 1 and lift is None and 1 < K <= POWER_MAX_K and 2 * K * c_out <= c_in


def polynomial(
    apply: Callable[[Tensor, float], Tensor],
    rows: Sequence[Tensor],
    M: Sequence[Tensor],
    bias: Tensor | None,
    lift: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Evaluate ``sum_k T_k(L) [x_1 | ... | x_n] W_k + b`` on row matrices.

    Parameters
    ----------
    apply : callable ``(h, alpha) -> alpha * L h``
        The sparse product on row matrices (same row layout in and out).
    rows : sequence of torch.Tensor, each (R, C_i)
        Input parts (implicitly concatenated along channels). With ``lift``, one
        part of ``R_c`` coarse rows.
    M : sequence of torch.Tensor, each (K, C_i, C_out)
        Per part, :func:`power_basis` of the Chebyshev weights.
    bias : torch.Tensor, shape (C_out,), or None
    lift : callable, optional
        Linear row map ``(R_c, C) -> (R, C)`` (e.g. nearest unpooling) applied to
        the single part before the convolution; mixing runs on the coarse rows.

    Returns
    -------
    torch.Tensor, shape (R, C_out)
    """
    K, _, c_out = M[0].shape
    c_in = sum(r.shape[1] for r in rows)
    inplace = not torch.is_autocast_enabled(rows[0].device.type)

    def add(h: Tensor, t: Tensor) -> Tensor:
        return h.add_(t) if inplace else h + t

    def addmm(h: Tensor, a: Tensor, b: Tensor) -> Tensor:
        return h.addmm_(a, b) if inplace else torch.addmm(h, a, b)

    def mixed(j: int) -> Tensor:
        z = _mm(rows[0], M[0][j])
        for r, m in zip(rows[1:], M[1:], strict=True):
            z = addmm(z, r, m[j])
        return lift(z) if lift is not None else z

    def accumulate(h: Tensor, j: int) -> Tensor:
        if lift is not None:
            return add(h, mixed(j))
        for r, m in zip(rows, M, strict=True):
            h = addmm(h, r, m[j])
        return h

    if K == 1:
        h = mixed(0)
    elif K > POWER_MAX_K:  # Clenshaw
        b1 = mixed(K - 1)
        b2: Tensor | None = None
        for k in range(K - 2, 0, -1):
            nb = accumulate(apply(b1, 2.0), k)
            if b2 is not None:
                nb = nb.sub_(b2) if inplace else nb - b2
            b1, b2 = nb, b1
        h = accumulate(apply(b1, 1.0), 0)
        if b2 is not None:
            h = h.sub_(b2) if inplace else h - b2
    elif stacked(K, c_in, c_out, len(rows), lift):  # narrow output: one GEMM for all M_j
        Z = _mm(rows[0], M[0].transpose(0, 1).reshape(c_in, K * c_out))
        h = Z[:, (K - 1) * c_out :].contiguous()
        for j in range(K - 2, -1, -1):
            h = add(apply(h, 1.0), Z[:, j * c_out : (j + 1) * c_out])
    elif lift is not None or len(rows) > 1 or c_out <= c_in:  # mix first (Horner)
        h = mixed(K - 1)
        for j in range(K - 2, -1, -1):
            h = accumulate(apply(h, 1.0), j)
    else:  # basis first, on the narrower input channels
        h = _mm(rows[0], M[0][0])
        p = rows[0]
        for j in range(1, K):
            p = apply(p, 1.0)
            h = addmm(h, p, M[0][j])
    if bias is not None:
        h = h.add_(bias) if inplace and h._base is None else h + bias.to(h.dtype)
    return h
