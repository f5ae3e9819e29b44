"""Spherical U-Nets, temporal variants and whole-sphere classifiers built from Chebyshev graph convolutions."""

__version__ = "0.1.0"

__all__ = ["__version__"]
