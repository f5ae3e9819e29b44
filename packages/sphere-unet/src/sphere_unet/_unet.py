"""The spherical U-Net (encoder, bottleneck, decoder with skips)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import sphere_graphs as sg
from torch import Tensor, nn

from ._checks import check_dropout, check_input, check_int
from ._encoder import LevelStack
from ._layers import ChebBlock, resolve_order

__all__ = ["SphericalUNet", "default_channels"]


def default_channels(
    depth: int, width: int = 16
) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """Encoder and decoder widths of a plain U-Net.

    Level ``i`` (0 = finest) of the encoder has two convolutions of ``width * 2**i``
    channels; the decoder mirrors it.

    Parameters
    ----------
    depth : int
        Number of poolings (>= 1).
    width : int
        Channels of the finest level (>= 1).

    Returns
    -------
    encoder : tuple of tuple of int, length depth + 1
    decoder : tuple of int, length depth (coarse to fine)
    """
    depth, width = check_int("depth", depth, 1), check_int("width", width, 1)
    enc = tuple((width * 2**i, width * 2**i) for i in range(depth + 1))
    dec = tuple(width * 2**i for i in range(depth - 1, -1, -1))
    return enc, dec


class SphericalUNet(nn.Module):
    """U-Net on a sphere sampling with Chebyshev graph convolutions.

    Encoder level ``i`` (0 = finest) applies ``ChebBlock``s of widths
    ``encoder_channels[i]`` (conv, batch norm, ReLU) and pools to level ``i + 1``
    (level 0 is not pooled into; level ``depth`` is the bottleneck). Each decoder
    step unpools, applies ``ChebBlock(prev -> decoder_channels[j])``, and, where a
    skip is used, a second ``ChebBlock([up, skip] -> decoder_channels[j])`` that
    consumes the concatenation implicitly. A final Chebyshev convolution (no norm,
    no activation) maps to ``out_channels`` logits.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        Finest sampling, ``V`` vertices.
    in_channels, out_channels : int
    depth : int
        Number of poolings (levels minus one), >= 1.
    encoder_channels : sequence of sequence of int, optional
        Widths per level, length ``depth + 1``; default :func:`default_channels`.
    decoder_channels : sequence of int, optional
        Widths of the decoder levels ``depth - 1, ..., 0``, length ``depth``.
    width : int
        Channels of the finest level when the widths are not given.
    K : int
        Chebyshev order (number of terms, default 3); ``kernel_size`` is an alias.
    graph : {"knn", "knn_strict", "mesh"}
        Graph on every level: ``"knn"`` is ``sphere_graphs.knn_graph`` keeping distance
        ties (exactly symmetric), ``"knn_strict"`` the same with ties broken by index,
        ``"mesh"`` is ``sphere_graphs.mesh_graph``.
    k : int
        Neighbours of the k-NN graph, ``1 <= k < V_l`` on every level.
    sigma : float, optional
        Kernel width of the k-NN graph (default: each level's own).
    laplacian : {"combinatorial", "normalized"}
        Rescaled to ``2 L / lmax - I`` with the bound of
        ``sphere_graphs.laplacian_bound`` (``sphere_graphs.graph_hierarchy``).
    pool : {"max", "avg"}
        Pooling mode; unpooling copies the parent value (nearest) in both modes.
    dropout : float
        Dropout after every decoder block and the bottleneck, in ``[0, 1)``.
    bottleneck_norm : bool
        If False the last bottleneck convolution has no batch norm and no ReLU.
    skip_finest : bool
        Concatenate the finest encoder output in the last decoder step.
    levels : sphere_graphs.GraphHierarchy, optional
        Ready levels, e.g. ``sphere_graphs.graph_hierarchy(sampling, depth,
        lmax="arpack")`` (overrides ``graph``, ``k``, ``sigma``, ``laplacian``).
    coarsenings : sequence of sphere_graphs.Coarsening, optional
        A custom hierarchy (finest first).

    Attributes
    ----------
    stack : module
        ``stack.operators`` (one ``cheb_conv.SparseOperator`` per level),
        ``stack.pools`` (``sphere_pool.VertexPool`` per pooling), ``stack.vertices``
        (``V`` per level, finest first).

    Raises
    ------
    ValueError
        Bad option: ``depth < 1``, ``dropout`` outside ``[0, 1)``, ``k`` outside
        ``[1, V_l - 1]``, a depth the sampling cannot be coarsened to (RING
        ordering, point clouds, too few pixels: the message names it).
    TypeError
        Non-integer ``depth``, ``K``, ``width``, channel counts.

    Notes
    -----
    Input ``(B, V, in_channels)`` in the model's dtype and on its device, output
    logits ``(B, V, out_channels)``. Internally activations are ``(V, B, C)``; the
    transposes happen once at each end.
    """

    def __init__(
        self,
        sampling: sg.Sampling,
        in_channels: int,
        out_channels: int,
        depth: int = 3,
        *,
        encoder_channels: Sequence[Sequence[int]] | None = None,
        decoder_channels: Sequence[int] | None = None,
        width: int = 16,
        K: int | None = None,
        kernel_size: int | None = None,
        graph: str = "knn",
        k: int = 8,
        sigma: float | None = None,
        laplacian: str = "combinatorial",
        pool: str = "avg",
        dropout: float = 0.0,
        bottleneck_norm: bool = True,
        skip_finest: bool = True,
        levels: sg.GraphHierarchy | None = None,
        coarsenings: Sequence[sg.Coarsening] | None = None,
    ) -> None:
        super().__init__()
        depth = check_int("depth", depth, 1)
        in_channels, out_channels = (
            check_int("in_channels", in_channels, 1),
            check_int("out_channels", out_channels, 1),
        )
        dropout = check_dropout(dropout)
        K = resolve_order(K, kernel_size)
        enc_default, dec_default = default_channels(depth, width)
        encoder_channels = [list(c) for c in (encoder_channels or enc_default)]
        decoder_channels = list(decoder_channels or dec_default)
        if len(encoder_channels) != depth + 1 or any(len(c) == 0 for c in encoder_channels):
            raise ValueError(
                f"encoder_channels needs depth + 1 = {depth + 1} non-empty entries; got {encoder_channels}."
            )
        if len(decoder_channels) != depth:
            raise ValueError(
                f"decoder_channels needs depth = {depth} entries; got {decoder_channels}."
            )
        self.stack = LevelStack(
            sampling,
            depth,
            graph=graph,
            k=k,
            sigma=sigma,
            laplacian=laplacian,
            pool=pool,
            levels=levels,
            coarsenings=coarsenings,
        )
        self.in_channels, self.out_channels, self.depth = (
            int(in_channels),
            int(out_channels),
            int(depth),
        )
        self.n_vertices = self.stack.n_vertices
        self.encoder = nn.ModuleList()
        c = self.in_channels
        for i, widths in enumerate(encoder_channels):
            blocks = nn.ModuleList()
            for j, w in enumerate(widths):
                last_bottleneck = i == depth and j == len(widths) - 1
                plain = last_bottleneck and not bottleneck_norm
                drop = dropout if (i == depth and j == len(widths) - 1) else 0.0
                blocks.append(ChebBlock(c, w, K, norm=not plain, relu=not plain, dropout=drop))
                c = w
            self.encoder.append(blocks)
        skips = [widths[-1] for widths in encoder_channels]
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for j, w in enumerate(decoder_channels):
            level = depth - 1 - j
            use_skip = level > 0 or skip_finest
            self.up.append(ChebBlock(c, w, K, dropout=0.0 if use_skip else dropout))
            self.merge.append(
                ChebBlock((w, skips[level]), w, K, dropout=dropout) if use_skip else nn.Identity()
            )
            c = w
        self.head = ChebBlock(c, self.out_channels, K, norm=False, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        """Segment a batch of spherical signals.

        Parameters
        ----------
        x : torch.Tensor, shape (B, V, in_channels)

        Returns
        -------
        torch.Tensor, shape (B, V, out_channels)
            Logits (no softmax).
        """
        check_input(x, self.n_vertices, self.in_channels, self.head.weight, type(self).__name__)
        h = x.transpose(0, 1).contiguous()
        skips, idx = self.encode(h)
        return self.decode(skips[-1], skips, idx).transpose(0, 1)

    def encode(self, h: Tensor) -> tuple[list[Tensor], list[Tensor | None]]:
        """Run the encoder on ``h`` of shape ``(V, B, C_in)`` (internal layout).

        Returns
        -------
        skips : list of torch.Tensor
            Output of every level, finest first; the last one is the bottleneck
            ``(V_depth, B, C)``.
        indices : list
            Pooling indices per pooling (None for avg pooling).
        """
        skips, idx = [], []
        for i, blocks in enumerate(self.encoder):
            if i > 0:
                h, ind = self.stack.pooling(i - 1).pool(h, False)
                idx.append(ind)
            lap = self.stack.laplacian(i)
            for blk in cast(nn.ModuleList, blocks):
                h = blk(lap, h)
            skips.append(h)
        return skips, idx

    def decode(self, h: Tensor, skips: list[Tensor], idx: list[Tensor | None]) -> Tensor:
        """Run the decoder from bottleneck ``h`` ``(V_depth, B, C)``; returns ``(V, B, out)``."""
        for j, (up, merge) in enumerate(zip(self.up, self.merge, strict=False)):
            level = self.depth - 1 - j
            pool = self.stack.pooling(level)
            lap = self.stack.laplacian(level)
            if idx[level] is None:  # nearest unpooling is linear: mix on the coarse rows
                h = up(lap, h, lift=self.stack.lift(level))
            else:
                h = up(lap, pool.unpool(h, idx[level]))
            if isinstance(merge, ChebBlock):
                h = merge(lap, h, skips[level])
        return self.head(self.stack.laplacian(0), h)
