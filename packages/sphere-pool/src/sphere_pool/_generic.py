"""Generic pooling / unpooling modules driven by :class:`PoolingMaps` (any Coarsening)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import Tensor, nn

from . import _functional as F
from ._checks import check_choice, check_vertices, describe
from ._maps import PoolingMaps, maps_from_coarsening

if TYPE_CHECKING:
    from typing import TypeAlias

    from sphere_graphs import Coarsening, Sampling

    #: One coarsening step, or several chained ones (finest first).
    MapsLike: TypeAlias = (
        Coarsening
        | PoolingMaps
        | Sequence[Coarsening]
        | Sequence[PoolingMaps]
        | Sequence[Coarsening | PoolingMaps]
    )
    #: A sampling, or a zero-argument callable building it on first access.
    LazySampling: TypeAlias = Sampling | Callable[[], Sampling]

__all__ = ["POOL_MODES", "UNPOOL_MODES", "Pool", "Unpool"]

POOL_MODES = ("max", "avg", "decimate")
UNPOOL_MODES = ("nearest", "interpolate", "max", "zeros", "deepsphere_ones")


def _as_maps(maps: MapsLike) -> list[PoolingMaps]:
    items: list[Coarsening | PoolingMaps] = (
        list(maps)
        if isinstance(maps, (list, tuple))
        else [cast("Coarsening | PoolingMaps", maps)]  # not a list/tuple: one step
    )
    if not items:
        raise ValueError("need at least one coarsening step (got an empty sequence).")
    out = [m if isinstance(m, PoolingMaps) else maps_from_coarsening(m) for m in items]
    for finer, coarser in itertools.pairwise(out):
        if finer.n_coarse != coarser.n_fine:
            raise ValueError(
                f"coarsening steps do not chain: a step ends with {finer.n_coarse} vertices but the next "
                f"starts with {coarser.n_fine}. Pass steps finest first (as sphere_graphs.hierarchy does)."
            )
    return out


def _endpoints(maps: MapsLike) -> tuple[Sampling | None, Sampling | None]:
    items: list[object] = list(maps) if isinstance(maps, (list, tuple)) else [maps]
    fine = getattr(items[0], "fine", None) if items else None
    coarse = getattr(items[-1], "coarse", None) if items else None
    return fine, coarse


class _Base(nn.Module):
    """Holds chained index maps as non-persistent buffers and the two samplings."""

    def __init__(
        self, maps: MapsLike, fine: Sampling | None = None, coarse: LazySampling | None = None
    ) -> None:
        super().__init__()
        auto_fine, auto_coarse = _endpoints(maps)
        self._maps = _as_maps(maps)
        self.fine: Sampling | None = fine if fine is not None else auto_fine
        self._coarse: LazySampling | None = coarse if coarse is not None else auto_coarse
        self.n_fine = self._maps[0].n_fine
        self.n_coarse = self._maps[-1].n_coarse
        self.levels = len(self._maps)
        self.disjoint = all(m.disjoint for m in self._maps)
        for i, m in enumerate(self._maps):
            self.register_buffer(
                f"children_{i}", torch.from_numpy(m.children.copy()), persistent=False
            )

    @property
    def coarse(self) -> Sampling | None:
        """The coarse sampling (built on first access from sphere-graphs when needed)."""
        if callable(self._coarse):
            self._coarse = self._coarse()
        return self._coarse

    @property
    def maps(self) -> list[PoolingMaps]:
        """The numpy index maps, finest step first."""
        return list(self._maps)

    def _buffer(self, name: str, i: int) -> Tensor:
        return getattr(self, f"{name}_{i}")

    def _what(self, fine: bool) -> str:
        if fine:
            return (
                describe(self.fine)
                if self.fine is not None
                else f"the fine sampling ({self.n_fine} vertices)"
            )
        if not callable(self._coarse) and self._coarse is not None:
            return describe(self._coarse)
        if self.fine is not None:
            return f"the coarse sampling {self.levels} level(s) below {describe(self.fine)}"
        return f"the coarse sampling ({self.n_coarse} vertices)"


class Pool(_Base):
    """Pooling from a fine to a coarse sampling along one or more coarsening steps.

    Parameters
    ----------
    maps : sphere_graphs.Coarsening, PoolingMaps, or a sequence of them (finest first)
        Index maps; several steps are applied one after the other.
    mode : {"max", "avg", "decimate"}
        Maximum or average over ``children`` (handles -1 padding and overlapping
        groups), or keep the values at ``kept`` (decimation coarsenings only).
    fine, coarse : Sampling, optional
        The samplings (default: taken from the Coarsening objects). ``coarse`` may be
        a zero-argument callable, evaluated on first access of :attr:`coarse`.

    Shapes
    ------
    ``x (B, V_fine, C)`` -> ``y (B, V_coarse, C)``; with ``mode="max"`` the module
    returns ``(y, indices)`` where ``indices (B, V_coarse, C)`` are the fine vertex
    indices of the maxima.
    """

    def __init__(
        self,
        maps: MapsLike,
        mode: str = "max",
        *,
        fine: Sampling | None = None,
        coarse: LazySampling | None = None,
    ) -> None:
        super().__init__(maps, fine, coarse)
        self.mode = check_choice(mode, POOL_MODES, "pooling mode")
        self._groups = [m.group for m in self._maps]
        if mode == "decimate":
            missing = [i for i, m in enumerate(self._maps) if m.kept is None]
            if missing:
                raise ValueError(
                    "mode='decimate' needs decimation coarsenings (with `kept`, e.g. icosahedral); "
                    f"step(s) {missing} have kept=None. Use mode='avg' or 'max'."
                )
        self._prefix = []
        for i, m in enumerate(self._maps):
            kept = m.kept if m.kept is not None else np.zeros(0, np.int64)
            self.register_buffer(f"kept_{i}", torch.from_numpy(kept.copy()), persistent=False)
            self._prefix.append(
                m.kept is not None and np.array_equal(m.kept, np.arange(m.n_coarse))
            )

    @property
    def return_indices(self) -> bool:
        """True when :meth:`forward` returns ``(y, indices)`` (``mode="max"``)."""
        return self.mode == "max"

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        """Pool ``x (B, V_fine, C)`` to ``(B, V_coarse, C)`` (and indices for max)."""
        check_vertices(x, self.n_fine, type(self).__name__, self._what(True))
        indices = None
        for i, m in enumerate(self._maps):
            if self.mode == "avg":
                x = F.pool_avg(x, self._buffer("children", i), self._groups[i])
            elif self.mode == "decimate":
                x = (
                    x[:, : m.n_coarse]
                    if self._prefix[i]
                    else F.decimate(x, self._buffer("kept", i))
                )
            else:
                x, idx = F.pool_max(x, self._buffer("children", i), self._groups[i])
                indices = idx if indices is None else indices.gather(1, idx)
        if self.mode == "max":
            assert indices is not None  # _as_maps guarantees at least one step
            return x, indices
        return x

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, levels={self.levels}, n_fine={self.n_fine}, n_coarse={self.n_coarse}"


class Unpool(_Base):
    """Unpooling from a coarse to a fine sampling along one or more coarsening steps.

    Parameters
    ----------
    maps : sphere_graphs.Coarsening, PoolingMaps, or a sequence of them (finest first)
    mode : {"nearest", "interpolate", "max", "zeros", "deepsphere_ones"}
        ``"nearest"``: copy from ``parent`` (inverse of average pooling on signals
        constant over each group); ``"interpolate"``: apply the interpolation matrix;
        ``"max"``: put values back where max pooling found them, zeros elsewhere
        (needs the pooling indices); ``"zeros"``: coarse values at the kept vertices,
        0 at the new ones (decimation only); ``"deepsphere_ones"``: like ``"zeros"``
        but new vertices are set to 1, as the original DeepSphere icosahedral unpooling.
    fine, coarse : Sampling, optional
        As for :class:`Pool`.

    Shapes
    ------
    ``y (B, V_coarse, C)`` (and ``indices (B, V_coarse, C)`` for ``mode="max"``)
    -> ``x (B, V_fine, C)``.
    """

    def __init__(
        self,
        maps: MapsLike,
        mode: str = "nearest",
        *,
        fine: Sampling | None = None,
        coarse: LazySampling | None = None,
    ) -> None:
        super().__init__(maps, fine, coarse)
        self.mode = check_choice(mode, UNPOOL_MODES, "unpooling mode")
        if mode in ("zeros", "deepsphere_ones"):
            missing = [i for i, m in enumerate(self._maps) if m.kept is None]
            if missing:
                raise ValueError(
                    f"mode={mode!r} needs decimation coarsenings (with `kept`, e.g. icosahedral); step(s) "
                    f"{missing} have kept=None. Use mode='nearest', 'interpolate' or 'max'."
                )
        for i, m in enumerate(self._maps):
            kept = m.kept if m.kept is not None else np.zeros(0, np.int64)
            self.register_buffer(f"kept_{i}", torch.from_numpy(kept.copy()), persistent=False)
            self.register_buffer(f"parent_{i}", torch.from_numpy(m.parent.copy()), persistent=False)
            self.register_buffer(
                f"interp_index_{i}", torch.from_numpy(m.interp_index.copy()), persistent=False
            )
            self.register_buffer(
                f"interp_weight_{i}", torch.from_numpy(m.interp_weight.copy()), persistent=False
            )

    def forward(self, y: Tensor, indices: Tensor | None = None) -> Tensor:
        """Unpool ``y (B, V_coarse, C)`` to ``(B, V_fine, C)``."""
        owner = type(self).__name__
        check_vertices(y, self.n_coarse, owner, self._what(False), "y")
        if self.mode == "max":
            if indices is None:
                raise ValueError(
                    f"{owner}(mode='max') needs the indices returned by max pooling: unpool(y, indices)."
                )
            if indices.dtype != torch.int64:
                raise TypeError(
                    f"indices must be an int64 tensor from max pooling; got dtype {indices.dtype}."
                )
            return F.unpool_max(y, indices, self.n_fine, self.disjoint)
        for i in reversed(range(self.levels)):
            m = self._maps[i]
            if self.mode == "nearest":
                y = F.unpool_nearest(y, self._buffer("parent", i))
            elif self.mode == "interpolate":
                weight = self._buffer("interp_weight", i).to(y.dtype)
                y = F.unpool_interpolate(y, self._buffer("interp_index", i), weight)
            else:
                fill = 1.0 if self.mode == "deepsphere_ones" else 0.0
                y = F.unpool_fill(y, self._buffer("kept", i), m.n_fine, fill)
        return y

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, levels={self.levels}, n_coarse={self.n_coarse}, n_fine={self.n_fine}"
