"""Load a trained run and apply it: evaluation reports and per-file predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import TrainConfig, config_from_dict
from .training import _deps
from .training.checkpoint import load_checkpoint
from .training.data_setup import GridDataset, base_dataset, files_of, split

__all__ = ["LoadedModel", "load_model", "predict_files"]


@dataclass
class LoadedModel:
    """A trained model with everything needed to feed it."""

    model: torch.nn.Module
    config: TrainConfig
    grid: Any
    mean: np.ndarray
    std: np.ndarray

    def datasets(self, files: list[Path]) -> tuple[GridDataset, torch.Tensor | None]:
        """Dataset on the model grid for ``files`` and the grid→mesh operator."""
        with np.load(files[0]) as z:
            shape = z["data"].shape
        if shape[0] != _deps.N_CHANNELS:
            raise ValueError(f"{files[0].name} has {shape[0]} channels; the model expects {_deps.N_CHANNELS}.")
        mesh = _deps.data_mesh(shape[1])
        cfg = self.config
        to_grid = _deps.resampling(mesh, self.grid, "linear" if cfg.sampling != "icosahedral" else "nearest")
        nearest = _deps.resampling(mesh, self.grid, "nearest")
        base = base_dataset(files, self.mean, self.std, cfg, mesh.n_vertices)
        return GridDataset(base, to_grid, nearest, False, cfg.skip_bad_files), _deps.resampling(self.grid, mesh, "nearest")


def resolve_checkpoint(path: Path) -> Path:
    """A run folder means its ``best.pt`` (or ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise ValueError(f"{path} holds no best.pt or last.pt; train with `climate-seg train --out {path}` first.")
    return path


def load_model(checkpoint: Path, sampling: str | None = None) -> LoadedModel:
    """Rebuild the model of a checkpoint; ``ValueError`` when ``sampling`` contradicts it."""
    ckpt = load_checkpoint(resolve_checkpoint(checkpoint))
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{checkpoint} is not a climate-seg checkpoint (no model/config inside).")
    cfg = config_from_dict(ckpt["config"])
    if sampling is not None and sampling != cfg.sampling:
        raise ValueError(f"the checkpoint was trained on the {cfg.sampling} sampling, not {sampling}; "
                         f"pass --sampling {cfg.sampling} or a checkpoint trained on {sampling}.")
    grid = _deps.sampling_for(cfg.sampling, cfg.grid_resolution)
    model = _deps.build_model(cfg, grid)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError:
        raise ValueError(f"{checkpoint} does not match the model of its configuration ({cfg.sampling}); "
                         "it was written by another version or sampling.") from None
    model.eval()
    return LoadedModel(model, cfg, grid, np.asarray(ckpt["mean"]), np.asarray(ckpt["std"]))


def select_files(data: Path, split_name: str, seed: int, contiguous: bool = False) -> list[Path]:
    """Files of ``data``: one part of the run's split (``train``/``val``/``test``) or ``all``."""
    files = files_of(data)
    if split_name == "all":
        return files
    parts = dict(zip(("train", "val", "test"), split(files, seed, contiguous=contiguous), strict=True))
    if split_name not in parts:
        raise ValueError(f"unknown split {split_name!r}; choose train, val, test or all.")
    return parts[split_name]


@torch.no_grad()
def predict_files(loaded: LoadedModel, files: list[Path], out_dir: Path, batch_size: int = 4) -> list[Path]:
    """Write ``<name>-pred.npz`` per input frame: ``probabilities (3, V)`` float16 and ``labels (V,)`` int8 on the mesh.

    Also stores the grid predictions (``grid_labels``) when the model grid is not the mesh.
    """
    ds, to_mesh = loaded.datasets(files)
    names = [Path(f).name for f in getattr(ds.base, "files", files)]
    starts = getattr(ds.base, "_starts", np.arange(len(ds)))
    offset = (loaded.config.sequence_length - 1 + loaded.config.prediction_shift) if loaded.config.temporal else 0
    written = []
    for i in range(len(ds)):
        x, _, _ = ds[i]
        probs = torch.softmax(loaded.model(x[None]).float(), -1)[0]
        grid_labels = probs.argmax(-1)
        mesh_probs = torch.sparse.mm(to_mesh, probs) if to_mesh is not None else probs
        target = Path(out_dir) / names[int(starts[i]) + offset].replace(".npz", "-pred.npz")
        arrays = {"probabilities": mesh_probs.T.numpy().astype(np.float16), "labels": mesh_probs.argmax(-1).numpy().astype(np.int8)}
        if to_mesh is not None:
            arrays["grid_labels"] = grid_labels.numpy().astype(np.int8)
        np.savez_compressed(target, **arrays)
        written.append(target)
    return written
