"""Whole-sphere classifier / regressor: Chebyshev encoder, global average pooling, linear head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import sphere_graphs as sg
from torch import Tensor, nn

from ._checks import check_dropout, check_input, check_int
from ._encoder import LevelStack
from ._layers import ChebBlock, resolve_order

__all__ = ["SphericalClassifier"]


class SphericalClassifier(nn.Module):
    """Map a spherical signal to class logits or regression targets.

    Level ``i`` applies ``ChebBlock``s of widths ``channels[i]`` and pools to level
    ``i + 1`` (not after the last level); the features are averaged over vertices
    (rotation invariant) and a linear layer produces the outputs. This is the
    DeepSphere cosmological-model discrimination architecture.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
    in_channels : int
    n_outputs : int
        Classes (logits) or regression targets.
    depth : int
        Number of poolings (0: no pooling).
    channels : sequence of sequence of int, optional
        Widths per level, length ``depth + 1``; default ``((16,), (32,), (64,), ...)``.
    K (alias kernel_size), graph, k, sigma, laplacian, pool, coarsenings
        As :class:`SphericalUNet`.
    dropout : float
        Dropout before the linear head, in ``[0, 1)``.

    Notes
    -----
    Input ``(B, V, in_channels)`` in the model's dtype and on its device, output
    ``(B, n_outputs)``.
    """

    def __init__(
        self,
        sampling: sg.Sampling,
        in_channels: int,
        n_outputs: int,
        depth: int = 3,
        *,
        channels: Sequence[Sequence[int]] | None = None,
        K: int | None = None,
        kernel_size: int | None = None,
        graph: str = "knn",
        k: int = 8,
        sigma: float | None = None,
        laplacian: str = "combinatorial",
        pool: str = "avg",
        dropout: float = 0.0,
        coarsenings: Sequence[sg.Coarsening] | None = None,
    ) -> None:
        super().__init__()
        depth = check_int("depth", depth, 0)
        in_channels, n_outputs = (
            check_int("in_channels", in_channels, 1),
            check_int("n_outputs", n_outputs, 1),
        )
        dropout = check_dropout(dropout)
        K = resolve_order(K, kernel_size)
        channels = [list(c) for c in (channels or [[16 * 2**i] for i in range(depth + 1)])]
        if len(channels) != depth + 1 or any(len(c) == 0 for c in channels):
            raise ValueError(
                f"channels needs depth + 1 = {depth + 1} non-empty entries; got {channels}."
            )
        self.stack = LevelStack(
            sampling,
            depth,
            graph=graph,
            k=k,
            sigma=sigma,
            laplacian=laplacian,
            pool=pool,
            coarsenings=coarsenings,
        )
        self.n_vertices = self.stack.n_vertices
        self.in_channels = int(in_channels)
        self.blocks = nn.ModuleList()
        c = self.in_channels
        for widths in channels:
            level = nn.ModuleList()
            for w in widths:
                level.append(ChebBlock(c, w, K))
                c = w
            self.blocks.append(level)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c, n_outputs)

    def features(self, x: Tensor) -> Tensor:
        """Globally pooled features ``(B, C_last)`` of ``x`` ``(B, V, C_in)``."""
        check_input(x, self.n_vertices, self.in_channels, self.head.weight, type(self).__name__)
        h = x.transpose(0, 1).contiguous()
        for i, level in enumerate(self.blocks):
            if i > 0:
                h, _ = self.stack.pooling(i - 1).pool(h, False)
            lap = self.stack.laplacian(i)
            for blk in cast(nn.ModuleList, level):
                h = blk(lap, h)
        return h.mean(0)

    def forward(self, x: Tensor) -> Tensor:
        """Outputs ``(B, n_outputs)`` (logits or regression values) for ``x`` ``(B, V, C_in)``."""
        return self.head(self.dropout(self.features(x)))
