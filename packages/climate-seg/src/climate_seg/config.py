"""Training configuration: one dataclass, loaded from YAML or TOML, overridden by CLI flags.

The effective configuration of every run is saved as ``config.yaml`` in its run folder,
so that ``--resume`` and ``evaluate`` can rebuild the same model.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SAMPLINGS", "TrainConfig", "load_config", "parse_class_weights", "save_config"]

#: Samplings the model can run on (the data itself lives on the icosahedral level-5 mesh).
SAMPLINGS = ("icosahedral", "healpix", "equiangular")

#: Default resolution per sampling: icosahedral level, HEALPix nside, equiangular nlat.
DEFAULT_RESOLUTION = {"icosahedral": 5, "healpix": 32, "equiangular": 64}


@dataclass
class TrainConfig:
    """Every setting of a training run.

    Attributes
    ----------
    data : str or None
        Folder of ``data-*-mesh.npz`` files.
    out : str
        Run folder (checkpoints, ``metrics.jsonl``, ``config.yaml``).
    sampling : str
        Grid the model runs on: ``icosahedral``, ``healpix`` or ``equiangular``.
    resolution : int or None
        Icosahedral level, HEALPix nside or equiangular number of latitudes
        (None: the default of the sampling, see ``DEFAULT_RESOLUTION``).
    preset : str
        ``small`` (fast CPU runs) or ``deepsphere`` (the published 13M-parameter model).
    width_scale : float
        Multiplies every layer width of the preset.
    kernel_size : int
        Chebyshev polynomial order of the graph convolutions.
    depth : int or None
        Poolings of the ``small`` U-Net (None: 3, or fewer when the grid allows fewer).
    neighbours : int
        k of the k-nearest-neighbour graphs of the ``small`` U-Net (8 by default).
    epochs, batch_size, lr, weight_decay : training loop settings.
    warmup_epochs : int
        Linear learning-rate warm-up length (epochs).
    scheduler : str
        ``plateau`` (ReduceLROnPlateau on validation mAP, mode="max") or ``cosine``.
    patience : int
        Early stopping patience in epochs on validation mAP (0 disables it).
    class_weights : str
        ``none``, ``balanced`` or three comma-separated floats ``w0,w1,w2``.
    temporal : str or None
        None, ``stack`` or ``lstm``.
    sequence_length, prediction_shift : int
        Frames per temporal sample and how many steps ahead the labels are.
    skip_bad_files : bool
        Skip unreadable or malformed files instead of failing.
    seed : int
        Seed of everything random (split, shuffling, initialisation).
    gpu : list of int or None
        CUDA device ids; None for CPU.
    nproc : int
        CPU processes (gloo backend) when ``gpu`` is None.
    max_files : int or None
        Use at most this many files (quick experiments).
    checkpoint_every : int
        Also save the ``last`` checkpoint every this many iterations (0: only per epoch).
    num_workers : int
        DataLoader worker processes.
    """

    data: str | None = None
    out: str = "runs/climate-seg"
    sampling: str = "icosahedral"
    resolution: int | None = None
    preset: str = "small"
    width_scale: float = 1.0
    kernel_size: int = 3
    depth: int | None = None
    neighbours: int = 8
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 1
    scheduler: str = "plateau"
    patience: int = 10
    class_weights: str = "none"
    temporal: str | None = None
    sequence_length: int = 1
    prediction_shift: int = 0
    skip_bad_files: bool = False
    seed: int = 0
    gpu: list[int] | None = None
    nproc: int = 1
    max_files: int | None = None
    checkpoint_every: int = 0
    num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        """Check values; raise ``ValueError`` naming the bad setting and the fix."""
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"unknown sampling {self.sampling!r}; choose one of {', '.join(SAMPLINGS)}.")
        if self.preset not in ("small", "deepsphere"):
            raise ValueError(f"unknown preset {self.preset!r}; choose small or deepsphere.")
        if self.scheduler not in ("plateau", "cosine"):
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose plateau or cosine.")
        if self.temporal not in (None, "stack", "lstm"):
            raise ValueError(f"unknown temporal mode {self.temporal!r}; choose stack or lstm.")
        for name in ("epochs", "batch_size", "nproc", "kernel_size", "sequence_length", "neighbours"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(self, name)}.")
        if self.depth is not None and int(self.depth) < 1:
            raise ValueError(f"--depth must be at least 1 (or unset for the preset's); got {self.depth}.")
        if self.width_scale <= 0 or self.lr <= 0:
            raise ValueError("--width-scale and --lr must be positive.")
        if self.temporal is not None and self.sequence_length < 2:
            raise ValueError("--temporal needs --sequence-length of at least 2.")
        parse_class_weights(self.class_weights)
        return self

    @property
    def grid_resolution(self) -> int:
        """The resolution actually used (explicit or the sampling's default)."""
        return int(self.resolution or DEFAULT_RESOLUTION[self.sampling])

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (YAML/JSON serialisable)."""
        return asdict(self)


def parse_class_weights(spec: str) -> str | list[float]:
    """Parse ``--class-weights``: ``"none"``, ``"balanced"`` or ``"w0,w1,w2"``.

    Returns
    -------
    str or list of float
        ``"none"``, ``"balanced"`` or the three weights.
    """
    spec = str(spec).strip().lower()
    if spec in ("none", "balanced"):
        return spec
    try:
        weights = [float(w) for w in spec.split(",")]
    except ValueError:
        weights = []
    if len(weights) != 3 or any(w < 0 for w in weights):
        raise ValueError(
            f"--class-weights {spec!r} is not understood; use none, balanced or three "
            "non-negative numbers such as 1,50,5."
        )
    return weights


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist; pass an existing YAML or TOML file.")
    text = path.read_text()
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - python 3.10
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except Exception as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
    else:
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a mapping of settings.")
    return raw.get("train", raw)


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML/TOML file and overrides.

    Parameters
    ----------
    path : str or Path, optional
        YAML (``.yaml``/``.yml``) or TOML (``.toml``) file; keys are the field names
        (dashes or underscores), optionally under a ``train`` table.
    **overrides
        Values that win over the file (CLI flags); None means "not given".

    Returns
    -------
    TrainConfig
    """
    names = {f.name for f in fields(TrainConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        for key, value in _read_file(Path(path)).items():
            key = str(key).replace("-", "_")
            if key not in names:
                raise ValueError(f"unknown setting {key!r} in {path}; valid keys: {', '.join(sorted(names))}.")
            values[key] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values.get("gpu"), int):
        values["gpu"] = [values["gpu"]]
    if isinstance(values.get("class_weights"), list):
        values["class_weights"] = ",".join(str(w) for w in values["class_weights"])
    return dataclasses.replace(TrainConfig(), **values).validate()


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write the configuration as YAML (atomically)."""
    from .training.checkpoint import atomic_write_bytes

    atomic_write_bytes(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False).encode())


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a configuration saved by :func:`save_config` (unknown keys ignored)."""
    names = {f.name for f in fields(TrainConfig)}
    return dataclasses.replace(TrainConfig(), **{k: v for k, v in values.items() if k in names})
