"""Adapters to the sibling packages: samplings (``sphere_graphs``), models (``sphere_unet``),
metrics (``climate_seg.metrics``) and the data files (``climate_seg.data``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import sphere_graphs as sg
import sphere_unet as su
import torch

from ..config import TrainConfig
from ..data import N_CHANNELS, N_CLASSES
from ..data import list_files as _list_data_files
from ..metrics import SegmentationMetrics

__all__ = ["N_CHANNELS", "N_CLASSES", "build_model", "data_mesh", "list_files", "make_accumulator",
           "resampling", "sampling_for"]


def sampling_for(kind: str, resolution: int) -> Any:
    """The ``sphere_graphs`` sampling the model runs on.

    Parameters
    ----------
    kind : {"icosahedral", "healpix", "equiangular"}
    resolution : int
        Icosahedral level, HEALPix nside, or equiangular nlat (with ``nlon = 2 * nlat``).
    """
    if kind == "icosahedral":
        return sg.icosahedral(resolution)
    if kind == "healpix":
        return sg.healpix(resolution)
    if kind == "equiangular":
        return sg.equiangular(resolution, 2 * resolution)
    raise ValueError(f"unknown sampling {kind!r}; use icosahedral, healpix or equiangular.")


def data_mesh(n_vertices: int = 10242) -> Any:
    """The icosahedral mesh the files are stored on (level from the vertex count ``10 * 4**l + 2``)."""
    level = int(round(np.log(max(n_vertices - 2, 1) / 10) / np.log(4)))  # noqa: RUF046 - numpy < 2 returns a float
    if 10 * 4**level + 2 != n_vertices:
        raise ValueError(f"{n_vertices} vertices is not an icosahedral mesh (10 * 4**l + 2).")
    return sampling_for("icosahedral", level)


def resampling(source: Any, target: Any, method: str = "nearest") -> torch.Tensor | None:
    """Sparse COO ``(V_target, V_source)`` resampling operator, or None when the samplings coincide."""
    if source.n_vertices == target.n_vertices and np.allclose(source.coords, target.coords):
        return None
    mat = sg.resampling_matrix(source, target, method=method).tocoo()
    ind = torch.tensor(np.vstack([mat.row, mat.col]), dtype=torch.long)
    return torch.sparse_coo_tensor(ind, torch.tensor(mat.data, dtype=torch.float32), mat.shape,
                                   check_invariants=False).coalesce()


#: Base width of the ``small`` preset (multiplied by ``width_scale``) and its depth.
SMALL_WIDTH, SMALL_DEPTH = 16, 3


def build_model(config: TrainConfig, sampling: Any) -> torch.nn.Module:
    """The U-Net for ``config`` on ``sampling``: ``(B, V, 16)`` (temporal ``(B, T, V, 16)``) to logits ``(B, V, 3)``.

    ``preset="deepsphere"`` is ``sphere_unet.deepsphere_artc`` (5 poolings);
    ``preset="small"`` is a ``SphericalUNet`` (or its temporal variants) of depth
    ``config.depth`` (default: up to 3), base width ``16 * width_scale`` and k-NN graphs of
    ``config.neighbours`` neighbours. Initialisation is seeded with ``config.seed``.
    """
    torch.manual_seed(config.seed)
    T = config.sequence_length
    if config.preset == "deepsphere":
        if config.temporal:
            return su.deepsphere_artc_temporal(sampling, n_frames=T, mode=config.temporal, kernel_size=config.kernel_size)
        return su.deepsphere_artc(sampling, kernel_size=config.kernel_size)
    if config.depth is None:
        depth = max(1, min(SMALL_DEPTH, sg.max_depth(sampling)))
    elif int(config.depth) > sg.max_depth(sampling):
        raise ValueError(f"depth {config.depth} needs more poolings than this grid allows "
                         f"({sg.max_depth(sampling)}); use --depth {sg.max_depth(sampling)} or a finer grid.")
    else:
        depth = int(config.depth)
    kw = dict(width=max(2, round(SMALL_WIDTH * config.width_scale)), kernel_size=config.kernel_size)
    if config.neighbours != 8:
        kw["k"] = int(config.neighbours)
    if config.temporal == "stack":
        return su.FrameStackUNet(sampling, N_CHANNELS, N_CLASSES, depth, n_frames=T, **kw)
    if config.temporal == "lstm":
        return su.ConvLSTMUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)
    return su.SphericalUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)


class _Metrics:
    """``SegmentationMetrics`` with the lower-case keys used in the logs and reports."""

    def __init__(self) -> None:
        self.m = SegmentationMetrics()

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        """Add ``probs (N, 3)`` and ``target (N,)``."""
        self.m.update(probs.detach().float().cpu(), target.detach().cpu())

    def state(self) -> torch.Tensor:
        return self.m.state()

    def load(self, flat: torch.Tensor) -> None:
        self.m.load(flat)

    def compute(self) -> dict[str, float]:
        """AP TC/AR, mAP, mean accuracy, pixel accuracy, recalls, IoUs and ``n_vertices`` (pixels counted)."""
        r = self.m.compute()
        out = {"ap_tc": r["AP_TC"], "ap_ar": r["AP_AR"], "map": r["mAP"], "mean_accuracy": r["mean_accuracy"],
               "accuracy": r["pixel_accuracy"], "mean_iou": r["mean_IoU"]}
        for new, old in (("bg", "background"), ("tc", "TC"), ("ar", "AR")):
            out[f"recall_{new}"], out[f"iou_{new}"] = r[f"recall_{old}"], r[f"IoU_{old}"]
        result = {k: float(v) for k, v in out.items()}
        result["n_vertices"] = int(r["n_vertices"])
        return result


def make_accumulator() -> _Metrics:
    """Streaming metric accumulator with ``update(probs, target)``, ``state``/``load`` and ``compute()``."""
    return _Metrics()


def list_files(folder: str | Path) -> list[Path]:
    """The ``data-*-mesh.npz`` files of ``folder``, sorted; ``ValueError`` with the fix if none."""
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(
            f"data folder {folder} does not exist; create a synthetic set with `climate-seg data synth --out {folder}` "
            "or unzip the real archive climate_sphere_l5.zip (folder data_5_all/)."
        )
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; pass the folder holding the data-*-mesh.npz files.")
    try:
        return _list_data_files(folder, strict=False)
    except ValueError:
        raise ValueError(
            f"data folder {folder} holds no data-YYYY-MM-DD-HH-R-mesh.npz files; run `climate-seg data synth --out {folder}` "
            "or unzip climate_sphere_l5.zip there."
        ) from None
