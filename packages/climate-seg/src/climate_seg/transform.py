"""The one mesh <-> grid transform, used by training, evaluation, prediction and plots.

The files live on the icosahedral mesh; a model may run on another sampling (HEALPix,
equiangular) or another icosahedral level. :class:`MeshGrid` holds the three resampling
operators of such a pair: fields mesh -> grid (linear, barycentric), labels mesh -> grid
(nearest, on one-hot labels) and class probabilities grid -> mesh (nearest), so that
metrics and predictions can be reported on the mesh. :class:`GridDataset` applies it to a
:class:`climate_seg.data.CAM5Dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import sphere_graphs as sg
import torch
from torch.utils.data import Dataset

from .data import N_CLASSES

__all__ = ["GridDataset", "MeshGrid"]


def _csr(source: sg.Sampling, target: sg.Sampling, method: str) -> sp.csr_matrix:
    return sp.csr_matrix(sg.resampling_matrix(source, target, method=method), dtype=np.float32)


def _picks(matrix: sp.csr_matrix | None) -> np.ndarray | None:
    """The source index of every row when ``matrix`` only picks (one entry of 1 per row), else None."""
    if matrix is None or not (np.diff(matrix.indptr) == 1).all() or not (matrix.data == 1).all():
        return None
    return matrix.indices.astype(np.int64)


@dataclass
class MeshGrid:
    """Resampling between the data mesh and a model grid.

    Attributes
    ----------
    mesh, grid : sphere_graphs samplings
        Source (files) and model grid.
    fields, labels, back : scipy CSR or None
        ``(V_grid, V_mesh)`` linear operator for the fields, ``(V_grid, V_mesh)`` nearest
        operator for the labels, ``(V_mesh, V_grid)`` nearest operator for predictions.
        All None when the grid is the mesh.
    """

    mesh: sg.Sampling
    grid: sg.Sampling
    fields: sp.csr_matrix | None = None
    labels: sp.csr_matrix | None = None
    back: sp.csr_matrix | None = None

    def __post_init__(self) -> None:
        # nearest resampling picks one source vertex per row: index instead of multiplying
        self._label_pick = _picks(self.labels)
        self._back_pick = _picks(self.back)

    @classmethod
    def between(cls, mesh: sg.Sampling, grid: sg.Sampling) -> MeshGrid:
        """The transform from ``mesh`` to ``grid`` (identity when they coincide)."""
        if mesh.n_vertices == grid.n_vertices and np.allclose(mesh.coords, grid.coords):
            return cls(mesh, grid)
        return cls(
            mesh,
            grid,
            _csr(mesh, grid, "linear"),
            _csr(mesh, grid, "nearest"),
            _csr(grid, mesh, "nearest"),
        )

    @property
    def identity(self) -> bool:
        """True when the model runs on the data mesh itself."""
        return self.fields is None

    def fields_to_grid(self, x: np.ndarray) -> np.ndarray:
        """Fields ``(V_mesh, C)`` or ``(T, V_mesh, C)`` to ``(V_grid, C)`` / ``(T, V_grid, C)``, float32."""
        if self.fields is None:
            return x
        if x.ndim == 3:
            return np.stack([self.fields_to_grid(f) for f in x])
        return np.asarray(self.fields @ x, dtype=np.float32)

    def labels_to_grid(self, y: np.ndarray) -> np.ndarray:
        """Class indices ``(V_mesh,)`` to ``(V_grid,)`` (nearest, via one-hot), int64."""
        if self.labels is None:
            return y
        if self._label_pick is not None:
            return np.asarray(y, dtype=np.int64)[self._label_pick]
        onehot = np.zeros((len(y), N_CLASSES), np.float32)
        onehot[np.arange(len(y)), y] = 1.0
        return np.asarray(np.argmax(self.labels @ onehot, axis=1), dtype=np.int64)

    def to_mesh(self, probs: torch.Tensor) -> torch.Tensor:
        """Grid probabilities ``(B, V_grid, C)`` (or ``(V_grid, C)``) to the mesh ``(B, V_mesh, C)``."""
        if self.back is None:
            return probs
        if self._back_pick is not None:
            return probs[..., torch.from_numpy(self._back_pick).to(probs.device), :]
        if probs.dim() == 3:
            return torch.stack([self.to_mesh(p) for p in probs])
        out = self.back @ probs.detach().cpu().double().numpy()
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(probs.device)

    def values_to_grid(self, values: np.ndarray) -> np.ndarray:
        """One field ``(V_mesh,)`` to the grid (linear), float64 (for plots)."""
        if self.fields is None:
            return np.asarray(values, dtype=np.float64)
        return np.asarray(self.fields @ np.asarray(values, np.float64), dtype=np.float64)


class GridDataset(Dataset):
    """A CAM5 dataset on the model grid.

    Parameters
    ----------
    base : climate_seg.data.CAM5Dataset
        Yields normalised ``(x (V_mesh, 16), y (V_mesh,))`` or ``(x (T, V_mesh, 16), y)``.
    transform : MeshGrid
        Mesh -> grid resampling.

    Notes
    -----
    Items are ``(x, y, y_mesh)``: ``x (V_grid, 16)`` (or ``(T, V_grid, 16)``) float32,
    ``y (V_grid,)`` int64 (nearest-resampled labels) and ``y_mesh (V_mesh,)`` the labels on
    the mesh for metrics there. Bad files are handled by ``base`` (``skip_bad_files``).
    """

    def __init__(self, base: Any, transform: MeshGrid) -> None:
        self.base, self.transform = base, transform

    @property
    def files(self) -> list[Any]:
        """The files of the underlying dataset (sorted by run, date, slot)."""
        return list(self.base.files)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y_mesh = self.base[i]
        x_np = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        y_np = y_mesh.numpy() if isinstance(y_mesh, torch.Tensor) else np.asarray(y_mesh)
        if self.transform.identity:
            return torch.as_tensor(x_np), torch.as_tensor(y_np), torch.as_tensor(y_np)
        xg = self.transform.fields_to_grid(x_np)
        yg = self.transform.labels_to_grid(y_np)
        return (
            torch.from_numpy(np.ascontiguousarray(xg)),
            torch.from_numpy(yg),
            torch.as_tensor(y_np),
        )
