"""``climate-seg plot``, ``info`` and ``demo``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import typer
from rich.table import Table

from ._app import app, console, err_console, friendly


@app.command()
@friendly
def plot(
    file: Path = typer.Argument(
        ..., help="A data-*-mesh.npz file, or a run folder (plots its training curves)."
    ),
    out: Path = typer.Option(Path("plots"), "--out", help="Folder for the PNG (and GIF) files."),
    run: Path | None = typer.Option(
        None, "--run", help="Run folder or checkpoint: adds the prediction panel."
    ),
    channel: str = typer.Option("TMQ", "--channel", help="Input channel to draw (name or index)."),
    nlat: int = typer.Option(
        180, "--nlat", min=8, help="Latitudes of the raster the maps are drawn on."
    ),
    gif: bool = typer.Option(
        False,
        "--gif",
        help="Also render rotating globes (truth and prediction) as a GIF (needs pillow).",
    ),
) -> None:
    """Filled maps (equirectangular and Mollweide) of a channel, the truth and the prediction; or a run's curves.

    Needs matplotlib: pip install 'climate-seg\\[plot]' (GIFs also pillow).
    """
    from .._io import check_writable
    from ..data import CHANNELS, parse_name, read_sample
    from ..models import data_mesh, sampling_for
    from ..plotting import plot_curves, plot_globe_gif, plot_maps
    from ..transform import MeshGrid

    if file.is_dir():
        check_writable(out)
        console.print(f"wrote {plot_curves(file, out / f'{file.resolve().name}-curves.png')}")
        return
    if not file.is_file():
        raise ValueError(f"{file} does not exist; pass one data-*-mesh.npz file or a run folder.")
    names = list(CHANNELS)
    idx = (
        int(channel)
        if channel.isdigit()
        else (names.index(channel.upper()) if channel.upper() in names else -1)
    )
    if not 0 <= idx < len(names):
        raise ValueError(
            f"unknown channel {channel!r}; use a name such as TMQ or PSL, or an index 0..{len(names) - 1}."
        )
    from ..pipeline import vertex_count

    n_vertices = vertex_count([file], False)
    try:
        data, truth = read_sample(file, n_vertices=n_vertices)
    except ValueError as exc:
        raise ValueError(f"{exc} Fix or replace the file (see `climate-seg data check`).") from None
    pred = None
    if run is not None:
        from ..predict import load_model

        loaded = load_model(run)
        ds = loaded.dataset([file])
        x, _, _ = ds[len(ds) - 1]
        pred = ds.transform.to_mesh(loaded.probabilities(x[None])[0]).argmax(-1).numpy()
    transform = MeshGrid.between(data_mesh(n_vertices), sampling_for("equiangular", nlat))
    try:
        key = parse_name(file.name)
        when = f"{key.date.isoformat()} {3 * key.slot:02d}:00 UTC, run {key.run}"
    except ValueError:
        when = file.name
    check_writable(out)
    stem = file.name.replace(".npz", "")
    for proj in ("equirectangular", "mollweide"):
        path = plot_maps(
            transform,
            data[idx].astype(np.float64),
            truth,
            pred,
            out / f"{stem}-{proj}.png",
            proj,
            channel=names[idx],
            when=when,
        )
        console.print(f"wrote {path}")
    if gif:
        try:
            console.print(
                f"wrote {plot_globe_gif(transform, truth, pred, out / f'{stem}-globe.gif', when=when)}"
            )
        except RuntimeError as exc:
            err_console.print(f"[yellow]{exc}[/]")


@app.command()
@friendly
def info() -> None:
    """Samplings with their vertex counts, parameter counts of the model presets, and the shipped example configs."""
    from .. import __version__
    from ..config import TrainConfig, example_configs
    from ..models import build_model, parameter_count, sampling_for

    table = Table(title=f"climate-seg {__version__}: samplings")
    for col in ("sampling", "resolution", "vertices"):
        table.add_column(col, justify="right")
    for kind, resolutions in (
        ("icosahedral", (3, 4, 5)),
        ("healpix", (8, 16, 32)),
        ("equiangular", (32, 64)),
    ):
        for r in resolutions:
            n = str(sampling_for(kind, r).n_vertices)
            label = {
                "icosahedral": f"level {r}",
                "healpix": f"nside {r}",
                "equiangular": f"{r} x {2 * r}",
            }[kind]
            table.add_row(kind, label, n)
    console.print(table)
    models = Table(title="model presets (parameters do not depend on the resolution)")
    for col in ("preset", "width scale", "parameters"):
        models.add_column(col, justify="right")
    for preset, scale, level in (("small", 1.0, 3), ("small", 0.5, 3), ("deepsphere", 1.0, 5)):
        cfg = TrainConfig(preset=preset, width_scale=scale, resolution=level)  # type: ignore[arg-type]
        models.add_row(
            preset,
            str(scale),
            f"{parameter_count(build_model(cfg, sampling_for('icosahedral', level))):,}",
        )
    console.print(models)
    examples = Table(title="example configs (`climate-seg train --config NAME`)")
    examples.add_column("name")
    examples.add_column("file")
    for name, path in example_configs().items():
        examples.add_row(name, str(path))
    console.print(examples)
    console.print(
        "data: 16 channels (TMQ ... ZBOT) on the icosahedral level-5 mesh (10242 vertices); "
        "classes background, TC, AR"
    )


def _free_run_dir(base: Path) -> Path:
    k = 1
    while (base / f"run-{k}").exists():
        k += 1
    return base / f"run-{k}"


@app.command()
@friendly
def demo(
    data: Path | None = typer.Option(
        None, "--data", help="Existing data folder (default: synthesise one under --out)."
    ),
    out: Path = typer.Option(
        Path("runs/demo"), "--out", help="Folder for the synthetic data and the run."
    ),
    samples: int = typer.Option(
        240, "--samples", min=12, help="Synthetic files to create when no --data is given."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Maximum epochs.", show_default="12 (demo config)"
    ),
    minutes: float = typer.Option(
        8.0, "--minutes", help="Stop training after this many minutes (then evaluate)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of data, split and training."),
) -> None:
    """Main job: synthesise data if needed, train a small U-Net on CPU, evaluate on the test split."""
    from .._io import check_writable
    from ..config import load_config
    from ..training import train as run_training
    from ._data import synthesize

    start = time.time()
    check_writable(out)
    if data is None:
        data = out / "data"
        if not any(data.glob("data-*-mesh.npz")):
            with console.status(f"synthesising {samples} files into {data} ..."):
                synthesize(data, samples, seed)
            console.print(f"synthesised {samples} files into {data} in {time.time() - start:.0f} s")
        else:
            console.print(f"reusing the data in {data}")
    cfg = load_config("demo", data=str(data), out=str(_free_run_dir(out)), epochs=epochs, seed=seed)
    cfg.extra["time_limit_s"] = minutes * 60
    torch.set_num_threads(max(1, torch.get_num_threads()))
    run_dir = run_training(cfg, console=console)
    console.print(f"demo finished in {time.time() - start:.0f} s; run folder {run_dir}")
