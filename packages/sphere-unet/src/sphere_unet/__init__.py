"""Spherical U-Nets, temporal variants and whole-sphere classifiers built from Chebyshev graph convolutions.

All models take ``(B, V, C)`` tensors (temporal ones ``(B, T, V, C)``) and build
their graphs, Laplacians and pooling maps once from a ``sphere_graphs`` sampling
(:func:`sphere_graphs.graph_hierarchy`, :class:`sphere_pool.VertexPool`).
"""

from ._classifier import SphericalClassifier
from ._layers import ChebBlock
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
    "SphericalClassifier",
    "SphericalUNet",
    "__version__",
    "artc_sampling",
    "deepsphere_artc",
    "deepsphere_artc_temporal",
    "default_channels",
]
