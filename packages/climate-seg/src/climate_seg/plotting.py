"""Figures: filled maps of a frame (field, truth, prediction), a side-by-side globe GIF,
training curves of a run, and precision-recall curves of an evaluation.

Maps are filled: the mesh values are resampled (with :class:`climate_seg.transform.MeshGrid`)
to a regular latitude-longitude raster drawn with ``pcolormesh``, in an equirectangular or a
Mollweide projection. Needs matplotlib (``pip install 'climate-seg[plot]'``); GIFs need pillow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHANNEL_UNITS",
    "CLASS_COLORS",
    "plot_curves",
    "plot_globe_gif",
    "plot_maps",
    "plot_precision_recall",
    "raster",
]

#: Background, TC, AR.
CLASS_COLORS = ("#f2f2f2", "#d62728", "#1f77b4")
CLASS_NAMES = ("background", "TC", "AR")

#: Units of the 16 CAM5 channels (CAM5 history-file conventions).
CHANNEL_UNITS = {
    "TMQ": "kg m$^{-2}$",
    "U850": "m s$^{-1}$",
    "V850": "m s$^{-1}$",
    "UBOT": "m s$^{-1}$",
    "VBOT": "m s$^{-1}$",
    "QREFHT": "kg kg$^{-1}$",
    "PS": "Pa",
    "PSL": "Pa",
    "T200": "K",
    "T500": "K",
    "PRECT": "m s$^{-1}$",
    "TS": "K",
    "TREFHT": "K",
    "Z1000": "m",
    "Z200": "m",
    "ZBOT": "m",
}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'climate-seg[plot]'.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def raster(
    transform: Any, values: np.ndarray, classes: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mesh values on the regular raster of an equiangular ``transform.grid``.

    Parameters
    ----------
    transform : MeshGrid
        From the data mesh to an equiangular sampling (``nlat x nlon``).
    values : ndarray, shape (V_mesh,)
        A field (linear resampling) or class indices (``classes=True``: nearest).

    Returns
    -------
    lon, lat : ndarray, shape (nlon,), (nlat,)
        Cell centres in degrees, longitudes in [-180, 180), latitudes from north to south.
    image : ndarray, shape (nlat, nlon)
    """
    grid = transform.grid
    if classes:
        flat = transform.labels_to_grid(np.asarray(values, dtype=np.int64)).astype(np.float64)
    else:
        flat = transform.values_to_grid(values)
    image = flat.reshape(grid.nlat, grid.nlon)
    lon = np.degrees(np.arctan2(grid.coords[: grid.nlon, 1], grid.coords[: grid.nlon, 0]))
    lat = np.degrees(np.arcsin(np.clip(grid.coords[:: grid.nlon, 2], -1, 1)))
    order = np.argsort(lon)
    return lon[order], lat, image[:, order]


def _map_axes(fig: Any, n: int, k: int, projection: str) -> Any:
    if projection == "mollweide":
        ax = fig.add_subplot(1, n, k + 1, projection="mollweide")
        ax.set_xticks(np.radians(np.arange(-120, 121, 60)))
        ax.set_yticks(np.radians(np.arange(-60, 61, 30)))
        ax.tick_params(labelsize=7)
        for label in ax.get_xticklabels():
            label.set_color("0.35")
    else:
        ax = fig.add_subplot(1, n, k + 1)
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_aspect("equal")
        ax.set_xticks(range(-180, 181, 60))
        ax.set_yticks(range(-90, 91, 30))
        ax.tick_params(labelsize=7)
        ax.set_xlabel("longitude (°)", fontsize=8)
        ax.set_ylabel("latitude (°)", fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax


def plot_maps(
    transform: Any,
    field: np.ndarray,
    truth: np.ndarray | None,
    prediction: np.ndarray | None,
    path: str | Path,
    projection: str = "mollweide",
    channel: str = "TMQ",
    when: str = "",
) -> Path:
    """Save a PNG with filled maps of a channel, the ground truth and the prediction.

    Parameters
    ----------
    transform : MeshGrid
        Data mesh -> equiangular raster (e.g. 180 x 360).
    field : ndarray, shape (V_mesh,)
        The channel in physical units.
    truth, prediction : ndarray of int, shape (V_mesh,), optional
        Class per vertex (0 background, 1 TC, 2 AR).
    path : path-like
        Output PNG.
    projection : {"mollweide", "equirectangular"}
    channel : str
        Channel name (title and unit of the colour bar).
    when : str
        Date of the frame (title).
    """
    plt = _pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    if projection not in ("mollweide", "equirectangular"):
        raise ValueError(f"unknown projection {projection!r}; choose mollweide or equirectangular.")
    panels: list[tuple[str, np.ndarray, bool]] = [(channel, field, False)]
    panels += [
        (name, lab, True)
        for name, lab in (("ground truth", truth), ("prediction", prediction))
        if lab is not None
    ]
    fig = plt.figure(figsize=(5.2 * len(panels), 3.4))
    cmap, norm = ListedColormap(CLASS_COLORS), BoundaryNorm([-0.5, 0.5, 1.5, 2.5], 3)
    for k, (name, values, is_class) in enumerate(panels):
        ax = _map_axes(fig, len(panels), k, projection)
        lon, lat, image = raster(transform, values, classes=is_class)
        x, y = (np.radians(lon), np.radians(lat)) if projection == "mollweide" else (lon, lat)
        if is_class:
            ax.pcolormesh(x, y, image, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
        else:
            mesh = ax.pcolormesh(x, y, image, cmap="viridis", shading="nearest", rasterized=True)
            bar = fig.colorbar(mesh, ax=ax, shrink=0.7, orientation="horizontal", pad=0.08)
            bar.set_label(f"{channel} ({CHANNEL_UNITS.get(channel, 'raw units')})", fontsize=8)
        ax.set_title(name, fontsize=10)
    if truth is not None or prediction is not None:
        handles = [
            Patch(facecolor=c, edgecolor="0.5", label=n)
            for c, n in zip(CLASS_COLORS, CLASS_NAMES, strict=True)
        ]
        fig.legend(handles=handles, loc="lower right", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"{when}  ({projection})" if when else projection, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_globe_gif(
    transform: Any,
    truth: np.ndarray,
    prediction: np.ndarray | None,
    path: str | Path,
    when: str = "",
    frames: int = 24,
) -> Path:
    """Save a GIF of rotating globes, ground truth and prediction side by side, with the date.

    Raises
    ------
    RuntimeError
        When pillow (matplotlib's GIF writer) is not installed.
    """
    plt = _pyplot()
    from matplotlib import animation

    if not animation.PillowWriter.isAvailable():
        raise RuntimeError("--gif needs pillow (pip install pillow); the PNG maps were written.")
    panels = [("ground truth", truth)] + (
        [("prediction", prediction)] if prediction is not None else []
    )
    colors = np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in CLASS_COLORS])
    fig = plt.figure(figsize=(3.6 * len(panels), 3.8))
    axes = []
    for k, (name, labels) in enumerate(panels):
        lon, lat, image = raster(transform, labels, classes=True)
        lo, la = np.meshgrid(np.radians(lon), np.radians(lat))
        xyz = np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        ax.plot_surface(
            *xyz,
            facecolors=colors[image.astype(int)],
            rstride=1,
            cstride=1,
            linewidth=0,
            shade=False,
        )
        ax.set_box_aspect((1, 1, 1))
        ax.set_axis_off()
        ax.set_title(name, fontsize=10)
        axes.append(ax)
    fig.suptitle(when, fontsize=10)

    def turn(i: int) -> tuple:
        for ax in axes:
            ax.view_init(elev=20, azim=360 * i / frames)
        return ()

    anim = animation.FuncAnimation(fig, turn, frames=frames, interval=120)
    path = Path(path)
    anim.save(path, writer=animation.PillowWriter(fps=8))
    plt.close(fig)
    return path


def plot_curves(run_dir: str | Path, path: str | Path) -> Path:
    """Training curves of a run from its ``metrics.jsonl``: training loss, and validation AP per class and mAP, per epoch."""
    plt = _pyplot()
    metrics = Path(run_dir) / "metrics.jsonl"
    if not metrics.is_file():
        raise ValueError(
            f"{run_dir} holds no metrics.jsonl; pass a run folder of `climate-seg train`."
        )
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    train = [r for r in records if r.get("split") == "train_epoch"]
    steps = [r for r in records if r.get("split") == "train"]
    val = [r for r in records if r.get("split") == "val"]
    if not val and not train:
        raise ValueError(f"{metrics} holds no epoch yet; train longer before plotting the curves.")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    if steps and train:
        epoch_length = max(train[0]["iteration"] / max(train[0]["epoch"], 1), 1)
        left.plot(
            [r["iteration"] / epoch_length for r in steps],
            [r["loss"] for r in steps],
            color="0.7",
            lw=0.8,
            label="every N iterations",
        )
    left.plot([r["epoch"] for r in train], [r["loss"] for r in train], "o-", label="epoch mean")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss (weighted cross-entropy)")
    left.set_yscale("log")
    left.legend(fontsize=8)
    for key, label in (("ap_tc", "AP TC"), ("ap_ar", "AP AR"), ("map", "mAP")):
        right.plot([r["epoch"] for r in val], [r.get(key, np.nan) for r in val], "o-", label=label)
    right.set_xlabel("epoch")
    right.set_ylabel("validation")
    right.set_ylim(0, 1)
    right.legend(fontsize=8)
    fig.suptitle(str(run_dir), fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_precision_recall(acc: Any, path: str | Path, title: str = "") -> Path:
    """Precision-recall curves of TC and AR from a :class:`climate_seg.metrics.SegmentationMetrics`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    result = acc.compute()
    for k, c in enumerate(acc.ap_classes):
        precision, recall = acc.precision_recall(k)
        name = acc.class_names[c]
        ax.plot(
            recall,
            precision,
            color=CLASS_COLORS[c],
            label=f"{name} (AP {result[f'AP_{name}']:.3f})",
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
