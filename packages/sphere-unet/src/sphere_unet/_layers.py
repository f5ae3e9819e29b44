"""Building block in the internal ``(V, B, C)`` layout: Chebyshev conv + BN + ReLU + dropout.

The Chebyshev kernels (vertex-major layout, implicit concatenation of parts,
mixing before a nearest unpooling, power basis, batch-norm folding) are
``cheb_conv``'s; this module only composes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cheb_conv
import numpy as np
import torch
import torch.nn.functional as F
from cheb_conv import SparseOperator
from torch import Tensor, nn

from ._checks import check_dropout, check_int

__all__ = ["ChebBlock", "resolve_order"]


def resolve_order(K: int | None, kernel_size: int | None, default: int = 3) -> int:
    """The Chebyshev order from ``K`` or its alias ``kernel_size`` (the two must agree).

    Parameters
    ----------
    K, kernel_size : int or None
    default : int
        Used when neither is given.

    Returns
    -------
    int
    """
    if K is not None and kernel_size is not None and K != kernel_size:
        raise ValueError(
            f"K={K} and kernel_size={kernel_size} disagree; pass only K (kernel_size is an alias)."
        )
    value = K if K is not None else kernel_size if kernel_size is not None else default
    return check_int("K (Chebyshev order, alias kernel_size)", value, 1)


class ChebBlock(nn.Module):
    """Chebyshev convolution, optional batch norm, optional ReLU and dropout.

    Inputs given as several parts are treated as their concatenation along channels
    (the decoder's ``[upsampled, skip]``) without building it
    (:func:`cheb_conv.cheb_conv_vertex_major`). In eval mode batch norm is folded
    into the convolution weights (:func:`cheb_conv.fold_batch_norm`).

    Parameters
    ----------
    in_channels : int or sequence of int
        Channels of the input, or of each input part.
    out_channels : int
    K : int
        Chebyshev order (number of terms, polynomial degree ``K - 1``).
    norm : bool
        Apply ``BatchNorm`` after the convolution.
    relu : bool
        Apply ReLU last.
    bias : bool
        Convolution bias.
    dropout : float
        Dropout probability after the activation (training only).
    kernel_size : int, optional
        Alias of ``K``.

    Attributes
    ----------
    weight : Parameter, shape (K, C_in_total, C_out)
    bias : Parameter, shape (C_out,) or None
    bn : nn.BatchNorm1d or None
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        out_channels: int,
        K: int | None = None,
        *,
        norm: bool = True,
        relu: bool = True,
        bias: bool = True,
        dropout: float = 0.0,
        kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        K = resolve_order(K, kernel_size)
        parts = (
            [int(in_channels)]
            if isinstance(in_channels, (int, np.integer))
            else [int(c) for c in in_channels]
        )
        if any(c <= 0 for c in parts) or out_channels <= 0:
            raise ValueError(
                f"channel counts must be positive; got in={parts}, out={out_channels}."
            )
        self.parts = tuple(parts)
        self.in_channels = sum(parts)
        self.out_channels = int(out_channels)
        self.K = K
        self.weight = nn.Parameter(torch.empty(self.K, self.in_channels, self.out_channels))
        self.bias = nn.Parameter(torch.zeros(self.out_channels)) if bias else None
        self.bn = nn.BatchNorm1d(self.out_channels) if norm else None
        self.relu = relu
        self.dropout = check_dropout(dropout)
        self._eval_cache: tuple | None = None  # (key, kernel weights), see _kernel_weights
        self.reset_parameters()

    @property
    def kernel_size(self) -> int:
        """Alias of :attr:`K`."""
        return self.K

    def reset_parameters(self) -> None:
        """Kaiming-uniform-like init scaled by ``1 / sqrt(K * C_in)``."""
        bound = math.sqrt(6.0 / (self.K * self.in_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_eval_cache"] = None
        return state

    def _kernel_weights(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The kernel basis of the weights and the bias (batch norm folded in eval mode).

        Outside autograd in eval mode they are cached until a parameter or a batch-norm
        statistic changes (in-place updates bump the tensors' versions), so inference
        does not redo the folding on every call. Not cached under ``torch.compile``.
        Only the basis is kept (the folded Chebyshev weights would double the cache).
        """
        fold_bn = (
            self.bn
            if not self.training and self.bn is not None and self.bn.running_mean is not None
            else None
        )
        cacheable = (
            not self.training and not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        )
        key = None
        if cacheable:
            tensors: list[Tensor] = [t for t in (self.weight, self.bias) if t is not None]
            if self.bn is not None:
                tensors += [
                    t
                    for t in (
                        self.bn.weight,
                        self.bn.bias,
                        self.bn.running_mean,
                        self.bn.running_var,
                    )
                    if t is not None
                ]
            key = (x.dtype, x.device, *[(t.data_ptr(), t._version) for t in tensors])
            if self._eval_cache is not None and self._eval_cache[0] == key:
                return self._eval_cache[1]
        w: Tensor = self.weight
        b: Tensor | None = self.bias
        if fold_bn is not None:
            w, b = cheb_conv.fold_batch_norm(w, b, fold_bn)
        out = (cheb_conv.power_basis(w), b)
        if cacheable:
            self._eval_cache = (key, out)
        return out

    def forward(
        self,
        lap: SparseOperator,
        *inputs: Tensor,
        lift: Callable[[Tensor], Tensor] | SparseOperator | None = None,
    ) -> Tensor:
        """Apply the block.

        Parameters
        ----------
        lap : cheb_conv.SparseOperator, shape (V, V)
            Rescaled Laplacian.
        *inputs : torch.Tensor, each (V, B, C_i)
            Parts matching ``in_channels``.
        lift : callable or cheb_conv.SparseOperator, optional
            Linear row-wise map ``(V_c, B, C) -> (V, B, C)`` (nearest unpooling),
            or its ``(V, V_c)`` matrix, applied to the single input first; the
            channel mixing then runs on the coarse rows (see
            :func:`cheb_conv.cheb_conv_vertex_major`: a matrix makes the whole
            polynomial one sparse product).

        Returns
        -------
        torch.Tensor, shape (V, B, C_out)
        """
        if len(inputs) != len(self.parts):
            raise ValueError(f"expected {len(self.parts)} input parts; got {len(inputs)}.")
        M, b = self._kernel_weights(inputs[0])
        # with ``basis`` given, the weight argument only gives shapes (M has the weight's)
        y = cheb_conv.cheb_conv_vertex_major(list(inputs), lap, M, b, lift=lift, basis=M)
        V, B, C = y.shape
        y = y.view(V * B, C)  # activations as (V*B, C) rows; in-place ops on bases only
        if self.bn is not None and self.training:
            y = F.batch_norm(
                y,
                self.bn.running_mean,
                self.bn.running_var,
                self.bn.weight,
                self.bn.bias,
                True,
                self.bn.momentum if self.bn.momentum is not None else 0.1,
                self.bn.eps,
            )
            if self.bn.num_batches_tracked is not None:
                self.bn.num_batches_tracked.add_(1)
        if self.relu:
            inplace = y._base is None and (
                not y.requires_grad or (self.bn is not None and self.training)
            )
            y = F.relu_(y) if inplace else F.relu(y)
        if self.dropout > 0 and self.training:
            y = F.dropout(y, self.dropout, True)
        return y.view(V, B, C)

    def extra_repr(self) -> str:
        return (
            f"in={self.parts}, out={self.out_channels}, K={self.K}, "
            f"norm={self.bn is not None}, relu={self.relu}, dropout={self.dropout}"
        )
