"""Segmentation of tropical cyclones and atmospheric rivers in CAM5 climate simulations with spherical CNNs.

Command line: ``climate-seg`` (:mod:`climate_seg.cli`). Python: :class:`TrainConfig`,
:func:`load_config`, :func:`train` (see :mod:`climate_seg.training`).
"""

__version__ = "0.2.0"

from pathlib import Path

from .config import TrainConfig, load_config

__all__ = ["TrainConfig", "__version__", "load_config", "train"]


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Train (or resume) a run; see :func:`climate_seg.training.train`."""
    from .training import train as _train

    return _train(config, resume=resume)
