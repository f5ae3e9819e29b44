"""``climate-seg evaluate`` and ``climate-seg predict``: thin adapters to :mod:`climate_seg.predict`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._app import app, console, friendly, parse_gpu
from ._train import Sampling

_GPU = typer.Option(
    None,
    "--gpu",
    help="GPU id: absent = CPU; --gpu 0 = cuda:0.",
    show_default="(CPU)",
)


def _device(gpu: str | None) -> str:
    """``"cuda:<id>"`` for ``--gpu <id>`` (one id, checked), else ``"cpu"``."""
    from ..training import check_gpus

    ids = check_gpus(parse_gpu(gpu))
    if ids is None:
        return "cpu"
    if len(ids) > 1:
        raise ValueError(
            f"--gpu takes one id here (got {ids}); evaluation and prediction run on one device."
        )
    return f"cuda:{ids[0]}"


_SKIP = typer.Option(
    False,
    "--skip-bad-files",
    help="Leave out unreadable or malformed files (else: stop with an "
    "error naming the first one, before writing anything).",
)


@app.command()
@friendly
def evaluate(
    run: Path = typer.Argument(..., help="Run folder (uses best.pt) or checkpoint file."),
    data: Path = typer.Option(..., "--data", help="Folder of data files."),
    split: str = typer.Option(
        "test",
        "--split",
        help="train, val or test part of the run's split, or all files of --data.",
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Metrics report JSON.", show_default="<run>/evaluate-<split>.json"
    ),
    sampling: Sampling | None = typer.Option(
        None, "--sampling", help="Expected sampling (checked against the checkpoint)."
    ),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Samples per batch."),
    skip_bad_files: bool = _SKIP,
    pr_curve: Path | None = typer.Option(
        None, "--pr-curve", help="Also save a precision-recall figure (PNG; needs matplotlib)."
    ),
    gpu: str | None = _GPU,
) -> None:
    """Compute AP (TC, AR), mAP, mean accuracy and IoU on a split or a folder; write a JSON report."""
    from .._io import atomic_write_bytes, check_writable
    from ..evaluation import evaluate_model
    from ..pipeline import select_files
    from ..predict import load_model
    from ..training.logging import metrics_table

    device = _device(gpu)
    loaded = load_model(run, sampling.value if sampling else None, device)
    files = select_files(data, split, loaded.config)
    report = report or ((run if run.is_dir() else run.parent) / f"evaluate-{split}.json")
    check_writable(report.parent)
    ds = loaded.dataset(files, skip_bad_files)
    accumulators: list = []
    results = evaluate_model(loaded.model, ds, device, batch_size, ds.transform, keep=accumulators)
    console.print(
        metrics_table(
            [{"split": f"{split} ({k})", **v} for k, v in results.items()],
            title=f"{len(files)} files",
        )
    )
    skipped = [str(p) for p in ds.base.bad_files]
    payload = {
        "checkpoint": str(run),
        "data": str(data),
        "split": split,
        "n_files": len(files) - len(skipped),
        "skipped_files": skipped,
        "sampling": loaded.config.sampling,
        "metrics": results,
    }
    atomic_write_bytes(report, json.dumps(payload, indent=2).encode())
    console.print(f"report: {report}")
    if pr_curve is not None:
        from ..plotting import plot_precision_recall

        check_writable(pr_curve.parent)
        console.print(
            f"wrote {plot_precision_recall(accumulators[0], pr_curve, title=f'{run} ({split})')}"
        )


@app.command()
@friendly
def predict(
    run: Path = typer.Argument(..., help="Run folder (uses best.pt) or checkpoint file."),
    data: Path = typer.Option(..., "--data", help="Folder of data files (or a single file)."),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Folder for <name>-pred.npz files (labels and probabilities on the mesh).",
    ),
    sampling: Sampling | None = typer.Option(
        None, "--sampling", help="Expected sampling (checked against the checkpoint)."
    ),
    skip_bad_files: bool = _SKIP,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing prediction files in --out."
    ),
    gpu: str | None = _GPU,
) -> None:
    """Predict every file: one npz per input with `labels (V,)` int8 and `probabilities (3, V)` float16."""
    from .._io import check_writable, data_files
    from ..predict import load_model, predict_files

    loaded = load_model(run, sampling.value if sampling else None, _device(gpu))
    files = data_files(data)
    check_writable(out)
    written = predict_files(loaded, files, out, overwrite=overwrite, skip_bad_files=skip_bad_files)
    console.print(f"wrote [bold]{len(written)}[/] prediction files to {out}")
