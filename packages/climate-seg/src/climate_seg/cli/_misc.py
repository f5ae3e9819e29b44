"""``climate-seg plot``, ``info`` and ``demo``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import typer
from rich.table import Table

from ._app import app, console, err_console, friendly
from ._train import Sampling


@app.command()
@friendly
def plot(
    file: Path = typer.Argument(..., help="A data-*-mesh.npz file."),
    out: Path = typer.Option(Path("plots"), "--out", help="Folder for the PNG (and GIF) files."),
    run: Path | None = typer.Option(None, "--run", help="Run folder or checkpoint: adds the prediction panel."),
    channel: str = typer.Option("TMQ", "--channel", help="Input channel to draw (name or index)."),
    sampling: Sampling | None = typer.Option(None, "--sampling", help="Draw on this sampling (resampled) instead of the mesh."),
    resolution: int | None = typer.Option(None, "--resolution", help="Level / nside / nlat of --sampling."),
    gif: bool = typer.Option(False, "--gif", help="Also render a rotating 3-D globe GIF (needs pillow)."),
) -> None:
    """PNG maps (equirectangular and Mollweide) of a channel, the ground truth and the prediction."""
    from ..config import DEFAULT_RESOLUTION
    from ..plotting import plot_globe_gif, plot_maps

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'climate-seg[plot]'.") from None
    from ..training import _deps, check_writable

    if not file.is_file():
        raise ValueError(f"{file} does not exist; pass one data-*-mesh.npz file.")
    with np.load(file) as z:
        data, truth = z["data"], z["labels"].argmax(0)
    try:
        from ..data._format import CHANNELS
    except ImportError:  # pragma: no cover
        CHANNELS = ()
    idx = int(channel) if channel.isdigit() else (list(CHANNELS).index(channel.upper()) if channel.upper() in CHANNELS else -1)
    if not 0 <= idx < data.shape[0]:
        raise ValueError(f"unknown channel {channel!r}; use a name such as TMQ or PSL, or an index 0..{data.shape[0] - 1}.")
    mesh = _deps.data_mesh(data.shape[1])
    field, grid, pred = data[idx].astype(np.float64), mesh, None
    if run is not None:
        from ..predict import load_model

        loaded = load_model(run)
        ds, to_mesh = loaded.datasets([file])
        with torch.no_grad():
            probs = torch.softmax(loaded.model(ds[len(ds) - 1][0][None]), -1)[0]
        pred = (torch.sparse.mm(to_mesh, probs) if to_mesh is not None else probs).argmax(-1).numpy()
    if sampling is not None:
        grid = _deps.sampling_for(sampling.value, resolution or DEFAULT_RESOLUTION[sampling.value])
        lin, near = _deps.resampling(mesh, grid, "linear"), _deps.resampling(mesh, grid, "nearest")
        if lin is not None:
            field = torch.sparse.mm(lin, torch.tensor(field, dtype=torch.float32)[:, None])[:, 0].numpy()
            resample_labels = lambda lab: torch.sparse.mm(near, torch.nn.functional.one_hot(torch.as_tensor(lab, dtype=torch.long), 3).float()).argmax(1).numpy()  # noqa: E731
            truth = resample_labels(truth)
            pred = resample_labels(pred) if pred is not None else None
    check_writable(out)
    stem = file.name.replace(".npz", "")
    for proj in ("equirectangular", "mollweide"):
        path = plot_maps(grid.coords, field, truth, pred, out / f"{stem}-{proj}.png", proj, title=CHANNELS[idx] if CHANNELS else str(idx))
        console.print(f"wrote {path}")
    if gif:
        try:
            console.print(f"wrote {plot_globe_gif(grid.coords, pred if pred is not None else truth, out / f'{stem}-globe.gif')}")
        except RuntimeError as exc:
            err_console.print(f"[yellow]{exc}[/]")


@app.command()
@friendly
def info() -> None:
    """Samplings with their vertex counts and the parameter counts of the model presets."""
    from .. import __version__
    from ..config import TrainConfig
    from ..training import _deps

    table = Table(title=f"climate-seg {__version__}: samplings")
    for col in ("sampling", "resolution", "vertices"):
        table.add_column(col, justify="right")
    for kind, resolutions in (("icosahedral", (3, 4, 5)), ("healpix", (8, 16, 32)), ("equiangular", (32, 64))):
        for r in resolutions:
            try:
                n = str(_deps.sampling_for(kind, r).n_vertices)
            except Exception as exc:
                n = f"unavailable ({exc.__class__.__name__})"
            label = {"icosahedral": f"level {r}", "healpix": f"nside {r}", "equiangular": f"{r} x {2 * r}"}[kind]
            table.add_row(kind, label, n)
    console.print(table)
    models = Table(title="model presets (parameters do not depend on the resolution)")
    for col in ("preset", "width scale", "parameters"):
        models.add_column(col, justify="right")
    for preset, scale, level in (("small", 1.0, 3), ("small", 0.5, 3), ("deepsphere", 1.0, 5)):
        cfg = TrainConfig(preset=preset, width_scale=scale, resolution=level)
        try:
            model = _deps.build_model(cfg, _deps.sampling_for("icosahedral", level))
            count = f"{sum(p.numel() for p in model.parameters()):,}"
        except Exception as exc:
            count = f"unavailable ({exc.__class__.__name__})"
        models.add_row(preset, str(scale), count)
    console.print(models)
    console.print("data: 16 channels (TMQ ... ZBOT) on the icosahedral level-5 mesh (10242 vertices); classes background, TC, AR")


def _free_run_dir(base: Path) -> Path:
    k = 1
    while (base / f"run-{k}").exists():
        k += 1
    return base / f"run-{k}"


@app.command()
@friendly
def demo(
    data: Path | None = typer.Option(None, "--data", help="Existing data folder (default: synthesise one under --out)."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for the synthetic data and the run."),
    samples: int = typer.Option(240, "--samples", min=12, help="Synthetic files to create when no --data is given."),
    epochs: int = typer.Option(12, "--epochs", min=1, help="Maximum epochs."),
    minutes: float = typer.Option(8.0, "--minutes", help="Stop training after this many minutes (then evaluate)."),
    seed: int = typer.Option(0, "--seed", help="Seed of data, split and training."),
) -> None:
    """Main job: synthesise data if needed, train a small U-Net on CPU, evaluate on the test split."""
    from ..config import load_config
    from ..training import check_writable
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
    cfg = load_config(None, **DEMO_SETTINGS, data=str(data), out=str(_free_run_dir(out)), epochs=epochs, seed=seed)
    cfg.extra["time_limit_s"] = minutes * 60
    torch.set_num_threads(max(1, torch.get_num_threads()))
    run_dir = run_training(cfg)
    console.print(f"demo finished in {time.time() - start:.0f} s; run folder {run_dir}")


#: Settings of the demo run, tuned to reach TC and AR AP >= 0.5 on synthetic data in minutes on 2 CPU cores.
DEMO_SETTINGS = dict(sampling="icosahedral", resolution=5, preset="small", width_scale=1.0, batch_size=8, lr=3e-3,
                     warmup_epochs=1, class_weights="1,20,2", patience=5, scheduler="plateau")
