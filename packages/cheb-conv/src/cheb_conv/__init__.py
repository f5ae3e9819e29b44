"""Chebyshev graph convolution (ChebNet) layers for PyTorch, on any graph.

Public API
----------
cheb_conv(x, operator, weight, bias=None)
    Functional convolution, ``x`` ``(B, V, C_in)`` -> ``(B, V, C_out)``.
ChebConv(in_channels, out_channels, K, operator=None, bias=True)
    ``nn.Module``; a given operator is a non-persistent buffer.
laplacian, rescale, estimate_lmax, from_edge_index, as_operator
    Build and convert operators (torch sparse in/out, scipy accepted).
"""

from ._functional import cheb_conv
from ._laplacian import as_operator, estimate_lmax, from_edge_index, laplacian, rescale
from ._layer import ChebConv
from ._workspace import empty_cache, pooled_empty, set_buffer_cache

__version__ = "0.1.0"

__all__ = [
    "ChebConv",
    "__version__",
    "as_operator",
    "cheb_conv",
    "empty_cache",
    "estimate_lmax",
    "from_edge_index",
    "laplacian",
    "pooled_empty",
    "rescale",
    "set_buffer_cache",
]
