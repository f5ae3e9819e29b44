"""Pooling and unpooling in the vertex-major layout ``(V, B, C)``.

Graph U-Nets that multiply sparse Laplacians from the left keep activations as
``(V, B, C)`` (vertices first); these ops pool them without transposes.

* Complete, contiguous groups (HEALPix NESTED: ``children == arange(V).reshape(-1, 4)``)
  pool and unpool by reshapes.
* Other samplings (icosahedral decimation, partial grids) pool by a gather of the
  children (max) or a sparse product ``P x`` (average), and nearest unpooling is a row
  gather ``y[parent]``; the backward of both is a sparse product with the stored
  transpose (:func:`sparse_rows`), multithreaded, unlike ``index_add``.

:class:`VertexPool` holds the index maps of one ``sphere_graphs.Coarsening`` as
non-persistent buffers and offers ``pool(x, return_indices)`` / ``unpool(y, indices)``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from ._maps import PoolingMaps, maps_from_coarsening

if TYPE_CHECKING:
    from sphere_graphs import Coarsening

__all__ = ["VertexPool", "gather_rows", "sparse_rows"]


def _csr_tensor(matrix: sp.spmatrix, dtype: torch.dtype) -> Tensor:
    m = sp.csr_matrix(matrix)
    m.sort_indices()
    with warnings.catch_warnings():  # torch's notice that sparse CSR is "beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data).to(dtype),
            size=m.shape,
            check_invariants=False,  # built from a canonical scipy CSR
        )


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of the sparse products for inputs of ``dtype``: float64 kept, else float32.

    Sparse CSR products have no float16/bfloat16 kernels on the CPU, so half-precision
    inputs (``torch.autocast``) are pooled in float32 and the result cast back.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def _rows_product(a: Tensor, x: Tensor) -> Tensor:
    """``a @ x`` over the vertex axis of ``x`` (V_in, B, C), in ``a``'s dtype, cast back to ``x``'s."""
    v, b, c = x.shape
    with torch.autocast(x.device.type, enabled=False):
        rows = x.reshape(v, b * c).to(a.dtype)
        # addmm(beta=0, out=) writes the product in place; ``a @ x`` zero-fills a
        # temporary and copies it (the AR/TC U-Net's poolings: about 2.7 ms against
        # 1.0 ms per inference step on a 2-core CPU)
        y = torch.empty(a.shape[0], b * c, dtype=a.dtype, device=x.device)
        torch.addmm(y, a, rows, beta=0.0, out=y)
    return y.view(a.shape[0], b, c).to(x.dtype)


class _SparseRows(torch.autograd.Function):
    """``A @ x`` on ``(V_in, B, C)`` rows; backward ``A^T @ g`` with the stored ``A^T``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, a: Tensor, a_t: Tensor) -> Tensor:
        ctx.a_t = a_t
        return _rows_product(a, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return _rows_product(ctx.a_t, grad), None, None


class _GatherRows(torch.autograd.Function):
    """``y[index]`` on ``(V_in, B, C)`` rows; backward ``S^T @ g`` with a sparse ``S^T``."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, index: Tensor, s_t: Tensor) -> Tensor:
        ctx.s_t = s_t
        return y.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return _rows_product(ctx.s_t, grad), None, None


def sparse_rows(x: Tensor, a: Tensor, a_t: Tensor) -> Tensor:
    """Sparse product ``a @ x`` over the vertex axis of ``x`` (V_in, B, C).

    Parameters
    ----------
    x : Tensor, shape (V_in, B, C)
    a : sparse CSR Tensor, shape (V_out, V_in), float32 or float64 (``x`` may be half precision: computed in float32)
    a_t : sparse CSR Tensor, shape (V_in, V_out)
        ``a`` transposed, used by the backward.

    Returns
    -------
    Tensor, shape (V_out, B, C)
    """
    return _SparseRows.apply(x, a, a_t)


def gather_rows(y: Tensor, index: Tensor, s_t: Tensor) -> Tensor:
    """Row gather ``y[index]`` of ``y`` (V_in, B, C) with a sparse backward.

    Parameters
    ----------
    y : Tensor, shape (V_in, B, C)
    index : LongTensor, shape (V_out,)
    s_t : sparse CSR Tensor, shape (V_in, V_out)
        ``S^T`` for the selection matrix ``S[i, index[i]] = 1``; the backward is
        ``S^T @ grad`` (the sum over the rows that copied each input row).

    Returns
    -------
    Tensor, shape (V_out, B, C)
    """
    return _GatherRows.apply(y, index, s_t)


class VertexPool(nn.Module):
    """Pooling and unpooling between two levels of a ``sphere_graphs.Coarsening``, (V, B, C).

    ``mode="avg"``: :meth:`pool` averages the (valid) children of every coarse
    vertex. ``mode="max"``: the maximum over the children, with the fine index of
    the winner when ``return_indices``. :meth:`unpool` copies every fine vertex's
    parent value (nearest), or, given max-pooling indices, puts the values back at
    those fine vertices and zeros elsewhere (the largest value where overlapping
    groups send several). Index maps and sparse operators are non-persistent buffers
    (they follow ``.to(device)``, stay out of ``state_dict``).

    Parameters
    ----------
    coarsening : sphere_graphs.Coarsening or PoolingMaps
    mode : {"max", "avg"}

    Attributes
    ----------
    n_fine, n_coarse : int
    blocks : bool
        True when pooling is a reshape (complete contiguous groups, HEALPix NESTED).
    group : int
        Width ``G`` of the (padded) children table.
    """

    child_index: Tensor
    valid: Tensor
    parent_index: Tensor

    def __init__(self, coarsening: Coarsening | PoolingMaps, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"pool mode must be 'max' or 'avg'; got {mode!r}.")
        self.mode = mode
        maps = (
            coarsening if isinstance(coarsening, PoolingMaps) else maps_from_coarsening(coarsening)
        )
        children, parent = maps.children, maps.parent
        self.n_fine, self.n_coarse = int(maps.n_fine), int(maps.n_coarse)
        valid = children >= 0
        self.group = int(children.shape[1])
        self.blocks = maps.group is not None
        self.overlap = not maps.disjoint
        self.padded = bool(not valid.all())
        counts = np.maximum(valid.sum(1, keepdims=True), 1)
        self.register_buffer(
            "child_index", torch.from_numpy(np.where(valid, children, 0)), persistent=False
        )
        self.register_buffer("valid", torch.from_numpy(valid), persistent=False)
        self.register_buffer("parent_index", torch.from_numpy(parent.copy()), persistent=False)
        self._ops: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}
        self._sparse: dict[str, sp.csr_matrix] = {}
        if not self.blocks:
            rows = np.repeat(np.arange(self.n_coarse), self.group)[valid.ravel()]
            p = sp.csr_matrix(
                ((valid / counts)[valid], (rows, children[valid])),
                shape=(self.n_coarse, self.n_fine),
            )
            u_t = sp.csr_matrix(
                (np.ones(self.n_fine), (parent, np.arange(self.n_fine))),
                shape=(self.n_coarse, self.n_fine),
            )
            self._sparse = {"unpool_t": u_t}
            if mode == "avg":
                self._sparse.update(pool=p, pool_t=p.T.tocsr())

    def _op(self, name: str, like: Tensor) -> Tensor:
        """The sparse operator ``name`` in the dtype and on the device of ``like`` (cached)."""
        dtype = _compute_dtype(like.dtype)
        key = (name, dtype, like.device)
        op = self._ops.get(key)
        if op is None:
            op = _csr_tensor(self._sparse[name], dtype).to(like.device)
            self._ops[key] = op
        return op

    def _apply(self, fn: Any, recurse: bool = True) -> VertexPool:
        self._ops = {}  # device or dtype moves: rebuild the operators lazily
        return super()._apply(fn, recurse)

    def _check(self, x: Tensor, n: int, what: str) -> None:
        if x.dim() != 3 or x.shape[0] != n:
            raise ValueError(
                f"VertexPool.{what} expects a (V, B, C) tensor with V={n}; got shape {tuple(x.shape)}."
            )

    def pool(self, x: Tensor, return_indices: bool = True) -> tuple[Tensor, Tensor | None]:
        """Pool ``x`` (V_fine, B, C) to ``(V_coarse, B, C)``.

        Returns
        -------
        y : Tensor, shape (V_coarse, B, C)
        indices : LongTensor, shape (V_coarse, B, C), or None
            Fine vertex of each maximum (``mode="max"`` with ``return_indices``);
            None otherwise.
        """
        self._check(x, self.n_fine, "pool")
        _, b, c = x.shape
        if self.blocks:
            g = x.view(self.n_coarse, self.group, b, c)
            if self.mode == "avg":
                return g.mean(1), None
            if not return_indices:
                return g.amax(1), None
            y, arg = g.max(1)
            offset = torch.arange(self.n_coarse, device=x.device).view(-1, 1, 1) * self.group
            return y, arg + offset
        if self.mode == "avg":
            return sparse_rows(x, self._op("pool", x), self._op("pool_t", x)), None
        g = x.index_select(0, self.child_index.view(-1)).view(self.n_coarse, self.group, b, c)
        if self.padded:
            g = g.masked_fill(~self.valid[:, :, None, None], float("-inf"))
        if not return_indices:
            return g.amax(1), None
        y, arg = g.max(1)
        idx = self.child_index.gather(1, arg.view(self.n_coarse, -1)).view(self.n_coarse, b, c)
        return y, idx

    def unpool(self, y: Tensor, indices: Tensor | None = None) -> Tensor:
        """Unpool ``y`` (V_coarse, B, C) to ``(V_fine, B, C)``.

        Parameters
        ----------
        y : Tensor, shape (V_coarse, B, C)
        indices : LongTensor, shape (V_coarse, B, C), optional
            From :meth:`pool` (max mode): values go back to those fine vertices,
            zeros elsewhere. None: nearest (copy from the parent).
        """
        self._check(y, self.n_coarse, "unpool")
        vc, b, c = y.shape
        if indices is None:
            if self.blocks:
                return y.unsqueeze(1).expand(vc, self.group, b, c).reshape(self.n_fine, b, c)
            return gather_rows(y, self.parent_index, self._op("unpool_t", y))
        if indices.shape != y.shape or indices.dtype != torch.int64:
            raise ValueError(
                f"indices must be the int64 (V_coarse, B, C) tensor returned by pool; got "
                f"{indices.dtype} {tuple(indices.shape)} for y of shape {tuple(y.shape)}."
            )
        if self.blocks:  # scatter within each group: local positions
            offset = torch.arange(vc, device=y.device).view(-1, 1, 1) * self.group
            local = (indices - offset).unsqueeze(1)
            out = y.new_zeros(vc, self.group, b, c)
            return out.scatter_(1, local, y.unsqueeze(1)).view(self.n_fine, b, c)
        out = y.new_zeros(self.n_fine, b, c)
        if self.overlap:
            return out.scatter_reduce(0, indices, y, reduce="amax", include_self=False)
        return out.scatter(0, indices, y)

    def extra_repr(self) -> str:
        return f"{self.n_fine} -> {self.n_coarse}, mode={self.mode}, blocks={self.blocks}"
