"""The learned methods: DeepSphere FCN / CNN variants and a 2-D CNN, and their training loop.

* ``deepsphere_fcn``: :class:`sphere_unet.SphericalClassifier` as is (Chebyshev graph
  convolutions, pooling, global average pooling, linear layer): the paper's fully
  convolutional variant, invariant to rotations of the patch.
* ``deepsphere_cnn``: the same convolutional stack with a fully connected head on the
  flattened last-level features instead of the average (the paper's CNN variant:
  ``SphericalClassifier(readout="flatten")``).
* ``cnn2d``: a standard 2-D CNN on the patch as a square image (z-order permutation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from numpy.typing import NDArray
from sphere_unet import SphericalClassifier
from torch import Tensor, nn

__all__ = ["Image2dCNN", "deepsphere", "depth_for", "predict", "train"]


def depth_for(n_vertices: int, k: int = 40, max_depth: int = 3) -> int:
    """Poolings (by 4) of a patch of ``n_vertices`` pixels that keep more than ``k`` vertices.

    ``sphere_unet`` needs ``k < V`` on every level, so the coarsest level must keep at
    least ``k + 1`` vertices; the experiment uses the largest ``k`` compared, so that
    every ``k`` gets the same architecture.
    """
    depth = 0
    while depth < max_depth and n_vertices // 4 ** (depth + 1) > k:
        depth += 1
    return depth


def _channels(depth: int, width: int) -> list[list[int]]:
    """Four convolutions of widths ``w, 2w, 4w, 4w``: one per level, the rest on the last."""
    widths = [width, 2 * width, 4 * width, 4 * width]
    return [[w] for w in widths[:depth]] + [widths[depth:] or [4 * width]]


def deepsphere(
    variant: str,
    sampling: Any,
    k: int,
    depth: int,
    width: int = 16,
    kernel_size: int = 5,
    in_channels: int = 1,
    n_outputs: int = 2,
) -> nn.Module:
    """DeepSphere model on ``sampling`` with a ``k``-NN graph (published HEALPix widths).

    ``sigma`` is left to ``sphere_graphs.default_kernel_width``, which on every level of a
    HEALPix hierarchy is ``sphere_graphs.healpix_kernel_width(nside_level, k)`` for
    ``k`` in {8, 20, 40}.
    """
    readout = {"fcn": "mean", "cnn": "flatten"}[variant]
    return SphericalClassifier(
        sampling,
        in_channels,
        n_outputs,
        depth,
        channels=_channels(depth, width),
        kernel_size=kernel_size,
        graph="knn",
        k=k,
        pool="avg",
        readout=readout,
    )


class Image2dCNN(nn.Module):
    """Plain 2-D CNN on ``(B, side * side, C)`` patches laid out as square images.

    3x3 convolutions, batch norm, ReLU and 2x2 average pooling ``depth`` times, global
    average pooling and a linear layer (same widths as the DeepSphere models).
    """

    def __init__(
        self,
        side: int,
        perm: NDArray[np.int64],
        depth: int,
        width: int = 16,
        in_channels: int = 1,
        n_outputs: int = 2,
    ) -> None:
        super().__init__()
        self.side = side
        self.register_buffer("perm", torch.as_tensor(perm), persistent=False)
        layers: list[nn.Module] = []
        c = in_channels
        for i, level in enumerate(_channels(depth, width)):
            if i > 0:
                layers.append(nn.AvgPool2d(2))
            for w in level:
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
                c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        img = x[:, cast(Tensor, self.perm)].permute(0, 2, 1).reshape(b, c, self.side, self.side)
        return self.head(self.body(img).mean((2, 3)))


def train(
    model: nn.Module,
    x: NDArray[np.floating],
    y: NDArray,
    *,
    epochs: int,
    batch: int,
    lr: float = 2e-3,
    augment: Callable[[NDArray], NDArray] | None = None,
    loss: str = "ce",
    seed: int = 0,
) -> float:
    """Adam training; ``augment`` is applied to each batch (fresh noise every epoch).

    Parameters
    ----------
    x : ndarray, shape (N, V) or (N, V, C)
    y : ndarray, shape (N,) int labels (``loss="ce"``) or (N, P) targets (``"mse"``)

    Returns
    -------
    float
        Seconds spent training.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    crit = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            idx = order[s : s + batch]
            xb = x[idx] if augment is None else augment(x[idx])
            xb_t = torch.as_tensor(xb, dtype=torch.float32)
            if xb_t.ndim == 2:
                xb_t = xb_t.unsqueeze(-1)
            yb = torch.as_tensor(y[idx])
            opt.zero_grad()
            out = crit(model(xb_t), yb if loss == "ce" else yb.float())
            out.backward()
            opt.step()
            sched.step()
    return time.perf_counter() - t0


@torch.no_grad()
def predict(model: nn.Module, x: NDArray[np.floating], batch: int = 256) -> NDArray[np.float32]:
    """Model outputs ``(N, n_outputs)`` for ``x`` ``(N, V)`` or ``(N, V, C)`` in eval mode."""
    model.eval()
    outs = []
    for s in range(0, len(x), batch):
        xb = torch.as_tensor(x[s : s + batch], dtype=torch.float32)
        if xb.ndim == 2:
            xb = xb.unsqueeze(-1)
        outs.append(model(xb).numpy())
    return np.concatenate(outs)
