"""Inference: load a trained run and apply it (evaluation reports, per-file predictions, plots).

Independent of the training code: it needs only the checkpoint, :mod:`climate_seg.models`,
the mesh <-> grid transform and the input pipeline.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._io import atomic_write_bytes, load_checkpoint
from .config import TrainConfig, config_from_dict
from .data import DataFileError
from .models import build_model, data_mesh, sampling_for
from .pipeline import dataset_for, vertex_count
from .transform import GridDataset, MeshGrid

__all__ = ["LoadedModel", "load_model", "predict_files", "resolve_checkpoint"]


@dataclass
class LoadedModel:
    """A trained model with everything needed to feed it.

    Attributes
    ----------
    model : torch.nn.Module
        In eval mode, on ``device``.
    config : TrainConfig
        The run's configuration.
    grid : sphere_graphs sampling
        The model grid.
    mean, std : ndarray, shape (16,)
        Normalisation of the training split.
    device : torch.device
        Where the model runs (inputs are moved there, results come back to the CPU).
    """

    model: torch.nn.Module
    config: TrainConfig
    grid: Any
    mean: np.ndarray
    std: np.ndarray
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def transform_for(self, n_vertices: int) -> MeshGrid:
        """The mesh -> model grid transform for files of ``n_vertices`` vertices."""
        return MeshGrid.between(data_mesh(n_vertices), self.grid)

    def dataset(self, files: list[Path], skip_bad_files: bool = False) -> GridDataset:
        """Dataset of ``files`` on the model grid, every file read once up front.

        Raises
        ------
        ValueError
            Naming the first bad file (unless ``skip_bad_files``, which drops them) or when
            no good file remains; nothing has been written yet at that point.
        """
        n_vertices = vertex_count(files, skip_bad_files)
        ds = dataset_for(
            files, self.mean, self.std, self.config, self.transform_for(n_vertices), skip_bad_files
        )
        try:
            ds.base.validate()
        except DataFileError as exc:
            raise ValueError(
                f"{exc} Fix or remove the file, or pass --skip-bad-files "
                "(see `climate-seg data check`)."
            ) from None
        if len(ds) == 0:
            raise ValueError(
                "no readable data file; check the folder with `climate-seg data check`."
            )
        return ds

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, V_grid, 3)`` on the CPU of inputs ``(B, V_grid, 16)`` (or ``(B, T, V_grid, 16)``)."""
        return torch.softmax(self.model(x.to(self.device)).float(), -1).cpu()


def resolve_checkpoint(path: Path) -> Path:
    """A run folder means its ``best.pt`` (or ``last.pt``)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise ValueError(
            f"{path} holds no best.pt or last.pt; train with `climate-seg train --out {path}` first."
        )
    return path


def load_model(
    checkpoint: Path, sampling: str | None = None, device: torch.device | str = "cpu"
) -> LoadedModel:
    """Rebuild the model of a checkpoint on ``device``; ``ValueError`` when ``sampling`` contradicts it."""
    ckpt = load_checkpoint(resolve_checkpoint(checkpoint))
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{checkpoint} is not a climate-seg checkpoint (no model/config inside).")
    cfg = config_from_dict(ckpt["config"])
    if sampling is not None and sampling != cfg.sampling:
        raise ValueError(
            f"the checkpoint was trained on the {cfg.sampling} sampling, not {sampling}; "
            f"pass --sampling {cfg.sampling} or a checkpoint trained on {sampling}."
        )
    grid = sampling_for(cfg.sampling, cfg.grid_resolution)
    model = build_model(cfg, grid)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError:
        raise ValueError(
            f"{checkpoint} does not match the model of its configuration ({cfg.sampling}); "
            "it was written by another version or sampling."
        ) from None
    device = torch.device(device)
    model.to(device).eval()
    return LoadedModel(model, cfg, grid, np.asarray(ckpt["mean"]), np.asarray(ckpt["std"]), device)


def _targets(ds: GridDataset, config: TrainConfig, out_dir: Path) -> list[Path]:
    base = ds.base
    offset = (config.sequence_length - 1 + config.prediction_shift) if config.temporal else 0
    names = [Path(f).name for f in base.files]
    return [
        Path(out_dir) / names[int(s) + offset].replace(".npz", "-pred.npz") for s in base._starts
    ]


@torch.no_grad()
def predict_files(
    loaded: LoadedModel,
    files: list[Path],
    out_dir: Path,
    overwrite: bool = False,
    skip_bad_files: bool = False,
) -> list[Path]:
    """Write ``<name>-pred.npz`` per input frame: ``probabilities (3, V)`` float16 and ``labels (V,)`` int8 on the mesh.

    Also stores the grid predictions (``grid_labels``) when the model grid is not the mesh.
    Every file is read before anything is written; each output is written atomically.

    Raises
    ------
    ValueError
        A bad input file (unless ``skip_bad_files``), or existing predictions without
        ``overwrite``.
    """
    ds = loaded.dataset(files, skip_bad_files)
    targets = _targets(ds, loaded.config, out_dir)
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise ValueError(
            f"{len(existing)} prediction file(s) already exist in {out_dir} (e.g. {existing[0].name}); "
            "pass --overwrite to replace them or choose another --out."
        )
    transform = ds.transform
    written = []
    for i, target in enumerate(targets):
        x, _, _ = ds[i]
        probs = loaded.probabilities(x[None])[0]
        mesh_probs = transform.to_mesh(probs)
        arrays: dict[str, np.ndarray] = {
            "probabilities": mesh_probs.T.numpy().astype(np.float16),
            "labels": mesh_probs.argmax(-1).numpy().astype(np.int8),
        }
        if not transform.identity:
            arrays["grid_labels"] = probs.argmax(-1).numpy().astype(np.int8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        atomic_write_bytes(target, buffer.getvalue())
        written.append(target)
    return written
