"""``climate-seg data synth | stats | check``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ._app import console, data_app, err_console, friendly


def data_function(name: str) -> Any:
    """A public function of ``climate_seg.data`` or a clear error when missing."""
    from .. import data as data_pkg

    fn = getattr(data_pkg, name, None)
    if fn is None:
        raise ValueError(
            f"climate_seg.data.{name} is not available in this version of climate-seg."
        )
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
    return (
        sorted(out.glob("data-*-mesh.npz"))
        if result is None or not isinstance(result, list)
        else result
    )


@data_app.command("synth")
@friendly
def synth(
    out: Path = typer.Option(
        ..., "--out", help="Folder to write data-*-mesh.npz files into (created)."
    ),
    samples: int = typer.Option(300, "--samples", min=1, help="Number of files (3-hourly frames)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the same files."),
    difficulty: str = typer.Option(
        "realistic",
        "--difficulty",
        help="realistic: TCs and ARs among look-alikes that fail a detection rule; easy: no look-alikes.",
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Processes (0: one per CPU core, at most 4); the files do not depend on it.",
    ),
) -> None:
    """Write a synthetic CAM5-like data set (same file format as the real archive)."""
    from ..data import DIFFICULTIES

    if difficulty not in DIFFICULTIES:
        raise ValueError(
            f"--difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}."
        )
    if out.exists() and any(out.glob("data-*-mesh.npz")):
        raise ValueError(
            f"{out} already holds data files; choose an empty --out so nothing is overwritten."
        )
    n_workers = workers or min(
        4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    start = time.perf_counter()
    with console.status(f"synthesising {samples} files ..."):
        files = synthesize(out, samples, seed, difficulty=difficulty, workers=n_workers)
    took = time.perf_counter() - start
    console.print(
        f"wrote [bold]{len(files)}[/] files to {out} in {took:.1f} s ({len(files) / took:.0f} files/s, "
        f"{n_workers} process{'es' if n_workers > 1 else ''}, difficulty {difficulty})"
    )


def _progress(total: int, what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} files/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@data_app.command("stats")
@friendly
def stats(
    data: Path = typer.Argument(..., help="Folder of data files."),
    out: Path | None = typer.Option(None, "--out", help="Also save mean/std (JSON)."),
    skip_bad_files: bool = typer.Option(
        False, "--skip-bad-files", help="Leave out unreadable or malformed files."
    ),
) -> None:
    """Per-channel mean and std and class pixel fractions, streamed over the files (one in memory at a time)."""
    from .._io import atomic_write_bytes, data_files
    from ..data import CHANNELS, DataFileError, RunningStats, read_sample
    from ..pipeline import vertex_count

    files = data_files(data)
    n_vertices = vertex_count(files, skip_bad_files)
    rs, counts, skipped = RunningStats(), np.zeros(3, dtype=np.int64), 0
    start = time.perf_counter()
    with _progress(len(files), "statistics") as bar:
        task = bar.add_task("stats", total=len(files), rate="-")
        for k, f in enumerate(files):
            try:
                values, labels = read_sample(f, n_vertices=n_vertices)
            except DataFileError as exc:
                if not skip_bad_files:
                    raise ValueError(f"{exc} Fix or remove it, or pass --skip-bad-files.") from None
                skipped += 1
                continue
            rs.update(values)
            counts += np.bincount(labels, minlength=3)[:3]
            bar.update(task, advance=1, rate=f"{(k + 1) / (time.perf_counter() - start):.0f}")
    seconds = time.perf_counter() - start
    if rs.count == 0:
        raise ValueError(
            f"no readable file in {data}; check it with `climate-seg data check {data}`."
        )
    mean, std = rs.mean, rs.std
    table = Table(title=f"{len(files) - skipped} files in {data}")
    for col in ("channel", "mean", "std"):
        table.add_column(col, justify="right")
    for name, m, sd in zip(CHANNELS, mean, std, strict=False):
        table.add_row(name, f"{m:.6g}", f"{sd:.6g}")
    console.print(table)
    frac = counts / max(counts.sum(), 1)
    console.print(f"class fractions: background {frac[0]:.4f}, TC {frac[1]:.4f}, AR {frac[2]:.4f}")
    console.print(
        f"{len(files)} files in {seconds:.1f} s ({len(files) / max(seconds, 1e-9):.0f} files/s)"
        + (f", {skipped} skipped" if skipped else "")
    )
    if out:
        atomic_write_bytes(
            out,
            json.dumps(
                {
                    "mean": list(map(float, mean)),
                    "std": list(map(float, std)),
                    "class_fraction": list(map(float, frac)),
                    "n_files": len(files) - skipped,
                },
                indent=2,
            ).encode(),
        )


@data_app.command("check")
@friendly
def check(data: Path = typer.Argument(..., help="Folder of data files.")) -> None:
    """Read every file (streamed) and report unreadable, truncated, wrongly shaped or non-finite ones,
    labels that are not one-hot (class indices, all zeros) and fill values; exit 1 if any, or if the folder is empty."""
    from ..data import check_folder

    if not data.is_dir():
        raise ValueError(
            f"data folder {data} does not exist; create one with `climate-seg data synth --out {data}`."
        )
    start = time.perf_counter()
    with _progress(0, "checking") as bar:
        task = bar.add_task("check", total=None, rate="-")

        def advance(done: int, total: int) -> None:
            bar.update(
                task,
                completed=done,
                total=total,
                rate=f"{done / (time.perf_counter() - start):.0f}",
            )

        report = check_folder(data, n_vertices=None, progress=advance)
    seconds = time.perf_counter() - start
    console.print(report.summary(), highlight=False)
    console.print(
        f"{report.n_files} files in {seconds:.1f} s ({report.n_files / max(seconds, 1e-9):.0f} files/s)"
    )
    if report.n_files == 0:
        err_console.print(f"[bold red]Error:[/] {data} holds no .npz file.")
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("pack")
@friendly
def pack(
    data: Path = typer.Argument(..., help="Folder of data-*-mesh.npz files."),
    out: Path = typer.Option(
        ...,
        "--out",
        help="New folder for the memory-mapped layout (frames.npy, labels.npy, index.json).",
    ),
    skip_bad_files: bool = typer.Option(
        False, "--skip-bad-files", help="Leave out unreadable or malformed files."
    ),
) -> None:
    """Pack a folder into a memory-mapped layout (no npz decoding when training); use it as --data."""
    from .._io import check_writable, data_files
    from ..data import pack_folder

    files = data_files(data)
    check_writable(out)
    start = time.perf_counter()
    with _progress(len(files), "packing") as bar:
        task = bar.add_task("pack", total=len(files), rate="-")

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, rate=f"{done / (time.perf_counter() - start):.0f}")

        pack_folder(files, out, skip_bad_files=skip_bad_files, progress=advance)
    seconds = time.perf_counter() - start
    console.print(
        f"packed {len(files)} files into {out} in {seconds:.1f} s ({len(files) / max(seconds, 1e-9):.0f} "
        "files/s); train with --data " + str(out)
    )
