"""The models: samplings of the model grid, the data mesh, and the U-Nets of the presets.

Everything that builds a network lives here; training, evaluation, prediction and the
``info`` command call :func:`build_model`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sphere_graphs as sg
import sphere_unet as su
import torch

from .config import TrainConfig
from .data import N_CHANNELS, N_CLASSES

__all__ = [
    "SMALL_DEPTH",
    "SMALL_WIDTH",
    "build_model",
    "data_mesh",
    "parameter_count",
    "sampling_for",
]

#: Base width of the ``small`` preset (multiplied by ``width_scale``) and its default depth.
#: The depth is ``TrainConfig.auto_depth``'s default: 2 generalises best on the synthetic
#: benchmark (README, "Results"); runs saved before 0.2.0 used 3 and keep it.
SMALL_WIDTH, SMALL_DEPTH = 16, TrainConfig().auto_depth


def sampling_for(kind: str, resolution: int) -> sg.Sampling:
    """The ``sphere_graphs`` sampling the model runs on.

    Parameters
    ----------
    kind : {"icosahedral", "healpix", "equiangular"}
    resolution : int
        Icosahedral level, HEALPix nside, or equiangular nlat (with ``nlon = 2 * nlat``).

    Returns
    -------
    sphere_graphs sampling
        With ``.coords`` of shape ``(V, 3)`` and ``.n_vertices``.
    """
    if kind == "icosahedral":
        return sg.icosahedral(resolution)
    if kind == "healpix":
        return sg.healpix(resolution)
    if kind == "equiangular":
        return sg.equiangular(resolution, 2 * resolution)
    raise ValueError(f"unknown sampling {kind!r}; use icosahedral, healpix or equiangular.")


def data_mesh(n_vertices: int = 10242) -> sg.Sampling:
    """The icosahedral mesh the files are stored on (level from the vertex count ``10 * 4**l + 2``)."""
    level = int(round(np.log(max(n_vertices - 2, 1) / 10) / np.log(4)))  # noqa: RUF046 - numpy < 2 returns a float
    if 10 * 4**level + 2 != n_vertices:
        raise ValueError(f"{n_vertices} vertices is not an icosahedral mesh (10 * 4**l + 2).")
    return sampling_for("icosahedral", level)


def build_model(config: TrainConfig, sampling: sg.Sampling) -> torch.nn.Module:
    """The U-Net for ``config`` on ``sampling``: ``(B, V, 16)`` (temporal ``(B, T, V, 16)``) to logits ``(B, V, 3)``.

    ``preset="deepsphere"`` is ``sphere_unet.deepsphere_artc`` (5 poolings);
    ``preset="small"`` is a ``SphericalUNet`` (or its temporal variants) of ``config.depth``
    poolings (default 2, at most what the grid allows), base width ``16 * width_scale`` and
    k-NN graphs of ``config.neighbours`` neighbours.
    Initialisation is seeded with ``config.seed``.

    Parameters
    ----------
    config : TrainConfig
    sampling : sphere_graphs sampling
        The model grid (:func:`sampling_for`).

    Returns
    -------
    torch.nn.Module
    """
    torch.manual_seed(config.seed)
    return _build(config, sampling)


def _build(config: TrainConfig, sampling: sg.Sampling) -> torch.nn.Module:
    T = config.sequence_length
    if config.preset == "deepsphere":
        if config.temporal:
            return su.deepsphere_artc_temporal(
                sampling, n_frames=T, mode=config.temporal, kernel_size=config.chebyshev_order
            )
        return su.deepsphere_artc(sampling, kernel_size=config.chebyshev_order)
    limit = sg.max_depth(sampling)
    depth = config.auto_depth if config.depth is None else config.depth
    if config.depth is not None and depth > limit:
        raise ValueError(
            f"depth: {depth} poolings need a finer grid; {config.sampling} resolution "
            f"{config.grid_resolution} allows at most {limit}."
        )
    depth = max(1, min(depth, limit))
    if (
        config.depth is None
    ):  # the default depth also stops where a coarse level has no more than k vertices
        coarse = sampling
        for level in range(depth):
            coarse = sg.coarsen(coarse).coarse
            if coarse.n_vertices <= config.neighbours:
                depth = max(1, level)
                break
    kw: dict[str, Any] = dict(
        width=max(2, round(SMALL_WIDTH * config.width_scale)), kernel_size=config.chebyshev_order
    )
    if config.neighbours != 8:
        kw["k"] = int(config.neighbours)
    if config.temporal == "stack":
        return su.FrameStackUNet(sampling, N_CHANNELS, N_CLASSES, depth, n_frames=T, **kw)
    if config.temporal == "lstm":
        return su.ConvLSTMUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)
    return su.SphericalUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)


def parameter_count(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
