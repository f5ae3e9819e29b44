"""Sampling-aware pooling and unpooling layers for spherical CNNs (PyTorch)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
