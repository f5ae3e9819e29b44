"""``climate-seg train``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from ._app import app, console, friendly, parse_gpu


class Sampling(str, Enum):
    icosahedral = "icosahedral"
    healpix = "healpix"
    equiangular = "equiangular"


class Temporal(str, Enum):
    stack = "stack"
    lstm = "lstm"


class Preset(str, Enum):
    small = "small"
    deepsphere = "deepsphere"


class Scheduler(str, Enum):
    plateau = "plateau"
    cosine = "cosine"


@app.command()
@friendly
def train(
    data: Path | None = typer.Option(None, "--data", help="Folder of data-YYYY-MM-DD-HH-R-mesh.npz files."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (checkpoints, metrics.jsonl, config.yaml). [default: runs/climate-seg]"),
    config: Path | None = typer.Option(None, "--config", help="YAML or TOML file of settings; CLI flags override it."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out exactly where it stopped."),
    sampling: Sampling | None = typer.Option(None, "--sampling", help="Grid the model runs on (data are resampled). [default: icosahedral]"),
    resolution: int | None = typer.Option(None, "--resolution", help="Icosahedral level, HEALPix nside or equiangular nlat."),
    epochs: int | None = typer.Option(None, "--epochs", help="Maximum number of epochs. [default: 10]"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Samples per batch and process. [default: 8]"),
    lr: float | None = typer.Option(None, "--lr", help="Adam learning rate after warm-up. [default: 1e-3]"),
    scheduler: Scheduler | None = typer.Option(None, "--scheduler", help="plateau (ReduceLROnPlateau on val mAP) or cosine."),
    warmup_epochs: int | None = typer.Option(None, "--warmup-epochs", help="Linear LR warm-up epochs. [default: 1]"),
    patience: int | None = typer.Option(None, "--patience", help="Early stopping patience on val mAP (0: off). [default: 10]"),
    class_weights: str | None = typer.Option(None, "--class-weights", help="Cross-entropy weights: balanced, none or w0,w1,w2."),
    preset: Preset | None = typer.Option(None, "--preset", help="Model size: small (fast on CPU) or deepsphere (13M params)."),
    width_scale: float | None = typer.Option(None, "--width-scale", help="Multiply every layer width of the preset."),
    kernel_size: int | None = typer.Option(None, "--kernel-size", help="Chebyshev polynomial order. [default: 3]"),
    temporal: Temporal | None = typer.Option(None, "--temporal", help="Temporal model: stack frames as channels or lstm."),
    sequence_length: int | None = typer.Option(None, "--sequence-length", help="Frames per temporal sample (T)."),
    prediction_shift: int | None = typer.Option(None, "--prediction-shift", help="Predict the labels S frames after the last input."),
    skip_bad_files: bool | None = typer.Option(None, "--skip-bad-files/--no-skip-bad-files", help="Skip unreadable or malformed files."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the split, shuffling and initialisation. [default: 0]"),
    gpu: str | None = typer.Option(None, "--gpu", help="GPU ids: absent = CPU; `--gpu 0` = cuda:0; `--gpu 0 1` = DDP over GPUs 0 and 1."),
    nproc: int | None = typer.Option(None, "--nproc", help="CPU processes (gloo backend) when no --gpu. [default: 1]"),
    max_files: int | None = typer.Option(None, "--max-files", help="Use at most N files (quick experiments)."),
    checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="Also save last.pt every N iterations."),
    num_workers: int | None = typer.Option(None, "--num-workers", help="DataLoader worker processes. [default: 0]"),
) -> None:
    """Train a spherical U-Net; the run folder gets last.pt, best.pt, config.yaml, metrics.jsonl, test_metrics.json."""
    from ..config import load_config
    from ..training import train as run_training

    cfg = load_config(
        config, data=str(data) if data else None, out=str(out) if out else None,
        sampling=sampling.value if sampling else None, resolution=resolution, epochs=epochs, batch_size=batch_size,
        lr=lr, scheduler=scheduler.value if scheduler else None, warmup_epochs=warmup_epochs, patience=patience,
        class_weights=class_weights, preset=preset.value if preset else None, width_scale=width_scale,
        kernel_size=kernel_size, temporal=temporal.value if temporal else None, sequence_length=sequence_length,
        prediction_shift=prediction_shift, skip_bad_files=skip_bad_files, seed=seed, gpu=parse_gpu(gpu), nproc=nproc,
        max_files=max_files, checkpoint_every=checkpoint_every, num_workers=num_workers,
    )
    run_dir = run_training(cfg, resume=resume)
    console.print(f"run folder: [bold]{run_dir}[/] (metrics.jsonl, best.pt, test_metrics.json)")
