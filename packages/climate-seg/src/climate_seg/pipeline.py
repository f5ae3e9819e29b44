"""The input pipeline of a run: its files and split, and datasets on the model grid.

Shared by training, evaluation, prediction, plots and ``tools/bench/data.py``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import numpy as np

from ._io import data_files
from .config import TrainConfig
from .data import CAM5Dataset, PackedDataset, Split, is_packed, make_split
from .transform import GridDataset, MeshGrid

__all__ = ["dataset_for", "loader_worker_init", "run_split", "select_files", "vertex_count"]


def run_split(config: TrainConfig, data: str | Path | None = None) -> Split:
    """The run's train/val/test files: ``--max-files`` of the name-sorted files, split by ``config.split``.

    Parameters
    ----------
    config : TrainConfig
    data : path-like, optional
        Data folder instead of ``config.data``.
    """
    files = data_files(config.data if data is None else data)
    if config.max_files:
        files = files[: config.max_files]
    return make_split(files, config.split, config.seed)


def select_files(data: str | Path, split_name: str, config: TrainConfig) -> list[Path]:
    """Files of ``data``: one part of the run's split (``train``/``val``/``test``) or ``all``."""
    if split_name == "all":
        return data_files(data)
    parts = dict(zip(("train", "val", "test"), run_split(config, data), strict=True))
    if split_name not in parts:
        raise ValueError(f"unknown split {split_name!r}; choose train, val, test or all.")
    return parts[split_name]


def dataset_for(
    files: list[Path],
    mean: np.ndarray,
    std: np.ndarray,
    config: TrainConfig,
    transform: MeshGrid,
    skip_bad_files: bool | None = None,
) -> GridDataset:
    """Frames ``(V_grid, 16)`` or sequences ``(T, V_grid, 16)`` of ``files`` on the model grid.

    Parameters
    ----------
    files : list of Path
    mean, std : ndarray, shape (16,)
        Normalisation (the training split's statistics).
    config : TrainConfig
        Temporal settings and ``skip_bad_files``.
    transform : MeshGrid
    skip_bad_files : bool, optional
        Overrides ``config.skip_bad_files``.
    """
    seq = config.sequence_length if config.temporal is not None else None
    skip = config.skip_bad_files if skip_bad_files is None else skip_bad_files
    kind = PackedDataset if files and is_packed(Path(files[0]).parent) else CAM5Dataset
    base = kind(
        files,
        stats=(mean, std),
        seq_len=seq,
        shift=config.prediction_shift if seq else 0,
        skip_bad_files=skip,
        n_vertices=transform.mesh.n_vertices,
    )
    return GridDataset(base, transform)


def vertex_count(files: list[Path], skip_bad_files: bool) -> int:
    """Vertices of the first readable file; ``ValueError`` for a wrong channel count."""
    if files and is_packed(Path(files[0]).parent):
        return int(json.loads((Path(files[0]).parent / "index.json").read_text())["n_vertices"])
    for f in files:
        try:
            with np.load(f, allow_pickle=False) as z:
                shape = z["data"].shape
        except Exception as exc:
            if skip_bad_files:
                continue
            raise ValueError(
                f"{f} cannot be read ({exc.__class__.__name__}); fix or remove it, or pass "
                "--skip-bad-files (see `climate-seg data check`)."
            ) from None
        if len(shape) != 2 or shape[0] != 16:
            raise ValueError(
                f"{f.name} has {shape[0] if shape else 0} channels; CAM5 files have 16 (TMQ ... ZBOT)."
            )
        return int(shape[1])
    raise ValueError(
        "no training file can be read; check the folder with `climate-seg data check`."
    )


def loader_worker_init(worker_id: int) -> None:
    """``worker_init_fn`` of the application's DataLoaders: workers leave SIGINT/SIGTERM to the main process.

    Ctrl-C signals the terminal's whole process group, and SLURM's pre-emption or time limit
    SIGTERMs every process of the job step: DataLoader workers get the signal too. The main
    process turns it into a checkpoint (training) or a clean stop and shuts its workers down;
    a worker killed by the signal would instead make the main process fail with "DataLoader
    worker ... is killed by signal" before it checkpoints. So a worker ignores SIGINT, and
    exits on SIGTERM only when its main process sends it (as torch's own worker handler does
    when a shutdown times out). Where ``signal.sigwaitinfo`` is missing (macOS) SIGTERM keeps
    torch's handling.

    Parameters
    ----------
    worker_id : int
        Given by the DataLoader (unused).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):  # pragma: no cover - macOS, Windows
        return
    parent = os.getppid()
    # blocked in this thread before any other starts, so only the waiting thread takes it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait_for_parent() -> None:
        while True:
            if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
                os._exit(0)

    threading.Thread(target=wait_for_parent, name="sigterm-from-parent", daemon=True).start()
