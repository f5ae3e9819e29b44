"""Minimal stand-ins used only while a sibling package does not yet export its API.

Each is replaced automatically (see ``_deps``) as soon as ``sphere_graphs``,
``sphere_unet`` or ``climate_seg.data`` / ``climate_seg.metrics`` provide the real thing.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

__all__ = ["ApAccumulator", "FallbackNet", "icosphere"]


def icosphere(level: int) -> np.ndarray:
    """Unit vectors ``(10 * 4**level + 2, 3)`` of the hierarchical icosphere (one vertex at +z)."""
    t = (1 + 5**0.5) / 2
    v = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                  [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], float)
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    a = v[0]  # rotate vertex 0 onto +z
    z = np.array([0.0, 0.0, 1.0])
    k = np.cross(a, z)
    s, c = np.linalg.norm(k), a @ z
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    rot = np.eye(3) + kx + kx @ kx * ((1 - c) / s**2)
    verts = list(v @ rot.T)
    faces = np.array(f)
    for _ in range(level):
        cache: dict[tuple[int, int], int] = {}

        def mid(i: int, j: int) -> int:
            key = (min(i, j), max(i, j))
            if key not in cache:
                p = verts[i] + verts[j]
                verts.append(p / np.linalg.norm(p))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for i, j, k_ in faces:
            a_, b_, c_ = mid(i, j), mid(j, k_), mid(k_, i)
            new += [[i, a_, c_], [j, b_, a_], [k_, c_, b_], [a_, b_, c_]]
        faces = np.array(new)
    return np.asarray(verts)


def _laplacian(coords: np.ndarray, k: int = 8) -> torch.Tensor:
    """Rescaled normalised k-NN Laplacian ``L - I`` as a sparse tensor ``(V, V)``."""
    n = len(coords)
    k = min(k, n - 1)
    dist, idx = cKDTree(coords).query(coords, k=k + 1)
    dist, idx = dist[:, 1:], idx[:, 1:]
    w = np.exp(-(dist**2) / (2 * np.mean(dist) ** 2))
    rows = np.repeat(np.arange(n), k)
    import scipy.sparse as sp

    a = sp.coo_matrix((w.ravel(), (rows, idx.ravel())), shape=(n, n)).tocsr()
    a = a.maximum(a.T)
    d = np.asarray(a.sum(1)).ravel() ** -0.5
    lap = -(sp.diags(d) @ a @ sp.diags(d)).tocoo()  # (I - D^-1/2 A D^-1/2) - I
    ind = torch.tensor(np.vstack([lap.row, lap.col]), dtype=torch.long)
    return torch.sparse_coo_tensor(ind, torch.tensor(lap.data, dtype=torch.float32), (n, n), check_invariants=False).coalesce()


class _Cheb(nn.Module):
    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.lin = nn.Linear(cin * k, cout)

    def forward(self, x: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
        b, v, c = x.shape
        x0 = x.permute(1, 0, 2).reshape(v, b * c)
        terms = [x0]
        if self.k > 1:
            terms.append(torch.sparse.mm(lap, x0))
        for _ in range(2, self.k):
            terms.append(2 * torch.sparse.mm(lap, terms[-1]) - terms[-2])
        out = torch.stack(terms, 0).reshape(self.k, v, b, c).permute(2, 1, 3, 0).reshape(b, v, c * self.k)
        return self.lin(out)


class FallbackNet(nn.Module):
    """A small Chebyshev graph network ``(B, V, C_in) -> (B, V, C_out)`` without pooling."""

    def __init__(self, coords: np.ndarray, in_channels: int = 16, out_channels: int = 3,
                 width: int = 32, depth: int = 4, kernel_size: int = 3) -> None:
        super().__init__()
        self.register_buffer("lap", _laplacian(np.asarray(coords)), persistent=False)
        dims = [in_channels] + [width] * depth
        self.convs = nn.ModuleList(_Cheb(a, b, kernel_size) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(depth))
        self.head = nn.Linear(width, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # (B, T, V, C): frames stacked along channels
            x = x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1)
        for conv, norm in zip(self.convs, self.norms):
            x = torch.relu(norm(conv(x, self.lap).transpose(1, 2)).transpose(1, 2))
        return self.head(x)


class ApAccumulator:
    """Streaming per-class average precision from score histograms (1024 bins).

    ``update(probs (N, C), target (N,))``; ``compute()`` returns a dict with
    ``ap_tc``, ``ap_ar``, ``map``, per-class recall, ``mean_accuracy`` and ``iou_*``.
    """

    bins = 1024

    def __init__(self, n_classes: int = 3) -> None:
        self.c = n_classes
        self.reset()

    def reset(self) -> None:
        self.pos = torch.zeros(self.c, self.bins, dtype=torch.float64)
        self.neg = torch.zeros(self.c, self.bins, dtype=torch.float64)
        self.conf = torch.zeros(self.c, self.c, dtype=torch.float64)

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        probs, target = probs.detach().float().cpu(), target.detach().long().cpu()
        b = (probs.clamp(0, 1) * (self.bins - 1)).round().long()
        for k in range(self.c):
            is_k = target == k
            self.pos[k] += torch.bincount(b[is_k, k], minlength=self.bins).double()
            self.neg[k] += torch.bincount(b[~is_k, k], minlength=self.bins).double()
        pred = probs.argmax(1)
        self.conf += torch.bincount(target * self.c + pred, minlength=self.c**2).reshape(self.c, self.c).double()

    def state(self) -> torch.Tensor:
        return torch.cat([self.pos.ravel(), self.neg.ravel(), self.conf.ravel()])

    def load(self, flat: torch.Tensor) -> None:
        n = self.c * self.bins
        self.pos, self.neg = flat[:n].reshape(self.c, -1), flat[n : 2 * n].reshape(self.c, -1)
        self.conf = flat[2 * n :].reshape(self.c, self.c)

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        names = ["bg", "tc", "ar"][: self.c]
        for k, name in enumerate(names):
            tp = self.pos[k].flip(0).cumsum(0)
            fp = self.neg[k].flip(0).cumsum(0)
            total = tp[-1]
            prec = tp / (tp + fp).clamp(min=1)
            rec_step = torch.diff(tp, prepend=torch.zeros(1)) / total.clamp(min=1)
            out[f"ap_{name}"] = float((prec * rec_step).sum()) if total > 0 else float("nan")
            rec = self.conf[k, k] / self.conf[k].sum().clamp(min=1)
            out[f"recall_{name}"] = float(rec)
            inter = self.conf[k, k]
            union = self.conf[k].sum() + self.conf[:, k].sum() - inter
            out[f"iou_{name}"] = float(inter / union.clamp(min=1))
        out["map"] = float(np.nanmean([out["ap_tc"], out["ap_ar"]]))
        out["mean_accuracy"] = float(np.mean([out[f"recall_{n}"] for n in names]))
        out["accuracy"] = float(self.conf.diag().sum() / self.conf.sum().clamp(min=1))
        return out
