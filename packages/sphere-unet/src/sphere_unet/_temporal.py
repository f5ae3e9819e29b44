"""Temporal U-Nets for sequences of spherical maps, input ``(B, T, V, C)``.

Two variants:

* :class:`FrameStackUNet` stacks the ``T`` frames along channels (early fusion).
* :class:`ConvLSTMUNet` encodes every frame with the shared encoder, runs a graph
  ConvLSTM over the bottleneck sequence and decodes the last hidden state with the
  last frame's skip connections. The LSTM gates are Chebyshev convolutions on the
  bottleneck graph (``K (C + H) 4H`` weights) instead of a dense LSTM over the
  flattened bottleneck: for the AR/TC preset that bottleneck is 12 x 512 = 6144
  values, and a dense LSTM would need ``4 * 2 * 6144**2`` ~ 302 M weights and would
  not be rotation equivariant, whereas the graph cell has 6.3 M (K = 3) and shares
  its weights over vertices.
"""

from __future__ import annotations

from typing import Any, cast

import sphere_graphs as sg
import torch
from cheb_conv import SparseOperator
from torch import Tensor, nn

from ._checks import check_input, check_int
from ._layers import ChebBlock, resolve_order
from ._unet import SphericalUNet

__all__ = ["ConvLSTMUNet", "FrameStackUNet", "GraphConvLSTMCell"]


class FrameStackUNet(SphericalUNet):
    """U-Net whose input is ``T`` frames stacked along channels.

    Parameters
    ----------
    sampling, in_channels, out_channels, depth, **kwargs
        As :class:`SphericalUNet`; ``in_channels`` is per frame.
    n_frames : int
        ``T``; the inner U-Net sees ``T * in_channels`` channels (frame-major).
    """

    def __init__(
        self,
        sampling: sg.Sampling,
        in_channels: int,
        out_channels: int,
        depth: int = 3,
        *,
        n_frames: int = 3,
        **kwargs: Any,
    ) -> None:
        n_frames = check_int("n_frames", n_frames, 1)
        in_channels = check_int("in_channels", in_channels, 1)
        super().__init__(sampling, n_frames * in_channels, out_channels, depth, **kwargs)
        self.n_frames = int(n_frames)
        self.frame_channels = int(in_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Segment the sequence.

        Parameters
        ----------
        x : torch.Tensor, shape (B, T, V, C)

        Returns
        -------
        torch.Tensor, shape (B, V, out_channels)
        """
        check_input(
            x,
            self.n_vertices,
            self.frame_channels,
            self.head.weight,
            type(self).__name__,
            temporal=True,
        )
        B, T, V, C = x.shape
        if T != self.n_frames:
            raise ValueError(f"FrameStackUNet was built for T={self.n_frames} frames; got T={T}.")
        h = x.permute(2, 0, 1, 3).reshape(V, B, T * C)
        skips, idx = self.encode(h)
        return self.decode(skips[-1], skips, idx).transpose(0, 1)


class GraphConvLSTMCell(nn.Module):
    """ConvLSTM cell whose gate convolutions are Chebyshev graph convolutions.

    Parameters
    ----------
    in_channels, hidden_channels : int
    K : int
        Chebyshev order; ``kernel_size`` is an alias.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        K: int | None = None,
        *,
        kernel_size: int | None = None,
    ) -> None:
        super().__init__()
        self.hidden_channels = int(hidden_channels)
        self.gates = ChebBlock(
            (in_channels, hidden_channels),
            4 * hidden_channels,
            resolve_order(K, kernel_size),
            norm=False,
            relu=False,
        )
        with torch.no_grad():  # forget-gate bias 1: remember by default
            cast(Tensor, self.gates.bias)[hidden_channels : 2 * hidden_channels].fill_(
                1.0
            )  # built with bias=True

    def forward(
        self, lap: SparseOperator, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step; ``x`` ``(V, B, C_in)``, state ``(h, c)`` each ``(V, B, H)``; returns ``(h, c)``."""
        if state is None:
            h = x.new_zeros(x.shape[0], x.shape[1], self.hidden_channels)
            c = torch.zeros_like(h)
        else:
            h, c = state
        i, f, o, g = self.gates(lap, x, h).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTMUNet(SphericalUNet):
    """U-Net with a graph ConvLSTM over the bottleneck across frames.

    All frames go through the shared encoder (batch norm statistics over ``B * T``);
    the ConvLSTM (hidden size = bottleneck width) runs over the ``T`` bottlenecks and
    the decoder uses its last hidden state with the skips of the last frame.

    Parameters
    ----------
    sampling, in_channels, out_channels, depth, **kwargs
        As :class:`SphericalUNet`.
    """

    def __init__(
        self,
        sampling: sg.Sampling,
        in_channels: int,
        out_channels: int,
        depth: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(sampling, in_channels, out_channels, depth, **kwargs)
        bottleneck = cast(ChebBlock, cast(nn.ModuleList, self.encoder[-1])[-1])
        width = bottleneck.out_channels
        self.lstm = GraphConvLSTMCell(width, width, bottleneck.K)

    def forward(self, x: Tensor) -> Tensor:
        """Segment the last frame of a sequence.

        Parameters
        ----------
        x : torch.Tensor, shape (B, T, V, C)

        Returns
        -------
        torch.Tensor, shape (B, V, out_channels)
        """
        check_input(
            x,
            self.n_vertices,
            self.in_channels,
            self.head.weight,
            type(self).__name__,
            temporal=True,
        )
        B, T, V, C = x.shape
        h = x.permute(2, 0, 1, 3).reshape(V, B * T, C)
        skips, idx = self.encode(h)

        def last(t: Tensor) -> Tensor:
            return t.view(t.shape[0], B, T, t.shape[-1])[:, :, -1].contiguous()

        seq = skips[-1].view(skips[-1].shape[0], B, T, -1)
        lap = self.stack.laplacian(self.depth)
        state: tuple[Tensor, Tensor] | None = None
        for t in range(T):
            state = self.lstm(lap, seq[:, :, t].contiguous(), state)
        if state is None:
            raise ValueError(f"{type(self).__name__} needs at least one frame; got T={T}.")
        last_idx = [None if i is None else last(i) for i in idx]
        return self.decode(state[0], [last(s) for s in skips], last_idx).transpose(0, 1)
