"""Training of the CAM5 segmentation models: run folders, resume, engines, logging, distribution.

A run writes only into its folder (``config.out``). ``train(cfg, resume=True)`` continues
the run saved there, whatever folder it was created in (a copied or moved run folder
resumes in place) and with the plan it was started with: settings not given again keep
their saved values, ``epochs`` extends a run, settings marked ``apply`` in
:data:`climate_seg.config.RESUMABLE` (learning rate, weight decay, patience, data folder,
...) are applied and logged, and any other change (model, batch size, split, ...) is
refused with a ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from .._io import (
    atomic_save,
    check_writable,
    data_files,
    load_checkpoint,
    remove_stale_temporaries,
)
from ..config import RESUMABLE, TrainConfig
from ..evaluation import evaluate_model
from .distributed import check_gpus, launch, launched_by_torchrun
from .engine import TrainingInterrupted, read_run_config, train_worker, write_run_config

__all__ = [
    "TrainingInterrupted",
    "atomic_save",
    "check_gpus",
    "check_writable",
    "evaluate_model",
    "load_checkpoint",
    "read_run_config",
    "resume_config",
    "train",
]


def _given_by_value(cfg: TrainConfig) -> dict[str, Any]:
    """Settings of ``cfg`` that differ from the defaults (the Python API's notion of "given")."""
    default = TrainConfig()
    return {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if f.name != "extra" and getattr(cfg, f.name) != getattr(default, f.name)
    }


def resume_config(
    saved: TrainConfig, given: dict[str, Any], run_dir: Path
) -> tuple[TrainConfig, list[str]]:
    """The configuration of a resumed run: the saved one, ``out`` = ``run_dir``, and the given changes.

    Parameters
    ----------
    saved : TrainConfig
        The run's ``config.yaml``.
    given : dict
        Settings given explicitly with ``--resume`` (flags and ``--config`` keys).
    run_dir : Path
        The folder being resumed (it may have been copied or moved).

    Returns
    -------
    config, notes
        The effective configuration and one line per applied change.

    Raises
    ------
    ValueError
        When a setting that fixes the run's plan (model, grid, batch size, split, ...) differs.
    """
    cfg = dataclasses.replace(saved, out=str(run_dir), extra=dict(saved.extra))
    notes, refused = [], []
    if Path(saved.out).resolve() != Path(run_dir).resolve():
        notes.append(f"run folder {saved.out} continues in {run_dir}")
    for key, value in given.items():
        if key in ("out", "extra"):
            continue
        old = getattr(saved, key)
        if value == old:
            continue
        rule = RESUMABLE.get(key, "fixed")
        if rule == "fixed":
            refused.append(f"{key} {old} -> {value}")
            continue
        setattr(cfg, key, value)
        if rule == "apply":
            notes.append(f"{key}: {old} -> {value}")
    if refused:
        raise ValueError(
            f"--resume continues the saved plan of {run_dir}; these settings differ from it: "
            f"{'; '.join(refused)}. Drop them, or start a new run with another --out."
        )
    return cfg.validate(), notes


def _progress(ckpt: dict[str, Any]) -> tuple[int, int]:
    """(completed epochs, iteration) of a checkpoint."""
    state = ckpt.get("trainer", {})
    it, length = int(state.get("iteration", 0)), max(int(state.get("epoch_length", 1) or 1), 1)
    return it // length, it


def train(
    cfg: TrainConfig,
    resume: bool = False,
    given: dict[str, Any] | None = None,
    console: Console | None = None,
) -> Path:
    """Run (or resume) training as configured; returns the run folder.

    Parameters
    ----------
    cfg : TrainConfig
        Effective configuration (file + CLI flags); ``cfg.out`` is the run folder.
    resume : bool
        Continue the run in ``cfg.out`` (see the module notes). A finished run says so and
        changes nothing, unless a larger ``epochs`` extends it.
    given : dict, optional
        Settings given explicitly (the CLI passes its flags); by default every setting of
        ``cfg`` that differs from the defaults.
    console : rich Console, optional
        Where the resume notes go.
    """
    console = console or Console(stderr=False)
    run_dir = Path(cfg.out)
    gpu = check_gpus(cfg.gpu)
    rank = int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0
    if resume:
        last = run_dir / "last.pt"
        if not last.is_file():
            raise ValueError(
                f"nothing to resume: {last} does not exist; start the run without --resume."
            )
        given = _given_by_value(cfg) if given is None else dict(given)
        cfg, notes = resume_config(read_run_config(run_dir), given, run_dir)
        ckpt = load_checkpoint(last)
        done, iteration = _progress(ckpt)
        in_epoch = iteration > done * max(int(ckpt["trainer"].get("epoch_length", 1) or 1), 1)
        if cfg.epochs < done or (cfg.epochs == done and in_epoch):
            raise ValueError(
                f"{run_dir} has already completed {done} epochs; --epochs {cfg.epochs} would shorten it."
            )
        if ckpt.get("finished"):
            if cfg.epochs <= done or "epochs" not in given:
                if rank == 0:
                    console.print(
                        f"{run_dir} is finished ({done} epochs, iteration {iteration}; test metrics in "
                        f"{run_dir / 'test_metrics.json'}); nothing to do. Pass a larger --epochs to extend it."
                    )
                return run_dir
            cfg.extra["extend"] = True
            notes.append(
                f"extending the finished run from {done} to {cfg.epochs} epochs (early stopping restarts)"
            )
        if rank == 0:
            for note in notes:
                console.print(f"[bold]resume[/]: {note}")
    elif (run_dir / "last.pt").is_file():
        raise ValueError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out."
        )
    data_files(cfg.data)  # fail early with a clear message
    check_writable(run_dir)
    if rank == 0:
        stale = remove_stale_temporaries(run_dir)
        if stale:
            console.print(
                f"removed {len(stale)} half-written file(s) of an interrupted save: "
                + ", ".join(p.name for p in stale)
            )
    cfg.extra = {**cfg.extra, "resume": resume}
    if rank == 0:
        write_run_config(cfg)
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    launch(train_worker, cfg, gpu, cfg.nproc)
    return run_dir
