"""Maps of an input channel, the ground truth and a prediction on any sampling.

Vertices are drawn as coloured points (``scatter``) in an equirectangular or a Mollweide
projection, or on a rotating 3-D globe (GIF, needs pillow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CLASS_COLORS", "plot_globe_gif", "plot_maps"]

#: Background, TC, AR.
CLASS_COLORS = ("#f2f2f2", "#d62728", "#1f77b4")


def _lonlat(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = np.asarray(coords, dtype=np.float64).T
    return np.arctan2(y, x), np.arctan2(z, np.hypot(x, y))  # lon in (-pi, pi]


def plot_maps(coords: np.ndarray, field: np.ndarray, truth: np.ndarray | None, prediction: np.ndarray | None,
              path: str | Path, projection: str = "mollweide", title: str = "TMQ") -> Path:
    """Save a PNG with one panel per available map.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
        Unit vectors of the vertices.
    field : ndarray, shape (V,)
        Input channel values.
    truth, prediction : ndarray of int, shape (V,), optional
        Class per vertex (0 background, 1 TC, 2 AR).
    path : path-like
        Output PNG.
    projection : {"mollweide", "equirectangular"}
    title : str
        Name of the channel.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    if projection not in ("mollweide", "equirectangular"):
        raise ValueError(f"unknown projection {projection!r}; choose mollweide or equirectangular.")
    lon, lat = _lonlat(coords)
    panels = [(title, field, "viridis")]
    panels += [(name, lab, ListedColormap(CLASS_COLORS)) for name, lab in (("ground truth", truth), ("prediction", prediction)) if lab is not None]
    size = max(1.0, 4e4 / len(lon))
    fig = plt.figure(figsize=(6 * len(panels), 3.6))
    for k, (name, values, cmap) in enumerate(panels):
        if projection == "mollweide":
            ax = fig.add_subplot(1, len(panels), k + 1, projection="mollweide")
            x, y = lon, lat
        else:
            ax = fig.add_subplot(1, len(panels), k + 1)
            x, y = np.degrees(lon), np.degrees(lat)
            ax.set_xlim(-180, 180)
            ax.set_ylim(-90, 90)
            ax.set_aspect("equal")
        is_class = name != title
        sc = ax.scatter(x, y, c=values, s=size, cmap=cmap, vmin=0 if is_class else None,
                        vmax=2 if is_class else None, linewidths=0, rasterized=True)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        if not is_class:
            fig.colorbar(sc, ax=ax, shrink=0.6)
    fig.suptitle(f"{projection} projection, {len(lon)} vertices")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_globe_gif(coords: np.ndarray, labels: np.ndarray, path: str | Path, frames: int = 24) -> Path:
    """Save a GIF of a rotating 3-D globe coloured by class.

    Raises
    ------
    RuntimeError
        When pillow (matplotlib's GIF writer) is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    if not animation.PillowWriter.isAvailable():
        raise RuntimeError("--gif needs pillow (pip install pillow); the PNG maps were written.")
    coords = np.asarray(coords)
    colors = np.asarray(CLASS_COLORS)[np.asarray(labels, dtype=int)]
    fig = plt.figure(figsize=(4, 4))
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*coords.T, c=colors, s=max(1.0, 2e4 / len(coords)), depthshade=True)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()

    def turn(i: int):
        ax.view_init(elev=20, azim=360 * i / frames)
        return ()

    anim = animation.FuncAnimation(fig, turn, frames=frames, interval=120)
    path = Path(path)
    anim.save(path, writer=animation.PillowWriter(fps=8))
    plt.close(fig)
    return path
