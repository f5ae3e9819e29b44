"""Building blocks in the internal ``(V, B, C)`` layout: Chebyshev conv + BN + ReLU, pooling.

The Chebyshev kernels (vertex-major layout, implicit concatenation of parts,
mixing before a nearest unpooling, power basis, batch-norm folding) are
``cheb_conv``'s; this module only composes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cheb_conv
import numpy as np
import scipy.sparse as sp
import sphere_pool
import torch
import torch.nn.functional as F
from cheb_conv import SparseOperator, sparse_apply
from torch import Tensor, nn

__all__ = ["ChebBlock", "GraphPool", "resolve_order"]


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
    if K is not None and kernel_size is not None and int(K) != int(kernel_size):
        raise ValueError(f"K={K} and kernel_size={kernel_size} disagree; pass only K (kernel_size is an alias).")
    value = K if K is not None else kernel_size if kernel_size is not None else default
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"K (Chebyshev order) must be an int; got {type(value).__name__}.")
    return int(value)


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
        parts = [int(in_channels)] if isinstance(in_channels, (int, np.integer)) else [int(c) for c in in_channels]
        if any(c <= 0 for c in parts) or out_channels <= 0:
            raise ValueError(f"channel counts must be positive; got in={parts}, out={out_channels}.")
        if K < 1:
            raise ValueError(f"K (Chebyshev order) must be >= 1; got {K}.")
        self.parts = tuple(parts)
        self.in_channels = sum(parts)
        self.out_channels = int(out_channels)
        self.K = K
        self.weight = nn.Parameter(torch.empty(self.K, self.in_channels, self.out_channels))
        self.bias = nn.Parameter(torch.zeros(self.out_channels)) if bias else None
        self.bn = nn.BatchNorm1d(self.out_channels) if norm else None
        self.relu = relu
        self.dropout = float(dropout)
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

    def _kernel_weights(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Weights, their kernel basis and the bias (batch norm folded in eval mode).

        Outside autograd in eval mode they are cached until a parameter or a batch-norm
        statistic changes (in-place updates bump the tensors' versions), so inference
        does not redo the folding on every call. Not cached under ``torch.compile``.
        """
        folding = self.bn is not None and not self.training and self.bn.running_mean is not None
        cacheable = not self.training and not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        key = None
        if cacheable:
            tensors = [t for t in (self.weight, self.bias) if t is not None]
            if self.bn is not None:
                tensors += [t for t in (self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var)
                            if t is not None]
            key = (x.dtype, x.device, *[(t.data_ptr(), t._version) for t in tensors])
            if self._eval_cache is not None and self._eval_cache[0] == key:
                return self._eval_cache[1]
        w, b = self.weight, self.bias
        if folding:
            w, b = cheb_conv.fold_batch_norm(w, b, self.bn)
        out = (w, cheb_conv.power_basis(w), b)
        if cacheable:
            self._eval_cache = (key, out)
        return out

    def forward(
        self, lap: SparseOperator, *inputs: Tensor, lift: Callable[[Tensor], Tensor] | None = None
    ) -> Tensor:
        """Apply the block.

        Parameters
        ----------
        lap : cheb_conv.SparseOperator, shape (V, V)
            Rescaled Laplacian.
        *inputs : torch.Tensor, each (V, B, C_i)
            Parts matching ``in_channels``.
        lift : callable, optional
            Linear row-wise map ``(V_c, B, C) -> (V, B, C)`` (nearest unpooling)
            applied to the single input first; the channel mixing then runs on the
            coarse rows (see :func:`cheb_conv.cheb_conv_vertex_major`).

        Returns
        -------
        torch.Tensor, shape (V, B, C_out)
        """
        if len(inputs) != len(self.parts):
            raise ValueError(f"expected {len(self.parts)} input parts; got {len(inputs)}.")
        w, M, b = self._kernel_weights(inputs[0])
        y = cheb_conv.cheb_conv_vertex_major(list(inputs), lap, w, b, lift=lift, basis=M)
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
            inplace = y._base is None and (not y.requires_grad or (self.bn is not None and self.training))
            y = F.relu_(y) if inplace else F.relu(y)
        if self.dropout > 0 and self.training:
            y = F.dropout(y, self.dropout, True)
        return y.view(V, B, C)

    def extra_repr(self) -> str:
        return (
            f"in={self.parts}, out={self.out_channels}, K={self.K}, "
            f"norm={self.bn is not None}, relu={self.relu}, dropout={self.dropout}"
        )


class GraphPool(nn.Module):
    """Pooling and unpooling between two levels, from a ``sphere_graphs.Coarsening``.

    ``mode="avg"``: pool averages the children of each coarse vertex. ``mode="max"``:
    pool takes the maximum over children and (optionally) returns the fine index of
    the winner. Unpooling copies each fine vertex's parent value (nearest) unless
    max-pooling indices are passed, in which case the values go back to those
    indices and zeros elsewhere (the U-Nets unpool by copying, as their decoder
    features do not have the pooled tensor's channels). Complete, contiguous groups (HEALPix
    NESTED) use reshapes instead of gathers. Index maps are non-persistent buffers.

    Parameters
    ----------
    coarsening : sphere_graphs.Coarsening
    mode : {"max", "avg"}
    """

    def __init__(self, coarsening, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"pool mode must be 'max' or 'avg'; got {mode!r}.")
        self.mode = mode
        maps = sphere_pool.maps_from_coarsening(coarsening)  # validated index maps
        children, parent = maps.children, maps.parent
        self.n_fine, self.n_coarse = int(maps.n_fine), int(maps.n_coarse)
        valid = children >= 0
        n_group = children.shape[1]
        self.blocks = maps.group is not None and bool(
            np.array_equal(parent, np.repeat(np.arange(self.n_coarse), maps.group))
        )
        self.overlap = not maps.disjoint
        self.padded = bool(not valid.all())
        self.group = int(n_group)
        counts = np.maximum(valid.sum(1, keepdims=True), 1)
        self.register_buffer("child_index", torch.from_numpy(np.where(valid, children, 0)), persistent=False)
        self.register_buffer("valid", torch.from_numpy(valid), persistent=False)
        self.register_buffer(
            "avg_weight", torch.from_numpy((valid / counts).astype(np.float32)), persistent=False
        )
        self.register_buffer("parent_index", torch.as_tensor(np.array(parent, dtype=np.int64)), persistent=False)
        if not self.blocks:
            # Nearest unpooling and average pooling are sparse products with
            # cheb_conv's operator holder (multithreaded both ways, unlike index_add).
            rows = np.repeat(np.arange(self.n_coarse), n_group)[valid.ravel()]
            P = sp.csr_matrix(((valid / counts)[valid], (rows, children[valid])), shape=(self.n_coarse, self.n_fine))
            U = sp.csr_matrix((np.ones(self.n_fine), (np.arange(self.n_fine), parent)), shape=(self.n_fine, self.n_coarse))
            self.unpool_op = SparseOperator(U, symmetric=False)
            if mode == "avg":
                self.pool_op = SparseOperator(P, symmetric=False)

    def pool(self, x: Tensor, return_indices: bool = True) -> tuple[Tensor, Tensor | None]:
        """Pool ``x`` of shape ``(V_fine, B, C)`` to ``(V_coarse, B, C)``.

        Also returns the argmax indices (max mode with ``return_indices``), else None.
        """
        _Vf, B, C = x.shape
        if self.blocks:
            g = x.view(self.n_coarse, self.group, B, C)
            if self.mode == "avg":
                return g.mean(1), None
            if not return_indices:
                return g.amax(1), None
            y, arg = g.max(1)
            return y, arg
        if self.mode == "avg":
            return sparse_apply(self.pool_op, x), None
        g = x.index_select(0, self.child_index.view(-1)).view(self.n_coarse, self.group, B, C)
        if self.padded:
            g = g.masked_fill(~self.valid[:, :, None, None], float("-inf"))
        if not return_indices:
            return g.amax(1), None
        y, arg = g.max(1)
        return y, self.child_index.gather(1, arg.view(self.n_coarse, -1)).view(self.n_coarse, B, C)

    def unpool(self, y: Tensor, indices: Tensor | None = None) -> Tensor:
        """Unpool ``y`` of shape ``(V_coarse, B, C)`` to ``(V_fine, B, C)``."""
        Vc, B, C = y.shape
        if self.mode == "avg" or indices is None:
            if self.blocks:
                return y.unsqueeze(1).expand(Vc, self.group, B, C).reshape(self.n_fine, B, C)
            return sparse_apply(self.unpool_op, y)
        if self.blocks:
            out = y.new_zeros(Vc, self.group, B, C)
            return out.scatter_(1, indices.unsqueeze(1), y.unsqueeze(1)).view(self.n_fine, B, C)
        out = y.new_zeros(self.n_fine, B, C)
        if self.overlap:
            return out.scatter_reduce(0, indices, y, reduce="amax", include_self=False)
        return out.scatter(0, indices, y)

    def extra_repr(self) -> str:
        return f"{self.n_fine} -> {self.n_coarse}, mode={self.mode}, blocks={self.blocks}"
