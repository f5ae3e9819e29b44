"""Segmentation of tropical cyclones and atmospheric rivers in CAM5 climate simulations with spherical CNNs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
