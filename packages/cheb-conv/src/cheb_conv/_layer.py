"""``ChebConv`` module."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ._functional import cheb_conv
from ._operator import SparseOperator

__all__ = ["ChebConv"]


class ChebConv(nn.Module):
    """Chebyshev graph convolution layer (Defferrard et al., 2016).

    ``y = sum_{k<K} T_k(L~) x W_k + b`` with ``T_0 = x``, ``T_1 = L~ x`` and
    ``T_k = 2 L~ T_{k-1} - T_{k-2}``.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    K : int
        Number of Chebyshev terms (polynomial degree ``K - 1``), ``K >= 1``.
        ``K = 1`` is a per-vertex linear map.
    operator : SparseOperator, torch sparse/dense tensor, numpy array or scipy.sparse matrix, optional
        Rescaled Laplacian ``(V, V)``. A :class:`SparseOperator` is shared (not
        copied): give the same instance to every layer on the same graph. Any
        other matrix is converted once into a new ``SparseOperator``. Stored as
        the submodule ``operator`` (non-persistent buffers: moved by ``.to()``, out
        of ``state_dict``; ``deepcopy``/``pickle``/``torch.save`` work). Otherwise
        pass it to :meth:`forward`.
    bias : bool
        Learn an additive bias ``(C_out,)`` (initialised to zero).

    Notes
    -----
    Initialisation: ``W ~ N(0, std^2)`` with ``std = sqrt(2 / (C_in * K))``
    (Kaiming/He for the fan-in ``C_in * K`` of the ``K`` stacked terms), as in
    DeepSphere.

    Shapes: ``x`` is ``(B, V, C_in)`` or ``(V, C_in)``; output ``(B, V, C_out)``
    or ``(V, C_out)``. The fastest evaluation order is picked by
    :func:`cheb_conv.cheb_conv` (power basis for ``K <= 4``, mixing first when
    the layer does not widen, Clenshaw beyond).

    TorchScript is not supported (``torch.jit.script`` fails): the operator is
    resolved and cached in Python (dtype conversions, block expansions) and the
    sparse product is a ``torch.library`` custom op with a Python
    implementation. Use ``torch.compile`` (``fullgraph=True`` works) or
    ``torch.export`` instead.
    """

    operator: SparseOperator | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        K: int,
        operator: Any = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, val in (("in_channels", in_channels), ("out_channels", out_channels), ("K", K)):
            if not isinstance(val, int) or isinstance(val, bool):
                raise TypeError(f"{name} must be an int, got {type(val).__name__}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"in_channels and out_channels must be >= 1, got {in_channels}, {out_channels}"
            )
        if K < 1:
            raise ValueError(f"K must be >= 1 (K=1 is a per-vertex linear map), got {K}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.K = K
        self.weight = nn.Parameter(torch.empty(K, in_channels, out_channels))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        if operator is None or isinstance(operator, SparseOperator):
            self.operator = operator
        else:
            self.operator = SparseOperator(operator)
        if self.operator is not None and self.operator.shape[0] != self.operator.shape[1]:
            raise ValueError(
                f"operator must be square (V, V), got shape {self.operator.shape}; pass the "
                "(rescaled) Laplacian of the graph"
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal weights with fan-in ``C_in * K``; zero bias."""
        std = math.sqrt(2.0 / (self.in_channels * self.K))
        with torch.no_grad():
            self.weight.normal_(0.0, std)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor, operator: Any = None) -> torch.Tensor:
        """Apply the convolution.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, V, C_in)`` or ``(V, C_in)``.
        operator : optional
            Overrides the stored operator; required when none was given at
            construction.

        Returns
        -------
        torch.Tensor
            ``(B, V, C_out)`` or ``(V, C_out)``.
        """
        if operator is None:
            operator = self.operator
            if operator is None:
                raise ValueError(
                    "ChebConv has no stored operator: pass forward(x, operator) or build "
                    "the layer with ChebConv(..., operator=L_rescaled)"
                )
        return cheb_conv(x, operator, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, K={self.K}"
        if self.operator is not None:
            s += f", V={self.operator.shape[0]}, nnz={self.operator.nnz}"
        if self.bias is None:
            s += ", bias=False"
        return s
