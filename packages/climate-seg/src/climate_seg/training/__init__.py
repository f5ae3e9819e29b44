"""Training of the CAM5 segmentation models: engines, checkpoints, logging, distribution."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..config import TrainConfig
from .checkpoint import atomic_save, load_checkpoint
from .distributed import check_gpus, launch
from .engine import evaluate_model, read_run_config, train_worker, write_run_config

__all__ = [
    "atomic_save",
    "check_gpus",
    "check_writable",
    "evaluate_model",
    "load_checkpoint",
    "read_run_config",
    "train",
]


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove it is writable; ``ValueError`` otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ValueError(f"output folder {folder} is not writable ({exc.strerror}); choose another --out.") from None


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Run (or resume) training as configured; returns the run folder.

    Parameters
    ----------
    cfg : TrainConfig
        Effective configuration (file + CLI flags).
    resume : bool
        Continue from ``<out>/last.pt``; the run's saved ``config.yaml`` is used, with
        ``epochs`` taken from ``cfg`` when larger.
    """
    from .data_setup import files_of

    run_dir = Path(cfg.out)
    gpu = check_gpus(cfg.gpu)
    if resume:
        if not (run_dir / "last.pt").is_file():
            raise ValueError(f"nothing to resume: {run_dir / 'last.pt'} does not exist; start the run without --resume.")
        saved = read_run_config(run_dir)
        saved.epochs = max(saved.epochs, cfg.epochs)
        saved.gpu, saved.nproc = cfg.gpu, cfg.nproc
        cfg = saved
    elif (run_dir / "last.pt").is_file():
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out.")
    files_of(cfg.data)  # fail early with a clear message
    check_writable(run_dir)
    cfg.extra = {**cfg.extra, "resume": resume}
    write_run_config(cfg)
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    launch(train_worker, cfg, gpu, cfg.nproc)
    return run_dir
