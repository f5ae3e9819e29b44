"""Reading CAM5 ``.npz`` files exactly as published.

Each file holds ``data`` (16, 10242) raw physical units, channel-major, and one-hot
``labels`` (3, 10242); the class of a vertex is the argmax over axis 0.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ._format import N_CHANNELS, N_CLASSES, N_VERTICES, FileKey, parse_name

__all__ = ["DataFileError", "list_files", "read_sample"]


class DataFileError(ValueError):
    """A data file is missing, unreadable, truncated, wrongly shaped or non-finite.

    Attributes
    ----------
    path : Path
        The offending file.
    problem : str
        One of ``"missing"``, ``"unreadable"``, ``"truncated"``, ``"shape"``,
        ``"non_finite"``, ``"labels"`` (not one-hot 0/1 with one class per vertex),
        ``"fill_value"`` (magnitudes >= ``FILL_THRESHOLD``).
    """

    def __init__(self, path: str | os.PathLike, problem: str, detail: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}: {detail}")


def _looks_like_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


#: Magnitude from which a value is taken for a fill value (netCDF's default is 9.97e36, CAM's 1e20).
FILL_THRESHOLD = 1e15


def _check_labels(path: Path, onehot: NDArray) -> None:
    """One-hot labels: values 0 or 1 and exactly one class per vertex; ``DataFileError`` otherwise."""
    values = np.asarray(onehot)
    per_vertex = values.sum(axis=0)
    # every vertex sums to 1 and there are exactly V non-zero entries: one entry of 1 per vertex
    if (per_vertex == 1).all() and np.count_nonzero(values) == values.shape[1]:
        return
    if not ((values == 0) | (values == 1)).all():
        raise DataFileError(
            path,
            "labels",
            "'labels' holds values other than 0 and 1; expected one-hot (3, V) labels.",
        )
    n_none, n_many = int((per_vertex == 0).sum()), int((per_vertex > 1).sum())
    raise DataFileError(
        path,
        "labels",
        f"'labels' is not one-hot: {n_none} vertices without a class, {n_many} with several; "
        "every vertex needs exactly one of background, TC, AR.",
    )


def read_sample(
    path: str | os.PathLike,
    n_vertices: int = N_VERTICES,
    check_finite: bool = True,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Read one CAM5 file.

    Parameters
    ----------
    path : path-like
        A ``data-YYYY-MM-DD-HH-R-mesh.npz`` file.
    n_vertices : int
        Expected number of vertices (10242 for the published level-5 mesh).
    check_finite : bool
        Reject files with NaN or infinite values, fill values (``|x| >= 1e15``) or labels
        that are not one-hot (values 0/1, exactly one class per vertex).

    Returns
    -------
    data : ndarray, shape (16, V), float32
        Raw physical units, channel-major, as stored.
    labels : ndarray, shape (V,), int64
        Class per vertex (0 background, 1 TC, 2 AR) = argmax of the one-hot labels.

    Raises
    ------
    DataFileError
        Naming the file and the problem (missing, unreadable, truncated, shape, non_finite,
        labels, fill_value).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "missing", "no such file; check the folder or the file list.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if not {"data", "labels"} <= keys:
                raise DataFileError(
                    path, "shape", f"expected npz keys 'data' and 'labels'; found {sorted(keys)}."
                )
            data = npz["data"]
            onehot = npz["labels"]
    except DataFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error) as err:
        problem = "truncated" if _looks_like_zip(path) else "unreadable"
        raise DataFileError(
            path, problem, f"cannot read as npz ({type(err).__name__}: {err})."
        ) from err
    if data.shape != (N_CHANNELS, n_vertices):
        raise DataFileError(
            path, "shape", f"'data' has shape {data.shape}; expected ({N_CHANNELS}, {n_vertices})."
        )
    if onehot.shape != (N_CLASSES, n_vertices):
        hint = ""
        if onehot.shape in ((n_vertices,), (1, n_vertices)):
            hint = " (class indices?); store them one-hot as np.eye(3)[labels].T"
        raise DataFileError(
            path,
            "labels" if hint else "shape",
            f"'labels' has shape {onehot.shape}; expected ({N_CLASSES}, {n_vertices}){hint}.",
        )
    data = np.asarray(data, dtype=np.float32)
    if check_finite:
        # two reductions instead of full-size temporaries: NaN propagates through min/max
        lo, hi = float(data.min()), float(data.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or not np.isfinite(onehot).all():
            raise DataFileError(path, "non_finite", "contains NaN or infinite values.")
        _check_labels(path, onehot)
        if max(-lo, hi) >= FILL_THRESHOLD:
            big = np.abs(data) >= FILL_THRESHOLD
            ch = int(np.nonzero(big.any(axis=1))[0][0])
            raise DataFileError(
                path,
                "fill_value",
                f"{int(big.sum())} values of magnitude >= {FILL_THRESHOLD:g} (fill values, e.g. 1e20), "
                f"first in channel {ch}; mask or interpolate them.",
            )
    labels = np.argmax(onehot, axis=0).astype(np.int64)
    return data, labels


def list_files(folder: str | os.PathLike, strict: bool = True) -> list[Path]:
    """CAM5 files of a folder, sorted by name (independent of directory listing order).

    Parameters
    ----------
    folder : path-like
        Folder holding ``data-YYYY-MM-DD-HH-R-mesh.npz`` files (e.g. ``data_5_all/``).
    strict : bool
        If True, any other ``*.npz`` file raises ``ValueError``; if False it is ignored.
        Files that do not end in ``.npz`` are always ignored.

    Returns
    -------
    list of Path
        Sorted by file name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; pass the folder holding the CAM5 .npz files.")
    out: list[Path] = []
    for p in folder.iterdir():
        if not p.name.endswith(".npz"):
            continue
        try:
            parse_name(p.name)
        except ValueError:
            if strict:
                raise
            continue
        out.append(p)
    if not out:
        raise ValueError(f"{folder} holds no 'data-YYYY-MM-DD-HH-R-mesh.npz' files.")
    return sorted(out, key=lambda p: p.name)


def file_key(path: str | os.PathLike) -> FileKey:
    """Shorthand for ``parse_name(Path(path).name)``."""
    return parse_name(Path(path).name)
