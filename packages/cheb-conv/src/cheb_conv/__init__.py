"""Chebyshev graph convolution (ChebNet) layers for PyTorch, on any graph.

Public API
----------
ChebConv(in_channels, out_channels, K, operator=None, bias=True)
    ``nn.Module``, layout ``(B, V, C)``; the operator is a shared ``SparseOperator``.
cheb_conv(x, operator, weight, bias=None)
    Functional convolution, ``x`` ``(B, V, C_in)`` -> ``(B, V, C_out)``.
cheb_conv_vertex_major(x, operator, weight, bias=None, lift=None)
    The same in the ``(V, B, C)`` layout, with implicit concatenation of input
    parts and channel mixing on coarse rows before a linear ``lift`` (unpooling).
power_basis, fold_batch_norm, fold_affine
    Weight transforms used by the kernels (power basis; eval-mode folding).
SparseOperator, sparse_apply, resolve_operator
    The one sparse-operator holder (non-persistent buffers, shareable) and its
    differentiable product.
laplacian, rescale, estimate_lmax, from_edge_index, as_operator, is_symmetric
    Build, check and convert operators (torch sparse in/out, scipy/numpy accepted).
pooled_empty, empty_cache, set_buffer_cache
    The CPU buffer pool (a caching allocator).

The polynomial order is called ``K`` everywhere (number of Chebyshev terms,
polynomial degree ``K - 1``).
"""

from ._sparse import compute_dtype  # noqa: I001  (first: consumes torch's one-time CSR warning)
from ._functional import cheb_conv, cheb_conv_vertex_major, resolve_operator
from ._kernels import fold_affine, fold_batch_norm, power_basis
from ._laplacian import (
    as_operator,
    estimate_lmax,
    from_edge_index,
    is_symmetric,
    laplacian,
    rescale,
)
from ._layer import ChebConv
from ._operator import SparseOperator, ddp_ignore_operators, sparse_apply
from ._workspace import empty_cache, pooled_empty, set_buffer_cache

__version__ = "0.2.0"

__all__ = [
    "ChebConv",
    "SparseOperator",
    "__version__",
    "as_operator",
    "cheb_conv",
    "cheb_conv_vertex_major",
    "compute_dtype",
    "ddp_ignore_operators",
    "empty_cache",
    "estimate_lmax",
    "fold_affine",
    "fold_batch_norm",
    "from_edge_index",
    "is_symmetric",
    "laplacian",
    "pooled_empty",
    "power_basis",
    "rescale",
    "resolve_operator",
    "set_buffer_cache",
    "sparse_apply",
]
