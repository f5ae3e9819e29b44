"""Sampling graphs for spherical CNNs: HEALPix, icosahedral, equiangular and more; k-NN and mesh graphs, Laplacians, pooling hierarchies, resampling."""

__version__ = "0.1.0"

__all__ = ["__version__"]
