"""Partial-sky patches, pixel noise, splits and the z-order square image of a patch.

A NESTED HEALPix map of resolution ``nside`` cut at ``order`` (a power of two dividing
``nside``) gives ``12 * order**2`` patches of ``(nside / order)**2`` pixels; patch
``p`` is the contiguous NESTED range ``[p * n, (p + 1) * n)`` with ``n = (nside /
order)**2``, i.e. one pixel of the HEALPix grid at resolution ``order``, and its
pixels fill a square sub-grid of one base pixel in z-order (Morton) order.
"""

from __future__ import annotations

import numpy as np
import sphere_graphs as sg
from numpy.typing import NDArray

__all__ = ["Split", "add_noise", "make_split", "patch_sampling", "patches", "zorder_permutation"]


def _check_order(nside: int, order: int) -> int:
    if order < 1 or order & (order - 1) or nside % order:
        raise ValueError(f"order must be a power of two dividing nside={nside}; got {order}.")
    return (nside // order) ** 2


def patches(maps: NDArray[np.float32], nside: int, order: int) -> NDArray[np.float32]:
    """Cut full-sky NESTED maps into ``12 order**2`` patches each.

    Parameters
    ----------
    maps : ndarray, shape (M, 12 nside**2)

    Returns
    -------
    ndarray, shape (M, 12 order**2, (nside / order)**2)
    """
    n = _check_order(nside, order)
    maps = np.asarray(maps)
    if maps.ndim != 2 or maps.shape[1] != 12 * nside * nside:
        raise ValueError(f"maps must have shape (M, {12 * nside * nside}); got {maps.shape}.")
    return maps.reshape(maps.shape[0], 12 * order * order, n)


def patch_sampling(nside: int, order: int, patch: int = 0) -> sg.HealpixSampling:
    """The ``sphere_graphs`` partial HEALPix sampling of one patch (NESTED pixel ids)."""
    n = _check_order(nside, order)
    return sg.healpix(nside, nest=True, indices=np.arange(patch * n, (patch + 1) * n))


def zorder_permutation(nside: int, order: int) -> NDArray[np.int64]:
    """Permutation taking a patch's pixels (NESTED order) to a row-major square image.

    Returns
    -------
    ndarray of int64, shape ((nside / order)**2,)
        ``image.ravel() = patch[perm]`` for an image of side ``nside / order``.
    """
    n = _check_order(nside, order)
    side = nside // order
    x, y, _ = sg.pix2xyf(nside, np.arange(n), nest=True)
    perm = np.empty(n, dtype=np.int64)
    perm[np.asarray(x) * side + np.asarray(y)] = np.arange(n)
    return perm


def add_noise(
    x: NDArray[np.float32], level: float, sigma: float, rng: np.random.Generator
) -> NDArray[np.float32]:
    """``x`` plus white Gaussian pixel noise of std ``level * sigma`` (``sigma``: signal std)."""
    if level < 0:
        raise ValueError(f"noise level must be >= 0; got {level}.")
    if level == 0:
        return x.astype(np.float32, copy=False)
    return x + rng.standard_normal(x.shape).astype(np.float32) * np.float32(level * sigma)


class Split:
    """Patches and labels of a train / test split.

    Attributes
    ----------
    x_train, x_test : ndarray, shape (N, V), float32
    y_train, y_test : ndarray, shape (N,), int64
    """

    def __init__(
        self, x_train: NDArray, y_train: NDArray, x_test: NDArray, y_test: NDArray
    ) -> None:
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test


def make_split(
    maps: dict[str, NDArray[np.float32]], nside: int, order: int, test_fraction: float = 0.3
) -> Split:
    """Split by map index (patches of one map never straddle train and test).

    Parameters
    ----------
    maps : dict class name -> ndarray, shape (M, 12 nside**2); classes labelled 0, 1, ...
    """
    names = sorted(maps)
    m = min(len(v) for v in maps.values())
    n_test = max(1, round(m * test_fraction))
    parts: dict[str, list] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for label, name in enumerate(names):
        p = patches(maps[name][:m], nside, order)
        tr, te = p[: m - n_test].reshape(-1, p.shape[2]), p[m - n_test :].reshape(-1, p.shape[2])
        parts["xtr"].append(tr)
        parts["xte"].append(te)
        parts["ytr"].append(np.full(len(tr), label))
        parts["yte"].append(np.full(len(te), label))
    return Split(
        np.concatenate(parts["xtr"]),
        np.concatenate(parts["ytr"]).astype(np.int64),
        np.concatenate(parts["xte"]),
        np.concatenate(parts["yte"]).astype(np.int64),
    )
