"""Datasets for training and evaluation: split, normalisation, resampling to the model grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import TrainConfig
from ..data import CAM5Dataset, compute_stats, split_files
from . import _deps

__all__ = ["GridDataset", "PreparedData", "prepare_data", "split"]


def files_of(folder: str | Path | None) -> list[Path]:
    """Data files of ``folder`` with a one-line error suggesting how to get data."""
    if folder is None:
        raise ValueError("no data folder given; pass --data DIR (create one with `climate-seg data synth --out DIR`).")
    return _deps.list_files(folder)


def split(files: list[Path], seed: int, contiguous: bool = False) -> tuple[list[Path], list[Path], list[Path]]:
    """70/10/20 train/val/test split fixed by ``seed`` (at least one file in each part).

    ``contiguous=True`` (temporal models) cuts the name-sorted (date-sorted) list into three
    blocks instead, so that every part keeps runs of consecutive frames.
    """
    if contiguous:
        ordered = sorted(files, key=lambda p: p.name)
        n_tr, n_va = round(0.7 * len(files)), round(0.1 * len(files))
        tr, va, te = ordered[:n_tr], ordered[n_tr : n_tr + n_va], ordered[n_tr + n_va :]
    else:
        tr, va, te = split_files(files, seed=seed)
    tr, va, te = list(tr), list(va), list(te)
    if len(files) < 3:
        raise ValueError(f"only {len(files)} data file(s); training needs at least 3 (train, val and test).")
    if not va:
        va = [tr.pop()]
    if not te:
        te = [tr.pop()]
    return tr, va, te


def _arrays(path: Path, skip_bad: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """``(data, onehot)`` of a file; None for a broken file when ``skip_bad``."""
    try:
        with np.load(path) as z:
            return np.asarray(z["data"]), np.asarray(z["labels"])
    except Exception as exc:
        if skip_bad:
            return None
        raise ValueError(f"{path} cannot be read ({exc.__class__.__name__}); fix or remove it, "
                         "or pass --skip-bad-files (see `climate-seg data check`).") from None


def base_dataset(files: list[Path], mean: np.ndarray, std: np.ndarray, config: TrainConfig,
                 n_vertices: int = 10242) -> Dataset:
    """``climate_seg.data.CAM5Dataset`` of ``files``: frames ``(V, 16)`` or sequences ``(T, V, 16)``."""
    seq = config.sequence_length if config.temporal is not None else None
    return CAM5Dataset(files, stats=(mean, std), seq_len=seq, shift=config.prediction_shift if seq else 0,
                       skip_bad_files=config.skip_bad_files, n_vertices=n_vertices)


class GridDataset(Dataset):
    """Resample samples from the data mesh to the model grid.

    Yields ``(x, y, y_mesh)``: ``x (V_grid, C)`` (or ``(T, V_grid, C)``), ``y (V_grid,)``
    nearest-resampled labels, ``y_mesh (V_mesh,)`` the original labels for metrics on the mesh.
    With ``skip_bad`` a sample that fails to load is replaced by the next good one.
    """

    def __init__(self, base: Dataset, to_grid: torch.Tensor | None, to_grid_nearest: torch.Tensor | None,
                 stack: bool = False, skip_bad: bool = False) -> None:
        self.base, self.to_grid, self.nearest, self.stack, self.skip_bad = base, to_grid, to_grid_nearest, stack, skip_bad
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def _load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        for k in range(len(self)):
            j = (i + k) % len(self)
            try:
                x, y = self.base[j]
                return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
            except (ValueError, OSError, KeyError):
                if not self.skip_bad:
                    raise
                self.bad.add(j)
        raise ValueError("every data file failed to load; check the folder with `climate-seg data check DIR`.")

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y_mesh = self._load(i)
        if y_mesh.dim() > 1:  # sequence labels: keep the last (target) frame
            y_mesh = y_mesh[-1]
        if self.to_grid is not None:
            flat = x.reshape(-1, *x.shape[-2:]) if x.dim() == 3 else x[None]
            flat = torch.stack([torch.sparse.mm(self.to_grid, f) for f in flat])
            x = flat.reshape(*x.shape[:-2], *flat.shape[-2:]) if x.dim() == 3 else flat[0]
            onehot = torch.nn.functional.one_hot(y_mesh, 3).float()
            y = torch.sparse.mm(self.nearest, onehot).argmax(1)
        else:
            y = y_mesh
        if self.stack and x.dim() == 3:  # (T, V, C) -> (V, T*C)
            x = x.permute(1, 0, 2).reshape(x.shape[1], -1)
        return x, y, y_mesh


@dataclass
class PreparedData:
    """Everything the engines need about the data."""

    train: GridDataset
    val: GridDataset
    test: GridDataset
    grid: Any
    mesh: Any
    to_mesh: torch.Tensor | None
    mean: np.ndarray
    std: np.ndarray
    class_counts: np.ndarray


def prepare_data(config: TrainConfig, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> PreparedData:
    """Split, statistics and grid resampling for ``config``."""
    files = files_of(config.data)
    if config.max_files:
        files = files[: config.max_files]
    tr, va, te = split(files, config.seed, contiguous=config.temporal is not None)
    first = next((a for a in (_arrays(f, config.skip_bad_files) for f in tr) if a is not None), None)
    if first is None:
        raise ValueError("no training file can be read; check the folder with `climate-seg data check`.")
    shape = first[0].shape
    if shape[0] != _deps.N_CHANNELS:
        raise ValueError(f"{tr[0].name} has {shape[0]} channels; CAM5 files have {_deps.N_CHANNELS} (TMQ ... ZBOT).")
    if mean is None or std is None:
        mean, std = compute_stats(tr, n_vertices=shape[1], skip_bad_files=config.skip_bad_files)
    mesh = _deps.data_mesh(shape[1])
    grid = _deps.sampling_for(config.sampling, config.grid_resolution)
    to_grid = _deps.resampling(mesh, grid, "linear" if config.sampling != "icosahedral" else "nearest")
    nearest = _deps.resampling(mesh, grid, "nearest")
    to_mesh = _deps.resampling(grid, mesh, "nearest")
    stack = False  # temporal models take (B, T, V, C) themselves
    make = lambda fs: GridDataset(base_dataset(fs, mean, std, config, mesh.n_vertices), to_grid, nearest, stack, config.skip_bad_files)  # noqa: E731
    counts = np.zeros(3)
    for f in tr[: min(len(tr), 50)]:
        arrays = _arrays(f, config.skip_bad_files)
        if arrays is not None:
            counts += np.bincount(arrays[1].argmax(0), minlength=3)[:3]
    return PreparedData(make(tr), make(va), make(te), grid, mesh, to_mesh, mean, std, counts)


def class_weights(spec: str | list[float], counts: np.ndarray) -> torch.Tensor | None:
    """Cross-entropy weights: None, inverse frequency normalised to sum 1, or given."""
    if spec == "none":
        return None
    if spec == "balanced":
        freq = np.maximum(counts, 1) / max(counts.sum(), 1)
        w = 1.0 / freq
        return torch.tensor(w / w.sum() * 3, dtype=torch.float32)
    return torch.tensor(spec, dtype=torch.float32)
