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

#: Read-outs of :class:`SphericalClassifier`: global average or flattened last level.
READOUTS = ("mean", "flatten")


class SphericalClassifier(nn.Module):
    """Map a spherical signal to class logits or regression targets.

    Level ``i`` applies ``ChebBlock``s of widths ``channels[i]`` and pools to level
    ``i + 1`` (not after the last level); a readout turns the last level's features
    ``(V_last, C_last)`` per sample into a vector and a linear layer produces the outputs.
    With ``readout="mean"`` the features are averaged over vertices (rotation invariant:
    DeepSphere's fully convolutional variant); with ``readout="flatten"`` they are
    flattened to ``V_last * C_last`` values, so the head sees where on the sampling a
    feature is (DeepSphere's "CNN" variant with a fully connected head, for patches).

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
    readout : {"mean", "flatten"}
        How the last level's features become one vector per sample (see above); the head
        has ``C_last`` or ``V_last * C_last`` inputs.

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
        readout: str = "mean",
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
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
        self.readout = readout
        self.dropout = nn.Dropout(dropout)
        n_features = c * (self.stack.vertices[-1] if readout == "flatten" else 1)
        self.head = nn.Linear(n_features, n_outputs)

    def features(self, x: Tensor) -> Tensor:
        """Read-out features of ``x`` ``(B, V, C_in)``.

        Returns
        -------
        Tensor
            ``(B, C_last)`` (``readout="mean"``) or ``(B, V_last * C_last)`` ordered
            vertex-major, ``[v * C_last + c]`` (``readout="flatten"``).
        """
        check_input(x, self.n_vertices, self.in_channels, self.head.weight, type(self).__name__)
        h = x.transpose(0, 1).contiguous()
        for i, level in enumerate(self.blocks):
            if i > 0:
                h, _ = self.stack.pooling(i - 1).pool(h, False)
            lap = self.stack.laplacian(i)
            for blk in cast(nn.ModuleList, level):
                h = blk(lap, h)
        if self.readout == "flatten":
            return h.transpose(0, 1).reshape(h.shape[1], -1)
        return h.mean(0)

    def forward(self, x: Tensor) -> Tensor:
        """Outputs ``(B, n_outputs)`` (logits or regression values) for ``x`` ``(B, V, C_in)``."""
        return self.head(self.dropout(self.features(x)))
