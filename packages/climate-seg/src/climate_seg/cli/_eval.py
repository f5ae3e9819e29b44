"""``climate-seg evaluate`` and ``climate-seg predict``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import typer

from ._app import app, console, friendly
from ._train import Sampling


@app.command()
@friendly
def evaluate(
    run: Path = typer.Argument(..., help="Run folder (uses best.pt) or checkpoint file."),
    data: Path = typer.Option(..., "--data", help="Folder of data files."),
    split: str = typer.Option("test", "--split", help="train, val or test part of the run's split, or all files of --data."),
    report: Path | None = typer.Option(None, "--report", help="Metrics report JSON. [default: <run>/evaluate-<split>.json]"),
    sampling: Sampling | None = typer.Option(None, "--sampling", help="Expected sampling (checked against the checkpoint)."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Samples per batch."),
) -> None:
    """Compute AP (TC, AR), mAP, mean accuracy and IoU on a split or a folder; write a JSON report."""
    from ..predict import load_model, select_files
    from ..training import check_writable, evaluate_model
    from ..training.checkpoint import atomic_write_bytes
    from ..training.logging import metrics_table

    loaded = load_model(run, sampling.value if sampling else None)
    files = select_files(data, split, loaded.config.seed, contiguous=loaded.config.temporal is not None)
    report = report or ((run if run.is_dir() else run.parent) / f"evaluate-{split}.json")
    check_writable(report.parent)
    ds, to_mesh = loaded.datasets(files)
    results = evaluate_model(loaded.model, ds, torch.device("cpu"), batch_size, to_mesh)
    console.print(metrics_table([{"split": f"{split} ({k})", **v} for k, v in results.items()], title=f"{len(files)} files"))
    payload = {"checkpoint": str(run), "data": str(data), "split": split, "n_files": len(files),
               "sampling": loaded.config.sampling, "metrics": results}
    atomic_write_bytes(report, json.dumps(payload, indent=2).encode())
    console.print(f"report: {report}")


@app.command()
@friendly
def predict(
    run: Path = typer.Argument(..., help="Run folder (uses best.pt) or checkpoint file."),
    data: Path = typer.Option(..., "--data", help="Folder of data files (or a single file)."),
    out: Path = typer.Option(..., "--out", help="Folder for <name>-pred.npz files (labels and probabilities on the mesh)."),
    sampling: Sampling | None = typer.Option(None, "--sampling", help="Expected sampling (checked against the checkpoint)."),
) -> None:
    """Predict every file: one npz per input with `labels (V,)` int8 and `probabilities (3, V)` float16."""
    from ..predict import load_model, predict_files
    from ..training import check_writable
    from ..training.data_setup import files_of

    loaded = load_model(run, sampling.value if sampling else None)
    files = [data] if data.is_file() else files_of(data)
    check_writable(out)
    written = predict_files(loaded, files, out)
    console.print(f"wrote [bold]{len(written)}[/] prediction files to {out}")
