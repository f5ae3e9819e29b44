"""Test helpers for models: the equivariance assertion on torch models, toy data.

:func:`assert_equivariant` is a thin torch wrapper around
:func:`sphere_graphs.testing.assert_equivariant` (rotations, permutations and the
residual are computed there): for an exact symmetry ``R`` of the sampling (a
HEALPix quarter turn about z, an icosahedral rotation...), it checks
``model(R x) == R model(x)`` up to ``atol``. Rotations:
``sphere_graphs.testing.rotation_z``, ``sphere_graphs.testing.random_rotation``.
"""

from __future__ import annotations

from typing import Any, SupportsInt, cast

import numpy as np
import sphere_graphs as sg
import sphere_graphs.testing as sgt
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

__all__ = ["assert_equivariant", "synthetic_segmentation"]


def assert_equivariant(
    model: nn.Module | Any,
    sampling: sg.Sampling,
    rotation: ArrayLike,
    atol: float = 1e-5,
    **kwargs: Any,
) -> float:
    """Assert that a torch model commutes with an exact symmetry of its sampling.

    Parameters
    ----------
    model : callable
        ``(B, V, C) -> (B, V_out, C_out)`` on torch tensors (a module, in the mode
        it is in; batch norm in training mode is equivariant too). Run without
        autograd, in the dtype and on the device of its first parameter (float32
        on the CPU for a plain callable).
    sampling : sphere_graphs.Sampling
        The input vertices.
    rotation : array_like, shape (3, 3), or int array, shape (V,)
        A rotation or reflection mapping the vertices onto themselves, or the
        vertex permutation itself (see
        :func:`sphere_graphs.testing.symmetry_permutation`).
    atol : float
        Largest absolute difference accepted (1e-5 suits float32 models).
    **kwargs
        Of :func:`sphere_graphs.testing.assert_equivariant`: ``output_sampling``,
        ``output_permutation``, ``x`` (``(B, V, C)``), ``batch``, ``seed``,
        ``channels`` (default ``model.in_channels`` when the model has it).

    Returns
    -------
    float
        The residual ``max |model(R x) - R model(x)|``.

    Raises
    ------
    AssertionError
        The residual exceeds ``atol``.
    """
    like = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
    dtype = like.dtype if like is not None else torch.float32
    device = like.device if like is not None else torch.device("cpu")
    if "channels" not in kwargs and "x" not in kwargs and hasattr(model, "in_channels"):
        kwargs["channels"] = int(cast(SupportsInt, model.in_channels))  # a dynamic module attribute

    def fn(x: NDArray[np.float64]) -> NDArray[np.float64]:
        with torch.no_grad():
            y = model(torch.as_tensor(x, dtype=dtype, device=device))
        return y.detach().to("cpu", torch.float64).numpy()

    return sgt.assert_equivariant(fn, sampling, rotation, atol, **kwargs)


def synthetic_segmentation(
    sampling: sg.Sampling,
    n_samples: int = 4,
    in_channels: int = 2,
    n_classes: int = 3,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tiny segmentation task: classes are caps around random centres.

    Parameters
    ----------
    sampling : sphere_graphs.Sampling
        ``V`` vertices.
    n_samples, in_channels, n_classes : int
    seed : int

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
