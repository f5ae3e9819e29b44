"""Equivariance test helpers (public): exact symmetries as vertex permutations.

Rotating a field ``f`` by ``R`` gives ``(R f)(p) = f(R^T p)``. When ``R`` maps the
vertices of a sampling onto themselves (a HEALPix quarter turn about z, a reflection
through the equator, an icosahedral rotation, an equiangular longitude shift by whole
cells), the rotated field is the permutation ``x[:, perm, :]`` with
``coords[perm[i]] == R^T coords[i]``, and an equivariant map ``fn`` satisfies
``fn(x[:, perm_in]) == fn(x)[:, perm_out]`` exactly, up to rounding. This is the
check :func:`assert_equivariant` makes, in the style of ``e3nn.util.test``:

>>> assert_equivariant(lambda x: L @ x, healpix(8), rotation_z(np.pi / 2))

Torch models are checked through a thin wrapper that converts tensors (as
``sphere_unet.testing`` does). For the DeepSphere measure of how far a graph
Laplacian is from commuting with *arbitrary* rotations see
:func:`sphere_graphs.equivariance_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from ._sampling import Sampling

__all__ = [
    "assert_equivariant",
    "equivariance_residual",
    "random_rotation",
    "rotation_z",
    "symmetry_permutation",
]


def random_rotation(rng: np.random.Generator | int | None = None) -> NDArray[np.float64]:
    """A rotation matrix drawn uniformly (Haar measure) from SO(3).

    Parameters
    ----------
    rng : numpy Generator, int seed or None

    Returns
    -------
    ndarray, shape (3, 3)
        Orthogonal with determinant +1 (from a normalised Gaussian quaternion).
    """
    rng = np.random.default_rng(rng)
    w, x, y, z = rng.standard_normal(4)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_z(angle: float) -> NDArray[np.float64]:
    """Rotation matrix ``(3, 3)`` about the z axis by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _coords(sampling: Sampling | ArrayLike) -> NDArray[np.float64]:
    coords = np.asarray(getattr(sampling, "coords", sampling), dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(
            f"sampling must be a Sampling or unit vectors of shape (V, 3); got shape {coords.shape}."
        )
    return coords


def symmetry_permutation(
    sampling: Sampling | ArrayLike, rotation: ArrayLike, atol: float = 1e-9
) -> NDArray[np.int64]:
    """Vertex permutation that realises an exact symmetry of a sampling.

    Parameters
    ----------
    sampling : Sampling or array_like, shape (V, 3)
    rotation : array_like, shape (3, 3)
        Orthogonal matrix (rotation or reflection) mapping the vertex set onto itself.
    atol : float
        Largest distance allowed between a transformed vertex and its match.

    Returns
    -------
    ndarray of int64, shape (V,)
        ``perm`` with ``coords[perm[i]] ~= rotation.T @ coords[i]``: the transformed
        field is ``x[:, perm, :]``.

    Raises
    ------
    ValueError
        ``rotation`` is not 3x3 orthogonal, or is not a symmetry of the sampling.
    """
    coords = _coords(sampling)
    rot = np.asarray(rotation, dtype=np.float64)
    if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-10):
        raise ValueError(f"rotation must be an orthogonal (3, 3) matrix; got shape {rot.shape}.")
    dist, perm = cKDTree(coords).query(coords @ rot)
    if dist.max() > atol or np.unique(perm).size != perm.size:
        raise ValueError(
            f"the rotation does not map this sampling's vertices onto themselves (largest mismatch "
            f"{dist.max():.2e} > atol={atol}); use an exact symmetry (e.g. rotation_z(pi / 2) on "
            "HEALPix), or sphere_graphs.equivariance_error for arbitrary rotations."
        )
    return perm.astype(np.int64)


def _permutation(
    sampling: Sampling | ArrayLike, rotation: ArrayLike, atol: float, what: str
) -> NDArray[np.int64]:
    rot = np.asarray(rotation)
    n = _coords(sampling).shape[0]
    if rot.ndim == 1:
        if (
            not np.issubdtype(rot.dtype, np.integer)
            or rot.shape != (n,)
            or not np.array_equal(np.sort(rot), np.arange(n))
        ):
            raise ValueError(
                f"{what}: a permutation must be an integer array holding each of 0..{n - 1} once; "
                f"got shape {rot.shape}, dtype {rot.dtype}."
            )
        return rot.astype(np.int64)
    return symmetry_permutation(sampling, rot, atol)


def equivariance_residual(
    fn: Callable[[NDArray[np.float64]], Any],
    sampling: Sampling | ArrayLike,
    rotation: ArrayLike,
    *,
    output_sampling: Sampling | ArrayLike | None = None,
    output_permutation: ArrayLike | None = None,
    x: ArrayLike | None = None,
    batch: int = 2,
    channels: int = 3,
    seed: int | None = 0,
    match_atol: float = 1e-9,
) -> float:
    """Largest absolute difference ``|fn(R x) - R fn(x)|`` for an exact symmetry ``R``.

    Parameters
    ----------
    fn : callable
        Maps a float64 array ``(B, V, C)`` to an array-like ``(B, V_out, C_out)``.
    sampling : Sampling or array_like, shape (V, 3)
        Vertices of the input.
    rotation : array_like, shape (3, 3), or int array, shape (V,)
        An exact symmetry of ``sampling`` (see :func:`symmetry_permutation`) or the
        input vertex permutation itself.
    output_sampling : Sampling, optional
        Vertices of the output when they differ from the input's (pooling); the
        same ``rotation`` must be a symmetry of them.
    output_permutation : int array, shape (V_out,), optional
        The output permutation, when ``rotation`` is a permutation and
        ``V_out != V``.
    x : array_like, shape (B, V, C), optional
        Input; default standard normal with ``batch`` and ``channels``.
    batch, channels : int
        Shape of the default input.
    seed : int or None
        Seed of the default input.
    match_atol : float
        Tolerance of the vertex matching.

    Returns
    -------
    float
        ``max |fn(x[:, p_in]) - fn(x)[:, p_out]|``.
    """
    p_in = _permutation(sampling, rotation, match_atol, "rotation")
    if x is None:
        x = np.random.default_rng(seed).standard_normal((batch, p_in.size, channels))
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != p_in.size:
        raise ValueError(f"x must have shape (B, {p_in.size}, C); got {x.shape}.")
    y = np.asarray(fn(x))
    y_rot = np.asarray(fn(x[:, p_in]))
    if y.ndim != 3 or y.shape != y_rot.shape:
        raise ValueError(
            f"fn must return (B, V_out, C_out) arrays of one shape; got {y.shape} and {y_rot.shape}."
        )
    if output_permutation is not None:
        p_out = _permutation(
            np.zeros((y.shape[1], 3)), output_permutation, match_atol, "output_permutation"
        )
    elif output_sampling is not None:
        p_out = _permutation(output_sampling, rotation, match_atol, "rotation (output)")
    elif y.shape[1] == p_in.size:
        p_out = p_in
    else:
        raise ValueError(
            f"fn maps {p_in.size} vertices to {y.shape[1]}; pass output_sampling (or "
            "output_permutation) to say how the rotation acts on the output."
        )
    if p_out.size != y.shape[1]:
        raise ValueError(f"the output has {y.shape[1]} vertices but its permutation {p_out.size}.")
    return float(np.max(np.abs(y_rot - y[:, p_out]))) if y.size else 0.0


def assert_equivariant(
    fn: Callable[[NDArray[np.float64]], Any],
    sampling: Sampling | ArrayLike,
    rotation: ArrayLike,
    atol: float = 1e-10,
    **kwargs: Any,
) -> float:
    """Assert that ``fn`` commutes with an exact symmetry of the sampling.

    Parameters
    ----------
    fn, sampling, rotation
        See :func:`equivariance_residual`.
    atol : float
        Largest absolute difference accepted (float64 rounding: 1e-10 default).
    **kwargs
        ``output_sampling``, ``output_permutation``, ``x``, ``batch``,
        ``channels``, ``seed``, ``match_atol`` of :func:`equivariance_residual`.

    Returns
    -------
    float
        The residual, when within ``atol``.

    Raises
    ------
    AssertionError
        The residual exceeds ``atol``.
    """
    residual = equivariance_residual(fn, sampling, rotation, **kwargs)
    if not residual <= atol:
        raise AssertionError(
            f"not equivariant: max |fn(R x) - R fn(x)| = {residual:.3e} > atol={atol:.1e}."
        )
    return residual
