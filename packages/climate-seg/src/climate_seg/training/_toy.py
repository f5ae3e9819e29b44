"""Tiny learnable data sets in the real file format, for tests and smoke runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sphere_graphs import icosahedral

__all__ = ["write_toy_set"]


def write_toy_set(folder: str | Path, n_files: int = 12, level: int = 2, seed: int = 0, channels: int = 16) -> list[Path]:
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
