"""Spherical U-Nets, temporal variants and whole-sphere classifiers built from Chebyshev graph convolutions.

All models take ``(B, V, C)`` tensors (temporal ones ``(B, T, V, C)``) and build
their graphs and pooling maps once from a ``sphere_graphs`` sampling.
"""

from ._classifier import SphericalClassifier
from ._encoder import LevelStack
from ._layers import ChebBlock, GraphPool, resolve_order
from ._levels import Level, build_levels
from ._presets import (
    ARTC_DECODER,
    ARTC_ENCODER,
    artc_sampling,
    deepsphere_artc,
    deepsphere_artc_temporal,
)
from ._temporal import ConvLSTMUNet, FrameStackUNet, GraphConvLSTMCell
from ._unet import SphericalUNet, default_channels

__version__ = "0.2.0"

__all__ = [
    "ARTC_DECODER",
    "ARTC_ENCODER",
    "ChebBlock",
    "ConvLSTMUNet",
    "FrameStackUNet",
    "GraphConvLSTMCell",
    "GraphPool",
    "Level",
    "LevelStack",
    "SphericalClassifier",
    "SphericalUNet",
    "__version__",
    "artc_sampling",
    "build_levels",
    "deepsphere_artc",
    "deepsphere_artc_temporal",
    "default_channels",
    "resolve_order",
]
