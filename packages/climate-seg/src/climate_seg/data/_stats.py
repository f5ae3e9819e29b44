"""Per-channel normalisation statistics, streamed over files (bounded memory)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ._format import CHANNEL_MEAN, CHANNEL_STD, CHANNELS, N_VERTICES
from ._reader import DataFileError, read_sample

__all__ = [
    "RunningStats",
    "class_counts",
    "compute_stats",
    "load_stats",
    "published_stats",
    "save_stats",
]


class RunningStats:
    """Streaming per-channel mean and variance (Chan et al. parallel merge).

    Parameters
    ----------
    n_channels : int
    """

    def __init__(self, n_channels: int = len(CHANNELS)) -> None:
        self.count = 0
        self.mean = np.zeros(n_channels, dtype=np.float64)
        self.m2 = np.zeros(n_channels, dtype=np.float64)

    def update(self, data: NDArray[np.floating]) -> None:
        """Merge a batch ``data`` of shape (C, N) (channel-major, as in the files)."""
        data = np.array(data, dtype=np.float64)  # a copy: centred in place below
        if data.ndim != 2 or data.shape[0] != self.mean.shape[0]:
            raise ValueError(f"data must have shape ({self.mean.shape[0]}, N); got {data.shape}.")
        n_b = data.shape[1]
        if n_b == 0:
            return
        mean_b = data.mean(axis=1)
        data -= mean_b[:, None]
        m2_b = np.einsum("ij,ij->i", data, data)
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / n)
        self.count = n

    @property
    def std(self) -> NDArray[np.float64]:
        """Population standard deviation per channel, shape (C,)."""
        if self.count == 0:
            raise ValueError("no data merged yet.")
        return np.sqrt(self.m2 / self.count)


def _vertex_count(path: str | os.PathLike) -> int:
    """Vertices of a file's ``data`` array (its second axis), read from the npz header only."""
    try:
        with np.load(path, mmap_mode="r", allow_pickle=False) as npz:
            shape = npz["data"].shape
    except Exception as err:
        raise DataFileError(
            path, "unreadable", f"cannot read 'data' ({type(err).__name__})."
        ) from err
    if len(shape) != 2:
        raise DataFileError(path, "shape", f"'data' has shape {shape}; expected (16, V).")
    return int(shape[1])


def compute_stats(
    files: Iterable[str | os.PathLike],
    n_vertices: int | None = N_VERTICES,
    skip_bad_files: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-channel mean and std over files, one file in memory at a time.

    Parameters
    ----------
    files : iterable of path-like
        CAM5 files, typically the training split.
    n_vertices : int or None
        Vertices per file: 10242 for the published level-5 mesh, ``10 * 4**l + 2`` for
        other icosahedral levels (e.g. 162 for level 2); None takes it from the first
        readable file. Every file must have ``data`` of shape ``(16, n_vertices)``.
    skip_bad_files : bool
        Leave out files that cannot be read or have the wrong shape (``DataFileError``)
        instead of raising.

    Returns
    -------
    mean, std : ndarray, shape (16,), float64
        Over all vertices of all files (population std).

    Raises
    ------
    DataFileError
        A bad file when ``skip_bad_files`` is False.
    ValueError
        No (good) file.
    """
    rs = RunningStats()
    for f in files:
        try:
            if n_vertices is None:
                n_vertices = _vertex_count(f)
            data, _ = read_sample(f, n_vertices=n_vertices)
        except DataFileError:
            if not skip_bad_files:
                raise
            continue
        rs.update(data)
    if rs.count == 0:
        raise ValueError("compute_stats got no (readable) files.")
    return rs.mean.copy(), rs.std


def class_counts(files: Iterable[str | os.PathLike]) -> NDArray[np.int64]:
    """Vertices per class over files (for class fractions and loss weights).

    Returns
    -------
    ndarray, shape (3,), int64
        Counts of background, TC, AR.
    """
    counts = np.zeros(3, dtype=np.int64)
    for f in files:
        _, labels = read_sample(f)
        counts += np.bincount(labels, minlength=3)[:3]
    return counts


def published_stats() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The published per-channel mean and std (shape (16,) each), copies."""
    return CHANNEL_MEAN.copy(), CHANNEL_STD.copy()


def save_stats(
    path: str | os.PathLike, mean: NDArray[np.floating], std: NDArray[np.floating]
) -> None:
    """Write ``{"channels", "mean", "std"}`` as json."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.shape != (len(CHANNELS),) or std.shape != mean.shape:
        raise ValueError(
            f"mean and std must have shape ({len(CHANNELS)},); got {mean.shape}, {std.shape}."
        )
    Path(path).write_text(
        json.dumps(
            {"channels": list(CHANNELS), "mean": mean.tolist(), "std": std.tolist()}, indent=1
        )
    )


def load_stats(path: str | os.PathLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Read statistics written by :func:`save_stats`; returns ``(mean, std)`` shape (16,)."""
    obj = json.loads(Path(path).read_text())
    try:
        mean = np.asarray(obj["mean"], dtype=np.float64)
        std = np.asarray(obj["std"], dtype=np.float64)
    except (KeyError, TypeError):
        raise ValueError(f"{path}: expected a json object with 'mean' and 'std' lists.") from None
    if (
        list(obj.get("channels", CHANNELS)) != list(CHANNELS)
        or mean.shape != (len(CHANNELS),)
        or std.shape != mean.shape
    ):
        raise ValueError(
            f"{path}: statistics are not for the 16 CAM5 channels in the published order."
        )
    if np.any(std <= 0):
        raise ValueError(f"{path}: std must be positive for every channel.")
    return mean, std
