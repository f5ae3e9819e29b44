"""Default Gaussian kernel widths ``sigma`` for k-nearest-neighbour graphs.

Weights are ``w_ij = exp(-ln(2) * d_ij**2 / sigma**2)`` with ``d_ij`` the chord
(Euclidean) distance between unit vectors, so ``sigma`` is the distance at which
the weight drops to one half.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np

from ._tuned_widths import TABLE_VERTICES, TUNED_WIDTH_RATIOS

if TYPE_CHECKING:
    from ._sampling import HealpixSampling, Sampling

__all__ = ["HEALPIX_KERNEL_WIDTHS", "default_kernel_width", "healpix_kernel_width"]

# Published widths for HEALPix k-NN graphs, keys k -> nside -> sigma. Numbers copied
# from shared/reference/healpix_kernel_widths.json (the widths of the DeepSphere graph
# code, 2019 on, tuned for rotation equivariance; DeepSphere, ICLR 2020). The package
# never reads that file at run time.
HEALPIX_KERNEL_WIDTHS: dict[int, dict[int, float]] = {
    8: {32: 0.025, 64: 0.01228, 128: 0.00614, 256: 0.00307, 512: 0.00154, 1024: 0.00077},
    20: {32: 0.03185, 64: 0.01564, 128: 0.00782, 256: 0.00391, 512: 0.00196, 1024: 0.00098},
    40: {32: 0.042432, 64: 0.021354, 128: 0.010595, 256: 0.005551},
    60: {32: 0.05172, 64: 0.025403, 128: 0.012695, 256: 0.006351},
}


def healpix_kernel_width(nside: int, k: int) -> float | None:
    """Published width for a HEALPix k-NN graph, or None when ``k`` is not tabulated.

    For ``nside`` in the table the published value is returned. Smaller ``nside``
    extrapolate from the smallest tabulated one by doubling ``sigma`` per halving of
    ``nside`` (as the published code did); larger ``nside`` halve ``sigma`` per
    doubling from the largest tabulated one. Other ``nside`` between tabulated ones
    (not powers of two) scale ``sigma`` as ``1 / nside`` from the nearest one.

    Parameters
    ----------
    nside : int
    k : int

    Returns
    -------
    float or None
    """
    table = HEALPIX_KERNEL_WIDTHS.get(int(k))
    if table is None:
        return None
    nside = int(nside)
    if nside in table:
        return table[nside]
    ref = min(table, key=lambda n: abs(math.log(n / nside)))
    return table[ref] * ref / nside


# Gauss-Legendre grids reuse the equiangular ratios (same row-major lat-lon layout).
_TUNED_KIND_ALIASES = {"gauss_legendre": "equiangular"}


def tuned_kernel_width(sampling: Sampling, k: int) -> float | None:
    """Tuned width ``sigma`` from the generated table ``_tuned_widths.py``, or None.

    Parameters
    ----------
    sampling : Sampling
        Needs ``.kind`` and ``.n_vertices`` (``V``).
    k : int
        Neighbours per vertex.

    Returns
    -------
    float or None
        ``ratio * sqrt(4 pi / V)`` with the ratio of the tabulated resolution of the
        same kind and ``k`` whose vertex count is nearest to ``V`` (log scale); None
        for kinds or ``k`` without a table entry.
    """
    kind = getattr(sampling, "kind", "")
    kind = _TUNED_KIND_ALIASES.get(kind, kind)
    per_k = TUNED_WIDTH_RATIOS.get(kind, {}).get(int(k))
    n = int(sampling.n_vertices)
    if not per_k or n <= 0:
        return None
    sizes = TABLE_VERTICES[kind]
    best = min(per_k, key=lambda res: abs(math.log(sizes[res] / n)))
    return float(per_k[best] * math.sqrt(4 * math.pi / n))


def default_kernel_width(
    sampling: Sampling, k: int, kth_distances: np.ndarray | None = None
) -> float:
    """Default ``sigma`` of :func:`sphere_graphs.knn_graph`.

    Rules, in order:

    1. Full-sphere or partial HEALPix with ``k`` in {8, 20, 40, 60}: the published
       width (:func:`healpix_kernel_width`).
    2. A width tuned for rotation equivariance for this sampling kind and ``k``,
       from the generated table ``sphere_graphs._tuned_widths`` (see
       ``tools/scripts/tune_kernel_widths.py``), scaled to the resolution.
    3. Otherwise the mean chord distance of every vertex to its ``k``-th nearest
       neighbour (``kth_distances``), so that the farthest kept neighbour gets a
       weight of about one half.

    Parameters
    ----------
    sampling : Sampling
    k : int
    kth_distances : ndarray, shape (V,), optional
        Distance of every vertex to its k-th neighbour; required by rule 3.

    Returns
    -------
    float
    """
    if getattr(sampling, "kind", None) == "healpix":
        nside = cast("HealpixSampling", sampling).nside  # kind 'healpix'
        width = healpix_kernel_width(nside, k)
        if width is not None:
            return width
    width = tuned_kernel_width(sampling, k)
    if width is not None:
        return width
    if kth_distances is None:
        raise ValueError("no tabulated kernel width; pass kth_distances or sigma explicitly.")
    width = float(np.mean(kth_distances))
    if not width > 0:
        raise ValueError("the k-th neighbour distances are all zero; pass sigma explicitly.")
    return width
