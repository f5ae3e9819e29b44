"""Test helpers shipped with the library: rotations, equivariance checks, toy data.

Rotating a field ``f`` by ``R`` gives ``(R f)(p) = f(R^T p)``. On a sampling where
``R`` maps vertices onto vertices (HEALPix and a quarter turn about z) this is the
permutation ``x_rot = x[:, perm]`` with ``coords[perm[i]] == R^T coords[i]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.spatial import cKDTree

__all__ = [
    "equivariance_error",
    "healpix_quarter_turn",
    "random_rotation",
    "rotation_permutation",
    "rotation_z",
    "smooth_field",
    "synthetic_segmentation",
]


def rotation_z(angle: float) -> NDArray[np.float64]:
    """Rotation matrix ``(3, 3)`` about the z axis by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def random_rotation(seed: int | None = None) -> NDArray[np.float64]:
    """A uniformly random rotation matrix ``(3, 3)`` (det +1)."""
    from scipy.spatial.transform import Rotation

    return Rotation.random(random_state=seed).as_matrix()


def rotation_permutation(coords: NDArray[np.floating], rotation: NDArray[np.floating], atol: float = 1e-6) -> NDArray[np.int64]:
    """Vertex permutation realising a rotation exactly.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
        Vertex unit vectors.
    rotation : ndarray, shape (3, 3)
    atol : float
        Maximum distance between a rotated vertex and its match.

    Returns
    -------
    ndarray of int64, shape (V,)
        ``perm`` with ``coords[perm[i]] ~= rotation.T @ coords[i]``, so that the
        rotated field is ``x[..., perm, :]``.

    Raises
    ------
    ValueError
        If the rotation does not map the vertex set onto itself.
    """
    coords = np.asarray(coords, dtype=np.float64)
    target = coords @ np.asarray(rotation, dtype=np.float64)  # rows: R^T p_i
    dist, perm = cKDTree(coords).query(target)
    if dist.max() > atol or np.unique(perm).size != perm.size:
        raise ValueError(
            f"the rotation is not a symmetry of this sampling (max mismatch {dist.max():.2e} > atol={atol}); "
            "use equivariance_error for approximate checks."
        )
    return perm.astype(np.int64)


def healpix_quarter_turn(nside: int, nest: bool = True, turns: int = 1) -> NDArray[np.int64]:
    """Pixel permutation of a rotation by ``turns * 90`` degrees about z on full-sky HEALPix.

    Parameters
    ----------
    nside : int
    nest : bool
    turns : int

    Returns
    -------
    ndarray of int64, shape (12 nside^2,)
        ``x[..., perm, :]`` is the rotated map (see :func:`rotation_permutation`).
    """
    import sphere_graphs as sg

    s = sg.healpix(nside, nest=nest)
    return rotation_permutation(s.coords, rotation_z(turns * np.pi / 2))


def smooth_field(coords: NDArray[np.floating], channels: int = 1, degree: int = 3, seed: int = 0) -> NDArray[np.float32]:
    """A smooth random field: random polynomials of ``degree`` in ``(x, y, z)``.

    Parameters
    ----------
    coords : ndarray, shape (V, 3)
    channels : int
    degree : int
    seed : int

    Returns
    -------
    ndarray, shape (V, channels), float32
    """
    rng = np.random.default_rng(seed)
    coords = np.asarray(coords, dtype=np.float64)
    out = np.zeros((coords.shape[0], channels))
    for c in range(channels):
        a = rng.normal(size=(degree + 1, 3))
        for d in range(1, degree + 1):
            out[:, c] += (coords @ a[d]) ** d
        out[:, c] += a[0, 0]
    return out.astype(np.float32)


def equivariance_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    sampling: Any,
    rotation: NDArray[np.floating],
    in_channels: int,
    field: Callable[[NDArray[np.float64]], NDArray[np.floating]] | None = None,
    seed: int = 0,
) -> float:
    """Relative error of ``model`` to equivariance under an arbitrary rotation.

    The input is a smooth field evaluated at the vertices (``x``) and at the rotated
    vertices ``R^T p`` (``x_rot``, an exact rotation of the continuous field). The
    output for ``x`` is rotated by nearest-vertex resampling and compared with the
    output for ``x_rot``.

    Parameters
    ----------
    model : callable
        ``(B, V, C) -> (B, V, C_out)``, in eval mode.
    sampling : sphere_graphs.Sampling
    rotation : ndarray, shape (3, 3)
    in_channels : int
    field : callable, optional
        ``coords (V, 3) -> (V, in_channels)``; default :func:`smooth_field`.
    seed : int

    Returns
    -------
    float
        ``||model(x_rot) - rot(model(x))|| / ||model(x)||``.
    """
    coords = np.asarray(sampling.coords)
    f = field or (lambda p: smooth_field(p, in_channels, seed=seed))
    rotated = coords @ np.asarray(rotation)
    x = torch.as_tensor(np.asarray(f(coords), dtype=np.float32))[None]
    x_rot = torch.as_tensor(np.asarray(f(rotated), dtype=np.float32))[None]
    _, nearest = cKDTree(coords).query(rotated)
    with torch.no_grad():
        y = model(x)
        y_rot = model(x_rot)
    expected = y[:, torch.as_tensor(nearest)]
    return float((y_rot - expected).norm() / y.norm().clamp_min(1e-12))


def synthetic_segmentation(
    sampling: Any, n_samples: int = 4, in_channels: int = 2, n_classes: int = 3, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tiny segmentation task: classes are caps around random centres.

    Returns
    -------
    x : torch.Tensor, shape (n_samples, V, in_channels), float32
        Channel 0 is a bump at each cap centre, the rest noise.
    y : torch.Tensor, shape (n_samples, V), int64
        Class ``c > 0`` inside cap ``c``, 0 elsewhere.
    """
    rng = np.random.default_rng(seed)
    coords = np.asarray(sampling.coords)
    V = coords.shape[0]
    x = rng.normal(scale=0.1, size=(n_samples, V, in_channels)).astype(np.float32)
    y = np.zeros((n_samples, V), dtype=np.int64)
    for n in range(n_samples):
        for c in range(1, n_classes):
            centre = rng.normal(size=3)
            centre /= np.linalg.norm(centre)
            dot = coords @ centre
            y[n, dot > 0.8] = c
            x[n, :, (c - 1) % in_channels] += np.exp(4 * (dot - 1)).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)
