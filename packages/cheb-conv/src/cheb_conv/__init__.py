"""Chebyshev graph convolution (ChebNet) layers for PyTorch, on any graph."""

__version__ = "0.1.0"

__all__ = ["__version__"]
