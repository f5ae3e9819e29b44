"""Files: atomic writes with the user's umask, checkpoints, output folders, data folders.

A crash while saving never leaves a truncated file behind: everything is written to a
temporary file in the same folder, fsynced, then renamed over the destination. A process
killed outright (SIGKILL, power loss) may leave that temporary file; the next run in the
folder removes it (:func:`remove_stale_temporaries`). The
permissions are those of an ordinary ``open(path, "w")`` (``0o666`` minus the umask), not
the ``0o600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "atomic_save",
    "atomic_write_bytes",
    "check_writable",
    "current_umask",
    "data_files",
    "load_checkpoint",
    "remove_stale_temporaries",
]

#: Names of :func:`atomic_write_bytes`'s temporary files: ``.<destination>.<random>.tmp``.
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def current_umask() -> int:
    """The process umask (read without changing it where ``/proc`` allows)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    mask = os.umask(0o022)  # pragma: no cover
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temp file + fsync + ``os.replace``), mode ``0o666 & ~umask``.

    Parameters
    ----------
    path : str or Path
        Destination; its folder must exist and be writable.
    payload : bytes
        Full file content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)


def atomic_save(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` a checkpoint dictionary atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    obj : dict
        Usually ``{"model", "optimizer", "scheduler", "trainer", "rng", "config", ...}``.
    path : str or Path
        Destination file.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_write_bytes` left in ``folder``.

    Only call it when no other process writes into ``folder`` (a run starting or resuming).

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    for path in sorted(Path(folder).glob(".*.tmp")):
        if _TEMPORARY.match(path.name) and path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU; ``ValueError`` with the fix when it is missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist; train first with `climate-seg train`.")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(
            f"checkpoint {path} cannot be read ({exc.__class__.__name__}); it is not a climate-seg "
            "checkpoint."
        ) from None


def check_writable(folder: str | Path) -> None:
    """Create ``folder`` if needed and prove it is writable; ``ValueError`` otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ValueError(
            f"output folder {folder} is not writable ({exc.strerror}); choose another --out."
        ) from None


def data_files(folder: str | Path | None) -> list[Path]:
    """The ``data-*-mesh.npz`` files of a folder (or a single such file), sorted by name.

    For a packed folder (``climate-seg data pack``) the paths name its frames
    (``folder / original name``), which :func:`climate_seg.pipeline.dataset_for` reads.

    Raises
    ------
    ValueError
        No folder given, missing folder, or no data file in it; the message says how to
        get data.
    """
    from .data import is_packed, list_files, packed_names

    if folder is None:
        raise ValueError(
            "no data folder given; pass --data DIR (create one with `climate-seg data synth --out DIR`)."
        )
    folder = Path(folder)
    if folder.is_file() and folder.name.endswith(".npz"):
        return [folder]
    if not folder.exists():
        raise ValueError(
            f"data folder {folder} does not exist; create a synthetic set with `climate-seg data synth --out {folder}` "
            "or unzip the real archive climate_sphere_l5.zip (folder data_5_all/)."
        )
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is not a folder; pass the folder holding the data-*-mesh.npz files."
        )
    if is_packed(folder):  # `climate-seg data pack`: frames named by their original files
        return [folder / name for name in packed_names(folder)]
    try:
        return list_files(folder, strict=False)
    except ValueError:
        raise ValueError(
            f"data folder {folder} holds no data-YYYY-MM-DD-HH-R-mesh.npz files; run `climate-seg data synth --out "
            f"{folder}` or unzip climate_sphere_l5.zip there."
        ) from None
