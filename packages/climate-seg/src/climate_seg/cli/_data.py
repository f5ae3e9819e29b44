"""``climate-seg data synth | stats | check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from ._app import console, data_app, friendly


def data_function(name: str) -> Any:
    """A public function of ``climate_seg.data`` or a clear error when missing."""
    from .. import data as data_pkg

    fn = getattr(data_pkg, name, None)
    if fn is None:
        raise ValueError(f"climate_seg.data.{name} is not available in this version of climate-seg.")
    return fn


def synthesize(out: Path, samples: int, seed: int, **kwargs: Any) -> list[Path]:
    """Call ``climate_seg.data.synthesize`` (passing only the keyword arguments it accepts)."""
    import inspect

    from .._io import check_writable

    check_writable(out)
    fn = data_function("synthesize")
    params = inspect.signature(fn).parameters
    extra = {k: v for k, v in kwargs.items() if k in params and v is not None}
    result = fn(out, samples, seed, **extra)
    return sorted(out.glob("data-*-mesh.npz")) if result is None or not isinstance(result, list) else result


@data_app.command("synth")
@friendly
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write data-*-mesh.npz files into (created)."),
    samples: int = typer.Option(300, "--samples", min=1, help="Number of files (3-hourly frames)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the same files."),
) -> None:
    """Write a synthetic CAM5-like data set (same file format as the real archive)."""
    if out.exists() and any(out.glob("data-*-mesh.npz")):
        raise ValueError(f"{out} already holds data files; choose an empty --out so nothing is overwritten.")
    with console.status(f"synthesising {samples} files ..."):
        files = synthesize(out, samples, seed)
    console.print(f"wrote [bold]{len(files)}[/] files to {out}")


@data_app.command("stats")
@friendly
def stats(
    data: Path = typer.Argument(..., help="Folder of data files."),
    out: Path | None = typer.Option(None, "--out", help="Also save mean/std (JSON)."),
) -> None:
    """Per-channel mean and std (streamed over the files) and class pixel fractions."""
    from ..data import CHANNELS, compute_stats
    from ..training.data_setup import files_of

    files = files_of(data)
    mean, std = compute_stats(files, n_vertices=None)  # any icosahedral level
    counts = np.zeros(3)
    for f in files:
        with np.load(f) as z:
            counts += np.bincount(z["labels"].argmax(0), minlength=3)[:3]
    table = Table(title=f"{len(files)} files in {data}")
    for col in ("channel", "mean", "std"):
        table.add_column(col, justify="right")
    for name, m, s in zip(CHANNELS, mean, std, strict=False):
        table.add_row(name, f"{m:.6g}", f"{s:.6g}")
    console.print(table)
    frac = counts / max(counts.sum(), 1)
    console.print(f"class fractions: background {frac[0]:.4f}, TC {frac[1]:.4f}, AR {frac[2]:.4f}")
    if out:
        out.write_text(json.dumps({"mean": list(map(float, mean)), "std": list(map(float, std)),
                                   "class_fraction": list(map(float, frac)), "n_files": len(files)}, indent=2))


@data_app.command("check")
@friendly
def check(data: Path = typer.Argument(..., help="Folder of data files.")) -> None:
    """Read every file and report unreadable, truncated, wrongly shaped or non-finite ones."""
    if not data.is_dir():
        raise ValueError(f"data folder {data} does not exist; create one with `climate-seg data synth --out {data}`.")
    report = data_function("check_folder")(data)
    console.print(report.summary() if hasattr(report, "summary") else str(report))
    if hasattr(report, "ok") and not report.ok:
        raise typer.Exit(1)
