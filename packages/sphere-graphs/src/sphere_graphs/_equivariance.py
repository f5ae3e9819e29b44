"""Rotation-equivariance diagnostic for graph Laplacians on sampled spheres.

The measure of DeepSphere (Defferrard et al., ICLR 2020) is the mean normalised
squared commutator

    E = mean over (f, R) of  ||R L f - L R f||**2 / ||L f||**2

for random band-limited signals ``f`` and uniformly random rotations ``R``. Here:

* ``f`` is a random combination (Gaussian coefficients) of the ``2 l + 1`` real
  spherical harmonics of degree exactly ``l``, evaluated at the vertices.
* ``R f`` is exact: the same combination evaluated at the rotated positions
  ``R^{-1} x`` (no interpolation).
* ``L f`` only exists at the vertices, so to rotate it we take its least-squares
  projection ``P L f`` onto the degree-``l`` harmonics (sampled at the vertices) and
  evaluate that expansion at ``R^{-1} x``: ``R L f := R P L f``.

An operator that commutes with rotations maps the degree-``l`` space onto itself as a
multiple of the identity (Schur's lemma), so ``E = 0`` exactly for it; anything a
graph Laplacian leaks out of degree ``l`` or does anisotropically within it counts as
error. For exact symmetries of a sampling (a permutation of its vertices) use
:func:`sphere_graphs.testing.assert_equivariant` instead. Absolute values differ from the paper's harness (which rotated through a
full harmonic transform up to ``3 nside - 1``); orderings between graphs agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp
import scipy.special as sps
from numpy.typing import ArrayLike, NDArray

from ._laplacian import laplacian
from .testing import random_rotation

if TYPE_CHECKING:
    from ._graph import SphereGraph
    from ._sampling import Sampling

__all__ = [
    "EquivarianceProbe",
    "equivariance_curve",
    "equivariance_error",
    "random_rotation",
    "real_spherical_harmonics",
]

_KINDS = ("normalized", "combinatorial")


def real_spherical_harmonics(coords: NDArray[np.floating], degree: int) -> NDArray[np.float64]:
    """Orthonormal real spherical harmonics of one degree at points of the sphere.

    Parameters
    ----------
    coords : array_like, shape (V, 3)
        Unit vectors.
    degree : int
        Harmonic degree ``l >= 0``.

    Returns
    -------
    ndarray, shape (V, 2 * degree + 1), float64
        Column ``l + m`` is the real harmonic of order ``m`` (``m = -l..l``; cosine
        type for ``m > 0``, sine type for ``m < 0``), normalised to unit L2 norm on the
        sphere.
    """
    degree = _check_int(degree, "degree", 0)
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must have shape (V, 3); got {coords.shape}.")
    x, y, z = coords.T
    theta = np.arctan2(np.hypot(x, y), z)  # colatitude
    phi = np.arctan2(y, x)
    out = np.empty((coords.shape[0], 2 * degree + 1))
    for m in range(degree + 1):
        ylm = _sph_harm(degree, m, theta, phi)
        if m == 0:
            out[:, degree] = ylm.real
        else:
            sign = -1.0 if m % 2 else 1.0  # undo the Condon-Shortley phase
            out[:, degree + m] = sign * np.sqrt(2.0) * ylm.real
            out[:, degree - m] = sign * np.sqrt(2.0) * ylm.imag
    return out


def _sph_harm(deg: int, m: int, theta: NDArray, phi: NDArray) -> NDArray[np.complex128]:
    """Complex ``Y_l^m`` at colatitude ``theta`` and azimuth ``phi`` across scipy versions."""
    if hasattr(sps, "sph_harm_y"):
        return sps.sph_harm_y(deg, m, theta, phi)
    return sps.sph_harm(m, deg, phi, theta)  # pragma: no cover - scipy < 1.15


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _laplacian(adjacency: Any, kind: str) -> sp.csr_matrix:
    """``laplacian(adjacency, kind)`` with a message naming this function's argument."""
    if kind not in _KINDS:
        raise ValueError(f"laplacian must be one of {_KINDS}; got {kind!r}.")
    return laplacian(adjacency, kind)


class EquivarianceProbe:
    """Fixed random signals and rotations on a sampling, to score many operators.

    Building the probe evaluates the harmonics once; :meth:`error` then costs two
    sparse products and a small least-squares solve per call, which makes it cheap to
    compare graphs or to tune a kernel width on the same draws.

    Parameters
    ----------
    sampling : Sampling or array_like, shape (V, 3)
        Vertices (an object with ``.coords``, or unit vectors).
    degree : int
        Harmonic degree ``l`` of the test signals; must satisfy ``(2 l + 1) < V``.
    n_samples : int
        Number of (signal, rotation) pairs averaged.
    seed : int or None
        Seed of the random coefficients and rotations.

    Attributes
    ----------
    basis : ndarray, shape (V, 2 l + 1)
        Degree-``l`` harmonics at the vertices.
    signals : ndarray, shape (V, n_samples)
        The test signals ``f``.
    rotated_basis : ndarray, shape (n_samples, V, 2 l + 1)
        Harmonics at ``R^{-1} x`` for each sample's rotation.
    """

    def __init__(
        self,
        sampling: SphereGraph | Sampling | ArrayLike,
        degree: int = 30,
        n_samples: int = 8,
        seed: int | None = 0,
    ) -> None:
        coords = np.asarray(getattr(sampling, "coords", sampling), dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 3:
            raise ValueError(f"sampling coordinates must have shape (V, 3); got {coords.shape}.")
        self.degree = _check_int(degree, "degree", 1)
        self.n_samples = _check_int(n_samples, "n_samples", 1)
        if 2 * self.degree + 1 >= coords.shape[0]:
            raise ValueError(
                f"degree {degree} is too high for {coords.shape[0]} vertices: the sampling "
                f"cannot represent the {2 * degree + 1} harmonics; lower the degree."
            )
        rng = np.random.default_rng(seed)
        self.basis = real_spherical_harmonics(coords, self.degree)
        self._r_solve = np.linalg.pinv(self.basis)  # (2l+1, V) least-squares projector
        coeffs = rng.standard_normal((2 * self.degree + 1, self.n_samples))
        self.coeffs = coeffs
        self.signals = self.basis @ coeffs
        rotated = []
        for _ in range(self.n_samples):
            rot = random_rotation(rng)
            # Row vectors: R^{-1} x = R^T x  ->  coords @ R.
            rotated.append(real_spherical_harmonics(coords @ rot, self.degree))
        self.rotated_basis = np.stack(rotated)
        # R f: the same combination at rotated positions, one column per sample.
        self.rotated_signals = np.einsum("svk,ks->vs", self.rotated_basis, coeffs)

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``V``."""
        return int(self.basis.shape[0])

    def errors(self, operator: Any) -> NDArray[np.float64]:
        """Normalised squared commutator of each sample.

        Parameters
        ----------
        operator : sparse matrix, ndarray or LinearOperator, shape (V, V)
            The operator ``L`` (e.g. a graph Laplacian).

        Returns
        -------
        ndarray, shape (n_samples,)
            ``||R L f - L R f||**2 / ||L f||**2`` per (signal, rotation) pair.
        """
        if tuple(operator.shape) != (self.n_vertices, self.n_vertices):
            raise ValueError(
                f"operator must have shape ({self.n_vertices}, {self.n_vertices}) to match the "
                f"sampling; got {tuple(operator.shape)}."
            )
        lf = np.asarray(operator @ self.signals)  # (V, S)
        lrf = np.asarray(operator @ self.rotated_signals)  # (V, S)
        proj = self._r_solve @ lf  # (2l+1, S): degree-l expansion of L f
        rlf = np.einsum("svk,ks->vs", self.rotated_basis, proj)
        num = np.sum((rlf - lrf) ** 2, axis=0)
        den = np.sum(lf**2, axis=0)
        if np.any(den == 0):
            raise ValueError("L f vanished for a test signal; the operator is zero on degree l.")
        return num / den

    def error(self, operator: Any) -> float:
        """Mean of :meth:`errors`: the equivariance error ``E`` of ``operator``."""
        return float(np.mean(self.errors(operator)))


def _resolve(
    sampling: SphereGraph | Sampling | ArrayLike, adjacency: sp.spmatrix | ArrayLike | None
) -> tuple[Sampling | ArrayLike, sp.spmatrix | ArrayLike]:
    if adjacency is None:
        if hasattr(sampling, "adjacency") and hasattr(sampling, "sampling"):
            graph = cast("SphereGraph", sampling)  # duck-typed SphereGraph
            return graph.sampling, graph.adjacency
        raise ValueError(
            "pass a SphereGraph, or a sampling together with its adjacency matrix "
            "(equivariance_error(sampling, adjacency))."
        )
    if hasattr(sampling, "adjacency") and hasattr(sampling, "sampling"):
        return cast("SphereGraph", sampling).sampling, adjacency
    return sampling, adjacency


def equivariance_error(
    sampling: SphereGraph | Sampling | ArrayLike,
    adjacency: sp.spmatrix | ArrayLike | None = None,
    degree: int = 30,
    *,
    laplacian: str = "normalized",
    n_samples: int = 8,
    seed: int | None = 0,
) -> float:
    """Rotation-equivariance error of a graph Laplacian (DeepSphere, ICLR 2020).

    ``E = mean ||R L f - L R f||**2 / ||L f||**2`` over ``n_samples`` pairs of a random
    degree-``l`` signal ``f`` and a uniformly random rotation ``R`` (see the module
    docstring for how ``R`` acts exactly).

    Parameters
    ----------
    sampling : SphereGraph, Sampling or array_like (V, 3)
        A graph (then ``adjacency`` is taken from it) or the vertices of the graph.
    adjacency : sparse matrix, shape (V, V), optional
        Symmetric weight matrix; required unless ``sampling`` is a graph.
    degree : int
        Harmonic degree ``l`` of the test signals (the paper uses 30 at nside 32).
    laplacian : {"normalized", "combinatorial"}
        Which Laplacian ``L`` of ``adjacency`` to test.
    n_samples : int
        Number of (signal, rotation) pairs.
    seed : int or None
        Random seed; the same seed gives the same draws for every graph on a sampling.

    Returns
    -------
    float
        Mean normalised squared error; 0 for a perfectly equivariant operator.
    """
    sampling, adjacency = _resolve(sampling, adjacency)
    probe = EquivarianceProbe(sampling, degree, n_samples=n_samples, seed=seed)
    return probe.error(_laplacian(adjacency, laplacian))


def equivariance_curve(
    sampling: SphereGraph | Sampling | ArrayLike,
    adjacency: sp.spmatrix | ArrayLike | None = None,
    degrees: ArrayLike = (4, 8, 16, 30),
    *,
    laplacian: str = "normalized",
    n_samples: int = 8,
    seed: int | None = 0,
) -> NDArray[np.float64]:
    """Equivariance error per harmonic degree.

    Parameters
    ----------
    sampling, adjacency, laplacian, n_samples, seed
        As in :func:`equivariance_error`.
    degrees : sequence of int, shape (D,)
        Degrees ``l`` to test.

    Returns
    -------
    ndarray, shape (D,)
        ``equivariance_error`` at each degree.
    """
    sampling, adjacency = _resolve(sampling, adjacency)
    lap = _laplacian(adjacency, laplacian)
    return np.array(
        [
            EquivarianceProbe(sampling, int(d), n_samples=n_samples, seed=seed).error(lap)
            for d in np.atleast_1d(degrees)
        ]
    )
