"""Sampling-aware pooling and unpooling layers for spherical CNNs (PyTorch).

All layers take and return tensors of layout ``(batch, vertices, channels)``.
Start with :func:`for_sampling`, which returns a ``(pool, unpool)`` pair for a
sphere-graphs sampling.
"""

from ._equiangular import EquiangularPool, EquiangularUnpool
from ._factory import for_sampling
from ._functional import (
    decimate,
    pool_avg,
    pool_max,
    unpool_fill,
    unpool_interpolate,
    unpool_max,
    unpool_nearest,
)
from ._generic import POOL_MODES, UNPOOL_MODES, Pool, Unpool
from ._healpix import HealpixPool, HealpixUnpool
from ._icosahedral import IcosahedralPool, IcosahedralUnpool
from ._maps import PoolingMaps, maps_from_coarsening
from ._vertex_major import VertexPool, gather_rows, sparse_rows

__version__ = "0.2.0"

__all__ = [
    "POOL_MODES",
    "UNPOOL_MODES",
    "EquiangularPool",
    "EquiangularUnpool",
    "HealpixPool",
    "HealpixUnpool",
    "IcosahedralPool",
    "IcosahedralUnpool",
    "Pool",
    "PoolingMaps",
    "Unpool",
    "VertexPool",
    "__version__",
    "decimate",
    "for_sampling",
    "gather_rows",
    "maps_from_coarsening",
    "pool_avg",
    "pool_max",
    "sparse_rows",
    "unpool_fill",
    "unpool_interpolate",
    "unpool_max",
    "unpool_nearest",
]
