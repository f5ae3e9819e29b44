"""Sampling graphs for spherical CNNs: HEALPix, icosahedral, equiangular and more; k-NN and mesh graphs, Laplacians, pooling hierarchies, resampling."""

__version__ = "0.2.0"

from ._equivariance import (
    EquivarianceProbe,
    equivariance_curve,
    equivariance_error,
    real_spherical_harmonics,
)
from ._graph import SphereGraph
from ._grids import cubed_sphere, equiangular, gauss_legendre, latlon_grid, points
from ._healpix import (
    MAX_NSIDE,
    healpix,
    neighbours,
    nest2ring,
    nside2npix,
    pix2vec,
    pix2xyf,
    ring2nest,
    xyf2pix,
)
from ._healpy_compat import ang2pix, npix2nside, vec2pix
from ._hierarchy import coarsen, healpix_closure, hierarchy, max_depth, require_closed
from ._hierarchy_types import Coarsening
from ._icosahedral import icosahedral, icosahedral_n_vertices
from ._knn import TIE_RTOL, knn_graph, radius_graph
from ._laplacian import (
    LAPLACIAN_KINDS,
    estimate_lmax,
    laplacian,
    laplacian_bound,
    rescale_laplacian,
    rescaled_laplacian,
)
from ._mesh import mesh_graph
from ._multiscale import GraphHierarchy, GraphLevel, graph_hierarchy
from ._resample import resample, resampling_matrix
from ._sampling import (
    CubedSphereSampling,
    EquiangularSampling,
    GaussLegendreSampling,
    HealpixSampling,
    IcosahedralSampling,
    PointSampling,
    Sampling,
    lonlat_to_xyz,
    xyz_to_lonlat,
)
from ._widths import HEALPIX_KERNEL_WIDTHS, default_kernel_width, healpix_kernel_width
from .testing import random_rotation

__all__ = [
    "HEALPIX_KERNEL_WIDTHS",
    "LAPLACIAN_KINDS",
    "MAX_NSIDE",
    "TIE_RTOL",
    "Coarsening",
    "CubedSphereSampling",
    "EquiangularSampling",
    "EquivarianceProbe",
    "GaussLegendreSampling",
    "GraphHierarchy",
    "GraphLevel",
    "HealpixSampling",
    "IcosahedralSampling",
    "PointSampling",
    "Sampling",
    "SphereGraph",
    "__version__",
    "ang2pix",
    "coarsen",
    "cubed_sphere",
    "default_kernel_width",
    "equiangular",
    "equivariance_curve",
    "equivariance_error",
    "estimate_lmax",
    "gauss_legendre",
    "graph_hierarchy",
    "healpix",
    "healpix_closure",
    "healpix_kernel_width",
    "hierarchy",
    "icosahedral",
    "icosahedral_n_vertices",
    "knn_graph",
    "laplacian",
    "laplacian_bound",
    "latlon_grid",
    "lonlat_to_xyz",
    "max_depth",
    "mesh_graph",
    "neighbours",
    "nest2ring",
    "npix2nside",
    "nside2npix",
    "pix2vec",
    "pix2xyf",
    "points",
    "radius_graph",
    "random_rotation",
    "real_spherical_harmonics",
    "require_closed",
    "resample",
    "resampling_matrix",
    "rescale_laplacian",
    "rescaled_laplacian",
    "ring2nest",
    "vec2pix",
    "xyf2pix",
    "xyz_to_lonlat",
]
