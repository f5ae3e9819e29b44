"""Atomic checkpoints: write to a temporary file in the same folder, fsync, ``os.replace``.

A crash while saving never leaves a truncated ``last.pt`` or ``best.pt`` behind: the
previous file stays in place until the new one is complete on disk.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["atomic_save", "atomic_write_bytes", "load_checkpoint"]


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temp file + fsync + ``os.replace``).

    Parameters
    ----------
    path : Path
        Destination; its folder must exist and be writable.
    payload : bytes
        Full file content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
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
    """``torch.save`` a checkpoint dictionary atomically.

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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on the CPU; ``ValueError`` with the fix when it is missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist; train first with `climate-seg train`.")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"checkpoint {path} cannot be read ({exc.__class__.__name__}); it is not a climate-seg checkpoint.") from None
