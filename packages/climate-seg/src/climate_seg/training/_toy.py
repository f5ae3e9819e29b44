"""Tiny learnable data sets in the real file format, for tests and smoke runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sphere_graphs import icosahedral

__all__ = ["write_spatial_toy_set", "write_toy_set"]


def write_toy_set(
    folder: str | Path, n_files: int = 12, level: int = 2, seed: int = 0, channels: int = 16
) -> list[Path]:
    """Write ``n_files`` frames ``data-2106-01-DD-HH-1-mesh.npz`` on the level-``level`` icosphere.

    Channel 0 (TMQ) is raised in a band around a random great circle (AR) and channel 7 (PSL)
    lowered around a random point (TC); the labels follow those features.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xyz = np.asarray(icosahedral(level).coords)
    out = []
    for k in range(n_files):
        data = rng.normal(size=(channels, len(xyz)))
        labels = np.zeros(len(xyz), dtype=int)
        centre = rng.normal(size=3)
        centre /= np.linalg.norm(centre)
        tc = xyz @ centre > 0.9
        normal = rng.normal(size=3)
        normal /= np.linalg.norm(normal)
        ar = (np.abs(xyz @ normal) < 0.15) & (xyz @ centre < 0.5) & (xyz[:, 2] > 0)
        labels[ar], labels[tc] = 2, 1
        data[0, ar] += 3.0
        if channels > 7:
            data[7, tc] -= 3.0
        onehot = np.eye(3)[labels].T
        day, slot = 1 + k // 8, k % 8
        path = folder / f"data-2106-01-{day:02d}-{slot:02d}-1-mesh.npz"
        np.savez(path, data=data.astype(np.float32), labels=onehot.astype(np.float32))
        out.append(path)
    return out


def write_spatial_toy_set(
    folder: str | Path, n_files: int = 32, level: int = 3, seed: int = 0
) -> list[Path]:
    """Frames whose classes only neighbourhoods decide (a per-pixel classifier is near chance).

    Each frame holds, on the level-``level`` icosphere, one large (24 degrees) and four small
    (12 degrees) raised disks of channel 0 (TMQ): the large one is labelled AR, the small ones
    background, with equal areas and identical pixel values inside. It also holds four lowered
    disks (10 degrees) of channel 7 (PSL): those surrounded by a raised ring of channel 8 (T200)
    are TC, the others background. Light noise everywhere.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xyz = np.asarray(icosahedral(level).coords)
    out = []
    for k in range(n_files):
        data = 0.3 * rng.normal(size=(16, len(xyz)))
        labels = np.zeros(len(xyz), dtype=int)
        centres = rng.normal(size=(9, 3))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        dist = np.degrees(np.arccos(np.clip(xyz @ centres.T, -1, 1)))  # (V, 9)
        for j, radius in enumerate((24.0, 12.0, 12.0, 12.0, 12.0)):
            disk = dist[:, j] <= radius
            data[0, disk] += 2.0
            if j == 0:
                labels[disk] = 2
        for j in range(5, 9):
            disk = dist[:, j] <= 10.0
            data[7, disk] -= 2.0
            if j % 2:
                data[8, (dist[:, j] > 10.0) & (dist[:, j] <= 22.0)] += 2.0
                labels[disk] = 1
        day, slot = 1 + k // 8, k % 8
        path = folder / f"data-2106-02-{day:02d}-{slot:02d}-1-mesh.npz"
        np.savez(path, data=data.astype(np.float32), labels=np.eye(3)[labels].T.astype(np.float32))
        out.append(path)
    return out
