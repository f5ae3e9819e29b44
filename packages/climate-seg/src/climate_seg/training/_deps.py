"""Adapters to the sibling packages (sampling, model, data, metrics).

Every function prefers the public API of ``sphere_graphs``, ``sphere_unet``,
``climate_seg.data`` and ``climate_seg.metrics``, and falls back to the minimal
stand-ins of :mod:`._fallback` while a name is not exported yet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import TrainConfig
from . import _fallback

__all__ = ["build_model", "data_mesh", "make_accumulator", "open_dataset", "resampling", "sampling_for"]

N_CHANNELS, N_CLASSES = 16, 3
FILE_RE = re.compile(r"^data-\d{4}-\d{2}-\d{2}-\d{2}-\d+-mesh\.npz$")


def _get(module: str, name: str) -> Any:
    try:
        mod = __import__(module, fromlist=[name])
    except ImportError:
        return None
    return getattr(mod, name, None)


def sampling_for(kind: str, resolution: int) -> Any:
    """The sampling the model runs on (``sphere_graphs`` object, or coords for the fallback)."""
    makers = {"icosahedral": "icosahedral", "healpix": "healpix", "equiangular": "equiangular"}
    fn = _get("sphere_graphs", makers[kind])
    if fn is not None:
        return fn(resolution, 2 * resolution) if kind == "equiangular" else fn(resolution)
    if kind != "icosahedral":
        raise ValueError(f"sampling {kind!r} needs sphere_graphs.{makers[kind]}, which is not available yet; use --sampling icosahedral.")
    return _Points(_fallback.icosphere(resolution), kind="icosahedral")


class _Points:
    def __init__(self, coords: np.ndarray, kind: str) -> None:
        self.coords, self.kind, self.n_vertices = coords, kind, len(coords)
        x, y, z = coords.T
        self.lon, self.lat = np.mod(np.arctan2(y, x), 2 * np.pi), np.arctan2(z, np.hypot(x, y))


def data_mesh(n_vertices: int = 10242) -> Any:
    """The icosahedral mesh the files are stored on (level from the vertex count)."""
    level = int(round(np.log((n_vertices - 2) / 10) / np.log(4)))
    if 10 * 4**level + 2 != n_vertices:
        raise ValueError(f"{n_vertices} vertices is not an icosahedral mesh (10 * 4**l + 2).")
    return sampling_for("icosahedral", level)


def resampling(source: Any, target: Any, method: str = "nearest") -> torch.Tensor | None:
    """Sparse ``(V_target, V_source)`` resampling operator, or None when identical."""
    if source.n_vertices == target.n_vertices and np.allclose(source.coords, target.coords):
        return None
    fn = _get("sphere_graphs", "resampling_matrix")
    if fn is not None:
        mat = fn(source, target, method=method).tocoo()
    else:
        import scipy.sparse as sp
        from scipy.spatial import cKDTree

        idx = cKDTree(source.coords).query(target.coords)[1]
        mat = sp.coo_matrix((np.ones(len(idx)), (np.arange(len(idx)), idx)), shape=(target.n_vertices, source.n_vertices))
    ind = torch.tensor(np.vstack([mat.row, mat.col]), dtype=torch.long)
    return torch.sparse_coo_tensor(ind, torch.tensor(mat.data, dtype=torch.float32), mat.shape, check_invariants=False).coalesce()


#: Base width of the ``small`` preset (multiplied by ``width_scale``) and its depth.
SMALL_WIDTH, SMALL_DEPTH = 16, 3


def max_depth(sampling: Any) -> int:
    """Poolings a sampling allows (icosahedral level, log2 nside, log2 of nlat's power of two)."""
    kind = getattr(sampling, "kind", "")
    if kind == "icosahedral":
        return int(getattr(sampling, "level", 0))
    size = int(getattr(sampling, "nside", 0) if kind == "healpix" else getattr(sampling, "nlat", 0))
    depth = 0
    while size % 2 == 0 and size > 1:
        size //= 2
        depth += 1
    return depth


def build_model(config: TrainConfig, sampling: Any) -> torch.nn.Module:
    """The U-Net for ``config`` on ``sampling``: ``(B, V, 16)`` (temporal ``(B, T, V, 16)``) to logits ``(B, V, 3)``.

    ``preset="deepsphere"`` is ``sphere_unet.deepsphere_artc`` (5 poolings, widths scaled
    by ``width_scale`` only when 1.0 is not requested); ``preset="small"`` is a
    ``SphericalUNet`` of depth up to 3 and base width ``16 * width_scale``.
    """
    torch.manual_seed(config.seed)
    unet = _get("sphere_unet", "SphericalUNet")
    if unet is None or isinstance(sampling, _Points):  # siblings not ready: plain graph network
        width = max(4, int(SMALL_WIDTH * config.width_scale))
        in_ch = N_CHANNELS * (config.sequence_length if config.temporal == "stack" else 1)
        return _fallback.FallbackNet(sampling.coords, in_ch, N_CLASSES, width=width, kernel_size=config.kernel_size)
    import sphere_unet as su

    T = config.sequence_length
    if config.preset == "deepsphere":
        if config.temporal:
            return su.deepsphere_artc_temporal(sampling, n_frames=T, mode=config.temporal, kernel_size=config.kernel_size)
        return su.deepsphere_artc(sampling, kernel_size=config.kernel_size)
    model = _small_unet(config, sampling)
    if _smoke_ok(model, config, sampling.n_vertices):
        return model
    width = max(4, int(SMALL_WIDTH * config.width_scale))
    return _fallback.FallbackNet(sampling.coords, N_CHANNELS * (T if config.temporal == "stack" else 1), N_CLASSES,
                                 width=width, kernel_size=config.kernel_size)


def _smoke_ok(model: torch.nn.Module, config: TrainConfig, n_vertices: int) -> bool:
    """Forward and backward on two zero samples; False (with a warning) when the U-Net fails."""
    import warnings

    shape = (2, config.sequence_length, n_vertices, N_CHANNELS) if config.temporal else (2, n_vertices, N_CHANNELS)
    try:
        model(torch.zeros(shape)).sum().backward()
    except RuntimeError as exc:
        warnings.warn(f"sphere_unet model failed a forward/backward check ({exc}); using the fallback graph network.",
                      RuntimeWarning, stacklevel=3)
        return False
    finally:
        model.zero_grad(set_to_none=True)
    return True


def _small_unet(config: TrainConfig, sampling: Any) -> torch.nn.Module:
    import sphere_unet as su

    T = config.sequence_length
    depth = max(1, min(SMALL_DEPTH, max_depth(sampling)))
    kw = dict(width=max(2, int(round(SMALL_WIDTH * config.width_scale))), kernel_size=config.kernel_size)
    if config.temporal == "stack":
        return su.FrameStackUNet(sampling, N_CHANNELS, N_CLASSES, depth, n_frames=T, **kw)
    if config.temporal == "lstm":
        return su.ConvLSTMUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)
    return su.SphericalUNet(sampling, N_CHANNELS, N_CLASSES, depth, **kw)


class _Metrics:
    """``climate_seg.metrics.SegmentationMetrics`` with the lower-case keys used in the logs."""

    def __init__(self, cls: Any) -> None:
        self.m = cls()

    def update(self, probs: torch.Tensor, target: torch.Tensor) -> None:
        self.m.update(probs.detach().float().cpu(), target.detach().cpu())

    def state(self) -> torch.Tensor:
        return self.m.state()

    def load(self, flat: torch.Tensor) -> None:
        self.m.load(flat)

    def compute(self) -> dict[str, float]:
        r = self.m.compute()
        out = {"ap_tc": r["AP_TC"], "ap_ar": r["AP_AR"], "map": r["mAP"], "mean_accuracy": r["mean_accuracy"],
               "accuracy": r["pixel_accuracy"], "mean_iou": r["mean_IoU"]}
        for new, old in (("bg", "background"), ("tc", "TC"), ("ar", "AR")):
            out[f"recall_{new}"], out[f"iou_{new}"] = r[f"recall_{old}"], r[f"IoU_{old}"]
        return {k: float(v) for k, v in out.items()}


def make_accumulator() -> Any:
    """Streaming metric accumulator with ``update(probs, target)``, ``state``/``load`` and ``compute()``."""
    cls = _get("climate_seg.metrics", "SegmentationMetrics")
    return _Metrics(cls) if cls is not None else _fallback.ApAccumulator(N_CLASSES)


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
    files = sorted(p for p in folder.iterdir() if FILE_RE.match(p.name))
    if not files:
        raise ValueError(
            f"data folder {folder} holds no data-YYYY-MM-DD-HH-R-mesh.npz files; run `climate-seg data synth --out {folder}` "
            "or unzip climate_sphere_l5.zip there."
        )
    return files


class NpzDataset(Dataset):
    """Files → ``(x (V, 16) float32 normalised, y (V,) int64)`` (fallback reader)."""

    def __init__(self, files: list[Path], mean: np.ndarray, std: np.ndarray) -> None:
        self.files, self.mean, self.std = list(files), mean.astype(np.float32), std.astype(np.float32)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        with np.load(self.files[i]) as f:
            data, labels = f["data"], f["labels"]
        if data.shape[0] != N_CHANNELS:
            raise ValueError(f"{self.files[i].name} has {data.shape[0]} channels; CAM5 files have {N_CHANNELS}.")
        x = (data.T.astype(np.float32) - self.mean) / self.std
        return torch.from_numpy(x), torch.from_numpy(labels.argmax(0).astype(np.int64))


def open_dataset(*args: Any, **kwargs: Any) -> Any:  # placeholder kept for API symmetry
    raise NotImplementedError
