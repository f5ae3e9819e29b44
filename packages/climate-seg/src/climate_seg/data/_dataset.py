"""Torch datasets of CAM5 frames and temporal sequences on the data mesh.

Resampling to a model grid is :class:`climate_seg.transform.GridDataset`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from ._format import N_CHANNELS, N_VERTICES, parse_name
from ._reader import DataFileError, read_sample
from ._stats import load_stats, published_stats

__all__ = ["CAM5Dataset"]

log = logging.getLogger("climate_seg.data")


class CAM5Dataset(Dataset):
    """CAM5 frames (or sequences of consecutive frames) as normalised tensors.

    Parameters
    ----------
    files : iterable of path-like
        ``data-YYYY-MM-DD-HH-R-mesh.npz`` files (e.g. ``split_files(...).train``).
    stats : "published", path, (mean, std) or None
        Per-channel normalisation ``(x - mean) / std``: the published statistics
        (default), a json file from :func:`save_stats`, arrays of shape (16,) (e.g. from
        :func:`compute_stats`), or None for raw units.
    seq_len : int or None
        None: single frames, ``x`` of shape (V, 16). An int ``T``: sequences of ``T``
        consecutive 3-hourly frames of the same run, ``x`` of shape (T, V, 16);
        sequences never cross run boundaries or gaps.
    shift : int
        With ``seq_len``: the target is the labels of the frame ``shift`` steps after
        the last input frame (0: labels of the last input frame).
    skip_bad_files : bool
        False: a bad file raises :class:`DataFileError` naming it. True: it is logged,
        counted in :attr:`n_skipped` / :attr:`bad_files`, and the next good item is
        returned instead (counts are per process when using DataLoader workers; call
        :meth:`validate` first to drop bad files up front).
    n_vertices : int
        Vertices per file (10242).

    Notes
    -----
    Items are ``(x, y)`` with ``x`` float32 of shape (V, 16) or (T, V, 16) and ``y``
    int64 of shape (V,), ``V`` the mesh's vertex count (``n_vertices``). To run a model on
    another grid, wrap the dataset in :class:`climate_seg.transform.GridDataset`.
    """

    def __init__(
        self,
        files: Iterable[str | os.PathLike],
        stats: Any = "published",
        seq_len: int | None = None,
        shift: int = 0,
        skip_bad_files: bool = False,
        n_vertices: int = N_VERTICES,
    ) -> None:
        paths = sorted({Path(f) for f in files}, key=lambda p: p.name)
        if not paths:
            raise ValueError("CAM5Dataset got no files.")
        self.keys = [parse_name(p.name) for p in paths]
        order = sorted(range(len(paths)), key=lambda i: self.keys[i])  # (run, date, slot)
        self.files = [paths[i] for i in order]
        self.keys = [self.keys[i] for i in order]
        self.n_vertices = n_vertices
        self.skip_bad_files = skip_bad_files
        self.bad_files: list[Path] = []
        self._bad: set[int] = set()
        self._set_stats(stats)
        if seq_len is not None and (int(seq_len) < 1):
            raise ValueError(f"seq_len must be a positive int or None; got {seq_len}.")
        if shift < 0:
            raise ValueError(f"shift must be >= 0; got {shift}.")
        if seq_len is None and shift:
            raise ValueError(
                "shift needs seq_len; pass seq_len=1 for single-frame prediction ahead."
            )
        self.seq_len = None if seq_len is None else int(seq_len)
        self.shift = int(shift)
        self._build_index()

    # -- configuration -------------------------------------------------------
    def _set_stats(self, stats: Any) -> None:
        if stats is None:
            self.mean = np.zeros(N_CHANNELS, np.float32)
            self.std = np.ones(N_CHANNELS, np.float32)
            self._inv_std = self.std
            return
        if isinstance(stats, (str, os.PathLike)):
            if stats == "published":
                mean, std = published_stats()
            elif Path(stats).is_file():
                mean, std = load_stats(stats)
            else:
                raise ValueError(
                    f"stats must be 'published', a stats json file, (mean, std) or None; got {stats!r}."
                )
        else:
            mean, std = stats
        mean = np.asarray(mean, np.float64)
        std = np.asarray(std, np.float64)
        if mean.shape != (N_CHANNELS,) or std.shape != (N_CHANNELS,) or np.any(std <= 0):
            raise ValueError("stats must be two arrays of shape (16,) with positive std.")
        self.mean = mean.astype(np.float32)
        self.std = std.astype(np.float32)
        self._inv_std = (1.0 / std).astype(np.float32)

    def _build_index(self) -> None:
        if self.seq_len is None:
            self._starts = np.arange(len(self.files))
            return
        span = self.seq_len + self.shift  # frames from first input to target
        steps = np.array([k.step for k in self.keys], dtype=np.int64)
        runs = np.array([k.run for k in self.keys], dtype=np.int64)
        n = len(self.files)
        # contiguous[i] True when frame i+1 follows frame i (same run, +3 h)
        contiguous = (np.diff(steps) == 1) & (np.diff(runs) == 0)
        # length of the contiguous block starting at i
        run_len = np.ones(n, dtype=np.int64)
        for i in range(n - 2, -1, -1):
            if contiguous[i]:
                run_len[i] = run_len[i + 1] + 1
        self._starts = np.nonzero(run_len >= span)[0]
        if len(self._starts) == 0:
            raise ValueError(
                f"no run of {span} consecutive 3-hourly frames (seq_len={self.seq_len} + shift={self.shift}) "
                "in the file list; pass more consecutive files or shorter sequences."
            )

    # -- access -------------------------------------------------------------
    @property
    def n_skipped(self) -> int:
        """Number of bad files skipped so far (in this process)."""
        return len(self.bad_files)

    def __len__(self) -> int:
        return len(self._starts)

    def _frame(self, i: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        data, labels = read_sample(self.files[i], n_vertices=self.n_vertices)
        # normalise channel-major (contiguous), then one transposing copy to (V, 16)
        if not data.flags.writeable:
            data = data.copy()
        data -= self.mean[:, None]
        data *= self._inv_std[:, None]
        return np.ascontiguousarray(data.T, dtype=np.float32), labels

    def _item(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = int(self._starts[idx])
        if self.seq_len is None:
            x, y = self._frame(s)
            return torch.from_numpy(x), torch.from_numpy(y)
        xs = [self._frame(s + t)[0] for t in range(self.seq_len)]
        _, y = self._frame(s + self.seq_len - 1 + self.shift)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(y)

    def _frames_of(self, idx: int) -> list[int]:
        s = int(self._starts[idx])
        if self.seq_len is None:
            return [s]
        return list(range(s, s + self.seq_len + self.shift))

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} out of range for a dataset of {len(self)} items.")
        idx = idx % len(self)
        for attempt in range(len(self)):
            j = (idx + attempt) % len(self)
            if self._bad.intersection(self._frames_of(j)):
                continue
            try:
                return self._item(j)
            except DataFileError as err:
                if not self.skip_bad_files:
                    raise
                self._mark_bad(err)
        raise RuntimeError("every item of the dataset references a bad file.")

    def _mark_bad(self, err: DataFileError) -> None:
        i = next(k for k, p in enumerate(self.files) if p == err.path)
        if i not in self._bad:
            self._bad.add(i)
            self.bad_files.append(err.path)
            log.warning("skipping bad file (%d so far): %s", len(self.bad_files), err)

    def validate(self) -> int:
        """Read every file once; with ``skip_bad_files`` drop items touching bad ones.

        Returns
        -------
        int
            Number of bad files found (raises on the first one unless ``skip_bad_files``).
        """
        for i, p in enumerate(self.files):
            if i in self._bad:
                continue
            try:
                read_sample(p, n_vertices=self.n_vertices)
            except DataFileError as err:
                if not self.skip_bad_files:
                    raise
                self._mark_bad(err)
        self._starts = np.array(
            [
                s
                for k, s in enumerate(self._starts)
                if not self._bad.intersection(self._frames_of(k))
            ],
            dtype=np.int64,
        )
        return len(self.bad_files)
