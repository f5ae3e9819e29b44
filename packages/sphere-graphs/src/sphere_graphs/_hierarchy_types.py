"""The index maps between two consecutive resolutions of a sampling."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ._sampling import Sampling

__all__ = ["Coarsening"]


@dataclass(frozen=True, eq=False)
class Coarsening:
    """How a fine sampling maps onto the next coarser one.

    Attributes
    ----------
    fine, coarse : Sampling
        The two resolutions (``V_fine`` and ``V_coarse`` vertices).
    children : ndarray of int64, shape (V_coarse, C)
        Fine vertices pooled into each coarse vertex, padded with -1. Groups may
        overlap (icosahedral neighbourhoods); for HEALPix NESTED and equiangular
        2x2 blocks they partition the fine vertices and ``C == 4``.
    parent : ndarray of int64, shape (V_fine,)
        The one coarse vertex each fine vertex copies from in nearest unpooling.
    interpolation : scipy.sparse.csr_matrix, shape (V_fine, V_coarse)
        Rows sum to one: weights for unpooling by interpolation.
    kept : ndarray of int64, shape (V_coarse,), or None
        For decimation (icosahedral), the fine index of each coarse vertex.
    """

    fine: Sampling
    coarse: Sampling
    children: NDArray[np.int64] = field(repr=False)
    parent: NDArray[np.int64] = field(repr=False)
    interpolation: sp.csr_matrix = field(repr=False)
    kept: NDArray[np.int64] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """True when no coarse vertex misses a child.

        For block pooling (HEALPix, grids) this means no -1 padding; a partial-sky
        HEALPix subset is incomplete when some pixel lacks one of its 3 siblings
        (fix with ``healpix_closure``). Decimation (``kept`` set, icosahedral) is always
        complete: its -1 entries only pad the 12 five-neighbour vertices.
        """
        if self.kept is not None:
            return True
        return bool(np.all(self.children >= 0))

    @property
    def ratio(self) -> float:
        """``V_fine / V_coarse``."""
        return self.fine.n_vertices / self.coarse.n_vertices
