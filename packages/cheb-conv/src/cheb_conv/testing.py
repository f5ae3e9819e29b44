"""Test helpers: a dense numpy reference of the Chebyshev convolution.

Requires numpy (a test dependency, not a runtime one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # numpy is a test dependency only: imported lazily at run time
    import numpy as np
    import numpy.typing as npt
    import torch

__all__ = ["dense_reference", "dense_reference_torch", "random_graph", "to_dense_numpy"]


def to_dense_numpy(operator: Any) -> npt.NDArray[np.float64]:
    """Dense float64 numpy array of a torch sparse/dense tensor or scipy matrix."""
    import numpy as np
    import torch

    if isinstance(operator, torch.Tensor):
        if operator.layout != torch.strided:
            operator = operator.to_dense()
        return operator.detach().cpu().to(torch.float64).numpy()
    if hasattr(operator, "toarray"):
        return np.asarray(operator.toarray(), dtype=np.float64)
    return np.asarray(operator, dtype=np.float64)


def dense_reference(
    x: Any, operator: Any, weight: Any, bias: Any = None
) -> npt.NDArray[np.float64]:
    """Straightforward float64 Chebyshev convolution with a dense operator.

    Parameters
    ----------
    x : array-like ``(B, V, C_in)`` or ``(V, C_in)``
    operator : array-like, torch or scipy sparse ``(V, V)``
    weight : array-like ``(K, C_in, C_out)``
    bias : array-like ``(C_out,)``, optional

    Returns
    -------
    numpy.ndarray
        ``(B, V, C_out)`` or ``(V, C_out)`` in float64.
    """
    import numpy as np
    import torch

    def arr(a: Any) -> npt.NDArray[np.float64]:
        if isinstance(a, torch.Tensor):
            return a.detach().cpu().to(torch.float64).numpy()
        return np.asarray(a, dtype=np.float64)

    x = arr(x)
    w = arr(weight)
    L = to_dense_numpy(operator)
    unbatched = x.ndim == 2
    if unbatched:
        x = x[None]
    K = w.shape[0]
    terms = [x]
    if K > 1:
        terms.append(np.einsum("uv,bvc->buc", L, x))
    for _ in range(2, K):
        terms.append(2 * np.einsum("uv,bvc->buc", L, terms[-1]) - terms[-2])
    y = sum(np.einsum("bvc,cd->bvd", t, w[k]) for k, t in enumerate(terms))
    if bias is not None:
        y = y + arr(bias)
    return y[0] if unbatched else y


def random_graph(
    V: int, n_edges: int, seed: int = 0, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Random symmetric weighted adjacency, torch sparse CSR ``(V, V)``, no self loops.

    ``n_edges`` candidate edges (both directions added, self loops dropped,
    duplicates summed), weights in ``[0.1, 1.1)``, float64 by default.
    """
    import torch

    import cheb_conv

    dtype = torch.float64 if dtype is None else dtype
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, V, (n_edges,), generator=g)
    dst = torch.randint(0, V, (n_edges,), generator=g)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = torch.rand(src.numel(), generator=g, dtype=dtype) + 0.1
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    return cheb_conv.from_edge_index(ei, torch.cat([w, w]), num_nodes=V)


def dense_reference_torch(
    x: torch.Tensor, operator: Any, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """The Chebyshev convolution with a dense torch operator, differentiable (autograd, forward AD).

    Straightforward three-term recursion in the dtype of ``x`` (use float64), for
    comparing gradients of any order and forward-mode derivatives.

    Parameters
    ----------
    x : torch.Tensor ``(B, V, C_in)`` or ``(V, C_in)``
    operator : torch / scipy / numpy ``(V, V)``
    weight : torch.Tensor ``(K, C_in, C_out)``
    bias : torch.Tensor ``(C_out,)``, optional

    Returns
    -------
    torch.Tensor ``(B, V, C_out)`` or ``(V, C_out)``
    """
    import torch

    if isinstance(operator, torch.Tensor) and operator.layout == torch.strided:
        L = operator.to(dtype=x.dtype, device=x.device)
    else:
        L = torch.as_tensor(to_dense_numpy(operator), dtype=x.dtype, device=x.device)
    terms = [x]
    if weight.shape[0] > 1:
        terms.append(L @ x)
    for _ in range(2, weight.shape[0]):
        terms.append(2 * (L @ terms[-1]) - terms[-2])
    # terms is never empty, so the sum is a tensor (mypy sees ``Tensor | Literal[0]``)
    y = cast("torch.Tensor", sum(t @ weight[k] for k, t in enumerate(terms)))
    return y if bias is None else y + bias
