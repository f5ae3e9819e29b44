"""A memory-mapped layout of a CAM5 folder, for input pipelines faster than npz decoding.

``pack_folder(src, out)`` reads every ``data-*-mesh.npz`` file once (validated as by
:func:`read_sample`) and writes::

    out/frames.npy   (N, V, 16) float32, raw physical units, vertex-major
    out/labels.npy   (N, V) int8, class per vertex
    out/index.json   {"format": "climate-seg-packed", "version": 1, "files": [names], "n_vertices": V}

A frame is then one contiguous slice of a memory-mapped array: no zip container, no
decoding, no transpose. :class:`PackedDataset` is a :class:`CAM5Dataset` that reads from
it; everywhere a data folder is expected, a packed folder works too (files are named by
their original names).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._dataset import CAM5Dataset
from ._format import N_CHANNELS
from ._reader import DataFileError, read_sample
from ._stats import _vertex_count

__all__ = ["PackedDataset", "is_packed", "pack_folder", "packed_names"]

FORMAT = "climate-seg-packed"


def is_packed(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a packed data set (``index.json`` of this format)."""
    index = Path(folder) / "index.json"
    if not index.is_file():
        return False
    try:
        return json.loads(index.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def _index(folder: Path) -> dict[str, Any]:
    return json.loads((Path(folder) / "index.json").read_text())


def packed_names(folder: str | os.PathLike) -> list[str]:
    """The original file names of a packed folder, in row order."""
    return list(_index(Path(folder))["files"])


def pack_folder(
    files: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    skip_bad_files: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``files`` into the memory-mapped layout of the module notes (bounded memory).

    Parameters
    ----------
    files : iterable of path-like
        ``data-*-mesh.npz`` files (all with the same vertex count).
    out : path-like
        New folder (must not hold a packed set already).
    skip_bad_files : bool
        Leave out files that fail :func:`read_sample` instead of raising.
    progress : callable, optional
        ``progress(done, total)`` after each file.

    Returns
    -------
    Path
        ``out``.
    """
    paths = sorted((Path(f) for f in files), key=lambda p: p.name)
    out = Path(out)
    if is_packed(out):
        raise ValueError(f"{out} already holds a packed data set; choose an empty --out.")
    if not paths:
        raise ValueError("no file to pack.")
    out.mkdir(parents=True, exist_ok=True)
    n_vertices = None
    for p in paths:
        try:
            n_vertices = _vertex_count(p)
            break
        except DataFileError:
            if not skip_bad_files:
                raise
    if n_vertices is None:
        raise ValueError("no readable file to pack.")
    frames = np.lib.format.open_memmap(
        out / ".frames.npy", mode="w+", dtype=np.float32, shape=(len(paths), n_vertices, N_CHANNELS)
    )
    labels = np.lib.format.open_memmap(
        out / ".labels.npy", mode="w+", dtype=np.int8, shape=(len(paths), n_vertices)
    )
    names: list[str] = []
    for k, p in enumerate(paths):
        try:
            data, lab = read_sample(p, n_vertices=n_vertices)
        except DataFileError:
            if not skip_bad_files:
                del frames, labels
                for name in (".frames.npy", ".labels.npy"):
                    (out / name).unlink(missing_ok=True)
                raise
            continue
        frames[len(names)] = data.T
        labels[len(names)] = lab
        names.append(p.name)
        if progress is not None:
            progress(k + 1, len(paths))
    frames.flush()
    labels.flush()
    n = len(names)
    del frames, labels
    if n < len(paths):  # bad files left out: shrink the arrays to the rows written
        _truncate(out / ".frames.npy", (n, n_vertices, N_CHANNELS), np.float32)
        _truncate(out / ".labels.npy", (n, n_vertices), np.int8)
    os.replace(out / ".frames.npy", out / "frames.npy")
    os.replace(out / ".labels.npy", out / "labels.npy")
    index = {"format": FORMAT, "version": 1, "n_vertices": int(n_vertices), "files": names}
    (out / "index.json").write_text(json.dumps(index, indent=0))
    return out


def _truncate(path: Path, shape: tuple[int, ...], dtype: Any) -> None:
    """Rewrite the ``.npy`` header of ``path`` for fewer leading rows and cut the file."""
    old = np.load(path, mmap_mode="r")
    offset = old.offset
    del old
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": shape,
    }
    with open(path, "r+b") as handle:
        handle.seek(0)
        np.lib.format.write_array_header_1_0(handle, header)
        if handle.tell() != offset:  # pragma: no cover - header sizes are padded to 64 bytes
            raise RuntimeError("npy header size changed while truncating")
        handle.truncate(offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)


class PackedDataset(CAM5Dataset):
    """:class:`CAM5Dataset` over a packed folder (see :func:`pack_folder`).

    Parameters
    ----------
    files : iterable of path-like
        ``<packed folder>/<original file name>`` for the frames wanted (e.g. a split of
        ``[folder / n for n in packed_names(folder)]``).
    **kwargs
        As :class:`CAM5Dataset` (``stats``, ``seq_len``, ``shift``; files were validated
        when packed, so ``skip_bad_files`` has nothing to skip).
    """

    def __init__(self, files: Iterable[str | os.PathLike], **kwargs: Any) -> None:
        paths = [Path(f) for f in files]
        if not paths:
            raise ValueError("PackedDataset got no files.")
        folders = {p.parent for p in paths}
        if len(folders) != 1 or not is_packed(next(iter(folders))):
            raise ValueError("PackedDataset files must all name frames of one packed folder.")
        self.folder = next(iter(folders))
        index = _index(self.folder)
        rows = {name: k for k, name in enumerate(index["files"])}
        missing = [p.name for p in paths if p.name not in rows]
        if missing:
            raise ValueError(f"{self.folder} holds no frame {missing[0]!r}.")
        self._rows_by_name = rows
        kwargs.setdefault("n_vertices", int(index["n_vertices"]))
        self._frames: NDArray[np.float32] | None = None
        self._labels: NDArray[np.int8] | None = None
        super().__init__(paths, **kwargs)
        self._row = np.array([rows[p.name] for p in self.files], dtype=np.int64)

    def _open(self) -> None:
        # opened lazily, once per process (DataLoader workers map the files themselves)
        self._frames = np.load(self.folder / "frames.npy", mmap_mode="r")
        self._labels = np.load(self.folder / "labels.npy", mmap_mode="r")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_frames"] = state["_labels"] = None
        return state

    def _frame(self, i: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        if self._frames is None:
            self._open()
        assert self._frames is not None and self._labels is not None
        row = int(self._row[i])
        x = (self._frames[row] - self.mean) / self.std
        return np.ascontiguousarray(x, dtype=np.float32), self._labels[row].astype(np.int64)

    def raw(self, i: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Raw frame ``(V, 16)`` and labels ``(V,)`` of file number ``i`` (for statistics)."""
        if self._frames is None:
            self._open()
        assert self._frames is not None and self._labels is not None
        row = int(self._row[i])
        return np.asarray(self._frames[row]), self._labels[row].astype(np.int64)

    def validate(self) -> int:
        """Nothing to check: the files were validated when packed."""
        return 0
